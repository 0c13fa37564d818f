"""Zero-order evolution strategies: sNES, the antithetic ES gradient estimator, and variational
optimisation with natural gradients. They use acquisition values only, never gradients.

All work in the unit cube with a separable Gaussian search distribution; a population is one
batched call. Candidates outside the cube are evaluated at their projection onto it.

Mixed spaces (``discrete_dims``, ``cat_dims``): the problem rounds every candidate onto the grid
before it is valued, so the Gaussian smooths the rounded acquisition over the relaxation (the
idea of ``integer_dims``), and each grid column's standard deviation is floored at a quarter of
its gap between values (a margin, as in Hamano et al., GECCO 2022) so that it keeps sampling the
neighbouring values. ``vo`` searches categorical columns with a categorical distribution beside
the Gaussian (:class:`CategoricalFactor`), updated by its natural gradient.

References:
    Schaul, Glasmachers, Schmidhuber. High Dimensions and Heavy Tails for Natural Evolution
    Strategies (sNES). GECCO 2011.
    Wierstra, Schaul, Glasmachers, Sun, Peters, Schmidhuber. Natural Evolution Strategies.
    JMLR 15, 2014 (arXiv:1106.4487).
    Salimans, Ho, Chen, Sidor, Sutskever. Evolution Strategies as a Scalable Alternative to
    Reinforcement Learning. arXiv:1703.03864 (antithetic pairs, centred ranks).
    Greydanus. Evolution strategies as a gradient estimator (evostrats), 2020.
    Havtorn. Variational optimization (natural gradients, antithetic sampling), 2018.
    Ollivier, Arnold, Auger, Hansen. Information-Geometric Optimization Algorithms: A Unifying
    Picture via Invariance Principles. JMLR 18, 2017 (arXiv:1106.3708): the natural gradient of
    a categorical distribution in its probabilities.
    Hamano, Saito, Nomura, Shirakawa. CMA-ES with margin. GECCO 2022 (arXiv:2205.13482).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from acqopt.adam import adam_step
from acqopt.base import BaseOptimizer, Ending, Status, positive_float, positive_int
from acqopt.counting import Problem
from acqopt.design import check_design, initial_points
from acqopt.outcomes import SearchDistributionInfo
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

    @staticmethod
    def _std_floor(problem: Problem) -> Tensor | None:
        """Per-coordinate (``q*d``) floor of the search distribution's std on grid columns,
        None without a grid (:meth:`acqopt.domain.Grid.min_std`)."""
        return None if problem.grid is None else problem.grid.min_std().repeat(problem.q)

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


class CategoricalFactor:
    """Independent categorical distributions over the categorical columns of every q-slot.

    The natural-gradient (IGO) step in the probabilities: ``p += lr * mean_i f_i (e_{c_i} - p)``
    for standardised values ``f`` (Ollivier et al. 2017), then every probability is floored at
    ``1 / (k * population)`` (a margin: no category is ever ruled out) and renormalised.

    Args:
        problem: Supplies the grid (its categorical columns) and ``q``.
        population: Samples per step (sets the margin).
    """

    def __init__(self, problem: Problem, population: int) -> None:
        grid, d = problem.grid, problem.d
        cats = sorted(grid.categorical) if grid is not None else []
        self.columns = [s * d + c for s in range(problem.q) for c in cats]
        self.values = [grid.values[c % d].double().cpu() for c in self.columns]
        self.probs = [torch.full((v.numel(),), 1.0 / v.numel(), dtype=torch.float64)
                      for v in self.values]
        self.margin = [1.0 / (v.numel() * population) for v in self.values]

    def __bool__(self) -> bool:
        return bool(self.columns)

    def sample(self, Z: Tensor, generator: torch.Generator) -> list[Tensor]:
        """Overwrites the categorical coordinates of ``Z`` (``n x q*d``) with sampled values;
        returns the sampled category indices per column."""
        drawn = []
        for j, col in enumerate(self.columns):
            idx = torch.multinomial(self.probs[j], Z.shape[0], replacement=True,
                                    generator=generator)
            Z[:, col] = self.values[j][idx]
            drawn.append(idx)
        return drawn

    def update(self, f: Tensor, drawn: list[Tensor], lr: float) -> None:
        """One natural-gradient step from standardised values ``f`` of the samples."""
        for j, idx in enumerate(drawn):
            onehot = torch.nn.functional.one_hot(idx, self.probs[j].numel()).double()
            p = self.probs[j] + lr * ((f[:, None] * (onehot - self.probs[j])).mean(0))
            p = p.clamp_min(self.margin[j])
            self.probs[j] = p / p.sum()

    def mode(self, z: Tensor) -> Tensor:
        """``z`` (``q*d``) with each categorical coordinate at its most probable value."""
        z = z.clone()
        for j, col in enumerate(self.columns):
            z[col] = self.values[j][int(self.probs[j].argmax())]
        return z


@dataclass(frozen=True, kw_only=True)
class _SearchDistribution(ValueOnly):
    """Shared by the three: population and initial step."""

    info_type = SearchDistributionInfo

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

    def _run(self, problem: Problem, generator: torch.Generator) -> Ending:
        n = problem.q * problem.d
        lr_sigma = self.lr_sigma or (3 + math.log(n)) / (5 * math.sqrt(n))
        mu = self._start(problem, generator)
        sigma = torch.full((n,), self.sigma0, dtype=torch.float64)
        floor = self._std_floor(problem)
        generations = restarts = 0
        while problem.affordable(self.population) == self.population:
            s = antithetic_normal(self.population, n, generator, self.antithetic)
            values = self._evaluate(problem, mu + sigma * s)
            u = rank_utilities(values)
            mu = mu + self.lr_mean * sigma * (u @ s)
            sigma = sigma * torch.exp(0.5 * lr_sigma * (u @ (s * s - 1.0)))
            if floor is not None:
                sigma = torch.maximum(sigma, floor)
            generations += 1
            if bool((sigma < self.tol_sigma).all()):
                mu = torch.rand(n, generator=generator, dtype=torch.float64)
                sigma = torch.full((n,), self.sigma0, dtype=torch.float64)
                restarts += 1
        if problem.affordable(1):
            self._evaluate(problem, mu.clamp(0, 1)[None])  # spend a remainder on the mean
        problem.info.update(generations=generations, restarts=restarts,
                            final_sigma=float(sigma.max()))
        return Ending(Status.BUDGET_EXHAUSTED,
                      f"{generations} generation(s), {restarts} restart(s)")


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

    def _run(self, problem: Problem, generator: torch.Generator) -> Ending:
        n = problem.q * problem.d
        x = self._start(problem, generator)
        m, v = torch.zeros(n, dtype=torch.float64), torch.zeros(n, dtype=torch.float64)
        floor = self._std_floor(problem)
        sigma = self.sigma0 if floor is None else floor.clamp_min(self.sigma0)
        steps = 0
        while problem.affordable(self.population) == self.population:
            eps = antithetic_normal(self.population, n, generator)
            r = centred_ranks(self._evaluate(problem, x + sigma * eps))
            grad = (r @ eps) / (self.population * sigma)
            steps += 1
            m, v, step = adam_step(m, v, grad, steps, self.lr, self.betas, 1e-12)
            x = (x + step).clamp(0.0, 1.0)
        if problem.affordable(1):
            self._evaluate(problem, x[None])
        problem.info.update(steps=steps)
        return Ending(Status.BUDGET_EXHAUSTED,
                      f"{steps} step(s) of {self.population // 2} pairs")


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
        lr_categorical: Step size of the categorical factor's natural gradient (mixed spaces
            with ``cat_dims``; :class:`CategoricalFactor`).
    """

    name: str = "vo"
    lr: float = 1.0
    lr_logvar: float = 0.2
    natural: bool = True
    min_sigma: float = 0.0
    lr_categorical: float = 0.2

    def __post_init__(self) -> None:
        super().__post_init__()
        positive_float("lr", self.lr)
        positive_float("lr_logvar", self.lr_logvar)
        positive_float("lr_categorical", self.lr_categorical, upper=1.0)
        if self.min_sigma < 0:
            raise ValueError(f"min_sigma: expected a number >= 0, got {self.min_sigma!r}")

    def _run(self, problem: Problem, generator: torch.Generator) -> Ending:
        n = problem.q * problem.d
        mu = self._start(problem, generator)
        logvar = torch.full((n,), 2 * math.log(self.sigma0), dtype=torch.float64)
        std_floor = self._std_floor(problem)
        categories = CategoricalFactor(problem, self.population)
        steps = 0
        while problem.affordable(self.population) == self.population:
            sigma = (0.5 * logvar).exp()
            eps = antithetic_normal(self.population, n, generator)
            Z = mu + sigma * eps
            if categories:  # those coordinates come from the categorical factor
                eps[:, categories.columns] = 0.0
                drawn = categories.sample(Z, generator)
            values = self._evaluate(problem, Z)
            finite = torch.isfinite(values)
            floor = values[finite].min() if bool(finite.any()) else torch.tensor(0.0)
            values = torch.where(finite, values, floor)
            f = (values - values.mean()) / values.std().clamp_min(1e-12)
            if categories:
                categories.update(f, drawn, self.lr_categorical)
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
            if std_floor is not None:
                logvar = torch.maximum(logvar, 2 * std_floor.clamp_min(1e-30).log())
            logvar = logvar.clamp(-60.0, 10.0)
            steps += 1
        if problem.affordable(1):
            self._evaluate(problem, categories.mode(mu.clamp(0, 1))[None])
        sigma_max = float((0.5 * logvar).exp().max())
        problem.info.update(steps=steps, final_sigma=sigma_max)
        return Ending(Status.BUDGET_EXHAUSTED,
                      f"{steps} step(s); final sigma max {sigma_max:.3g}")


register(SNES())
register(ESGradient())
register(VariationalOptimization())
