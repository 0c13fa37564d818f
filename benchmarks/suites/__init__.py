"""Benchmark suites: each builds a list of tasks for a profile."""

from benchmarks.suites import bo, globalopt, landscapes, mixed, searches

SUITES = {"bo": bo, "global": globalopt, "landscapes": landscapes, "mixed": mixed,
          "searches": searches}
