"""Batched box-constrained L-BFGS in the unit cube.

Every start keeps its own memory, step length, weak-Wolfe line search and stopping state; each
call evaluates one trial point of every still-running start. Nothing is summed across starts, so
a converged start is never dragged along by the others.

The method is projected L-BFGS with an active set (the bound-constrained variant of
Kim, Sra & Dhillon 2010), not the Cauchy-point
subspace minimisation of Byrd et al. (1995): on a box the two take the same steps away from the
bounds, and the projected form batches cleanly. Stopping follows scipy's L-BFGS-B defaults:
projected-gradient inf-norm below ``pgtol``, or relative decrease below ``ftol``, or
``max_iter`` iterations.

References:
    Byrd, Lu, Nocedal, Zhu. A Limited Memory Algorithm for Bound Constrained Optimization. 1995.
    Kim, Sra, Dhillon. Tackling Box-Constrained Optimization via a New Projected Quasi-Newton
    Approach. SIAM J. Sci. Comput. 2010.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from acqopt.base import positive_float, positive_int
from acqopt.counting import Problem
from acqopt.local.base import LocalResult, payable


@dataclass(frozen=True, kw_only=True)
class LBFGSB:
    """Batched projected L-BFGS ascent on the acquisition, in the unit cube.

    Attributes:
        max_iter: Iterations per start (BoTorch's ``optimize_acqf`` default ``maxiter``).
        memory: Curvature pairs kept (scipy's ``maxcor``).
        pgtol: Stop when the projected gradient's inf-norm is below this (scipy's ``pgtol``).
        ftol: Stop when the relative decrease is below this (scipy's ``factr=1e7`` x eps).
        max_linesearch: Line-search trials per iteration before a start is declared stuck.
        c1: Armijo sufficient-decrease constant.
        c2: Weak-Wolfe curvature constant (0.9, the usual quasi-Newton choice): a step that
            leaves the slope steeper than ``c2`` times the initial slope is lengthened, which
            lets L-BFGS cross plateaus of negative curvature that backtracking alone crawls
            over.
    """

    max_iter: int = 200
    memory: int = 10
    pgtol: float = 1e-5
    ftol: float = 2.220446049250313e-09
    max_linesearch: int = 20
    c1: float = 1e-4
    c2: float = 0.9

    def __post_init__(self) -> None:
        positive_int("max_iter", self.max_iter, 0)
        positive_int("memory", self.memory)
        positive_int("max_linesearch", self.max_linesearch)
        positive_float("pgtol", self.pgtol)
        positive_float("ftol", self.ftol)
        positive_float("c1", self.c1, upper=1.0)
        positive_float("c2", self.c2, upper=1.0)
        if not self.c1 < self.c2:
            raise ValueError(f"c2: expected c1 < c2 < 1, got c1={self.c1}, c2={self.c2}")

    def refine(self, problem: Problem, U: Tensor, values: Tensor | None = None) -> LocalResult:
        """Refines ``b x q x d`` starts; see :class:`acqopt.local.base.LocalSearch`.

        Each start is a small state machine (direction, step, line-search count); every call
        evaluates one trial point for every still-running start, whether it is the first trial
        of a new iteration or a backtracked one, so the number of calls follows the slowest
        start rather than the sum over iterations of the slowest line search.
        """
        shape = U.shape
        n = problem.affordable(shape[0])
        iterations = torch.zeros(n, dtype=torch.long, device=U.device)
        if self.max_iter == 0 or n == 0:
            if values is None:
                values = problem.value(U[:n])
            return LocalResult(U[:n], values[:n], iterations)
        x = problem.project(U[:n].reshape(n, -1)).clone()
        f, g = problem.value_and_grad(x.reshape(n, *shape[1:]))
        h, g = -f, -g.reshape(n, -1)  # minimise h = -acquisition
        D, m = x.shape[1], self.memory
        S, Y, rho = x.new_zeros(n, m, D), x.new_zeros(n, m, D), x.new_zeros(n, m)
        direction, slope, step = x.new_zeros(n, D), x.new_zeros(n), x.new_zeros(n)
        tries = torch.zeros(n, dtype=torch.long, device=x.device)
        # Weak-Wolfe bracket per start: lo is the longest step known to satisfy Armijo (its
        # point kept in x_lo/h_lo/g_lo), hi the shortest known to fail it (inf if none yet).
        lo, hi = x.new_zeros(n), torch.full_like(h, float("inf"))
        x_lo, h_lo, g_lo = x.clone(), h.clone(), g.clone()
        active = torch.isfinite(h) & (projected_grad_norm(x, g) > self.pgtol)
        self._new_direction(active.nonzero().flatten(), x, g, S, Y, rho, direction, slope, step)

        while bool(active.any()):
            idx = payable(problem, active)
            k = idx.numel()
            if k == 0:
                break
            trial = problem.project(x[idx] + step[idx, None] * direction[idx])
            f_t, g_t = problem.value_and_grad(trial.reshape(k, *shape[1:]))
            h_t, g_t = -f_t, -g_t.reshape(k, -1)
            move = trial - x[idx]
            decrease = (g[idx] * move).sum(-1)  # <= 0 along a descent direction
            armijo = torch.isfinite(h_t) & (h_t <= h[idx] + self.c1 * decrease) & (h_t <= h[idx])
            curvature = (g_t * move).sum(-1) >= self.c2 * decrease
            # Extrapolation that no longer moves the projected point ends the search.
            stalled = (trial - x_lo[idx]).abs().amax(-1) <= 1e-12
            tries[idx] += 1
            accept = armijo & (curvature | stalled)
            longer = armijo & ~accept  # Armijo holds, slope still steep: a longer step
            shorter = ~armijo
            # Remember the longest Armijo step; bracket the failures.
            li = idx[longer]
            lo[li], x_lo[li], h_lo[li], g_lo[li] = step[li], trial[longer], h_t[longer], g_t[longer]
            si = idx[shorter]
            hi[si] = step[si]
            # Next trial: x4 until bracketed, then bisection; without an Armijo point yet,
            # safeguarded quadratic interpolation (as backtracking).
            t, dh, sl = step[si], h_t[shorter] - h[si], slope[si]
            t_quad = -sl * t * t / (2 * (dh - sl * t)).clamp_min(1e-300)
            t_quad = torch.where(torch.isfinite(dh), t_quad, 0.1 * t)
            back = torch.minimum(torch.maximum(t_quad, 0.1 * t), 0.5 * t)
            step[si] = torch.where(lo[si] > 0, 0.5 * (lo[si] + hi[si]), back)
            step[li] = torch.where(torch.isinf(hi[li]), 4.0 * step[li], 0.5 * (lo[li] + hi[li]))
            # Out of tries: take the longest Armijo step if there is one, else stop this start.
            out = idx[~accept & (tries[idx] >= self.max_linesearch)]
            fallback = out[lo[out] > 0]
            active[out[lo[out] <= 0]] = False

            new_x = torch.cat([trial[accept], x_lo[fallback]])
            new_h = torch.cat([h_t[accept], h_lo[fallback]])
            new_g = torch.cat([g_t[accept], g_lo[fallback]])
            acc = torch.cat([idx[accept], fallback])
            if acc.numel() > 0:
                s_, y_ = new_x - x[acc], new_g - g[acc]
                # Curvature on the coordinates that moved: a coordinate held at a bound has
                # s = 0, and its gradient change would only shrink the scaling s'y / y'y.
                y_ = y_ * (s_ != 0)
                sy = (s_ * y_).sum(-1)
                good = sy > 1e-10 * (y_ * y_).sum(-1).clamp_min(1e-30)
                upd = acc[good]
                S[upd] = torch.cat([S[upd, 1:], s_[good, None]], dim=1)
                Y[upd] = torch.cat([Y[upd, 1:], y_[good, None]], dim=1)
                rho[upd] = torch.cat([rho[upd, 1:], 1.0 / sy[good, None]], dim=1)
                h_old = h[acc]
                x[acc], h[acc], g[acc] = new_x, new_h, new_g
                x_lo[acc], h_lo[acc], g_lo[acc] = new_x, new_h, new_g
                iterations[acc] += 1
                tries[acc], lo[acc], hi[acc] = 0, 0.0, float("inf")
                scale = torch.maximum(torch.maximum(h_old.abs(), h[acc].abs()), torch.ones_like(h_old))
                done = (
                    ((h_old - h[acc]) <= self.ftol * scale)
                    | (projected_grad_norm(x[acc], g[acc]) <= self.pgtol)
                    | (iterations[acc] >= self.max_iter)
                )
                active[acc[done]] = False
                self._new_direction(acc[~done], x, g, S, Y, rho, direction, slope, step)
        return LocalResult(x.reshape(n, *shape[1:]), -h, iterations)

    @staticmethod
    def _new_direction(idx, x, g, S, Y, rho, direction, slope, step) -> None:
        """Sets the quasi-Newton direction, its slope and the first step for starts ``idx``."""
        if idx.numel() == 0:
            return
        xa, ga = x[idx], g[idx]
        free = ~(((xa <= 0) & (ga > 0)) | ((xa >= 1) & (ga < 0)))
        gf = ga * free
        d = -two_loop(gf, S[idx], Y[idx], rho[idx]) * free
        sl = (d * ga).sum(-1)
        reset = (sl >= 0) | ~torch.isfinite(sl)
        if bool(reset.any()):  # not a descent direction: forget the memory, use the gradient
            r = idx[reset]
            S[r], Y[r], rho[r] = 0.0, 0.0, 0.0
        d = torch.where(reset[:, None], -gf, d)
        sl = torch.where(reset, -(gf * gf).sum(-1), sl)
        no_memory = (rho[idx] == 0).all(-1)
        # Without curvature information the first trial step has unit length at most
        # (as scipy's L-BFGS-B); with it, the quasi-Newton step itself.
        first = (1.0 / d.norm(dim=-1).clamp_min(1e-12)).clamp(max=1.0)
        direction[idx], slope[idx] = d, sl
        step[idx] = torch.where(no_memory, first, torch.ones_like(sl))


def projected_grad_norm(x: Tensor, g: Tensor) -> Tensor:
    """Inf-norm of the projected gradient of a minimisation over the unit cube (``b``)."""
    return (x - (x - g).clamp(0.0, 1.0)).abs().amax(-1)


def two_loop(g: Tensor, S: Tensor, Y: Tensor, rho: Tensor) -> Tensor:
    """Batched L-BFGS two-loop recursion: ``H g`` for each start (``b x D``).

    ``S``, ``Y`` are ``b x m x D`` (newest last) and ``rho`` is ``b x m`` with zeros for empty
    slots, which then leave the product unchanged.
    """
    m = S.shape[1]
    used = (rho != 0).any(0)  # filled slots form a suffix (newest last): skip the empty ones
    first = int(used.nonzero()[0]) if bool(used.any()) else m
    q = g.clone()
    alpha = g.new_zeros(g.shape[0], m)
    for i in range(m - 1, first - 1, -1):
        alpha[:, i] = rho[:, i] * (S[:, i] * q).sum(-1)
        q = q - alpha[:, i, None] * Y[:, i]
    sy = (S[:, -1] * Y[:, -1]).sum(-1)
    yy = (Y[:, -1] * Y[:, -1]).sum(-1)
    gamma = torch.where(rho[:, -1] > 0, sy / yy.clamp_min(1e-30), torch.ones_like(sy))
    r = gamma[:, None] * q
    for i in range(first, m):
        beta = rho[:, i] * (Y[:, i] * r).sum(-1)
        r = r + S[:, i] * (alpha[:, i] - beta)[:, None]
    return r
