"""The local-search component protocol shared by repeated L-BFGS, CMA-ES and GENNES."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from torch import Tensor

from acqopt.counting import Problem


@dataclass(frozen=True)
class LocalResult:
    """Refined candidates.

    Attributes:
        U: ``b' x q x d`` refined candidates in the unit cube: the first ``b' <= b`` starts
            (``b' < b`` only when the budget ran out before every start was evaluated), and
            the further starts a ``more`` source gave.
        values: ``b`` acquisition values at ``U``; each is at least the start's value.
        iterations: ``b`` accepted steps per start.
        running: ``b`` booleans: the starts that had not met their own stopping test when the
            search returned (stopped by ``until`` or the budget); None when not tracked.
    """

    U: Tensor
    values: Tensor
    iterations: Tensor
    running: Tensor | None = None


@runtime_checkable
class LocalSearch(Protocol):
    """Refines a batch of candidates by local ascent on the acquisition function.

    Implementations evaluate only through ``problem``, all still-running starts in one batched
    call, stop early (keeping what they have) when the budget would be exceeded, and never
    return a candidate worse than its start.
    """

    def refine(self, problem: Problem, U: Tensor, values: Tensor | None = None,
               more=None, until: int = 0) -> LocalResult:
        """Refines ``b x q x d`` starts ``U`` (with their values, if known), and the further
        starts ``more`` hands out when called with the number it may give (up to that many
        ``k x q x d`` starts, or None), searched as rows of the batch free up; returns once
        at most ``until`` starts still run (0: when all have stopped)."""
        ...

