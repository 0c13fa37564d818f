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
    trailing: int = 0,
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
        trailing: Once at most this many starts still run (after at least one trial call),
            stop those whose value is below the best value any start has reached: only the
            leader runs on. Each call then evaluates a point or two and costs the driver's fixed
            per-call overhead; the starts cut are behind a point already found. With ``more``,
            only once it has no more starts. 0: never.

    Returns:
        The best point each start visited (never worse than the start), its value, the
        number of accepted steps and which starts were still running when it returned (cut
        short by ``until`` or the budget); only the first ``b' <= b`` starts when the budget could not
        pay for evaluating all of them. With ``more``, the starts whose rows were reused come
        first, in the order they were replaced, then the rows' last starts.
    """
    shape = U.shape
    n = problem.affordable(shape[0])
    if max_iter == 0 or n == 0:
        iterations = torch.zeros(n, dtype=torch.long, device=U.device)
        if values is None:
            values = problem.value(U[:n])
        return LocalResult(U[:n], values[:n], iterations, torch.zeros_like(iterations).bool())
    x = problem.project(U[:n].reshape(n, -1)).clone()
    f, g = problem.value_and_grad(x.reshape(n, *shape[1:]))
    s = _Searches(problem, direction, rule, gtol, x, -f, -g.reshape(n, -1))
    called = False
    exhausted = more is None
    while True:
        running = s.active.nonzero().flatten()
        if until > 0 and called and running.numel() <= until:
            break
        if called and exhausted and 0 < running.numel() <= trailing:
            behind = s.active & (s.h > s.lead())
            if bool(behind.any()):
                s.active &= ~behind
                running = s.active.nonzero().flatten()
        called = True
        k = problem.affordable(running.numel())
        new = None
        if more is not None and k == running.numel():
            free = (~s.active).nonzero().flatten()
            room = min(free.numel(), problem.affordable(k + free.numel()) - k)
            new = more(room) if room > 0 else None
            exhausted = exhausted or (room > 0 and new is None)
            if new is not None and new.shape[0] == 0:
                new = None
        if k == 0 and new is None:
            break
        idx, evaluated = running, s.active
        if k < running.numel():  # the budget pays for the first k running starts only
            idx = running[:k]
            evaluated = torch.zeros_like(s.active).index_fill_(0, idx, True)
        trial = problem.project((s.x + s.r_state.step[:, None] * s.d)[idx])
        if new is None:
            f_t, g_t = problem.value_and_grad(trial.reshape(k, *shape[1:]))
        else:  # the new starts are evaluated in the same call, then take the freed rows
            rows = free[: new.shape[0]]
            starts = problem.project(new.reshape(rows.numel(), -1))
            f_t, g_t = problem.value_and_grad(torch.cat([trial, starts]).reshape(-1, *shape[1:]))
            s.begin(rows, starts, -f_t[k:], -g_t[k:].reshape(rows.numel(), -1))
            f_t, g_t = f_t[:k], g_t[:k]
        x_t = s.x.index_put((idx,), trial)
        h_t = s.h.index_put((idx,), -f_t)
        g_t = s.g.index_put((idx,), -g_t.reshape(k, s.g.shape[1]))
        moved, x_new, h_new, g_new, stopped = rule.judge(s.r_state, evaluated, s.x, s.h, s.g,
                                                         x_t, h_t, g_t)
        s.active &= ~stopped
        if bool(moved.any()):
            s.accept(moved, x_new, h_new, g_new, max_iter, ftol)
    return s.result(shape)


class _Searches:
    """The state of a batch of local searches, one row per start (full width; rows outside a
    mask never change): iterates ``x``, ``h = -acquisition`` and its gradient ``g``, the best
    point each visited, accepted steps, which still run, the direction and step-rule states,
    the next direction ``d``, and the searches whose rows were handed to new starts."""

    def __init__(self, problem: Problem, direction, rule, gtol: float | None, x: Tensor,
                 h: Tensor, g: Tensor) -> None:
        self.problem, self.direction, self.rule, self.gtol = problem, direction, rule, gtol
        self.x, self.h, self.g = x, h, g
        self.best_x, self.best_h = x.clone(), h.clone()
        self.iterations = torch.zeros(x.shape[0], dtype=torch.long, device=x.device)
        self.d_state, self.r_state = direction.init(x), rule.init(x, h, g)
        self.replaced: list[tuple[Tensor, Tensor, Tensor]] = []
        self.active = torch.isfinite(h)
        if gtol is not None:
            self.active &= projected_grad_norm(x, g) > gtol
        self.d, slope, first = _compute(problem, direction, self.d_state, self.active, x, g)
        rule.begin(self.r_state, self.active, self.d, slope, first)

    def begin(self, rows: Tensor, starts: Tensor, h: Tensor, g: Tensor) -> None:
        """New starts (``starts``, their ``h`` and ``g``) take the freed ``rows``; the searches
        that ended there are kept for the result."""
        self.replaced.append((self.best_x[rows], self.best_h[rows], self.iterations[rows]))
        self.x, self.h = self.x.index_put((rows,), starts), self.h.index_put((rows,), h)
        self.g = self.g.index_put((rows,), g)
        self.best_x = self.best_x.index_put((rows,), starts)
        self.best_h = self.best_h.index_put((rows,), h)
        self.iterations = self.iterations.index_fill(0, rows, 0)
        begun = torch.zeros_like(self.active).index_fill_(0, rows, True)
        reset_rows(self.d_state, self.direction.init(self.x), begun)
        reset_rows(self.r_state, self.rule.init(self.x, self.h, self.g), begun)
        begun &= torch.isfinite(self.h)
        if self.gtol is not None:
            begun &= projected_grad_norm(self.x, self.g) > self.gtol
        self._renew(begun)
        self.active = self.active | begun

    def accept(self, moved: Tensor, x_new: Tensor, h_new: Tensor, g_new: Tensor,
               max_iter: int, ftol: float | None) -> None:
        """The ``moved`` searches take their step: the direction learns from it, the best
        points follow, the stopping tests run and the searches that go on get a new
        direction."""
        self.direction.update(self.d_state, moved, x_new - self.x, g_new - self.g)
        h_old = self.h
        m = moved[:, None]
        self.x, self.g = torch.where(m, x_new, self.x), torch.where(m, g_new, self.g)
        self.h = torch.where(moved, h_new, self.h)
        self.iterations += moved
        better = moved & (self.h <= self.best_h)
        self.best_x = torch.where(better[:, None], self.x, self.best_x)
        self.best_h = torch.where(better, self.h, self.best_h)
        done = self.iterations >= max_iter
        if ftol is not None:
            scale = torch.maximum(torch.maximum(h_old.abs(), self.h.abs()),
                                  torch.ones_like(self.h))
            done |= (h_old - self.h) <= ftol * scale
        if self.gtol is not None:
            done |= projected_grad_norm(self.x, self.g) <= self.gtol
        done &= moved
        self.active &= ~done
        self._renew(moved & ~done)

    def _renew(self, mask: Tensor) -> None:
        """New directions for the searches in ``mask``, and the step rule's start on them."""
        d_new, slope, first = _compute(self.problem, self.direction, self.d_state, mask,
                                       self.x, self.g)
        self.d = torch.where(mask[:, None], d_new, self.d)
        self.rule.begin(self.r_state, mask, self.d, slope, first)

    def lead(self) -> Tensor:
        """The lowest ``h`` any search has reached, those whose rows were reused included."""
        return torch.cat([r[1] for r in self.replaced] + [self.best_h]).min()

    def result(self, shape: torch.Size) -> LocalResult:
        """The best point of every search, those whose rows were reused first."""
        best_x, best_h, iterations, active = self.best_x, self.best_h, self.iterations, self.active
        if self.replaced:
            best_x = torch.cat([r[0] for r in self.replaced] + [best_x])
            best_h = torch.cat([r[1] for r in self.replaced] + [best_h])
            iterations = torch.cat([r[2] for r in self.replaced] + [iterations])
            active = torch.cat([torch.zeros_like(r[2], dtype=torch.bool)
                                for r in self.replaced] + [active])
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
