"""Benchmark suites: each builds a list of tasks for a profile."""

from benchmarks.suites import (
    bo,
    constrained,
    globalopt,
    highdim,
    landscapes,
    mixed,
    samplers,
    scaling,
    searches,
)

SUITES = {"bo": bo, "constrained": constrained, "global": globalopt, "highdim": highdim,
          "landscapes": landscapes, "mixed": mixed, "samplers": samplers, "scaling": scaling, "searches": searches}
