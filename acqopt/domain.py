"""Mixed domains: the box plus columns that take only listed values.

BoTorch 0.18 writes a mixed space as ``discrete_dims`` (ordered values: integers, ordinals) and
``cat_dims`` (unordered categories), each mapping a column to its allowed values in ``bounds``
coordinates. :class:`Grid` holds them in the unit cube the methods search, and is part of the
domain as the linear constraints are: :class:`acqopt.counting.Problem` maps every candidate onto
it (:meth:`Grid.round`) before it is evaluated and recorded, so no method can evaluate or return
an off-grid point, and the acquisition's gradient is zero along grid columns (a continuous step
never moves them). On that floor each method family searches the grid its own way; the moves
they share are :meth:`Grid.neighbours` (each ordered column one value up or down, each category
to every other value) and :meth:`Grid.sample` (every allowed value equally likely).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
from torch import Tensor


def normalize_grid(
    discrete_dims: object,
    cat_dims: object,
    bounds: Tensor,
    fixed_features: Mapping[int, float] | None = None,
) -> tuple[dict[int, list[float]], dict[int, list[float]]]:
    """``discrete_dims`` and ``cat_dims`` validated, as ``{column: sorted values}``.

    Each may be None, a mapping ``{column: values}`` (BoTorch 0.18's form: values sorted,
    distinct, inside ``bounds``), or, for ``discrete_dims`` only, a list of columns that take
    every integer inside their bounds (BoTorch's earlier form). Negative columns count from the
    end.

    Raises:
        ValueError: Naming the argument, for a column out of range, in both mappings or in
            ``fixed_features``; values outside the bounds, unsorted or repeated, non-finite; a
            column with fewer than two values.
    """
    d = bounds.shape[-1]
    out: list[dict[int, list[float]]] = []
    for name, dims in (("discrete_dims", discrete_dims), ("cat_dims", cat_dims)):
        if dims is None:
            out.append({})
            continue
        if name == "discrete_dims" and isinstance(dims, Sequence) and not isinstance(dims, str):
            dims = {c: _integers(c, bounds, d) for c in dims}
        if not isinstance(dims, Mapping):
            raise ValueError(f"{name}: expected a mapping {{column: allowed values}} or None, "
                             f"got {type(dims).__name__}")
        grid: dict[int, list[float]] = {}
        for c, values in dims.items():
            col = _column(name, c, d)
            if col in grid:
                raise ValueError(f"{name}: column {col} is given twice ({c!r})")
            grid[col] = _values(name, c, values, float(bounds[0, col]), float(bounds[1, col]))
        out.append(grid)
    discrete, categorical = out
    both = sorted(set(discrete) & set(categorical))
    if both:
        raise ValueError(f"discrete_dims, cat_dims: column(s) {both} are in both; a column is "
                         "either ordered (discrete_dims) or categorical (cat_dims)")
    fixed = {c % d for c in (fixed_features or {}) if isinstance(c, int)}
    for name, grid in (("discrete_dims", discrete), ("cat_dims", categorical)):
        clash = sorted(set(grid) & fixed)
        if clash:
            raise ValueError(f"{name}: column(s) {clash} are also in fixed_features; fix a "
                             "column or list its values, not both")
    return discrete, categorical


def _column(name: str, c: object, d: int) -> int:
    if isinstance(c, Tensor) and c.numel() == 1 and not c.is_floating_point():
        c = int(c)
    if isinstance(c, bool) or not isinstance(c, int) or not -d <= c < d:
        raise ValueError(f"{name}: columns must be ints in [-{d}, {d}), got {c!r}")
    return c % d


def _integers(c: object, bounds: Tensor, d: int) -> list[float]:
    col = _column("discrete_dims", c, d)
    lo, hi = math.ceil(float(bounds[0, col])), math.floor(float(bounds[1, col]))
    return [float(v) for v in range(lo, hi + 1)]


def _values(name: str, c: object, values: object, lower: float, upper: float) -> list[float]:
    if isinstance(values, Tensor):
        values = values.reshape(-1).tolist()
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise ValueError(f"{name}[{c}]: expected a list of allowed values, got "
                         f"{type(values).__name__}")
    try:
        vals = [float(v) for v in values]
    except (TypeError, ValueError):
        raise ValueError(f"{name}[{c}]: expected real numbers, got {list(values)!r}") from None
    if len(vals) < 2:
        raise ValueError(f"{name}[{c}]: expected at least two allowed values, got {vals}; a "
                         "column with one value belongs in fixed_features")
    if not all(math.isfinite(v) for v in vals):
        raise ValueError(f"{name}[{c}]: expected finite values, got {vals}")
    if any(b <= a for a, b in zip(vals, vals[1:])):
        raise ValueError(f"{name}[{c}]: expected sorted, distinct values, got {vals}")
    if vals[0] < lower or vals[-1] > upper:
        raise ValueError(f"{name}[{c}]: values {vals} leave the column's bounds "
                         f"[{lower}, {upper}]")
    return vals


# Ordered columns with more values than this also move in powers of two (Grid.neighbours):
# BoTorch's optimize_acqf_mixed_alternating relaxes them (its MAX_DISCRETE_VALUES).
WIDE = 20


def _moves(k: int) -> Tensor:
    """Index offsets of an ordered column's neighbours: +-1, and for more than ``WIDE``
    values +-2, +-4, ... below ``k``."""
    steps = [1] if k <= WIDE else [2 ** j for j in range(max(1, (k - 1).bit_length()))]
    return torch.tensor([-s for s in reversed(steps)] + steps)


class Grid:
    """The grid columns of a domain, in the unit cube of ``bounds``.

    Args:
        bounds: The ``2 x d`` box.
        discrete: ``{column: sorted values}`` of ordered columns, in ``bounds`` coordinates.
        categorical: The same for unordered categories.

    Attributes:
        columns: All grid columns, sorted.
        categorical: The categorical ones among them.
        values: ``{column: tensor of allowed unit-cube values}``.
    """

    def __init__(self, bounds: Tensor, discrete: Mapping[int, Sequence[float]],
                 categorical: Mapping[int, Sequence[float]]) -> None:
        lower, scale = bounds[0], bounds[1] - bounds[0]
        self.d = bounds.shape[-1]
        self.values: dict[int, Tensor] = {}
        self.raw = {c: [float(v) for v in vals] for c, vals in {**discrete, **categorical}.items()}
        for c, vals in self.raw.items():
            v = torch.as_tensor(vals, dtype=bounds.dtype, device=bounds.device)
            self.values[c] = ((v - lower[c]) / scale[c]).clamp(0.0, 1.0)
        self.columns = tuple(sorted(self.values))
        self.categorical = frozenset(categorical)
        self.mask = torch.zeros(self.d, dtype=torch.bool, device=bounds.device)
        self.mask[list(self.columns)] = True
        # Columns with the same allowed values are rounded together (e.g. 50 binary columns).
        groups: dict[tuple[float, ...], list[int]] = {}
        for c in self.columns:
            groups.setdefault(tuple(self.values[c].tolist()), []).append(c)
        self._groups = [(torch.tensor(cols, device=bounds.device), self.values[cols[0]])
                        for cols in groups.values()]

    def __bool__(self) -> bool:
        return bool(self.columns)

    @property
    def continuous(self) -> bool:
        """True when some column is not on the grid."""
        return len(self.columns) < self.d

    def round(self, U: Tensor) -> Tensor:
        """``... x d`` unit-cube points with every grid column at its nearest allowed value.

        Grid columns are detached (a gradient through them is zero); the others pass through.
        """
        with torch.no_grad():
            R = U.detach().clone()
            for cols, values in self._groups:
                nearest = (R[..., cols].unsqueeze(-1) - values).abs().argmin(-1)
                R[..., cols] = values[nearest].to(U.dtype)
        return torch.where(self.mask.to(U.device), R, U)

    def sample(self, U: Tensor) -> Tensor:
        """Maps ``... x d`` points uniform in the cube to points whose grid columns take each
        allowed value with equal probability (value ``floor(u k)`` of ``k``); rounding
        would give the two end values of an evenly spaced column half the others' share."""
        out = U.clone()
        for cols, values in self._groups:
            k = values.numel()
            index = (U[..., cols] * k).floor().long().clamp(0, k - 1)
            out[..., cols] = values[index].to(U.dtype)
        return out

    def min_std(self) -> Tensor:
        """``d`` per-column floors for a search distribution's standard deviation: a quarter
        of the smallest gap between a grid column's values (0 for continuous columns), so
        that a sampled value leaves its rounding cell with probability at least about 2%
        per coordinate (the role of the margin in Hamano et al., GECCO 2022)."""
        floor = torch.zeros(self.d, dtype=torch.float64)
        for c, v in self.values.items():
            floor[c] = 0.25 * float((v[1:] - v[:-1]).min())
        return floor

    def neighbours(self, U: Tensor) -> tuple[Tensor, Tensor]:
        """The one-move neighbours of ``b x q x d`` on-grid points.

        A move changes one grid column of one of the ``q`` points: an ordered column to the
        next lower or higher allowed value, a categorical column to each other value. On an
        ordered column of more than ``WIDE`` values a move also goes 2, 4, 8, ... values
        either way, so that a search crosses a wide integer range in a few moves instead of one
        value at a time (BoTorch's alternating optimiser relaxes such columns to reals
        instead, and rounds; here every neighbour stays on the grid).

        Returns:
            ``m x q x d`` neighbours and, for each, the index of the point it came from.
        """
        b, q, _ = U.shape
        out, parents = [], []
        rows = torch.arange(b, device=U.device)
        for c in self.columns:
            values = self.values[c]
            k = values.numel()
            for s in range(q):
                current = (U[:, s, c].unsqueeze(-1) - values).abs().argmin(-1)
                if c in self.categorical:
                    new = torch.arange(k, device=U.device).expand(b, k)
                    keep = new != current.unsqueeze(-1)
                else:
                    new = current.unsqueeze(-1) + _moves(k).to(U.device)
                    keep = (new >= 0) & (new < k)
                parent = rows.unsqueeze(-1).expand_as(new)[keep]
                if parent.numel() == 0:
                    continue
                X = U[parent].clone()
                X[:, s, c] = values[new[keep]].to(U.dtype)
                out.append(X)
                parents.append(parent)
        if not out:
            return U[:0], rows[:0]
        return torch.cat(out), torch.cat(parents)

    def restrict(self, free: Sequence[int], bounds: Tensor) -> Grid:
        """The same grid on the ``free`` columns only (re-indexed), for fixed features."""
        position = {c: i for i, c in enumerate(free)}
        return Grid(bounds[:, list(free)],
                    {position[c]: self.raw[c] for c in self.columns
                     if c not in self.categorical and c in position},
                    {position[c]: self.raw[c] for c in self.categorical if c in position})
