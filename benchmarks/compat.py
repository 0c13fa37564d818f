"""The compatibility matrix as a benchmark: BoTorch's call shapes, BoTorch beside every method.

For each call shape (the same as ``tests/test_compat.py``) on a landscape snapshot, runs
``botorch.optim.optimize_acqf`` and ``acqopt.optimize_acqf(..., method=m)`` for every registered
method with the same arguments and global seed, and writes the acquisition value reached and the
wall time to ``benchmarks/results/compat.md``. The value of a ``q = 2`` or sequential call is the
joint qLogEI of the returned batch (fixed base samples), so the columns compare.

Run: ``python -m benchmarks.compat [--snapshot rastrigin-d8-n40] [--seeds 3]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch
from botorch.acquisition import qKnowledgeGradient, qLogExpectedImprovement
from botorch.optim import optimize_acqf as botorch_optimize_acqf
from botorch.sampling import SobolQMCNormalSampler

import acqopt
from acqopt.constraints import Polytope
from benchmarks.snapshots import acquisition

RESULTS = Path(__file__).parent / "results"


def shapes(acq, bounds):
    """``{name: (acquisition, args, kwargs, judge)}``; ``judge(X)`` values a returned batch."""
    d = bounds.shape[-1]
    model = acq.model
    sampler = SobolQMCNormalSampler(torch.Size([64]), seed=0)
    qlogei = qLogExpectedImprovement(model, best_f=acq.best_f, sampler=sampler)
    mid = bounds.mean(0)
    ineq = [(torch.arange(d // 2), -torch.ones(d // 2, dtype=bounds.dtype),
             -float(mid[: d // 2].sum()))]
    eq = [(torch.tensor([d - 2, d - 1]), torch.ones(2, dtype=bounds.dtype),
           float(mid[-2:].sum()))]
    with torch.random.fork_rng():
        torch.manual_seed(0)
        kg = qKnowledgeGradient(model, num_fantasies=8)
        warm = bounds[0] + torch.rand(4, 1, d, dtype=bounds.dtype) * (bounds[1] - bounds[0])

    @torch.no_grad()
    def single(X):
        return float(acq(X.reshape(1, 1, d)))

    @torch.no_grad()
    def joint(X):
        return float(qlogei(X.reshape(1, -1, d)))

    return {
        "positional (1, 10, 512)": (acq, (1, 10, 512), {}, single),
        "tutorial options": (acq, (), dict(q=1, num_restarts=10, raw_samples=512,
                                           options={"batch_limit": 5, "maxiter": 200}), single),
        "linear constraints": (acq, (1, 10, 512), dict(inequality_constraints=ineq,
                                                      equality_constraints=eq), single),
        "warm starts": (acq, (1, 4), dict(batch_initial_conditions=warm), single),
        "return_best_only=False": (acq, (1, 10, 512), dict(return_best_only=False),
                                   lambda X: single(X[0])),
        "qLogEI q=2 joint": (qlogei, (2, 10, 512), {}, joint),
        "qLogEI q=2 sequential": (qlogei, (2, 10, 512), dict(sequential=True), joint),
        "fixed feature -1": (acq, (1, 10, 512), dict(fixed_features={-1: float(mid[-1])}),
                             single),
        "qKG (8 fantasies)": (kg, (1, 10, 512), {}, lambda X: float(kg.evaluate(
            X.reshape(1, 1, d), bounds=bounds, num_restarts=2, raw_samples=32))),
    }, Polytope(bounds, ineq, eq)


def run(snapshot: str, seeds: int) -> str:
    warnings.filterwarnings("ignore")
    acq, bounds = acquisition(snapshot, "logei")
    cases, polytope = shapes(acq, bounds)
    methods = ["botorch", *acqopt.available_methods()]
    rows = []
    for name, (fn, args, kwargs, judge) in cases.items():
        cells = []
        for method in methods:
            values, times, error = [], [], None
            for seed in range(seeds):
                with torch.random.fork_rng():
                    torch.manual_seed(seed)
                    start = time.perf_counter()
                    try:
                        if method == "botorch":
                            X, _ = botorch_optimize_acqf(fn, bounds, *args, **kwargs)
                        else:
                            X, _ = acqopt.optimize_acqf(fn, bounds, *args, method=method,
                                                        **kwargs)
                    except Exception as exc:  # noqa: BLE001 - the table reports it
                        error = type(exc).__name__
                        break
                    times.append(time.perf_counter() - start)
                values.append(judge(X))
                if "constraints" in name:
                    assert float(polytope.violation((X - bounds[0]) / (bounds[1] - bounds[0]))) <= 1e-6
            cells.append(error or f"{statistics.median(values):.3f} ({statistics.median(times):.2f} s)")
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    header = "| call | " + " | ".join(methods) + " |\n|---|" + "---|" * len(methods)
    return (
        f"# Compatibility matrix: BoTorch's call shapes\n\nLogEI on the `{snapshot}` landscape; "
        f"each cell: median over {seeds} global seeds of the value reached (LogEI, or joint "
        "qLogEI for q = 2, or qKG) and the median wall time. Every method honours every call; a "
        "cell naming an exception would mark one that does not. Constrained answers were checked "
        "feasible to 1e-6.\n\n" + header + "\n" + "\n".join(rows) + "\n\nMade by `python -m "
        f"benchmarks.compat --snapshot {snapshot} --seeds {seeds}`.\n"
    )


def constrained_landscapes(seeds: int, method: str = "lbfgs") -> str:
    """On every landscape snapshot x seed: ``sum(x_S) <= c`` over a random half ``S`` of the
    dimensions (``c`` puts the box's centre on the boundary) and one equality on two other
    dimensions. BoTorch 10x512 (SLSQP) runs through the counter; ``method`` then gets exactly its
    queries. Reports how often ``method`` reaches BoTorch's LogEI within 0.01 and the paired time
    ratio."""
    from acqopt import CountingAcquisition
    from benchmarks.snapshots import snapshot_names

    warnings.filterwarnings("ignore")
    rows, reached, ratios = [], 0, []
    for name in snapshot_names():
        acq, bounds = acquisition(name, "logei")
        d = bounds.shape[-1]
        for seed in range(seeds):
            g = torch.Generator().manual_seed(seed)
            perm = torch.randperm(d, generator=g)
            S, E = perm[: d // 2], perm[d // 2: d // 2 + 2]
            mid = bounds.mean(0)
            ineq = [(S, -torch.ones(len(S), dtype=bounds.dtype), -float(mid[S].sum()))]
            w = bounds[1, E] - bounds[0, E]
            eq = [(E, 1.0 / w, float((mid[E] / w).sum()))]
            counter = CountingAcquisition(acq)
            with torch.random.fork_rng():
                torch.manual_seed(seed)
                start = time.perf_counter()
                _, v_bt = botorch_optimize_acqf(counter, bounds, 1, 10, 512,
                                                inequality_constraints=ineq,
                                                equality_constraints=eq)
                t_bt = time.perf_counter() - start
            start = time.perf_counter()
            x, v = acqopt.optimize_acqf(acq, bounds, 1, inequality_constraints=ineq,
                                        equality_constraints=eq, method=method,
                                        budget=counter.queries, generator=seed)
            t = time.perf_counter() - start
            polytope = Polytope(bounds, ineq, eq)
            feasible = float(polytope.violation((x - bounds[0]) / (bounds[1] - bounds[0]))) <= 1e-6
            ok = float(v) >= float(v_bt) - 0.01 and feasible
            reached += ok
            ratios.append(t / t_bt)
            rows.append(f"| {name} | {seed} | {float(v_bt):.4f} | {float(v):.4f} | "
                        f"{'yes' if ok else 'no'} | {counter.queries} | {t_bt:.2f} | {t:.2f} |")
    n = len(rows)
    return (
        f"## Constrained landscapes: `{method}` against BoTorch 10x512 (SLSQP)\n\n"
        f"`{method}` reaches BoTorch's LogEI within 0.01 (and is feasible to 1e-6) on "
        f"{reached} of {n} landscape x seed pairs ({reached / n:.0%}); median paired time ratio "
        f"{statistics.median(ratios):.2f} (IQR {statistics.quantiles(ratios, n=4)[0]:.2f}-"
        f"{statistics.quantiles(ratios, n=4)[2]:.2f}), at BoTorch's query count.\n\n"
        "| landscape | seed | BoTorch LogEI | acqopt LogEI | within 0.01 | queries | BoTorch s "
        "| acqopt s |\n|---|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--snapshot", default="rastrigin-d8-n40")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS / "compat.md")
    parser.add_argument("--constrained-seeds", type=int, default=3)
    args = parser.parse_args(argv)
    text = run(args.snapshot, args.seeds)
    text += "\n" + constrained_landscapes(args.constrained_seeds) + (
        f"\nMade by `python -m benchmarks.compat --constrained-seeds {args.constrained_seeds}`.\n")
    args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
