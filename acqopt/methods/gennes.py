"""GENNES: a generative neural network as an evolution strategy's search distribution.

A generator ``G_theta`` maps noise ``u ~ U[-s, s]^p`` to candidates; each step it generates a
population of N candidates, queries the acquisition and its gradient at all of them in one
batched call, and takes an Adam step on ``theta`` along the reparameterisation gradient
``(1/N) sum_i (dx/dtheta)^T grad f(x_i)`` (Algorithm 1, line 7). The noise support shrinks as
``s_t = alpha^t s`` (Appendix C). The answer is the best point ever generated (line 10).

Mixed spaces (``discrete_dims``, ``cat_dims``): generated points are rounded onto the grid before
they are valued, and the acquisition's gradient along grid columns is zero, so the generator
learns only the continuous columns; its noise keeps sampling the grid columns where its
initialisation put them. ``gennes-polish``'s L-BFGS alternates with discrete moves
(:mod:`acqopt.local.mixed`). A discrete output layer was not built.

References:
    Faury, Vasile, Calauzenes, Fercoq. Neural Generative Models for Global Optimization with
    Gradients. arXiv:1805.08594, 2018.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import Tensor

from acqopt.adam import Adam
from acqopt.base import BaseOptimizer, Ending, Status, distinct_best, positive_float, positive_int
from acqopt.counting import Problem
from acqopt.local import ProjectedLBFGS, mixed
from acqopt.outcomes import GeneratorInfo
from acqopt.registry import register


@dataclass(frozen=True, kw_only=True)
class GENNES(BaseOptimizer):
    """GENNES as an acquisition maximiser, faithful to the paper.

    Attributes:
        population: N, candidates generated per step (10 in the BO experiments, A.3; 20 in the
            global-optimisation benchmark, A.2).
        width: h, units per hidden layer (the paper does not give it; chosen by the sweep in
            ``benchmarks/results``).
        depth: Fully connected layers in all: ``depth - 1`` leaky-ReLU layers and a tanh
            output layer (6, as in A.2/A.3).
        negative_slope: Leaky-ReLU slope (0.2, A.2).
        noise_dim: p, the noise dimension; None for ``q * d`` (Appendix B: p close to the
            dimension).
        noise_scale: s, the initial noise support ``[-s, s]`` (paper silent; 1).
        beta: Target standard deviation of the initial output per coordinate, in the tanh
            output's ``[-1, 1]`` units. ``1/sqrt(3)`` is the standard deviation of a uniform
            distribution over the box, so the initial population covers it (Appendix B).
        lr: Adam's learning rate eta (paper silent; chosen by the sweep).
        anneal: alpha, the noise annealing factor per step (0.99, Appendix C / A.2-A.3).
        calibrate: Rescale each row of the last layer, on 1024 noise draws and with no
            acquisition query, so that every output coordinate's pre-tanh std is beta
            (LSUV-style, Mishkin & Matas, arXiv:1511.06422), and set the output bias so that the
            initial distribution is centred on the box. Eq. (9) sets the average variance
            right, but with six layers single coordinates spread over a factor of 8 (0.08 to
            0.65 for beta = 0.58 at d = 60), leaving some coordinates barely explored. False
            keeps the paper's plain eq. (9).
        default_budget_queries: The budget when ``budget=None``; T = budget // N steps.
    """

    info_type = GeneratorInfo

    name: str = "gennes"
    population: int = 10
    width: int = 32
    depth: int = 6
    negative_slope: float = 0.2
    noise_dim: int | None = None
    noise_scale: float = 1.0
    beta: float = 1.0 / math.sqrt(3.0)
    lr: float = 1e-3
    anneal: float = 0.99
    calibrate: bool = True
    default_budget_queries: int | None = 1000

    def __post_init__(self) -> None:
        super().__post_init__()
        positive_int("population", self.population)
        positive_int("width", self.width)
        positive_int("depth", self.depth, 2)
        positive_float("negative_slope", self.negative_slope, upper=1.0)
        if self.noise_dim is not None:
            positive_int("noise_dim", self.noise_dim)
        positive_float("noise_scale", self.noise_scale)
        positive_float("beta", self.beta)
        positive_float("lr", self.lr)
        positive_float("anneal", self.anneal)
        if self.anneal > 1:
            raise ValueError(f"anneal: expected a number in (0, 1], got {self.anneal!r}")
        if self.default_budget_queries is None:
            raise ValueError("default_budget_queries: expected an int >= 1 (GENNES runs until "
                             "its budget is spent), got None")

    def min_budget(self, q: int, d: int) -> int:
        return self.population

    # -- the generator ---------------------------------------------------------------------

    def last_layer_std(self) -> float:
        """lambda from Appendix B, eq. (9): ``lambda^2 nu^2 = beta^2 / (h 0.3^n)``.

        ``nu^2 = s^2 / 3`` is the variance of ``U[-s, s]``; ``n = depth - 2`` is the number of
        hidden layers after the first.
        """
        nu2 = self.noise_scale**2 / 3.0
        n = self.depth - 2
        return math.sqrt(self.beta**2 / (self.width * 0.3**n) / nu2)

    def build_generator(
        self, out_dim: int, generator: torch.Generator, dtype: torch.dtype, device: torch.device
    ) -> torch.nn.Sequential:
        """``G_theta``: hidden weights N(0, 1/fan_in), last layer N(0, lambda^2), zero biases.

        Appendix B derives eq. (9) assuming weight variances ``1/p`` in the first layer and
        ``1/h`` in the others, which it attributes to Glorot initialisation. Glorot's variance
        ``2/(fan_in + fan_out)`` equals ``1/h`` for the square layers but is far below ``1/p``
        for the first layer when ``p << h``, and then the initial output collapses (std 0.1
        instead of beta = 0.58 at d = 2, h = 128). We use the variances the derivation states,
        so that eq. (9) holds; for the square layers this is Glorot's. With ``calibrate`` the last
        layer's rows are rescaled and its bias centres the output on the box's centre.
        """
        p = self.noise_dim or out_dim
        layers: list[torch.nn.Module] = []
        fan_in = p
        for _ in range(self.depth - 1):
            linear = _linear(fan_in, self.width)
            torch.nn.init.normal_(linear.weight, 0.0, 1.0 / math.sqrt(fan_in), generator=generator)
            torch.nn.init.zeros_(linear.bias)
            layers += [linear, torch.nn.LeakyReLU(self.negative_slope)]
            fan_in = self.width
        last = _linear(fan_in, out_dim)
        torch.nn.init.normal_(last.weight, 0.0, self.last_layer_std(), generator=generator)
        torch.nn.init.zeros_(last.bias)
        layers += [last, torch.nn.Tanh()]
        net = torch.nn.Sequential(*layers)
        if self.calibrate:
            u = self.sample_noise(1024, p, 0, generator, last.weight)
            with torch.no_grad():
                pre = net[:-1](u)
                last.weight.mul_((self.beta / pre.std(0).clamp_min(1e-12))[:, None])
                # Leaky-ReLU activations are not centred, so neither is w.a: centre it with the
                # output bias, as Appendix B suggests, or tanh saturates towards a corner.
                last.bias.sub_(net[:-1](u).mean(0))
        return net.to(device=device, dtype=dtype)

    def sample_noise(
        self, n: int, p: int, step: int, generator: torch.Generator, like: Tensor
    ) -> Tensor:
        """``n x p`` noise, uniform on ``[-s_t, s_t]`` with ``s_t = anneal^step * s``."""
        s = self.noise_scale * self.anneal**step
        u = (2.0 * torch.rand(n, p, generator=generator, dtype=torch.float64) - 1.0) * s
        return u.to(like)

    # -- the search ------------------------------------------------------------------------

    def _run(self, problem: Problem, generator: torch.Generator) -> Ending:
        evaluate_warm_starts(problem)
        steps = self._train(problem, generator, problem.remaining)
        problem.info.update(steps=steps)
        return Ending(Status.BUDGET_EXHAUSTED,
                      f"{steps} step(s) of {self.population} candidates")

    def _train(self, problem: Problem, generator: torch.Generator, budget: int | None) -> int:
        """Algorithm 1 for ``T = budget // N`` steps; returns the steps taken."""
        q, d = problem.q, problem.d
        out_dim = q * d
        net = self.build_generator(out_dim, generator, problem.dtype, problem.device)
        optimizer = Adam(list(net.parameters()), lr=self.lr)
        T = (budget if budget is not None else self.default_budget_queries) // self.population
        for t in range(T):
            self.train_step(net, optimizer, problem, t, generator)
        return T

    def train_step(
        self,
        net: torch.nn.Sequential,
        optimizer: Adam,
        problem: Problem,
        t: int,
        generator: torch.Generator,
    ) -> None:
        """One step of Algorithm 1 (lines 4-8): sample, generate, query, Adam step."""
        q, d = problem.q, problem.d
        u = self.sample_noise(self.population, net[0].in_features, t, generator, problem.bounds)
        with torch.enable_grad():
            U = 0.5 * (net(u) + 1.0)  # tanh output mapped onto the unit cube
            _, grad = problem.value_and_grad(U.detach().reshape(-1, q, d))
            # Ascent on the mean acquisition: Adam minimises -(1/N) sum_i f(x_i).
            grads = torch.autograd.grad(U, optimizer.params,
                                        grad_outputs=-grad.reshape(U.shape) / self.population)
        optimizer.step(list(grads))


@dataclass(frozen=True, kw_only=True)
class GENNESPolish(GENNES):
    """GENNES, then the batched projected L-BFGS from the best few distinct points, in one budget.

    Attributes:
        polish_fraction: Share of the budget kept for the polish.
        polish_points: How many distinct best points are polished.
        distinct: Minimum unit-cube distance between polished points.
        local: The projected L-BFGS component.
    """

    name: str = "gennes-polish"
    polish_fraction: float = 0.3
    polish_points: int = 5
    distinct: float = 0.05
    local: ProjectedLBFGS = field(default_factory=ProjectedLBFGS)

    def __post_init__(self) -> None:
        super().__post_init__()
        positive_float("polish_fraction", self.polish_fraction, upper=1.0)
        positive_int("polish_points", self.polish_points)
        positive_float("distinct", self.distinct)

    def min_budget(self, q: int, d: int) -> int:
        return self.population + self.polish_points

    def botorch_setting(self, num_restarts: int | None, raw_samples: int | None) -> dict:
        """``num_restarts`` L-BFGS polish starts; ``raw_samples`` only sets the budget."""
        return {} if num_restarts is None else {"polish_points": num_restarts}

    def _run(self, problem: Problem, generator: torch.Generator) -> Ending:
        seen: list[tuple[Tensor, Tensor]] = []
        total = problem.remaining if problem.remaining is not None else self.default_budget_queries
        with problem.observing(lambda U, values: seen.append((U.detach(), values.detach()))):
            evaluate_warm_starts(problem)
            total -= len(seen) and seen[0][0].shape[0]
            keep = max(self.polish_points, int(self.polish_fraction * total))
            steps = self._train(problem, generator, total - keep)
        U = torch.cat([u for u, _ in seen])
        values = torch.cat([v for _, v in seen])
        starts = distinct_best(U, values, self.polish_points, self.distinct)
        result = mixed.refine(self.local, problem, U[starts], values[starts])
        problem.info.update(steps=steps, polish_starts=result.U.shape[0],
                            local_iterations=int(result.iterations.sum()))
        return Ending(Status.BUDGET_EXHAUSTED, f"{steps} GENNES step(s), then L-BFGS from "
                      f"{result.U.shape[0]} point(s)")


def evaluate_warm_starts(problem: Problem) -> None:
    """GENNES's use of ``batch_initial_conditions``: they are evaluated first (within the
    budget), so the answer is never worse than the best of them; the generator itself starts
    from its Appendix-B initialisation, as in the paper."""
    warm = problem.take_initial()
    if warm is not None:
        problem.value(warm[: problem.affordable(warm.shape[0])])


def _linear(fan_in: int, fan_out: int) -> torch.nn.Linear:
    """A linear layer whose default initialisation is skipped (it would use the global RNG)."""
    return torch.nn.utils.skip_init(torch.nn.Linear, fan_in, fan_out, dtype=torch.float64)


register(GENNES())
register(GENNESPolish())
