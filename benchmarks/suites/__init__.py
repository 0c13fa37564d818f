"""Benchmark suites: each builds a list of tasks for a profile."""

from benchmarks.suites import bo, constrained, globalopt, landscapes, mixed, samplers, searches

SUITES = {"bo": bo, "constrained": constrained, "global": globalopt, "landscapes": landscapes, "mixed": mixed,
          "samplers": samplers, "searches": searches}
