"""Paired variants of one method: tune on one set of problems, confirm on another.

Run: ``python -m benchmarks.variants cma-lbfgs '{"1.0": {"wait_for": 1.0}, "0.7": {"wait_for":
0.7}}' --on landscapes`` (the 12 saved GP snapshots, LogEI and EI, at the queries BoTorch spends
at ``--settings``) or ``--on table1`` (the global suite's Table 1 functions at d = 10 and 30,
``--budget`` queries). Every variant runs on the same problems and seeds; the first is the
baseline the others are paired against. Writes a markdown table to ``--out`` (or stdout).

Landscapes compare acquisition values (a run "loses" when it is lower than the baseline's by
more than 0.01 nats; values are LogEI's or EI's own) and calls; Table 1 compares regret (lower
is better, wins and losses beyond 1e-9) and calls. Times are left out: they are measured on an
idle machine by the landscapes suite, and this tool may run beside other jobs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import warnings
from pathlib import Path

import torch

import acqopt
from benchmarks.functions import get_function
from benchmarks.snapshots import acquisition
from benchmarks.suites.globalopt import OPTIONS, TABLE1, Translated, bounds, shift
from benchmarks.suites.landscapes import _botorch

SNAPSHOTS = Path(__file__).parent / "data"


def landscapes(method: str, variants: dict, settings: list[str], seeds: list[int]) -> list[dict]:
    rows = []
    for snap in sorted(p.stem for p in SNAPSHOTS.glob("*.pt")):
        for kind in ("logei", "ei"):
            acq, box = acquisition(snap, kind)
            for setting in settings:
                for seed in seeds:
                    budget = _botorch(acq, box, setting, seed)["counts"].queries
                    out = {}
                    for label, options in variants.items():
                        r = acqopt.get_optimizer(method, **options).optimize(
                            acq, box, budget=budget, generator=seed)
                        out[label] = (float(r.acq_value), r.counts.calls)
                    rows.append({"group": f"{kind} {setting}", "problem": snap, "seed": seed,
                                 "results": out})
    return rows


def table1(method: str, variants: dict, budget: int, seeds: list[int]) -> list[dict]:
    rows = []
    for name in TABLE1:
        for d in (10, 30):
            optimum = get_function(name).optimum(d)
            for seed in seeds:
                acq, box = Translated(name, shift(name, d, seed)), bounds(name, d)
                out = {}
                for label, options in variants.items():
                    options = {**OPTIONS.get(method, {}), **options}
                    r = acqopt.get_optimizer(method, **options).optimize(
                        acq, box, budget=budget, generator=seed)
                    out[label] = (float(-r.acq_value - optimum), r.counts.calls)
                rows.append({"group": f"{name}-d{d}", "problem": f"{name}-d{d}", "seed": seed,
                             "results": out})
    return rows


def table(rows: list[dict], labels: list[str], higher_is_better: bool, tol: float) -> str:
    """Per group and variant: median value, paired wins/losses against the first variant, and
    median calls relative to it."""
    base = labels[0]
    head = "value" if higher_is_better else "regret"
    lines = [f"| problems | variant | median {head} | wins / losses against {base} | "
             f"median calls | calls / {base} (median) |", "|---|---|---|---|---|---|"]
    for group in dict.fromkeys(r["group"] for r in rows):
        R = [r["results"] for r in rows if r["group"] == group]
        for label in labels:
            sign = 1.0 if higher_is_better else -1.0
            diff = [sign * (r[label][0] - r[base][0]) for r in R]
            wins, losses = sum(x > tol for x in diff), sum(x < -tol for x in diff)
            value = statistics.median(r[label][0] for r in R)
            calls = statistics.median(r[label][1] for r in R)
            ratio = statistics.median(r[label][1] / r[base][1] for r in R)
            lines.append(f"| {group} | {label} | {value:.4g} | {wins} / {losses} | {calls:g} | "
                         f"{ratio:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.variants", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("method")
    parser.add_argument("variants", help='JSON: {"label": {option: value}, ...}, baseline first')
    parser.add_argument("--on", choices=["landscapes", "table1"], default="landscapes")
    parser.add_argument("--settings", default="10x512,20x1024",
                        help="landscapes: BoTorch settings whose query counts are the budgets")
    parser.add_argument("--budget", type=int, default=10_000, help="table1: queries per run")
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    try:
        variants = json.loads(args.variants)
    except json.JSONDecodeError as e:
        parser.error(f"variants: expected a JSON object of option dicts ({e})")
    if not isinstance(variants, dict) or not variants or not all(
            isinstance(v, dict) for v in variants.values()):
        parser.error('variants: expected a JSON object like {"label": {"option": value}}')
    for options in variants.values():  # a bad option fails before any run
        try:
            acqopt.get_optimizer(args.method, **options)
        except ValueError as e:
            parser.error(str(e))
    seeds = [int(s) for s in args.seeds.split(",")]
    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    if args.on == "landscapes":
        rows = landscapes(args.method, variants, args.settings.split(","), seeds)
        text = table(rows, list(variants), higher_is_better=True, tol=0.01)
        what = f"landscape snapshots at BoTorch {args.settings}'s query counts"
    else:
        rows = table1(args.method, variants, args.budget, seeds)
        text = table(rows, list(variants), higher_is_better=False, tol=1e-9)
        what = f"Table 1 functions at {args.budget} queries"
    text = (f"# `{args.method}` variants on the {what}, seeds {args.seeds}\n\n"
            f"Variants: `{json.dumps(variants)}`\n\n{text}\n")
    if args.out:
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
