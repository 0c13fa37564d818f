"""Test objectives in their textbook forms (to be *minimised*), with domains and optima.

Formulas follow Jamil & Yang (2013), "A literature survey of benchmark functions for global
optimisation problems", with the errata noted in the project design: Alpine1 is
``sum |x_i sin x_i + 0.1 x_i|`` and Ackley's cosine is ``cos(2 pi x_i)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor


def alpine1(x: Tensor) -> Tensor:
    return (x * torch.sin(x) + 0.1 * x).abs().sum(-1)


def rastrigin(x: Tensor) -> Tensor:
    return 10.0 * x.shape[-1] + (x**2 - 10.0 * torch.cos(2 * math.pi * x)).sum(-1)


def ackley(x: Tensor) -> Tensor:
    d = x.shape[-1]
    a = -20.0 * torch.exp(-0.2 * torch.sqrt((x**2).sum(-1) / d))
    b = -torch.exp(torch.cos(2 * math.pi * x).sum(-1) / d)
    return a + b + 20.0 + math.e


def styblinski_tang(x: Tensor) -> Tensor:
    return 0.5 * (x**4 - 16.0 * x**2 + 5.0 * x).sum(-1)


def schwefel(x: Tensor) -> Tensor:
    return 418.9828872724338 * x.shape[-1] - (x * torch.sin(torch.sqrt(x.abs()))).sum(-1)


@dataclass(frozen=True)
class TestFunction:
    """A minimisation test function on a box ``[lower, upper]^d``.

    Attributes:
        name: Short name.
        fn: Maps ``... x d`` to ``...``.
        lower, upper: The domain per coordinate.
        argmin: The minimiser's coordinate (the same in every dimension).
        min_per_dim: Optimal value divided by ``d`` (0 for most).
    """

    name: str
    fn: Callable[[Tensor], Tensor]
    lower: float
    upper: float
    argmin: float
    min_per_dim: float = 0.0

    def __call__(self, x: Tensor) -> Tensor:
        return self.fn(x)

    def bounds(self, d: int, dtype: torch.dtype = torch.float64) -> Tensor:
        return torch.tensor([[self.lower] * d, [self.upper] * d], dtype=dtype)

    def optimum(self, d: int) -> float:
        return self.min_per_dim * d


FUNCTIONS = {
    f.name: f
    for f in (
        TestFunction("alpine1", alpine1, -10.0, 10.0, 0.0),
        TestFunction("rastrigin", rastrigin, -5.12, 5.12, 0.0),
        TestFunction("ackley", ackley, -32.768, 32.768, 0.0),
        TestFunction("styblinski_tang", styblinski_tang, -5.0, 5.0, -2.903534027771177,
                     -39.16616570377142),
        TestFunction("schwefel", schwefel, -500.0, 500.0, 420.9687463599820),
    )
}


def get_function(name: str) -> TestFunction:
    try:
        return FUNCTIONS[name]
    except KeyError:
        raise ValueError(f"function: expected one of {sorted(FUNCTIONS)}, got {name!r}") from None
