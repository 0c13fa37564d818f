"""What the suites' results pages share: quantiles, colours, paired tests, provenance.

A leaf: it imports no suite. Each suite writes its own tables and figures;
``python -m benchmarks report`` (:func:`benchmarks.__main__.write_pages`) writes
``<suite>-<profile>.md`` beside each records file, with the command lines that made its
records.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np


def quantiles(xs: list[float]) -> tuple[float, float, float]:
    """Lower quartile, median and upper quartile (linear interpolation, numpy's default)."""
    if not len(xs):
        return (float("nan"),) * 3
    lo, mid, hi = np.quantile(np.asarray(xs, dtype=float), [0.25, 0.5, 0.75])
    return float(lo), float(mid), float(hi)


def method_colours(methods) -> dict[str, tuple]:
    """One colour per method for every panel of a figure. Matplotlib's colour cycle restarts on
    each axes, so a method missing from one panel would shift every colour after it there."""
    import matplotlib

    names = sorted(set(methods))
    cmap = matplotlib.colormaps["tab10" if len(names) <= 10 else "tab20"]
    return {m: cmap(i % cmap.N) for i, m in enumerate(names)}


def method_legend(ax, colours: dict[str, tuple], methods=None) -> None:
    """A legend on ``ax`` naming ``methods`` (all of ``colours`` by default) in their colours."""
    from matplotlib.lines import Line2D

    shown = sorted(colours if methods is None else set(methods))
    ax.legend(handles=[Line2D([], [], color=colours[m], label=m) for m in shown], fontsize=7)


def fmt(xs: list[float], digits: int = 3) -> str:
    lo, mid, hi = quantiles(xs)
    return f"{mid:.{digits}g} [{lo:.{digits}g}, {hi:.{digits}g}]"


def paired(x: list[float], y: list[float]) -> tuple[int, int, int, float]:
    """Wins, ties, losses of ``x`` against ``y`` (lower is better) and the two-sided Wilcoxon
    signed-rank p-value (1 when there are fewer than two pairs or no differences)."""
    from scipy.stats import wilcoxon

    diff = np.asarray(x, dtype=float) - np.asarray(y, dtype=float)
    wins, losses = int((diff < 0).sum()), int((diff > 0).sum())
    p = float(wilcoxon(x, y).pvalue) if len(diff) > 1 and diff.any() else 1.0
    return wins, len(diff) - wins - losses, losses, p


def variants_table(records: list[dict], *, group, pair, value, higher_is_better: bool,
                   tol) -> str:
    """Paired variants of one method, as ``--methods cma-lbfgs cma-lbfgs:wait_for=1.0`` runs them.

    For each method that ran as more than one spec (``name`` and ``name:field=value,...``), each
    spec is paired with the baseline -- the bare name where it ran, else the first spec in the
    records -- on the runs that share ``pair(record)``: per ``group(record)``, the median value,
    wins and losses beyond ``tol(baseline_record)`` and the median ratio of acquisition calls.
    Empty when no method ran as several specs. Tune on one suite, confirm on another.
    """
    specs: dict[str, list[str]] = {}
    for r in records:
        name = r["method"].partition(":")[0]
        if r["method"] not in specs.setdefault(name, []):
            specs[name].append(r["method"])
    families = {n: s for n, s in specs.items() if len(s) > 1}
    if not families:
        return ""
    head = "value" if higher_is_better else "regret"
    lines = [f"| problems | variant | runs | median {head} | wins / losses against the baseline | "
             "calls / baseline (median) |", "|---|---|---|---|---|---|"]
    sign = 1.0 if higher_is_better else -1.0
    for name, members in families.items():
        base = name if name in members else members[0]
        runs = {(r["method"], pair(r)): r for r in records if r["method"] in members}
        for g in dict.fromkeys(group(r) for r in records if r["method"] in members):
            for spec in members:
                rows = [(r, runs.get((base, pair(r)))) for r in records
                        if r["method"] == spec and group(r) == g]
                rows = [(r, b) for r, b in rows if b is not None]
                if not rows:
                    continue
                diff = [sign * (value(r) - value(b)) for r, b in rows]
                wins = sum(x > tol(b) for x, (_, b) in zip(diff, rows))
                losses = sum(x < -tol(b) for x, (_, b) in zip(diff, rows))
                calls = np.median([r["calls"] / b["calls"] for r, b in rows])
                shown = f"`{spec}` (baseline)" if spec == base else f"`{spec}`"
                lines.append(f"| {g} | {shown} | {len(rows)} | "
                             f"{np.median([value(r) for r, _ in rows]):.4g} | {wins} / {losses} | "
                             f"{calls:.2f} |")
    return "\n".join(lines)


def provenance(records: list[dict], path: Path) -> str:
    """The command lines that made ``records`` (as the runner recorded them), for a page's end.

    Records from before the runner stored its command are attributed to the command in
    ``legacy-commands.json`` beside them, marked as such.
    """
    commands = Counter(r.get("command") for r in records)
    lines = [f"- `{c}` ({n} runs)" for c, n in sorted(commands.items(), key=lambda kv: str(kv[0]))
             if c]
    if commands.get(None):
        legacy_file = path.with_name("legacy-commands.json")
        legacy = json.loads(legacy_file.read_text()) if legacy_file.exists() else {}
        said = f": `{legacy[path.name]}` (as the page said then)" if path.name in legacy else ""
        lines.append(f"- {commands[None]} runs made before commands were recorded{said}")
    default = Path(__file__).parent / "results"
    out = "" if path.parent.resolve() == default.resolve() else f" --out {_shown(path.parent)}"
    each = f" (each with `{out.strip()}`)" if out else ""
    return (f"\nRecords: `{path.name}`, made by{each}:\n\n" + "\n".join(lines) + f"\n\nThen `python -m benchmarks report{out}`. Runs are "
            "resumable: a command run again skips what is done.\n")


def _shown(directory: Path) -> str:
    """``directory`` relative to the repository when it is inside it."""
    try:
        return str(directory.resolve().relative_to(Path(__file__).resolve().parents[1]))
    except ValueError:
        return str(directory)
