"""The L-GSO paper's Rosenbrock problems (Shirobokov et al. 2020), as acquisitions.

Definitions follow the authors' code (``model.py`` of the paper's repository):

- ``g(p) = sum_i (p_{i+1} - p_i^2)^2 + (1 - p_i)^2`` (no factor 100), minimum 0 at ``p = 1``;
- the stochastic simulator: ``x ~ U(-10, 10)``, ``l ~ N(x, 1)``,
  ``y ~ N(l + g(psi), 0.1 + 0.5 |l|)``, so ``E[y] = g(psi)``; one query is one draw of ``y``;
- ``stochastic-rosenbrock-d10``: ``psi`` in 10 D, started at ``psi = 2`` (the paper's
  ``init_psi``);
- ``submanifold-rosenbrock-d100``: ``psi`` in 100 D reaches ``g`` through ``psi Q``, ``Q`` a
  100 x 10 matrix with orthonormal columns; started at ``psi = 0``.

The paper's parameters are unbounded; acqopt's methods need a box, ``[-5, 5]`` per coordinate
here (the start and the optimum lie well inside). Every method starts from the paper's point
(``batch_initial_conditions`` with one raw sample). The score after ``c`` queries is ``g`` at
the centre of the method's last batch of samples before ``c`` (its current mean or point: the
best noisy draw is a lucky draw, not an answer); ``lbfgs`` is the reference with true
gradients, on the noise-free ``-g``, scored by its best value so far.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

PROBLEMS = {
    "stochastic-rosenbrock-d10": dict(n=10, latent=None, start=2.0),
    "submanifold-rosenbrock-d100": dict(n=100, latent=10, start=0.0),
}
HALF_WIDTH = 5.0


def g(p: Tensor) -> Tensor:
    """The authors' Rosenbrock: ``sum (p_{i+1} - p_i^2)^2 + (1 - p_i)^2`` over the last axis."""
    return ((p[..., 1:] - p[..., :-1] ** 2) ** 2 + (1 - p[..., :-1]) ** 2).sum(-1)


def mixing(n: int, latent: int) -> Tensor:
    """``n x latent`` with orthonormal columns (QR of a fixed Gaussian matrix)."""
    gen = torch.Generator().manual_seed(1337)
    q, _ = torch.linalg.qr(torch.randn(n, latent, generator=gen, dtype=torch.float64))
    return q


class RosenbrockSimulator(torch.nn.Module):
    """``-y`` (an acquisition to maximise) for ``b x 1 x n`` parameters; ``noise=False`` gives
    ``-E[y] = -g``. Records, per call, the queries so far and ``g`` at the batch's centre."""

    def __init__(self, problem: str, seed: int, noise: bool = True) -> None:
        super().__init__()
        spec = PROBLEMS[problem]
        self.n = spec["n"]
        self.Q = mixing(self.n, spec["latent"]) if spec["latent"] else None
        self.noise = noise
        self.gen = torch.Generator().manual_seed(seed)
        self.queries = 0
        self.log: list[tuple[int, float]] = []

    def expected(self, psi: Tensor) -> Tensor:
        return g(psi @ self.Q if self.Q is not None else psi)

    def forward(self, X: Tensor) -> Tensor:
        psi = X[..., 0, :]
        mean = self.expected(psi)
        with torch.no_grad():
            self.queries += psi.shape[0]
            self.log.append((self.queries, float(self.expected(psi.mean(0)))))
        if not self.noise:
            return -mean
        b = psi.shape[0]
        x = torch.rand(b, generator=self.gen, dtype=psi.dtype) * 20 - 10
        latent = x + torch.randn(b, generator=self.gen, dtype=psi.dtype)
        eps = torch.randn(b, generator=self.gen, dtype=psi.dtype)
        return -(latent + mean + (0.1 + 0.5 * latent.abs()) * eps)


def bounds(problem: str) -> Tensor:
    n = PROBLEMS[problem]["n"]
    return torch.tensor([[-HALF_WIDTH] * n, [HALF_WIDTH] * n], dtype=torch.float64)


def start(problem: str) -> Tensor:
    spec = PROBLEMS[problem]
    return torch.full((1, 1, spec["n"]), spec["start"], dtype=torch.float64)


# Each method from the paper's start: one raw sample (the warm start), the rest its defaults.
# lgso at the paper's proportions: neighbourhood 0.2 and Adam lr 0.1 in parameter units (the box
# is 10 wide), 15 (d10) or 20 (d100) points per step; 100 draws per point instead of 3000, so
# a step costs 1.6-2.1k queries and a run holds hundreds of steps.
def options(method: str, problem: str) -> dict:
    if method == "lbfgs":
        return {"num_restarts": 1, "raw_samples": 1}
    opts = {"raw_samples": 1}
    if method in ("snes", "vo", "cma"):
        opts["sigma0"] = 0.05  # 0.5 in parameter units: the start is 1-3 units from the optimum
    if method.startswith("lgso"):
        opts.update(neighbourhood=0.2 / (2 * HALF_WIDTH), lr=0.1 / (2 * HALF_WIDTH),
                    population=15 if PROBLEMS[problem]["n"] == 10 else 20, repeats=100)
    return opts


def score_curve(log: list[tuple[int, float]], checkpoints: list[int]) -> dict[str, float | None]:
    """``g`` at the centre of the last batch before each checkpoint."""
    out: dict[str, float | None] = {}
    for c in checkpoints:
        before = [v for q, v in log if q <= c]
        out[str(c)] = before[-1] if before else None
    return out


def thin(log: list[tuple[int, float]], n: int = 80) -> list[list[float]]:
    if len(log) <= n:
        return [list(t) for t in log]
    idx = torch.linspace(0, len(log) - 1, n).round().long().tolist()
    return [list(log[i]) for i in idx]


def best_so_far(log: list[tuple[int, float]]) -> list[tuple[int, float]]:
    out, best = [], math.inf
    for q, v in log:
        best = min(best, v)
        out.append((q, best))
    return out
