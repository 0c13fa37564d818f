"""Local search on mixed domains: a continuous local search alternating with discrete moves.

On a continuous domain :func:`refine` is the local search itself. With a grid (integer and
categorical columns, :class:`acqopt.domain.Grid`), gradients never move a grid column (the
problem rounds them and their gradient is zero; a categorical kernel has no input gradient at
all), so each start alternates, as BoTorch's ``optimize_acqf_mixed_alternating`` does, between

- a discrete step: every one-move neighbour of the start (each ordered column one value up or
  down, and 2, 4, 8, ... values on a column of more than 20; each category to every other
  value: :meth:`acqopt.domain.Grid.neighbours`), the neighbours of all starts in one batched
  call, moving a start to its best neighbour if that is better; and
- a continuous step: the local search from the starts that moved, grid columns held fixed.

Unlike BoTorch's alternation, which runs its starts one after another, every start keeps its own
state and all run in the same calls; a start stops when no neighbour improves it.

References:
    Daulton, Wan, Eriksson, Balandat, Osborne, Bakshy. Bayesian Optimization over Discrete and
    Mixed Spaces via Probabilistic Reparameterization. NeurIPS 2022 (arXiv:2210.10199): the
    alternating baseline BoTorch ships as ``optimize_acqf_mixed_alternating``.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor

from acqopt.counting import Problem
from acqopt.local.base import LocalResult

# Discrete/continuous alternations per start at most (BoTorch's MAX_ITER_ALTER).
MAX_ALTERNATIONS = 64


def refine(local, problem: Problem, U: Tensor, values: Tensor | None = None, more=None,
           until: int = 0, alternations: int = MAX_ALTERNATIONS) -> LocalResult:
    """``local.refine`` on a continuous problem; on a mixed one, ``local.refine`` followed by
    discrete and continuous steps in turn (module docstring) for the starts it finished.

    Args:
        local: A local search (:class:`acqopt.local.base.LocalSearch`).
        problem, U, values, more, until: As for ``local.refine``.
        alternations: Discrete steps per start at most.

    Returns:
        The ``local.refine`` result with each finished start moved to where its alternation
        ended (never worse); starts still running (``until``) are left as they are. On a
        mixed problem every start's continuous search runs to its own stopping test (a
        local search's ``trailing`` is off there: it was measured on continuous problems).
    """
    grid = problem.grid
    if grid is None:
        return local.refine(problem, U, values, more=more, until=until)
    if getattr(local, "trailing", 0):  # each alternation starts from a finished search
        local = dataclasses.replace(local, trailing=0.0)
    if not grid.continuous:  # nothing for a continuous search to move: evaluate the starts
        n = problem.affordable(U.shape[0])
        U = problem.feasible(U[:n])
        result = LocalResult(U, problem.value(U) if values is None else values[:n],
                             torch.zeros(n, dtype=torch.long, device=U.device))
    else:  # no later starts: a freed row would take the budget the alternation needs
        result = local.refine(problem, U, values, until=until)
    X, f, iterations = result.U.clone(), result.values.clone(), result.iterations.clone()
    active = torch.isfinite(f)
    if result.running is not None:
        active &= ~result.running
    for _ in range(alternations):
        rows = active.nonzero().flatten()
        if rows.numel() == 0 or problem.affordable(1) == 0:
            break
        neighbours, parent = grid.neighbours(X[rows])
        n = problem.affordable(neighbours.shape[0])
        if n == 0 or neighbours.shape[0] == 0:
            break
        values_n = problem.value(neighbours[:n])
        parent = parent[:n]
        best = torch.full((rows.numel(),), float("-inf"), dtype=f.dtype, device=f.device)
        best = best.scatter_reduce(0, parent, values_n, reduce="amax")
        improved = best > f[rows] + 1e-12 * f[rows].abs().clamp_min(1.0)
        if n < neighbours.shape[0]:  # the budget ran out inside this step
            active[:] = False
        if not bool(improved.any()):
            break
        # The best neighbour of each improved start (the first, among equals).
        hit = (values_n == best[parent]) & improved[parent]
        first = torch.full((rows.numel(),), n, dtype=torch.long, device=f.device)
        first = first.scatter_reduce(0, parent[hit], hit.nonzero().flatten(), reduce="amin")
        moved = rows[improved]
        X[moved], f[moved] = neighbours[first[improved]], best[improved]
        iterations[moved] += 1
        active[:] = False
        active[moved] = True
        if grid.continuous and problem.affordable(1) > 0:
            step = local.refine(problem, X[moved], f[moved])
            k = step.values.shape[0]
            X[moved[:k]], f[moved[:k]] = step.U, step.values
            iterations[moved[:k]] += step.iterations
    return LocalResult(X, f, iterations, result.running)
