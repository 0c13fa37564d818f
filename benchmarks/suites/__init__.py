"""Benchmark suites: each builds a list of tasks for a profile."""

from benchmarks.suites import (
    bo,
    centre,
    compat,
    constrained,
    cost,
    gennes_sweep,
    globalopt,
    gradient_bias,
    highdim,
    landscapes,
    mixed,
    plugins,
    samplers,
    scaling,
    searches,
    step_time,
)

SUITES = {"bo": bo, "centre": centre, "compat": compat, "constrained": constrained,
          "cost": cost, "gennes_sweep": gennes_sweep, "global": globalopt,
          "gradient_bias": gradient_bias, "highdim": highdim, "landscapes": landscapes,
          "mixed": mixed, "plugins": plugins, "samplers": samplers, "scaling": scaling,
          "searches": searches, "step_time": step_time}
