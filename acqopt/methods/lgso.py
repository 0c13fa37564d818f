"""L-GSO: local generative surrogate optimisation (Shirobokov et al. 2020, Algorithm 1).

For acquisitions that give values but no usable gradient (rounded integer parameters,
Monte-Carlo acquisitions with redrawn samples, models that are not differentiable). Each step:

1. sample ``population`` points uniformly in the box of half-width ``neighbourhood`` around the
   current point ``psi`` (and ``psi`` itself), each evaluated ``repeats`` times, in one call;
2. keep every earlier sample that lies in the same box (the paper's experience replay);
3. train a conditional generative surrogate ``S(z, psi')`` of the value at ``psi'`` on them;
4. take one Adam step on ``psi`` along the surrogate's gradient of the expected value,
   ``E_z[S(z, psi)]``.

Two surrogates. ``"gaussian"`` (default) is the lightest conditional generative model of a
scalar: ``S(z, psi') = mu(psi') + sigma(psi') z`` with ``mu`` and ``log sigma`` from one small
MLP trained by Gaussian likelihood, so ``E_z[S] = mu`` and its gradient is exact. ``"gan"`` is the
paper's choice, a conditional Cramér GAN with a gradient penalty (the authors' configuration
for Rosenbrock: Cramér critic, penalty weight 10), whose expected value is a Monte-Carlo mean
over ``gradient_samples`` noise draws. Both train warm-started from the previous step's
weights (the paper re-initialises; a warm start needs far fewer iterations per step).

The paper's experiments run ``neighbourhood=0.2`` (its ``step_data_gen``), 15-20 points per step,
3000 simulator repeats per point and Adam with learning rate 0.1 on parameters of order 1;
the defaults here are those proportions in the unit cube of an acquisition, with one
evaluation per point (acquisitions are deterministic or cheaply averaged).

Mixed spaces (``discrete_dims``, ``cat_dims``): the problem rounds every sample onto the grid
before it is valued, so the surrogate learns the rounded acquisition over the relaxation and
``psi`` moves through it; there is no discrete search of its own (categories in the order of
their values).

Reference:
    Shirobokov, Belavin, Kagan, Ustyuzhanin, Baydin. Black-Box Optimization with Local
    Generative Surrogates. NeurIPS 2020 (arXiv:2002.04632).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from acqopt.adam import Adam, adam_step
from acqopt.base import Ending, Status, positive_float, positive_int
from acqopt.counting import Problem
from acqopt.methods.nes import ValueOnly
from acqopt.outcomes import GeneratorInfo
from acqopt.registry import register

SURROGATES = ("gaussian", "gan")


def _mlp(n_in: int, hidden: int, n_out: int, generator: torch.Generator) -> nn.Sequential:
    """Two tanh hidden layers (smooth, so the surrogate's gradient is smooth), float64,
    initialised from ``generator`` (never the global RNG)."""
    meta = dict(device="meta", dtype=torch.float64)  # no default initialisation: no global RNG
    net = nn.Sequential(nn.Linear(n_in, hidden, **meta), nn.Tanh(),
                        nn.Linear(hidden, hidden, **meta), nn.Tanh(),
                        nn.Linear(hidden, n_out, **meta)).to_empty(device="cpu")
    with torch.no_grad():
        for layer in net:
            if isinstance(layer, nn.Linear):
                bound = 1.0 / math.sqrt(layer.in_features)
                layer.weight.copy_(torch.rand(layer.weight.shape, generator=generator,
                                              dtype=torch.float64) * 2 * bound - bound)
                layer.bias.zero_()
    return net


class _Gaussian:
    """``S(z, c) = mu(c) + sigma(c) z``, trained by Gaussian negative log-likelihood."""

    def __init__(self, n: int, hidden: int, generator: torch.Generator) -> None:
        self.net = _mlp(n, hidden, 2, generator)
        self.opt = Adam(list(self.net.parameters()), 1e-2, (0.9, 0.999))

    def fit(self, C: Tensor, y: Tensor, steps: int, generator: torch.Generator) -> None:
        for _ in range(steps):
            out = self.net(C)
            mu, log_sigma = out[:, 0], out[:, 1].clamp(-6.0, 3.0)
            self.opt.minimise((log_sigma + 0.5 * ((y - mu) / log_sigma.exp()).square()).mean())

    def expected(self, c: Tensor, generator: torch.Generator) -> Tensor:
        return self.net(c)[:, 0]


class _CramerGAN:
    """Conditional Cramér GAN (Bellemare et al. 2017) with a gradient penalty, for a scalar.

    Generator ``G(z, c)``; critic ``h(y, c)`` into ``critic_dim`` features. The critic maximises
    the Cramér distance estimate ``E f(y_real) - E f(y_fake)`` with
    ``f(y) = ||h(y) - h(y')|| - ||h(y)||`` (``y'`` an independent fake), penalised by
    ``10 (||grad f|| - 1)^2`` at interpolates; the generator minimises the energy distance
    ``E||h(r) - h(g)|| + E||h(r) - h(g')|| - E||h(g) - h(g')||``.
    """

    noise_dim = 8
    critic_dim = 32
    penalty = 10.0

    def __init__(self, n: int, hidden: int, generator: torch.Generator,
                 samples: int = 256) -> None:
        self.samples = samples
        self.G = _mlp(n + self.noise_dim, hidden, 1, generator)
        self.D = _mlp(n + 1, hidden, self.critic_dim, generator)
        self.opt_g = Adam(list(self.G.parameters()), 1e-3, (0.5, 0.9))
        self.opt_d = Adam(list(self.D.parameters()), 1e-3, (0.5, 0.9))

    def _fake(self, C: Tensor, generator: torch.Generator) -> Tensor:
        z = torch.randn(C.shape[0], self.noise_dim, generator=generator, dtype=torch.float64)
        return self.G(torch.cat([C, z], dim=1))

    def _h(self, y: Tensor, C: Tensor) -> Tensor:
        return self.D(torch.cat([y, C], dim=1))

    def _f(self, y: Tensor, C: Tensor, other: Tensor) -> Tensor:
        h = self._h(y, C)
        return (h - self._h(other, C)).norm(dim=1) - h.norm(dim=1)

    def fit(self, C: Tensor, y: Tensor, steps: int, generator: torch.Generator) -> None:
        real = y[:, None]
        for _ in range(steps):
            fake, fake2 = self._fake(C, generator).detach(), self._fake(C, generator).detach()
            eps = torch.rand(real.shape[0], 1, generator=generator, dtype=torch.float64)
            mid = (eps * real + (1 - eps) * fake).requires_grad_(True)
            (grad,) = torch.autograd.grad(self._f(mid, C, fake2).sum(), mid, create_graph=True)
            penalty = self.penalty * ((grad.norm(dim=1) - 1.0) ** 2).mean()
            critic = (self._f(real, C, fake2) - self._f(fake, C, fake2)).mean()
            self.opt_d.minimise(-critic + penalty)

            fake, fake2 = self._fake(C, generator), self._fake(C, generator)
            hr, hg, hg2 = self._h(real, C), self._h(fake, C), self._h(fake2, C)
            self.opt_g.minimise(((hr - hg).norm(dim=1) + (hr - hg2).norm(dim=1)
                             - (hg - hg2).norm(dim=1)).mean())

    def expected(self, c: Tensor, generator: torch.Generator) -> Tensor:
        return self._fake(c.expand(self.samples, -1), generator).mean()[None]


@dataclass(frozen=True, kw_only=True)
class LGSO(ValueOnly):
    """Local generative surrogate optimisation: Adam on the gradient of a surrogate trained in a
    box around the current point; acquisition values only.

    Attributes:
        population: Points sampled per step in the neighbourhood (the paper's ``n_samples``),
            besides the current point.
        repeats: Evaluations per point (the paper's ``n_samples_per_dim``: 3000 for its noisy
            simulators; 1 for a deterministic acquisition).
        neighbourhood: Half-width of the sampling and training box, in unit-cube lengths.
        lr: Adam's learning rate on ``psi``, in unit-cube lengths.
        surrogate: ``"gaussian"`` (default) or ``"gan"`` (the paper's Cramér GAN).
        hidden: Width of the surrogate's two hidden layers.
        train_steps: Surrogate training iterations per step (full batch, warm-started).
        gradient_samples: Noise draws for the GAN's expected value (the Gaussian's is exact).
        max_history: The most earlier samples reused per step (the nearest to ``psi``).
    """

    info_type = GeneratorInfo

    name: str = "lgso"
    population: int = 20
    repeats: int = 1
    neighbourhood: float = 0.05
    lr: float = 0.025
    surrogate: str = "gaussian"
    hidden: int = 32
    train_steps: int = 30
    gradient_samples: int = 256
    max_history: int = 2000
    betas: tuple[float, float] = (0.9, 0.999)

    def __post_init__(self) -> None:
        super().__post_init__()
        positive_int("population", self.population, 1)
        positive_int("repeats", self.repeats, 1)
        positive_float("neighbourhood", self.neighbourhood)
        positive_float("lr", self.lr)
        positive_int("hidden", self.hidden, 1)
        positive_int("train_steps", self.train_steps, 1)
        positive_int("gradient_samples", self.gradient_samples, 1)
        positive_int("max_history", self.max_history, 1)
        for b in self.betas:
            positive_float("betas", b, upper=1.0)
        if self.surrogate not in SURROGATES:
            raise ValueError(f"surrogate: expected one of {SURROGATES}, got {self.surrogate!r}")

    def min_budget(self, q: int, d: int) -> int:
        return self.raw_samples + (self.population + 1) * self.repeats

    def _run(self, problem: Problem, generator: torch.Generator) -> Ending:
        n = problem.q * problem.d
        psi = self._start(problem, generator)
        model = (_Gaussian(n, self.hidden, generator) if self.surrogate == "gaussian"
                 else _CramerGAN(n, self.hidden, generator, self.gradient_samples))
        m, v = torch.zeros(n, dtype=torch.float64), torch.zeros(n, dtype=torch.float64)
        X_seen = torch.empty(0, n, dtype=torch.float64)
        y_seen = torch.empty(0, dtype=torch.float64)
        step_queries = (self.population + 1) * self.repeats
        steps = 0
        while problem.affordable(step_queries) == step_queries:
            box = (torch.rand(self.population, n, generator=generator, dtype=torch.float64)
                   * 2 - 1) * self.neighbourhood
            X = torch.cat([psi[None], (psi + box).clamp(0.0, 1.0)]).repeat(self.repeats, 1)
            y = self._evaluate(problem, X)
            X_seen, y_seen = torch.cat([X_seen, X]), torch.cat([y_seen, y])
            near = ((X_seen - psi).abs() <= self.neighbourhood + 1e-12).all(dim=1)
            near &= torch.isfinite(y_seen)
            X_train, y_train = X_seen[near], y_seen[near]
            if X_train.shape[0] > self.max_history:
                keep = (X_train - psi).abs().amax(dim=1).argsort()[: self.max_history]
                X_train, y_train = X_train[keep], y_train[keep]
            if X_train.shape[0] < 2:  # nothing finite to learn from: resample here
                continue
            scale = y_train.std().clamp_min(1e-12)
            target = (y_train - y_train.mean()) / scale
            C = (X_train - psi) / self.neighbourhood  # the box as [-1, 1]^n
            with torch.enable_grad():
                model.fit(C, target, self.train_steps, generator)
                c = torch.zeros(1, n, dtype=torch.float64, requires_grad=True)
                (grad,) = torch.autograd.grad(model.expected(c, generator).sum(), c)
            grad = grad[0] / self.neighbourhood  # d/dpsi of the standardised expectation
            steps += 1
            m, v, step = adam_step(m, v, grad, steps, self.lr, self.betas, 1e-12)
            psi = (psi + step).clamp(0.0, 1.0)
            X_seen, y_seen = X_seen[-50 * self.max_history:], y_seen[-50 * self.max_history:]
        if problem.affordable(1):
            self._evaluate(problem, psi[None])  # spend a remainder on the current point
        problem.info.update(steps=steps)
        return Ending(Status.BUDGET_EXHAUSTED, f"{steps} step(s) of {step_queries} queries")


register(LGSO())
