"""Benchmark suites: each builds a list of tasks for a profile."""

from benchmarks.suites import globalopt, landscapes

SUITES = {"global": globalopt, "landscapes": landscapes}
