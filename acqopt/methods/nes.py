"""Zero-order evolution strategies: sNES, the antithetic ES gradient estimator, and variational
optimisation with natural gradients. They use acquisition values only, never gradients.

All work in the unit cube with a separable Gaussian search distribution; a population is one
batched call. Candidates outside the cube are evaluated at their projection onto it.

References:
    Schaul, Glasmachers, Schmidhuber. High Dimensions and Heavy Tails for Natural Evolution
    Strategies (sNES). GECCO 2011.
    Wierstra, Schaul, Glasmachers, Sun, Peters, Schmidhuber. Natural Evolution Strategies.
    JMLR 15, 2014 (arXiv:1106.4487).
    Salimans, Ho, Chen, Sidor, Sutskever. Evolution Strategies as a Scalable Alternative to
    Reinforcement Learning. arXiv:1703.03864 (antithetic pairs, centred ranks).
    Greydanus. Evolution strategies as a gradient estimator (evostrats), 2020.
    Havtorn. Variational optimization (natural gradients, antithetic sampling), 2018.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from acqopt.base import BaseOptimizer, Status, positive_float, positive_int
from acqopt.counting import Problem
from acqopt.design import check_design, initial_points
from acqopt.local.directions import adam_step
from acqopt.registry import register


def antithetic_normal(n: int, dim: int, generator: torch.Generator, antithetic: bool = True) -> Tensor:
    """``n x dim`` standard normals; with ``antithetic``, the second half mirrors the first."""
    if not antithetic:
        return torch.randn(n, dim, generator=generator, dtype=torch.float64)
    half = torch.randn((n + 1) // 2, dim, generator=generator, dtype=torch.float64)
    return torch.cat([half, -half])[:n]


def rank_utilities(values: Tensor) -> Tensor:
    """NES fitness shaping (Wierstra et al. 2014, eq. 5): ``max(0, log(n/2+1) - log(rank))``
    normalised to sum 1, minus ``1/n``; rank 1 is the best (largest) value."""
    n = values.shape[0]
    ranks = torch.empty(n, dtype=torch.float64)
    ranks[torch.argsort(values.double().cpu(), descending=True)] = torch.arange(
        1, n + 1, dtype=torch.float64)
    u = (math.log(n / 2 + 1) - torch.log(ranks)).clamp_min(0.0)
    return u / u.sum() - 1.0 / n


def centred_ranks(values: Tensor) -> Tensor:
    """Ranks scaled to ``[-0.5, 0.5]``, the best highest (Salimans et al. 2017)."""
    n = values.shape[0]
    ranks = torch.empty(n, dtype=torch.float64)
    ranks[torch.argsort(values.double().cpu())] = torch.arange(n, dtype=torch.float64)
    return ranks / max(n - 1, 1) - 0.5


@dataclass(frozen=True, kw_only=True)
class ValueOnly(BaseOptimizer):
    """Shared by the methods that read acquisition values only: the start (the best of a
    raw-sample batch) and evaluation in the unit cube, integer coordinates rounded.

    ``integer_dims`` lists flat indices (``q*d`` layout) of integer parameters: candidates are
    evaluated at points rounded in ``bounds`` coordinates, so a smooth search over the
    continuous relaxation sees the rounded acquisition.
    """

    raw_samples: int = 256
    design: str = "sobol"
    integer_dims: tuple[int, ...] = ()
    default_budget_queries: int | None = 2048

    def __post_init__(self) -> None:
        super().__post_init__()
        positive_int("raw_samples", self.raw_samples)
        check_design(self.design)
        if any(isinstance(i, bool) or not isinstance(i, int) or i < 0 for i in self.integer_dims):
            raise ValueError(f"integer_dims: expected non-negative ints, got {self.integer_dims!r}")
        if self.default_budget_queries is None:
            raise ValueError("default_budget_queries: expected an int >= 1 (the method runs "
                             "until its budget is spent), got None")

    def _start(self, problem: Problem, generator: torch.Generator) -> Tensor:
        """The best of a raw-sample batch, flat (``q*d``), float64 on the CPU."""
        U = initial_points(self.design, problem, self.raw_samples, generator)
        Z = U.reshape(U.shape[0], -1).double().cpu()
        values = self._evaluate(problem, Z)
        return Z[int(values.argmax())]

    def _evaluate(self, problem: Problem, Z: Tensor) -> Tensor:
        """Values at ``Z`` (``n x q*d``, CPU float64) projected into the cube, integer
        coordinates rounded."""
        Z = Z.clamp(0.0, 1.0)
        if self.integer_dims:
            n = problem.q * problem.d
            if max(self.integer_dims) >= n:
                raise ValueError(
                    f"integer_dims: indices must be below q*d={n}, got {self.integer_dims}")
            lower = problem.lower.double().cpu().repeat(problem.q)
            scale = problem.scale.double().cpu().repeat(problem.q)
            X = lower + Z * scale
            idx = list(self.integer_dims)
            X[:, idx] = X[:, idx].round().clamp(lower[idx].ceil(), (lower + scale)[idx].floor())
            Z = ((X - lower) / scale).clamp(0.0, 1.0)
        U = Z.to(problem.bounds).reshape(-1, problem.q, problem.d)
        return problem.value(U).double().cpu()


@dataclass(frozen=True, kw_only=True)
class _SearchDistribution(ValueOnly):
    """Shared by the three: population and initial step."""

    population: int = 20
    sigma0: float = 0.3

    def __post_init__(self) -> None:
        super().__post_init__()
        positive_int("population", self.population, 2)
        positive_float("sigma0", self.sigma0)

    def min_budget(self, q: int, d: int) -> int:
        return self.raw_samples + self.population


@dataclass(frozen=True, kw_only=True)
class SNES(_SearchDistribution):
    """Separable NES (Schaul et al. 2011): per-coordinate mean and std, natural gradients.

    Attributes:
        population: lambda, candidates per generation (20, as in the GENNES paper's A.2).
        sigma0: Initial std in the unit cube (0.3 covers the box).
        lr_mean: eta_mu (1, Schaul 2011).
        lr_sigma: eta_sigma; None for ``(3 + ln n) / (5 sqrt n)`` (Schaul 2011).
        antithetic: Mirrored samples.
        tol_sigma: Restart from a uniform mean when every std falls below this.
    """

    name: str = "snes"
    lr_mean: float = 1.0
    lr_sigma: float | None = None
    antithetic: bool = True
    tol_sigma: float = 1e-10

    def __post_init__(self) -> None:
        super().__post_init__()
        positive_float("lr_mean", self.lr_mean)
        if self.lr_sigma is not None:
            positive_float("lr_sigma", self.lr_sigma)
        positive_float("tol_sigma", self.tol_sigma)

    def _run(self, problem: Problem, generator: torch.Generator) -> tuple[Status, str]:
        n = problem.q * problem.d
        lr_sigma = self.lr_sigma or (3 + math.log(n)) / (5 * math.sqrt(n))
        mu = self._start(problem, generator)
        sigma = torch.full((n,), self.sigma0, dtype=torch.float64)
        generations = restarts = 0
        while problem.affordable(self.population) == self.population:
            s = antithetic_normal(self.population, n, generator, self.antithetic)
            values = self._evaluate(problem, mu + sigma * s)
            u = rank_utilities(values)
            mu = mu + self.lr_mean * sigma * (u @ s)
            sigma = sigma * torch.exp(0.5 * lr_sigma * (u @ (s * s - 1.0)))
            generations += 1
            if bool((sigma < self.tol_sigma).all()):
                mu = torch.rand(n, generator=generator, dtype=torch.float64)
                sigma = torch.full((n,), self.sigma0, dtype=torch.float64)
                restarts += 1
        if problem.affordable(1):
            self._evaluate(problem, mu.clamp(0, 1)[None])  # spend a remainder on the mean
        problem.info.update(generations=generations, restarts=restarts,
                            final_sigma_max=float(sigma.max()))
        return Status.BUDGET_EXHAUSTED, f"{generations} generation(s), {restarts} restart(s)"


@dataclass(frozen=True, kw_only=True)
class ESGradient(_SearchDistribution):
    """Adam ascent on x driven by the antithetic ES gradient estimate (Greydanus 2020).

    The gradient of the Gaussian-smoothed acquisition at x is estimated from ``population / 2``
    mirrored pairs ``x +- sigma eps`` with centred-rank shaping; no acquisition gradients.

    Attributes:
        population: Queries per step (pairs = population / 2).
        sigma0: Smoothing std in the unit cube (fixed).
        lr: Adam's learning rate in unit-cube lengths.
        betas: Adam's decay rates.
    """

    name: str = "es-grad"
    sigma0: float = 0.05
    lr: float = 0.02
    betas: tuple[float, float] = (0.9, 0.999)

    def __post_init__(self) -> None:
        super().__post_init__()
        positive_float("lr", self.lr)
        for b in self.betas:
            positive_float("betas", b, upper=1.0)

    def _run(self, problem: Problem, generator: torch.Generator) -> tuple[Status, str]:
        n = problem.q * problem.d
        x = self._start(problem, generator)
        m, v = torch.zeros(n, dtype=torch.float64), torch.zeros(n, dtype=torch.float64)
        steps = 0
        while problem.affordable(self.population) == self.population:
            eps = antithetic_normal(self.population, n, generator)
            r = centred_ranks(self._evaluate(problem, x + self.sigma0 * eps))
            grad = (r @ eps) / (self.population * self.sigma0)
            steps += 1
            m, v, step = adam_step(m, v, grad, steps, self.lr, self.betas, 1e-12)
            x = (x + step).clamp(0.0, 1.0)
        if problem.affordable(1):
            self._evaluate(problem, x[None])
        problem.info.update(steps=steps)
        return Status.BUDGET_EXHAUSTED, f"{steps} step(s) of {self.population // 2} pairs"


@dataclass(frozen=True, kw_only=True)
class VariationalOptimization(_SearchDistribution):
    """Variational optimisation (Havtorn 2018) with a separable Gaussian search distribution.

    Maximises ``U(mu, v) = E[f(w)]``, ``w ~ N(mu, exp(v))`` per coordinate, by the score-function
    gradient with antithetic samples and a mean baseline. With ``natural`` (default) both are
    natural gradients (Fisher of ``(mu, v = log sigma^2)`` is ``diag(1/sigma^2, 1/2)``):
    ``mu += lr * sigma * E[f eps]``, ``v += lr_v * E[f (eps^2 - 1)]``, with values standardised.
    ``natural=False`` takes Havtorn's regular gradient in ``(mu, sigma^2)`` (eq. 12: ``1/sigma`` and
    ``1/sigma^2`` factors),
    which on smooth functions lets sigma blow up or stall (Havtorn's Himmelblau example).

    With ``integer_dims`` (see :class:`ValueOnly`), the Gaussian over the continuous relaxation
    smooths the rounded acquisition.

    Attributes:
        lr: Step size for the mean.
        lr_logvar: Step size for the variance: on log sigma^2 (natural) or on sigma^2 (regular,
            Havtorn's parameters; the variance is floored at exp(-60)).
        natural: Natural (True) or regular (False) gradients.
        min_sigma: Lower bound on sigma (keeps integer dimensions explorable); 0 for none.
    """

    name: str = "vo"
    lr: float = 1.0
    lr_logvar: float = 0.2
    natural: bool = True
    min_sigma: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        positive_float("lr", self.lr)
        positive_float("lr_logvar", self.lr_logvar)
        if self.min_sigma < 0:
            raise ValueError(f"min_sigma: expected a number >= 0, got {self.min_sigma!r}")

    def _run(self, problem: Problem, generator: torch.Generator) -> tuple[Status, str]:
        n = problem.q * problem.d
        mu = self._start(problem, generator)
        logvar = torch.full((n,), 2 * math.log(self.sigma0), dtype=torch.float64)
        steps = 0
        while problem.affordable(self.population) == self.population:
            sigma = (0.5 * logvar).exp()
            eps = antithetic_normal(self.population, n, generator)
            values = self._evaluate(problem, mu + sigma * eps)
            finite = torch.isfinite(values)
            floor = values[finite].min() if bool(finite.any()) else torch.tensor(0.0)
            values = torch.where(finite, values, floor)
            f = (values - values.mean()) / values.std().clamp_min(1e-12)
            g_mu = (f @ eps) / self.population  # = sigma * dU/dmu (per unit of standardised f)
            g_v = (f @ (eps * eps - 1.0)) / (2 * self.population)  # = dU/dv
            if self.natural:
                mu = mu + self.lr * sigma * g_mu  # F^-1 = sigma^2: sigma^2 * (g_mu / sigma)
                logvar = logvar + self.lr_logvar * 2 * g_v  # F^-1 = 2 for v
            else:  # Havtorn's regular gradients, in his parameters (mu, sigma^2), eq. (12)
                mu = mu + self.lr * g_mu / sigma  # dU/dmu = E[f eps] / sigma
                var = sigma.square() + self.lr_logvar * g_v / sigma.square()  # dU/dsigma^2
                logvar = var.clamp_min(math.exp(-60.0)).log()
            if self.min_sigma > 0:
                logvar = logvar.clamp_min(2 * math.log(self.min_sigma))
            logvar = logvar.clamp(-60.0, 10.0)
            steps += 1
        if problem.affordable(1):
            self._evaluate(problem, mu.clamp(0, 1)[None])
        sigma_max = float((0.5 * logvar).exp().max())
        problem.info.update(steps=steps, final_sigma_max=sigma_max)
        return Status.BUDGET_EXHAUSTED, f"{steps} step(s); final sigma max {sigma_max:.3g}"


register(SNES())
register(ESGradient())
register(VariationalOptimization())
