"""Search spaces for the BO loop: continuous, log-scale, integer and categorical parameters.

The GP sees every parameter in ``[0, 1]`` (log-scale ones on the log scale; a categorical as its
category's index over ``k - 1``, compared only for equality by the categorical kernel).
Acquisition optimisers see *space coordinates*: the same, except that integer parameters are in
their own units and a categorical is its index ``0 .. k-1``; the space hands them to every
method as ``discrete_dims`` and ``cat_dims`` (:mod:`acqopt.domain`). The objective always
receives integers and the categories themselves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Union

import torch
from torch import Tensor


@dataclass(frozen=True)
class Real:
    """A continuous parameter in ``[low, high]``, uniform or (``log=True``) log-uniform."""

    name: str
    low: float
    high: float
    log: bool = False

    def __post_init__(self) -> None:
        for bound in (self.low, self.high):
            if (isinstance(bound, bool) or not isinstance(bound, (int, float))
                    or not math.isfinite(bound)):
                raise ValueError(f"{self.name}: expected finite real bounds, got {self.low}, "
                                 f"{self.high}")
        if not self.low < self.high:
            raise ValueError(f"{self.name}: expected low < high, got {self.low}, {self.high}")
        if not isinstance(self.log, bool):
            raise ValueError(f"{self.name}: log must be True or False, got {self.log!r}")
        if self.log and self.low <= 0:
            raise ValueError(f"{self.name}: a log-scale parameter needs low > 0, got {self.low}")


@dataclass(frozen=True)
class Integer:
    """An integer parameter in ``{low, ..., high}``."""

    name: str
    low: int
    high: int

    def __post_init__(self) -> None:
        if not (isinstance(self.low, int) and isinstance(self.high, int) and self.low < self.high
                and not isinstance(self.low, bool) and not isinstance(self.high, bool)):
            raise ValueError(f"{self.name}: expected ints low < high, got {self.low}, {self.high}")


@dataclass(frozen=True)
class Categorical:
    """An unordered choice among ``choices`` (any values, at least two, no two equal).

    The model compares categories only for equality (BoTorch's ``MixedSingleTaskGP``), so the
    order in which they are listed does not matter.
    """

    name: str
    choices: tuple

    def __post_init__(self) -> None:
        if isinstance(self.choices, (str, bytes)) or not hasattr(self.choices, "__iter__"):
            raise ValueError(f"{self.name}: expected a list of choices, got {self.choices!r}")
        choices = tuple(self.choices)
        object.__setattr__(self, "choices", choices)
        if len(choices) < 2:
            raise ValueError(f"{self.name}: expected at least two choices, got {list(choices)}")
        if any(a == b for i, a in enumerate(choices) for b in choices[i + 1:]):
            raise ValueError(f"{self.name}: choices must be distinct, got {list(choices)}")

    @property
    def low(self) -> int:
        return 0

    @property
    def high(self) -> int:
        return len(self.choices) - 1


Param = Union[Real, Integer, Categorical]


class Space:
    """An ordered set of parameters.

    Args:
        params: ``Real``, ``Integer`` and ``Categorical`` parameters; names must be distinct.
    """

    def __init__(self, params: list[Param]) -> None:
        if not params:
            raise ValueError("space: expected at least one parameter")
        names = [p.name for p in params]
        if len(set(names)) != len(names):
            raise ValueError(f"space: parameter names must be distinct, got {names}")
        self.params = list(params)
        self.names = names
        self.d = len(params)

    @property
    def integer_dims(self) -> tuple[int, ...]:
        return tuple(i for i, p in enumerate(self.params) if isinstance(p, Integer))

    @property
    def cat_dims(self) -> tuple[int, ...]:
        return tuple(i for i, p in enumerate(self.params) if isinstance(p, Categorical))

    @property
    def on_grid(self) -> bool:
        """True when some parameter is an ``Integer`` or a ``Categorical``."""
        return bool(self.integer_dims or self.cat_dims)

    def grid(self) -> dict[str, dict[int, list[float]]]:
        """``discrete_dims`` (integers) and ``cat_dims`` (category indices) in space
        coordinates, as an optimizer's ``optimize`` takes them."""
        def values(p) -> list[float]:
            return [float(v) for v in range(p.low, p.high + 1)]

        return {"discrete_dims": {i: values(self.params[i]) for i in self.integer_dims},
                "cat_dims": {i: values(self.params[i]) for i in self.cat_dims}}

    def space_bounds(self) -> Tensor:
        """``2 x d`` bounds in space coordinates (integers in their units, categoricals as
        their indices, the rest [0, 1])."""
        lo = [float(p.low) if isinstance(p, (Integer, Categorical)) else 0.0 for p in self.params]
        hi = [float(p.high) if isinstance(p, (Integer, Categorical)) else 1.0
              for p in self.params]
        return torch.tensor([lo, hi], dtype=torch.float64)

    def space_to_unit(self, S: Tensor) -> Tensor:
        """``... x d`` space coordinates -> unit cube (integer dims rescaled, not rounded)."""
        b = self.space_bounds().to(S)
        return (S - b[0]) / (b[1] - b[0])

    def unit_to_space(self, U: Tensor) -> Tensor:
        b = self.space_bounds().to(U)
        return b[0] + U * (b[1] - b[0])

    def round_unit(self, U: Tensor) -> Tensor:
        """Unit-cube points with integer and categorical parameters moved to their nearest grid
        value."""
        S = self.unit_to_space(U)
        idx = list(self.integer_dims + self.cat_dims)
        if idx:
            S[..., idx] = S[..., idx].round()
        return self.space_to_unit(S)

    def to_params(self, u: Tensor) -> dict[str, Any]:
        """One unit-cube point (``d``) -> ``{name: value}`` with integers rounded."""
        out: dict[str, Any] = {}
        for p, x in zip(self.params, u.tolist()):
            x = min(max(x, 0.0), 1.0)
            if isinstance(p, Integer):
                out[p.name] = int(round(p.low + x * (p.high - p.low)))
            elif isinstance(p, Categorical):
                out[p.name] = p.choices[int(round(x * p.high))]
            elif p.log:
                out[p.name] = math.exp(math.log(p.low) + x * (math.log(p.high) - math.log(p.low)))
            else:
                out[p.name] = p.low + x * (p.high - p.low)
        return out

    def to_unit(self, params: dict[str, Any]) -> Tensor:
        """``{name: value}`` -> a unit-cube point (``d``)."""
        u = []
        for p in self.params:
            v = params[p.name]
            if isinstance(p, Categorical):
                if v not in p.choices:
                    raise ValueError(f"{p.name}: {v!r} is not one of its choices {list(p.choices)}")
                u.append(p.choices.index(v) / p.high)
            elif isinstance(p, Real) and p.log:
                u.append((math.log(v) - math.log(p.low)) / (math.log(p.high) - math.log(p.low)))
            else:
                u.append((v - p.low) / (p.high - p.low))
        return torch.tensor(u, dtype=torch.float64)
