"""Batched box-constrained L-BFGS in the unit cube.

Every start keeps its own memory, step length and stopping state; each iteration evaluates the
still-running starts' trial points in one batched call. Nothing is summed across starts, so a
converged start is never dragged along by the others.

The method is projected L-BFGS with an active set (the bound-constrained variant of
Kim, Sra & Dhillon 2010 and of BoTorch's ``gen_candidates_torch`` family), not the Cauchy-point
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
from acqopt.local.base import LocalResult


@dataclass(frozen=True, kw_only=True)
class LBFGSB:
    """Batched projected L-BFGS ascent on the acquisition, in the unit cube.

    Attributes:
        max_iter: Iterations per start (BoTorch's ``optimize_acqf`` default ``maxiter``).
        memory: Curvature pairs kept (scipy's ``maxcor``).
        pgtol: Stop when the projected gradient's inf-norm is below this (scipy's ``pgtol``).
        ftol: Stop when the relative decrease is below this (scipy's ``factr=1e7`` x eps).
        max_linesearch: Backtracking halvings before a start is declared stuck.
        c1: Armijo sufficient-decrease constant.
    """

    max_iter: int = 200
    memory: int = 10
    pgtol: float = 1e-5
    ftol: float = 2.220446049250313e-09
    max_linesearch: int = 20
    c1: float = 1e-4

    def __post_init__(self) -> None:
        positive_int("max_iter", self.max_iter, 0)
        positive_int("memory", self.memory)
        positive_int("max_linesearch", self.max_linesearch)
        positive_float("pgtol", self.pgtol)
        positive_float("ftol", self.ftol)
        positive_float("c1", self.c1, upper=1.0)

    def refine(self, problem: Problem, U: Tensor, values: Tensor | None = None) -> LocalResult:
        """Refines ``b x q x d`` starts; see :class:`acqopt.local.base.LocalSearch`."""
        shape = U.shape
        b = shape[0]
        x = U.reshape(b, -1).clone()
        iterations = torch.zeros(b, dtype=torch.long, device=U.device)
        if self.max_iter == 0 or b == 0:
            if values is None:
                values = problem.value(U[: problem.affordable(b)])
            return LocalResult(U[: values.shape[0]], values, iterations[: values.shape[0]])

        n = problem.affordable(b)
        x = x[:n]
        iterations = iterations[:n]
        f, g = problem.value_and_grad(x.reshape(n, *shape[1:]))
        # Minimise h = -f; keep h and its gradient.
        h, g = -f, -g.reshape(n, -1)
        D = x.shape[1]
        m = self.memory
        S = x.new_zeros(n, m, D)
        Y = x.new_zeros(n, m, D)
        rho = x.new_zeros(n, m)
        active = torch.isfinite(h) & (projected_grad_norm(x, g) > self.pgtol)

        while bool(active.any()):
            idx = active.nonzero().flatten()
            xa, ga = x[idx], g[idx]
            free = ~(((xa <= 0) & (ga > 0)) | ((xa >= 1) & (ga < 0)))
            gf = ga * free
            direction = -two_loop(gf, S[idx], Y[idx], rho[idx]) * free
            slope = (direction * ga).sum(-1)
            no_memory = (rho[idx] == 0).all(-1)
            reset = (slope >= 0) | ~torch.isfinite(slope)
            direction = torch.where(reset[:, None], -gf, direction)
            slope = torch.where(reset, -(gf * gf).sum(-1), slope)
            # First step of a start (or after a reset): a step of unit length at most.
            step = torch.where(
                no_memory | reset,
                (1.0 / direction.norm(dim=-1).clamp_min(1e-12)).clamp(max=1.0),
                torch.ones_like(slope),
            )

            accepted, x_new, h_new, g_new, stop_all = self._line_search(
                problem, shape, xa, h[idx], ga, direction, step
            )
            iterations[idx[accepted]] += 1
            # Starts whose line search failed have converged as far as this method can tell.
            active[idx[~accepted]] = False
            acc = idx[accepted]
            if acc.numel() > 0:
                s = x_new[accepted] - xa[accepted]
                y = g_new[accepted] - ga[accepted]
                sy = (s * y).sum(-1)
                good = sy > 1e-10 * (y * y).sum(-1).clamp_min(1e-30)
                upd = acc[good]
                S[upd] = torch.cat([S[upd, 1:], s[good, None]], dim=1)
                Y[upd] = torch.cat([Y[upd, 1:], y[good, None]], dim=1)
                rho[upd] = torch.cat([rho[upd, 1:], 1.0 / sy[good, None]], dim=1)
                h_old = h[acc]
                x[acc], h[acc], g[acc] = x_new[accepted], h_new[accepted], g_new[accepted]
                small_decrease = (h_old - h[acc]) <= self.ftol * torch.maximum(
                    torch.maximum(h_old.abs(), h[acc].abs()), torch.ones_like(h_old)
                )
                done = (
                    small_decrease
                    | (projected_grad_norm(x[acc], g[acc]) <= self.pgtol)
                    | (iterations[acc] >= self.max_iter)
                )
                active[acc[done]] = False
            if stop_all:
                break
        return LocalResult(x.reshape(n, *shape[1:]), -h, iterations)

    def _line_search(
        self,
        problem: Problem,
        shape: torch.Size,
        x: Tensor,
        h: Tensor,
        g: Tensor,
        direction: Tensor,
        step: Tensor,
    ) -> tuple[Tensor, Tensor, Tensor, Tensor, bool]:
        """Projected backtracking (Armijo) for every start at once; one call per halving."""
        k = x.shape[0]
        accepted = torch.zeros(k, dtype=torch.bool, device=x.device)
        x_new, h_new, g_new = x.clone(), h.clone(), g.clone()
        pending = torch.arange(k, device=x.device)
        for _ in range(self.max_linesearch):
            n = problem.affordable(pending.numel())
            if n == 0:
                return accepted, x_new, h_new, g_new, True
            truncated = n < pending.numel()
            pending = pending[:n]
            trial = (x[pending] + step[pending, None] * direction[pending]).clamp(0.0, 1.0)
            f_t, g_t = problem.value_and_grad(trial.reshape(n, *shape[1:]))
            h_t, g_t = -f_t, -g_t.reshape(n, -1)
            decrease = (g[pending] * (trial - x[pending])).sum(-1)
            ok = torch.isfinite(h_t) & (h_t <= h[pending] + self.c1 * decrease) & (h_t <= h[pending])
            good = pending[ok]
            accepted[good] = True
            x_new[good], h_new[good], g_new[good] = trial[ok], h_t[ok], g_t[ok]
            if truncated:
                return accepted, x_new, h_new, g_new, True
            pending = pending[~ok]
            if pending.numel() == 0:
                break
            step[pending] = step[pending] * 0.5
        return accepted, x_new, h_new, g_new, False


def projected_grad_norm(x: Tensor, g: Tensor) -> Tensor:
    """Inf-norm of the projected gradient of a minimisation over the unit cube (``b``)."""
    return (x - (x - g).clamp(0.0, 1.0)).abs().amax(-1)


def two_loop(g: Tensor, S: Tensor, Y: Tensor, rho: Tensor) -> Tensor:
    """Batched L-BFGS two-loop recursion: ``H g`` for each start (``b x D``).

    ``S``, ``Y`` are ``b x m x D`` (newest last) and ``rho`` is ``b x m`` with zeros for empty
    slots, which then leave the product unchanged.
    """
    m = S.shape[1]
    q = g.clone()
    alpha = g.new_zeros(g.shape[0], m)
    for i in range(m - 1, -1, -1):
        alpha[:, i] = rho[:, i] * (S[:, i] * q).sum(-1)
        q = q - alpha[:, i, None] * Y[:, i]
    sy = (S[:, -1] * Y[:, -1]).sum(-1)
    yy = (Y[:, -1] * Y[:, -1]).sum(-1)
    gamma = torch.where(rho[:, -1] > 0, sy / yy.clamp_min(1e-30), torch.ones_like(sy))
    r = gamma[:, None] * q
    for i in range(m):
        beta = rho[:, i] * (Y[:, i] * r).sum(-1)
        r = r + S[:, i] * (alpha[:, i] - beta)[:, None]
    return r
