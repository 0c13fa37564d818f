"""The main job: every acqopt method and BoTorch on LogEI and EI of an Alpine1-20D GP.

Fits ``ScaleKernel(MaternKernel(nu=2.5, ard_num_dims=20))`` to 100 Alpine1 points, builds LogEI
and EI, then maximises each with BoTorch's ``optimize_acqf(num_restarts=10, raw_samples=512)``
and with every registered method at the same number of acquisition queries (counted by the same
counter). Prints method, acquisition value, queries, gradient queries and wall time.

Run: ``make demo`` (or ``python examples/demo.py [--seed 0] [--n 100] [--d 20]``).
"""

from __future__ import annotations

import argparse
import time
import warnings

import torch
from botorch.optim import optimize_acqf as botorch_optimize_acqf

import acqopt
from acqopt.bo import fit_gp, get_function, make_acquisition
from acqopt.counting import CountingAcquisition


def main() -> None:
    # The GENNES paper maximises plain EI; BoTorch warns about EI's numerics, which we know.
    warnings.filterwarnings("ignore", message=".*ExpectedImprovement has known numerical issues")
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n", type=int, default=100, help="training points")
    parser.add_argument("--d", type=int, default=20, help="dimension")
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

    for kind in ("logei", "ei"):
        acq = make_acquisition(model, kind)
        counter = CountingAcquisition(acq)
        start = time.perf_counter()
        with torch.random.fork_rng():
            torch.manual_seed(args.seed)
            _, value = botorch_optimize_acqf(counter, bounds, q=1, num_restarts=10, raw_samples=512)
        rows = [("botorch 10x512", float(value), counter.queries, counter.grad_queries,
                 time.perf_counter() - start)]
        budget = counter.queries
        for name in args.methods:
            opt = acqopt.get_optimizer(name)
            if budget < opt.min_budget(1, args.d):
                rows.append((name, float("nan"), 0, 0, 0.0))
                continue
            r = opt.optimize(acq, bounds, budget=budget, generator=args.seed)
            rows.append((name, float(r.acq_value), r.counts.queries, r.counts.grad_queries,
                         r.wall_time))
        print(f"\n{kind.upper()} (budget {budget} queries = BoTorch 10x512's count)")
        print(f"{'method':<18}{'acq value':>14}{'queries':>9}{'grad q.':>9}{'time s':>9}")
        for name, v, nq, ng, t in rows:
            print(f"{name:<18}{v:>14.6g}{nq:>9d}{ng:>9d}{t:>9.2f}")


if __name__ == "__main__":
    main()
