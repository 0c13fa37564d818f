"""Benchmark suites: each builds a list of tasks for a profile."""

from benchmarks.suites import landscapes

SUITES = {"landscapes": landscapes}
