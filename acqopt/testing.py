"""Test acquisition functions with known maxima, for conformance tests and examples."""

from __future__ import annotations

import torch
from torch import Tensor

# (centre x, centre y, height, width): the first bump is the global maximum.
# Not deceptive: the global bump is also the widest, so a method that explores the box and
# climbs reliably finds it; the four narrower bumps are local maxima that trap a pure local search.
_BUMPS = (
    (1.3, 0.2, 1.0, 0.3),
    (-0.5, 1.5, 0.8, 0.2),
    (0.2, -0.6, 0.7, 0.15),
    (1.6, 1.7, 0.75, 0.2),
    (-0.7, -0.7, 0.6, 0.2),
)


class Bumps(torch.nn.Module):
    """A multimodal 2-D test acquisition on ``[-1, 2]^2``: a sum of five Gaussian bumps.

    The global maximum (value ~1.0) is at ``(1.3, 0.2)``; four lower bumps are local maxima.
    A q-batch is worth the best of its ``q`` points (as for q-EI). Calls are counted in
    ``self.queries`` independently of acqopt's own counter.
    """

    bounds = torch.tensor([[-1.0, -1.0], [2.0, 2.0]])
    argmax = torch.tensor([1.3, 0.2])

    def __init__(self) -> None:
        super().__init__()
        self.queries = 0

    def forward(self, X: Tensor) -> Tensor:
        """``b x q x 2`` -> ``b``."""
        if X.dim() == 2:
            X = X.unsqueeze(0)
        self.queries += X.shape[0]
        c = torch.tensor(_BUMPS, dtype=X.dtype, device=X.device)
        sq = ((X.unsqueeze(-2) - c[:, :2]) ** 2).sum(-1)  # b x q x 5
        value = (c[:, 2] * torch.exp(-sq / (2 * c[:, 3] ** 2))).sum(-1)
        return value.amax(-1)

    def max_value(self) -> float:
        return float(self.forward(self.argmax.double().view(1, 1, 2)))


class NegatedFunction(torch.nn.Module):
    """A minimisation test function as an acquisition to maximise: ``b x q x d`` -> ``b``.

    A q-batch is worth its best point. Calls are counted in ``self.queries``.
    """

    def __init__(self, fn) -> None:
        super().__init__()
        self.fn = fn
        self.queries = 0

    def forward(self, X: Tensor) -> Tensor:
        if X.dim() == 2:
            X = X.unsqueeze(0)
        self.queries += X.shape[0]
        return (-self.fn(X)).amax(-1)


class IntegerSpike(torch.nn.Module):
    """A 2-D test acquisition whose first coordinate is an integer in ``[0, 10]``.

    At integers the best is ``x0 = 2`` (value 1, a spike of width 0.001 that no continuous search
    sees); the continuous relaxation's best is a broad bump at ``x0 = 7.3`` (0.6), which rounds to
    7. The second coordinate is continuous with its best at 0.5.
    """

    bounds = torch.tensor([[0.0, 0.0], [10.0, 1.0]])

    def forward(self, X: Tensor) -> Tensor:
        if X.dim() == 2:
            X = X.unsqueeze(0)
        x0, x1 = X[..., 0], X[..., 1]
        spike = torch.exp(-((x0 - 2.0) ** 2) / (2 * 0.001**2))
        bump = 0.6 * torch.exp(-((x0 - 7.3) ** 2) / (2 * 1.5**2))
        return (spike + bump - (x1 - 0.5) ** 2).amax(-1)


# MixedBumps' table: value of (category, integer); the global maximum is category 1 at 4.
_TABLE = (
    (0.2, 0.6, 0.3, 0.1, 0.0, 0.1),
    (0.0, 0.1, 0.2, 0.4, 1.0, 0.3),
    (0.1, 0.7, 0.2, 0.0, 0.1, 0.0),
)
# Where the continuous bump of each category is, in (x0, x3).
_CENTRES = ((0.2, 0.8), (0.7, 0.3), (0.4, 0.5))


class MixedBumps(torch.nn.Module):
    """A 4-D mixed test acquisition: ``x0, x3`` continuous in ``[0, 1]``, ``x1`` an integer in
    ``{0, ..., 5}`` and ``x2`` a category in ``{0, 1, 2}``.

    The value is a table over (category, integer) plus a bump in ``(x0, x3)`` whose centre
    depends on the category; it has no gradient along ``x1`` and ``x2`` (read at the rounded
    values, as a categorical kernel gives none). The global maximum, 1.5, is at category 1,
    integer 4, ``(x0, x3) = (0.7, 0.3)``; category 2 at integer 1 (0.7 + 0.5) is a local one
    that a search moving one value at a time from categories 0 and 2 must leave. Calls and
    points evaluated off the grid are counted in ``queries`` and ``off_grid``.
    """

    bounds = torch.tensor([[0.0, 0.0, 0.0, 0.0], [1.0, 5.0, 2.0, 1.0]])
    discrete_dims = {1: [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]}
    cat_dims = {2: [0.0, 1.0, 2.0]}
    argmax = torch.tensor([0.7, 4.0, 1.0, 0.3])
    max_value = 1.5

    def __init__(self) -> None:
        super().__init__()
        self.queries = 0
        self.off_grid = 0

    def forward(self, X: Tensor) -> Tensor:
        """``b x q x 4`` -> ``b`` (a q-batch is worth its best point)."""
        if X.dim() == 2:
            X = X.unsqueeze(0)
        self.queries += X.shape[0]
        k, c = X[..., 1].detach().round(), X[..., 2].detach().round()
        off = (X[..., 1] != k) | (X[..., 2] != c) | (k < 0) | (k > 5) | (c < 0) | (c > 2)
        self.off_grid += int(off.any(-1).sum())
        k, c = k.clamp(0, 5).long(), c.clamp(0, 2).long()
        table = torch.tensor(_TABLE, dtype=X.dtype, device=X.device)
        centres = torch.tensor(_CENTRES, dtype=X.dtype, device=X.device)[c]
        sq = (X[..., 0] - centres[..., 0]) ** 2 + (X[..., 3] - centres[..., 1]) ** 2
        return (table[c, k] + 0.5 * torch.exp(-sq / 0.05)).amax(-1)
