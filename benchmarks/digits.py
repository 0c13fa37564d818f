"""The paper's digits problem (Appendix A.3), from ``examples/digits_logreg.py``.

The example is the single definition of the problem (space and objective); the benchmarks load it
from there rather than copy it.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path
from types import ModuleType

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "digits_logreg.py"


@cache
def _module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("digits_logreg", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def space():
    """The search space: learning rate, L1, L2 (log scale) and the integer ``n_iter``."""
    return _module().SPACE


def make_objective(seed: int = 0):
    """Test error of SGD logistic regression on the split given by ``seed`` (a ``{name: value}``
    callable)."""
    return _module().make_objective(seed)
