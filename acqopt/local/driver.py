"""The batched local-search driver: one loop for every direction and step-length rule.

Each start runs its own search (direction, step, stopping); every call of the acquisition
evaluates one trial point of every still-running start, whether it is the first trial of a new
iteration or a shortened one, so the number of calls follows the slowest start. Nothing is
summed across starts, so a converged start is never dragged along by the others. The driver
owns what all searches share: the running mask, truncation when the budget cannot pay for every
running start, projection onto the feasible set, the stopping tests and the best point visited.
"""

from __future__ import annotations

import torch
from torch import Tensor

from acqopt.counting import Problem
from acqopt.local.base import LocalResult


def descend(
    problem: Problem,
    U: Tensor,
    values: Tensor | None,
    direction,
    rule,
    max_iter: int,
    gtol: float | None = None,
    ftol: float | None = None,
) -> LocalResult:
    """Refines ``b x q x d`` starts ``U`` by descent on ``h = -acquisition``.

    Args:
        problem: Evaluates, counts and projects.
        U: Starts in the unit cube.
        values: Their acquisition values if known (used only when ``max_iter == 0``).
        direction: A rule from :mod:`acqopt.local.directions`.
        rule: A step-length rule from :mod:`acqopt.local.steps`.
        max_iter: Accepted steps per start; 0 evaluates the starts and returns them.
        gtol: Stop a start when its projected gradient's inf-norm is at most this (None: never).
        ftol: Stop a start when a step lowers ``h`` by at most ``ftol * max(|h_old|, |h|, 1)``
            (scipy's L-BFGS-B test; None: never).

    Returns:
        The best point each start visited (never worse than the start), its value and the
        number of accepted steps; only the first ``b' <= b`` starts when the budget could not
        pay for evaluating all of them.
    """
    shape = U.shape
    n = problem.affordable(shape[0])
    iterations = torch.zeros(n, dtype=torch.long, device=U.device)
    if max_iter == 0 or n == 0:
        if values is None:
            values = problem.value(U[:n])
        return LocalResult(U[:n], values[:n], iterations)
    x = problem.project(U[:n].reshape(n, -1)).clone()
    f, g = problem.value_and_grad(x.reshape(n, *shape[1:]))
    h, g = -f, -g.reshape(n, -1)
    best_x, best_h = x.clone(), h.clone()
    d = torch.zeros_like(x)
    d_state, r_state = direction.init(x), rule.init(x, h, g)

    def new_directions(idx: Tensor) -> None:
        if idx.numel() > 0:
            d[idx], slope, first = direction.compute(d_state, idx, x[idx], g[idx])
            rule.begin(r_state, idx, d[idx], slope, first)

    active = torch.isfinite(h)
    if gtol is not None:
        active &= projected_grad_norm(x, g) > gtol
    new_directions(active.nonzero().flatten())
    while bool(active.any()):
        idx = payable(problem, active)
        k = idx.numel()
        if k == 0:
            break
        trial = problem.project(x[idx] + r_state.step[idx, None] * d[idx])
        f_t, g_t = problem.value_and_grad(trial.reshape(k, *shape[1:]))
        h_t, g_t = -f_t, -g_t.reshape(k, -1)
        moved, x_new, h_new, g_new, stopped = rule.judge(r_state, idx, x[idx], h[idx], g[idx],
                                                         trial, h_t, g_t)
        active[stopped] = False
        if moved.numel() == 0:
            continue
        direction.update(d_state, moved, x_new - x[moved], g_new - g[moved])
        h_old = h[moved]
        x[moved], h[moved], g[moved] = x_new, h_new, g_new
        iterations[moved] += 1
        better = h_new <= best_h[moved]
        best_x[moved[better]], best_h[moved[better]] = x_new[better], h_new[better]
        done = iterations[moved] >= max_iter
        if ftol is not None:
            scale = torch.maximum(torch.maximum(h_old.abs(), h_new.abs()), torch.ones_like(h_old))
            done |= (h_old - h_new) <= ftol * scale
        if gtol is not None:
            done |= projected_grad_norm(x_new, g_new) <= gtol
        active[moved[done]] = False
        new_directions(moved[~done])
    return LocalResult(best_x.reshape(n, *shape[1:]), -best_h, iterations)


def payable(problem: Problem, running: Tensor) -> Tensor:
    """Indices of the running starts (a ``b`` bool mask) that the budget can pay for in one
    call, first ones first; empty when nothing runs or the budget is spent."""
    idx = running.nonzero().flatten()
    return idx[: problem.affordable(idx.numel())]


def projected_grad_norm(x: Tensor, g: Tensor) -> Tensor:
    """Inf-norm of the projected gradient of a minimisation over the unit cube (``b``)."""
    return (x - (x - g).clamp(0.0, 1.0)).abs().amax(-1)
