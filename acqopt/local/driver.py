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

import dataclasses
from collections.abc import Callable

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
    more: Callable[[int], Tensor | None] | None = None,
    until: int = 0,
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
        more: Further starts: called with the number of rows that finished starts have freed
            (and the budget can pay for beside the running ones), it returns up to that many
            ``k x q x d`` starts, or None when it has no more. Each begins in a freed row in the
            same call as the other starts' trials, so a batch stays full instead of waiting
            for its slowest start.
        until: Return once at most this many starts still run (after at least one trial
            call) instead of waiting for the slowest ones. 0 waits for every start. With
            ``more``, the starts it has not handed out by then are not searched.

    Returns:
        The best point each start visited (never worse than the start), its value, the
        number of accepted steps and which starts were still running when it returned (cut
        short by ``until`` or the budget); only the first ``b' <= b`` starts when the budget could not
        pay for evaluating all of them. With ``more``, the starts whose rows were reused come
        first, in the order they were replaced, then the rows' last starts.
    """
    shape = U.shape
    n = problem.affordable(shape[0])
    iterations = torch.zeros(n, dtype=torch.long, device=U.device)
    if max_iter == 0 or n == 0:
        if values is None:
            values = problem.value(U[:n])
        return LocalResult(U[:n], values[:n], iterations, torch.zeros_like(iterations).bool())
    x = problem.project(U[:n].reshape(n, -1)).clone()
    f, g = problem.value_and_grad(x.reshape(n, *shape[1:]))
    h, g = -f, -g.reshape(n, -1)
    best_x, best_h = x.clone(), h.clone()
    d_state, r_state = direction.init(x), rule.init(x, h, g)
    replaced: list[tuple[Tensor, Tensor, Tensor]] = []

    active = torch.isfinite(h)
    if gtol is not None:
        active &= projected_grad_norm(x, g) > gtol
    d, slope, first = _compute(problem, direction, d_state, active, x, g)
    rule.begin(r_state, active, d, slope, first)
    called = False
    while True:
        running = active.nonzero().flatten()
        if until > 0 and called and running.numel() <= until:
            break
        called = True
        k = problem.affordable(running.numel())
        new = None
        if more is not None and k == running.numel():
            free = (~active).nonzero().flatten()
            room = min(free.numel(), problem.affordable(k + free.numel()) - k)
            new = more(room) if room > 0 else None
            if new is not None and new.shape[0] == 0:
                new = None
        if k == 0 and new is None:
            break
        idx, evaluated = running, active
        if k < running.numel():  # the budget pays for the first k running starts only
            idx = running[:k]
            evaluated = torch.zeros_like(active).index_fill_(0, idx, True)
        trial = problem.project((x + r_state.step[:, None] * d)[idx])
        if new is None:
            f_t, g_t = problem.value_and_grad(trial.reshape(k, *shape[1:]))
        else:  # the new starts are evaluated in the same call, then take the freed rows
            rows = free[: new.shape[0]]
            starts = problem.project(new.reshape(rows.numel(), -1))
            f_t, g_t = problem.value_and_grad(torch.cat([trial, starts]).reshape(-1, *shape[1:]))
            replaced.append((best_x[rows], best_h[rows], iterations[rows]))
            x, h = x.index_put((rows,), starts), h.index_put((rows,), -f_t[k:])
            g = g.index_put((rows,), -g_t[k:].reshape(rows.numel(), -1))
            best_x, best_h = best_x.index_put((rows,), starts), best_h.index_put((rows,), -f_t[k:])
            iterations = iterations.index_fill(0, rows, 0)
            begun = torch.zeros_like(active).index_fill_(0, rows, True)
            reset_rows(d_state, direction.init(x), begun)
            reset_rows(r_state, rule.init(x, h, g), begun)
            begun &= torch.isfinite(h)
            if gtol is not None:
                begun &= projected_grad_norm(x, g) > gtol
            d_new, slope, first = _compute(problem, direction, d_state, begun, x, g)
            d = torch.where(begun[:, None], d_new, d)
            rule.begin(r_state, begun, d, slope, first)
            active = active | begun
            f_t, g_t = f_t[:k], g_t[:k]
        x_t = x.index_put((idx,), trial)
        h_t = h.index_put((idx,), -f_t)
        g_t = g.index_put((idx,), -g_t.reshape(k, g.shape[1]))
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
        d_new, slope, first = _compute(problem, direction, d_state, renew, x, g)
        d = torch.where(renew[:, None], d_new, d)
        rule.begin(r_state, renew, d, slope, first)
    if replaced:
        best_x = torch.cat([r[0] for r in replaced] + [best_x])
        best_h = torch.cat([r[1] for r in replaced] + [best_h])
        iterations = torch.cat([r[2] for r in replaced] + [iterations])
        active = torch.cat([torch.zeros_like(r[2], dtype=torch.bool) for r in replaced] + [active])
    return LocalResult(best_x.reshape(-1, *shape[1:]), -best_h, iterations, active)


def _compute(problem: Problem, direction, state, mask: Tensor, x: Tensor, g: Tensor):
    """``direction.compute``; with nonlinear constraints, each new direction is steered along
    the constraints active at its iterate (:meth:`Problem.steer`) where it still descends."""
    d, slope, first = direction.compute(state, mask, x, g)
    if problem.nonlinear is None or not bool(mask.any()):
        return d, slope, first
    rows = mask.nonzero().flatten()
    steered = problem.steer(x[rows], d[rows])
    steered_slope = (steered * g[rows]).sum(-1)
    keep = (steered_slope < 0).unsqueeze(-1)
    d = d.index_put((rows,), torch.where(keep, steered, d[rows]))
    slope = slope.index_put((rows,), torch.where(keep[:, 0], steered_slope, slope[rows]))
    return d, slope, first


def reset_rows(state, fresh, mask: Tensor) -> None:
    """Sets the rows in ``mask`` of a per-start state (a dataclass of tensors with one row per
    start, or None) to those of ``fresh``, a state just made for the same starts."""
    if state is None:
        return
    for field in dataclasses.fields(state):
        old = getattr(state, field.name)
        rows = mask.reshape(-1, *([1] * (old.dim() - 1)))
        setattr(state, field.name, torch.where(rows, getattr(fresh, field.name), old))


def projected_grad_norm(x: Tensor, g: Tensor) -> Tensor:
    """Inf-norm of the projected gradient of a minimisation over the unit cube (``b``)."""
    return (x - (x - g).clamp(0.0, 1.0)).abs().amax(-1)
