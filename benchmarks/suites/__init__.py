"""Benchmark suites: each builds a list of tasks for a profile."""

from benchmarks.suites import bo, globalopt, landscapes, mixed, samplers, searches

SUITES = {"bo": bo, "global": globalopt, "landscapes": landscapes, "mixed": mixed,
          "samplers": samplers, "searches": searches}
