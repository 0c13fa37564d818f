"""Local searches besides L-BFGS-B: none, backtracking Armijo ascent, projected Adam."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from acqopt.base import positive_float, positive_int
from acqopt.counting import Problem
from acqopt.local.base import LocalResult, payable


@dataclass(frozen=True, kw_only=True)
class NoLocalSearch:
    """Leaves candidates where they are (plain CMA-ES); evaluates them if values are unknown."""

    def refine(self, problem: Problem, U: Tensor, values: Tensor | None = None) -> LocalResult:
        n = problem.affordable(U.shape[0])
        if values is None:
            values = problem.value(U[:n])
        zeros = torch.zeros(n, dtype=torch.long, device=U.device)
        return LocalResult(U[:n], values[:n], zeros)


@dataclass(frozen=True, kw_only=True)
class Armijo:
    """Projected gradient ascent with backtracking Armijo line search (Qiu 2020, Algorithm 1).

    Each iteration tries ``x + a g`` (projected into the unit cube) and halves ``a`` until the
    acquisition rises by at least ``c1 * g . (x_new - x)``. As in Qiu's listing, ``a`` persists
    across iterations (it only shrinks), so steps shrink with the gradient near a maximum; it
    starts at ``step / ||g(x_0)||``, a first move of length ``step`` in the unit cube. Qiu's
    listing mixes the signs of a descent and an ascent and its code ranks by a trial point; this
    is a correct ascent that keeps only accepted points. Every call evaluates one trial point of
    every still-running start.

    Attributes:
        max_iter: Accepted steps per start.
        step: Length of the first trial move in the unit cube.
        c1: Sufficient-increase constant.
        max_halvings: Consecutive halvings before a start is declared converged.
        gtol: Stop when the projected gradient's inf-norm is below this.
    """

    max_iter: int = 20
    step: float = 0.05
    c1: float = 1e-4
    max_halvings: int = 20
    gtol: float = 1e-6

    def __post_init__(self) -> None:
        positive_int("max_iter", self.max_iter, 0)
        positive_float("step", self.step)
        positive_float("c1", self.c1, upper=1.0)
        positive_int("max_halvings", self.max_halvings)
        positive_float("gtol", self.gtol)

    def refine(self, problem: Problem, U: Tensor, values: Tensor | None = None) -> LocalResult:
        shape = U.shape
        n = problem.affordable(shape[0])
        iterations = torch.zeros(n, dtype=torch.long, device=U.device)
        if self.max_iter == 0 or n == 0:
            return NoLocalSearch().refine(problem, U[:n], None if values is None else values[:n])
        x = problem.project(U[:n].reshape(n, -1)).clone()
        f, g = problem.value_and_grad(x.reshape(n, *shape[1:]))
        g = g.reshape(n, -1)
        alpha = self.step / g.norm(dim=-1).clamp_min(1e-30)  # persists; halved on rejection
        active = torch.isfinite(f) & (_ascent_pg_norm(x, g) > self.gtol)
        halvings = torch.zeros(n, dtype=torch.long, device=U.device)
        while bool(active.any()):
            idx = payable(problem, active)
            k = idx.numel()
            if k == 0:
                break
            trial = problem.project(x[idx] + alpha[idx, None] * g[idx])
            f_t, g_t = problem.value_and_grad(trial.reshape(k, *shape[1:]))
            rise = (g[idx] * (trial - x[idx])).sum(-1)
            ok = torch.isfinite(f_t) & (f_t >= f[idx] + self.c1 * rise) & (f_t > f[idx])
            acc, rej = idx[ok], idx[~ok]
            x[acc], f[acc], g[acc] = trial[ok], f_t[ok], g_t.reshape(k, -1)[ok]
            iterations[acc] += 1
            halvings[acc] = 0
            alpha[rej] = alpha[rej] * 0.5
            halvings[rej] += 1
            active[rej[halvings[rej] >= self.max_halvings]] = False
            done = (iterations[acc] >= self.max_iter) | (_ascent_pg_norm(x[acc], g[acc]) <= self.gtol)
            active[acc[done]] = False
        return LocalResult(x.reshape(n, *shape[1:]), f, iterations)


@dataclass(frozen=True, kw_only=True)
class Adam:
    """Projected Adam ascent in the unit cube (Kingma & Ba 2015, arXiv:1412.6980).

    All starts step together, one batched call per step; each start returns the best point it
    visited, so it is never worse than where it began.

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
        positive_float("lr", self.lr)
        for b in self.betas:
            positive_float("betas", b, upper=1.0)
        positive_float("eps", self.eps)

    def refine(self, problem: Problem, U: Tensor, values: Tensor | None = None) -> LocalResult:
        shape = U.shape
        n = problem.affordable(shape[0])
        if self.max_iter == 0 or n == 0:
            return NoLocalSearch().refine(problem, U[:n], None if values is None else values[:n])
        x = problem.project(U[:n].reshape(n, -1)).clone()
        f, g = problem.value_and_grad(x.reshape(n, *shape[1:]))
        g = g.reshape(n, -1)
        best_x, best_f = x.clone(), f.clone()
        m, v = torch.zeros_like(x), torch.zeros_like(x)
        iterations = torch.zeros(n, dtype=torch.long, device=U.device)
        alive = torch.isfinite(f)
        for t in range(1, self.max_iter + 1):
            idx = payable(problem, alive)
            k = idx.numel()
            if k == 0:
                break
            m[idx], v[idx], step = adam_step(m[idx], v[idx], g[idx], t, self.lr, self.betas,
                                             self.eps)
            x[idx] = problem.project(x[idx] + step)
            f_t, g_t = problem.value_and_grad(x[idx].reshape(k, *shape[1:]))
            g[idx] = g_t.reshape(k, -1)
            iterations[idx] += 1
            better = f_t > best_f[idx]
            best_x[idx[better]], best_f[idx[better]] = x[idx[better]], f_t[better]
            alive[idx[~torch.isfinite(f_t)]] = False
        return LocalResult(best_x.reshape(n, *shape[1:]), best_f, iterations)


def adam_step(m: Tensor, v: Tensor, grad: Tensor, t: int, lr: float,
              betas: tuple[float, float], eps: float) -> tuple[Tensor, Tensor, Tensor]:
    """One Adam update for ascent: the new moments and the step ``lr m_hat / (sqrt(v_hat) + eps)``
    at step ``t`` (from 1)."""
    b1, b2 = betas
    m = b1 * m + (1 - b1) * grad
    v = b2 * v + (1 - b2) * grad * grad
    return m, v, lr * (m / (1 - b1**t)) / ((v / (1 - b2**t)).sqrt() + eps)


def _ascent_pg_norm(x: Tensor, g: Tensor) -> Tensor:
    """Inf-norm of the projected ascent gradient in the unit cube (``b``)."""
    return ((x + g).clamp(0.0, 1.0) - x).abs().amax(-1)
