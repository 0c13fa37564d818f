"""The local searches the methods use: compositions of a direction and a step-length rule.

All run on :func:`acqopt.local.driver.descend` and share its contract
(:class:`acqopt.local.base.LocalSearch`): every evaluation through the problem, all running
starts in one batched call, truncation when the budget runs out, never worse than the start.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from acqopt.base import positive_float, positive_int
from acqopt.counting import Problem
from acqopt.local import directions, steps
from acqopt.local.base import LocalResult
from acqopt.local.driver import descend


@dataclass(frozen=True, kw_only=True)
class ProjectedLBFGS:
    """Batched projected L-BFGS ascent in the unit cube, with a weak-Wolfe line search.

    Projected L-BFGS with an active set (the bound-constrained method of Kim, Sra & Dhillon
    2010), not the Cauchy-point subspace minimisation of Byrd et al.'s L-BFGS-B (1995): on a box
    the two take the same steps away from the bounds, and the projected form batches cleanly.
    Stopping follows scipy's L-BFGS-B defaults: projected-gradient inf-norm at most ``gtol``,
    relative decrease at most ``ftol``, or ``max_iter`` iterations.

    Attributes:
        max_iter: Iterations per start; None (the default) for :func:`default_max_iter` of the
            variables searched (BoTorch's ``maxiter`` of 200 up to 80 of them).
        memory: Curvature pairs kept (scipy's ``maxcor``).
        trailing: Once at most this fraction of the batch's starts still runs, those below the
            best value reached stop and only the leader runs on (``descend``'s ``trailing``).
            0 (the default here) runs every start to its own stopping test.
        gtol: Projected-gradient tolerance (scipy's ``pgtol``/``gtol``).
        ftol: Relative-decrease tolerance (scipy's ``factr=1e7`` x eps).
        max_linesearch: Line-search trials per iteration before a start is declared stuck.
        c1: Armijo sufficient-decrease constant.
        c2: Weak-Wolfe curvature constant.
    """

    max_iter: int | None = None
    memory: int = 10
    trailing: float = 0.0
    gtol: float = 1e-5
    ftol: float = 2.220446049250313e-09
    max_linesearch: int = 20
    c1: float = 1e-4
    c2: float = 0.9

    def __post_init__(self) -> None:
        if self.max_iter is not None:
            positive_int("max_iter", self.max_iter, 0)
        if (isinstance(self.trailing, bool) or not isinstance(self.trailing, (int, float))
                or not 0 <= self.trailing < 1):
            raise ValueError(f"trailing: expected a fraction in [0, 1), got {self.trailing!r}")
        positive_float("gtol", self.gtol)
        positive_float("ftol", self.ftol)
        directions.LBFGS(self.memory)
        steps.WeakWolfe(self.c1, self.c2, self.max_linesearch)

    def refine(self, problem: Problem, U: Tensor, values: Tensor | None = None,
               more=None, until: int = 0) -> LocalResult:
        return descend(problem, U, values, directions.LBFGS(self.memory),
                       steps.WeakWolfe(self.c1, self.c2, self.max_linesearch),
                       default_max_iter(problem.q * problem.d) if self.max_iter is None
                       else self.max_iter,
                       gtol=self.gtol, ftol=self.ftol, more=more, until=until,
                       trailing=int(self.trailing * U.shape[0]))


# L-BFGS iterations per start: BoTorch's maxiter (200), or ITERATIONS_PER_VARIABLE for each
# variable searched where that is more. A joint batch of q = 8 at d = 20 (160 variables) ran
# its best starts into 200 iterations unconverged (scipy's L-BFGS-B went on from one such batch
# from 1.4641 to 1.4783): with 400, 1.4641 -> 1.4821 and 1.7883 -> 1.8413 (seeds 2, 1; seed 0
# the same) at about twice the time, 0.11x -> ~0.2x BoTorch's; q = 1 up to d = 1000 never
# reached 200 and is unchanged (benchmarks/results/FINDINGS.md).
BOTORCH_MAXITER = 200
ITERATIONS_PER_VARIABLE = 2.5


def default_max_iter(variables: int) -> int:
    """``ProjectedLBFGS``'s iterations per start when its ``max_iter`` is None."""
    return max(BOTORCH_MAXITER, math.ceil(ITERATIONS_PER_VARIABLE * variables))


@dataclass(frozen=True, kw_only=True)
class ArmijoAscent:
    """Projected gradient ascent with backtracking Armijo line search (Qiu 2020, Algorithm 1).

    The step persists across iterations and only shrinks (as in Qiu's listing); the first trial
    moves ``step`` in the unit cube. Qiu's listing mixes the signs of a descent and an ascent and
    its code ranks by a trial point; this is a correct ascent that keeps only accepted points.

    Attributes:
        max_iter: Accepted steps per start.
        step: Length of the first trial move in the unit cube.
        c1: Sufficient-increase constant.
        max_halvings: Consecutive halvings before a start is declared converged.
        gtol: Stop when the projected gradient's inf-norm is at most this.
    """

    max_iter: int = 20
    step: float = 0.05
    c1: float = 1e-4
    max_halvings: int = 20
    gtol: float = 1e-6

    def __post_init__(self) -> None:
        positive_int("max_iter", self.max_iter, 0)
        positive_float("gtol", self.gtol)
        steps.Backtracking(self.step, self.c1, self.max_halvings)

    def refine(self, problem: Problem, U: Tensor, values: Tensor | None = None,
               more=None, until: int = 0) -> LocalResult:
        return descend(problem, U, values, directions.Gradient(),
                       steps.Backtracking(self.step, self.c1, self.max_halvings),
                       self.max_iter, gtol=self.gtol, more=more, until=until)


@dataclass(frozen=True, kw_only=True)
class AdamAscent:
    """Projected Adam ascent in the unit cube (Kingma & Ba 2015, arXiv:1412.6980).

    Every step is taken, better or worse; each start returns the best point it visited.

    Attributes:
        max_iter: Steps per start.
        lr: Learning rate, in unit-cube lengths.
        betas: Adam's moment decay rates.
        eps: Adam's denominator guard.
    """

    max_iter: int = 20
    lr: float = 0.02
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8

    def __post_init__(self) -> None:
        positive_int("max_iter", self.max_iter, 0)
        directions.Adam(self.lr, self.betas, self.eps)

    def refine(self, problem: Problem, U: Tensor, values: Tensor | None = None,
               more=None, until: int = 0) -> LocalResult:
        return descend(problem, U, values, directions.Adam(self.lr, self.betas, self.eps),
                       steps.FullStep(), self.max_iter, more=more, until=until)


@dataclass(frozen=True, kw_only=True)
class NoLocalSearch:
    """Leaves candidates where they are (plain CMA-ES); evaluates them if values are unknown."""

    def refine(self, problem: Problem, U: Tensor, values: Tensor | None = None,
               more=None, until: int = 0) -> LocalResult:
        n = problem.affordable(U.shape[0])
        if values is None:
            values = problem.value(U[:n])
        U, values = U[:n], values[:n]
        while more is not None and problem.affordable(U.shape[0]) > 0:  # evaluates them too
            new = more(problem.affordable(U.shape[0]))
            if new is None or new.shape[0] == 0:
                break
            U, values = torch.cat([U, new]), torch.cat([values, problem.value(new)])
        return LocalResult(U, values, torch.zeros(U.shape[0], dtype=torch.long, device=U.device))
