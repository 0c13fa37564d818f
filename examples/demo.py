"""The main job: every acqopt method and BoTorch on LogEI and EI of an Alpine1-20D GP.

Fits ``ScaleKernel(MaternKernel(nu=2.5, ard_num_dims=20))`` to 100 Alpine1 points, builds LogEI
and EI, then maximises each with BoTorch's ``optimize_acqf(num_restarts=10, raw_samples=512)``
and with every registered method at the same number of acquisition queries (counted by the same
counter). Prints method, acquisition value, queries, gradient queries and wall time.

Run: ``make demo`` (or, from the repository root, ``python -m examples.demo [--seed 0]``).
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import torch
from botorch.optim import optimize_acqf as botorch_optimize_acqf

import acqopt
from acqopt.bo import fit_gp, make_acquisition
from acqopt.counting import CountingAcquisition
from benchmarks.functions import get_function


def main() -> None:
    # The GENNES paper maximises plain EI; BoTorch warns about EI's numerics, which we know.
    warnings.filterwarnings("ignore", message=".*ExpectedImprovement has known numerical issues")
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n", type=int, default=100, help="training points")
    parser.add_argument("--d", type=int, default=20, help="dimension")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per method (median)")
    parser.add_argument("--methods", nargs="*", default=acqopt.available_methods())
    args = parser.parse_args()

    f = get_function("alpine1")
    g = torch.Generator().manual_seed(args.seed)
    X = torch.rand(args.n, args.d, generator=g, dtype=torch.float64)
    Y = -f(f.bounds(args.d)[0] + X * (f.upper - f.lower)).unsqueeze(-1)  # maximise -Alpine1
    with torch.random.fork_rng():
        torch.manual_seed(args.seed)
        model = fit_gp(X, Y)
    bounds = torch.stack([torch.zeros(args.d), torch.ones(args.d)]).double()
    print(f"Alpine1 d={args.d}, {args.n} points, ARD Matern-5/2 GP; best observed {-Y.max():.3f}")
    print(f"Times: median of {args.repeats} runs, after a short untimed warm-up of each method.")

    summary = []
    for kind in ("logei", "ei"):
        acq = make_acquisition(model, kind)
        run_botorch(acq, bounds, args.seed, num_restarts=2, raw_samples=32)  # warm-up
        rows = [("botorch 10x512", *timed(lambda: run_botorch(acq, bounds, args.seed),
                                          args.repeats))]
        budget = rows[0][2]
        for name in args.methods:
            opt = acqopt.get_optimizer(name)
            if budget < opt.min_budget(1, args.d):
                continue
            run_method(opt, acq, bounds, max(200, opt.min_budget(1, args.d)), args.seed)  # warm-up
            rows.append((name, *timed(lambda: run_method(opt, acq, bounds, budget, args.seed),
                                      args.repeats)))
        print(f"\n{kind.upper()} (budget {budget} queries = BoTorch 10x512's count)")
        print(f"{'method':<18}{'acq value':>14}{'queries':>9}{'grad q.':>9}{'time s':>9}")
        for name, v, nq, ng, t in rows:
            print(f"{name:<18}{v:>14.6g}{nq:>9d}{ng:>9d}{t:>9.2f}")
        summary.append(summarise(kind, rows))
    print("\nSummary:\n" + "\n".join(summary))


def run_botorch(acq, bounds, seed, num_restarts=10, raw_samples=512):
    counter = CountingAcquisition(acq)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        _, value = botorch_optimize_acqf(counter, bounds, q=1, num_restarts=num_restarts,
                                         raw_samples=raw_samples)
    return float(value), counter.queries, counter.grad_queries


def run_method(opt, acq, bounds, budget, seed):
    r = opt.optimize(acq, bounds, budget=budget, generator=seed)
    return float(r.acq_value), r.counts.queries, r.counts.grad_queries


def timed(run, repeats: int) -> tuple[float, int, int, float]:
    """The median wall time of ``repeats`` runs, and the value and counts of the first (every run
    is seeded alike). Each method has had a short untimed warm-up run first, so one-time costs
    do not land on whichever method comes first."""
    times, first = [], None
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        out = run()
        times.append(time.perf_counter() - start)
        first = first or out
    return (*first, statistics.median(times))


def summarise(kind: str, rows: list[tuple]) -> str:
    """One plain-language line: who reaches BoTorch's value, and how fast."""
    _, bt_value, _, _, bt_time = rows[0]
    tol = 0.01 if kind == "logei" else 0.01 * abs(bt_value)  # 0.01 nats, or 1% of EI
    reach = [r for r in rows[1:] if r[1] >= bt_value - tol]
    best = max(rows[1:], key=lambda r: r[1], default=None)
    if best is None:
        return f"{kind.upper()}: no method had budget enough to run."
    text = (f"{kind.upper()}: {len(reach)} of {len(rows) - 1} methods reach BoTorch's value "
            f"({bt_value:.4g}) at its query count; the highest is {best[0]} ({best[1]:.4g})")
    if reach:
        fast = min(reach, key=lambda r: r[4])
        text += (f"; the fastest of those is {fast[0]}, {fast[4]:.2f} s against BoTorch's "
                 f"{bt_time:.2f} s ({fast[4] / bt_time:.2g}x).")
    return text + ("" if reach else ".")


if __name__ == "__main__":
    main()
