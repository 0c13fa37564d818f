"""The batched local-search driver: one loop for every direction and step-length rule.

Each start runs its own search (direction, step, stopping); every call of the acquisition
evaluates one trial point of every still-running start, whether it is the first trial of a new
iteration or a shortened one, so the number of calls follows the slowest start. Nothing is
summed across starts, so a converged start is never dragged along by the others. The driver
owns what all searches share: the running mask, truncation when the budget cannot pay for every
running start, projection onto the feasible set, the stopping tests and the best point visited.

The state is kept full width (one row per start) and updated under boolean masks: only the
trial points are gathered for the acquisition and scattered back, so a call costs a fixed,
small number of tensor operations however many starts still run. Rows outside a mask are never
changed, so each start's arithmetic is exactly what it would be alone.
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
    d_state, r_state = direction.init(x), rule.init(x, h, g)

    active = torch.isfinite(h)
    if gtol is not None:
        active &= projected_grad_norm(x, g) > gtol
    d, slope, first = direction.compute(d_state, active, x, g)
    rule.begin(r_state, active, d, slope, first)
    while True:
        running = active.nonzero().flatten()
        k = problem.affordable(running.numel())
        if k == 0:
            break
        idx, evaluated = running, active
        if k < running.numel():  # the budget pays for the first k running starts only
            idx = running[:k]
            evaluated = torch.zeros_like(active).index_fill_(0, idx, True)
        trial = problem.project((x + r_state.step[:, None] * d)[idx])
        f_t, g_t = problem.value_and_grad(trial.reshape(k, *shape[1:]))
        x_t = x.index_put((idx,), trial)
        h_t = h.index_put((idx,), -f_t)
        g_t = g.index_put((idx,), -g_t.reshape(k, -1))
        moved, x_new, h_new, g_new, stopped = rule.judge(r_state, evaluated, x, h, g, x_t, h_t, g_t)
        active &= ~stopped
        if not bool(moved.any()):
            continue
        direction.update(d_state, moved, x_new - x, g_new - g)
        h_old = h
        m = moved[:, None]
        x, h, g = torch.where(m, x_new, x), torch.where(moved, h_new, h), torch.where(m, g_new, g)
        iterations += moved
        better = moved & (h <= best_h)
        best_x, best_h = torch.where(better[:, None], x, best_x), torch.where(better, h, best_h)
        done = iterations >= max_iter
        if ftol is not None:
            scale = torch.maximum(torch.maximum(h_old.abs(), h.abs()), torch.ones_like(h))
            done |= (h_old - h) <= ftol * scale
        if gtol is not None:
            done |= projected_grad_norm(x, g) <= gtol
        done &= moved
        active &= ~done
        renew = moved & ~done
        d_new, slope, first = direction.compute(d_state, renew, x, g)
        d = torch.where(renew[:, None], d_new, d)
        rule.begin(r_state, renew, d, slope, first)
    return LocalResult(best_x.reshape(n, *shape[1:]), -best_h, iterations)


def projected_grad_norm(x: Tensor, g: Tensor) -> Tensor:
    """Inf-norm of the projected gradient of a minimisation over the unit cube (``b``)."""
    return (x - (x - g).clamp(0.0, 1.0)).abs().amax(-1)
