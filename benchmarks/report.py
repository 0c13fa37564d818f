"""Markdown tables (median and IQR) from the benchmark records under ``benchmarks/results``."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from statistics import median

from benchmarks.store import read

WITHIN = 0.01  # nats of LogEI


def quantiles(xs: list[float]) -> tuple[float, float, float]:
    xs = sorted(xs)
    if not xs:
        return (float("nan"),) * 3

    def q(p: float) -> float:
        i = p * (len(xs) - 1)
        lo, hi = int(i), min(int(i) + 1, len(xs) - 1)
        return xs[lo] + (xs[hi] - xs[lo]) * (i - lo)

    return q(0.25), q(0.5), q(0.75)


def fmt(xs: list[float], digits: int = 3) -> str:
    lo, mid, hi = quantiles(xs)
    return f"{mid:.{digits}g} [{lo:.{digits}g}, {hi:.{digits}g}]"


def landscapes_table(records: list[dict]) -> str:
    """One row per (acquisition, setting, method): quality against the best known and BoTorch."""
    best: dict[tuple, float] = defaultdict(lambda: float("-inf"))
    for r in records:
        k = (r["problem"], r["acquisition"])
        best[k] = max(best[k], r["logei_value"])
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in records:
        groups[(r["acquisition"], r["setting"], r["method"])].append(r)
    lines = [
        "| acq | budget of | method | runs | gap to best known (nats) | within 0.01 of best "
        "| >= BoTorch - 0.01 | queries | grad queries | time s | time / BoTorch |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (kind, setting, method), rs in sorted(groups.items()):
        gaps = [best[(r["problem"], r["acquisition"])] - r["logei_value"] for r in rs]
        within = sum(g <= WITHIN for g in gaps) / len(rs)
        paired = [r for r in rs if r["method"] != "botorch"]
        vs_bt = (
            f"{sum(r['value'] >= r['botorch_value'] - _tol(r) for r in paired) / len(paired):.0%}"
            if paired else "-"
        )
        ratio = fmt([r["wall_time"] / r["botorch_wall_time"] for r in paired], 2) if paired else "1"
        lines.append(
            f"| {kind} | {setting} | {method} | {len(rs)} | {fmt(gaps)} | {within:.0%} | {vs_bt} "
            f"| {median(r['queries'] for r in rs):.0f} | {median(r['grad_queries'] for r in rs):.0f} "
            f"| {fmt([r['wall_time'] for r in rs], 2)} | {ratio} |"
        )
    return "\n".join(lines)


def _tol(r: dict) -> float:
    """0.01 nats for LogEI; for EI, 1% of BoTorch's value (0.01 nats in log EI)."""
    return WITHIN if r["acquisition"] == "logei" else WITHIN * abs(r["botorch_value"])


def report(out: Path) -> str:
    """Writes ``<suite>-<profile>.md`` beside each records file; returns the text."""
    texts = []
    for path in sorted(out.glob("landscapes-*.jsonl")):
        records = read(path)
        if not records:
            continue
        text = (
            f"# Landscapes ({path.stem.split('-', 1)[1]} profile)\n\n"
            "Medians with [IQR]. Gap = best LogEI found on that landscape by any run minus this "
            "run's LogEI at its candidate. Budgets equal the queries BoTorch `optimize_acqf` used "
            "at the named setting, counted by the same counter; time ratios are paired runs in "
            f"the same process.\n\n{landscapes_table(records)}\n"
        )
        path.with_suffix(".md").write_text(text)
        texts.append(text)
    return "\n".join(texts) or f"no records under {out}"
