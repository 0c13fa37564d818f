"""End-to-end BO loops on ``acqopt.bo.minimize``, with BoTorch's ``optimize_acqf`` as baseline.

Problems (objectives minimised; ARD Matern-5/2 GP; EI and LogEI):
- digits (GENNES paper, Appendix A.3): SGD logistic regression on sklearn digits, 20 initial points.
- alpine1-d20 (GENNES paper, Figure 4): Alpine1 on [-10, 10]^20, 100 initial points, 100 steps.
- alpine1-d20-shifted: the same with the function's centre moved to ``ALPINE1_SHIFT``, a
  control: Alpine1's values grow with ``|x|``, so a maximiser that favours the middle of the box
  gains on alpine1-d20 without being a better maximiser; here the middle is no advantage.
- branin: 2-D, three global minima (low-dimensional multimodal).
- hartmann6: 6-D, six local minima.
- rosenbrock-d8: 8-D on [-5, 10]^8, a curved valley (ridge-like).
- hartmann6-d30: Hartmann-6 read from 6 of 30 coordinates (24 irrelevant dimensions).
- hartmann6-n600: Hartmann-6 from 600 initial points, 10 steps (the large-n profile).
The last five are ``botorch.test_functions``. Mixed spaces (``benchmarks/suites/mixed.py``):
- svc-cancer: an SVC's 3-fold CV error on breast-cancer data (2 categoricals, 1 integer, 2 reals;
  ``MixedSingleTaskGP``), 10 initial points, 20 steps.
- ackley-mixed: BoTorch's ``AckleyMixed`` (50 binary, 3 continuous), 20 initial points, 20 steps.
Repetitions share their initial design (the seed), so every method is paired with BoTorch by
seed; on the mixed problems the reference is ``botorch-mixed`` (BoTorch's
``optimize_acqf_mixed_alternating`` at its defaults) and every acqopt method searches the grid.

Methods are registered names, ``name:field=value,...`` for a config variant (e.g.
``lbfgs:design=sobol``), ``package.module:attribute`` for a maximiser of one's own
(``benchmarks/methods.py``), ``botorch`` (``optimize_acqf`` 10x512) or ``botorch-20x1024``. The GP
is fitted from scratch through GPyTorch at every step (BoTorch's standard loop) unless the
spec ends in ``@warm``: then with the loop's defaults, ``refit="warm"`` (hyperparameters
warm-started from the previous step's) and ``closed_form_fit=True`` (the likelihood in closed
form; see ``acqopt.bo.minimize``), e.g. ``lbfgs@warm``. Records made before those existed were
all plain fits, which is why the plain spec keeps that meaning.
Each record keeps per step: best so far, acquisition queries, GP-fit and acquisition wall time,
and the proposal's diagnostics (acquisition value, distance to the incumbent and to the data,
near-equal maximisers far apart; see ``acqopt.bo.History``).
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from pathlib import Path
from statistics import median

import numpy as np
import torch

from acqopt.bo import Real, Space, minimize
from benchmarks.functions import get_function
from benchmarks import digits
from benchmarks.reference import BoTorchMixedOptimizer, BoTorchOptimizer
from benchmarks.report import fmt, method_colours, method_legend, paired
from benchmarks import methods as specs
from benchmarks.runner import Task
from benchmarks.suites import mixed

PROBLEMS = {
    "digits": dict(n_init=20, n_iter=30),
    "alpine1-d20": dict(n_init=100, n_iter=100),
    "alpine1-d20-shifted": dict(n_init=100, n_iter=100),
    "branin": dict(n_init=5, n_iter=30),
    "hartmann6": dict(n_init=10, n_iter=50),
    "rosenbrock-d8": dict(n_init=16, n_iter=50),
    "hartmann6-d30": dict(n_init=30, n_iter=50),
    "svc-cancer": dict(n_init=10, n_iter=20),
    "ackley-mixed": dict(n_init=20, n_iter=20),
    # Hartmann-6 past 512 training points, where the closed form's check runs on a copy
    # conditioned on 128 of them (acqopt.counting.SUBSET_ABOVE): the whole loop at large n
    "hartmann6-n600": dict(n_init=600, n_iter=10),
}
MIXED = ("svc-cancer", "ackley-mixed")
SMALL = [p for p in PROBLEMS if p not in MIXED and p != "hartmann6-n600"]  # continuous, n < 512
# The default, BoTorch, and the variants that test the mechanism of issue 12: BoTorch's start
# setting in lbfgs (10x512 Sobol: does the local search or the design decide?) and the
# near-equal rule (does the place among equal maximisers decide?).
METHODS = ("botorch", "botorch-20x1024", "lbfgs", "lbfgs:design=sobol",
           "lbfgs:num_restarts=10,raw_samples=512,design=sobol",
           "lbfgs:near_equal=far_from_data", "cma-lbfgs", "gennes", "lbfgs-uniform")
PROFILES = {
    "smoke": dict(problems=["branin"], acqs=["logei"], reps=1, n_iter=2, budget=300,
                  methods=["lbfgs", "botorch"]),
    "quick": dict(problems=["digits", "branin"], acqs=["logei"], reps=2, n_iter=10,
                  budget=None, methods=None),
    "medium": dict(problems=SMALL, acqs=["logei"], reps=3,
                   n_iter=15, budget=None, methods=None),
    # n_iter None: each problem's own step count (PROBLEMS).
    "full": dict(problems=SMALL, acqs=["logei", "ei"], reps=10,
                 n_iter=None, budget=None, methods=None),
    "mixed": dict(problems=list(MIXED), acqs=["logei"], reps=10, n_iter=None, budget=None,
                  methods=["botorch-mixed", "lbfgs"]),
    # The whole BO step: BoTorch's standard loop (fit from scratch, optimize_acqf 10x512)
    # against lbfgs with fits from scratch and with the loop's defaults, in one run; branin and
    # hartmann6-d30 confirm (botorch and lbfgs@warm) what the first two were measured on, and
    # digits, held out from the choice of the loop's period of fits from scratch, confirms it.
    "refit": dict(problems=["hartmann6", "rosenbrock-d8", "branin", "hartmann6-d30", "digits"],
                  acqs=["logei"], reps=10, n_iter=None, budget=None,
                  methods=["botorch", "lbfgs", "lbfgs@warm"]),
    # The BO result past 512 training points (the closed form checked on a training subset):
    # BoTorch's standard loop, lbfgs on the same fits, and the loop's defaults.
    "large-n": dict(problems=["hartmann6-n600"], acqs=["logei"], reps=5, n_iter=None,
                    budget=None, methods=["botorch", "lbfgs", "lbfgs@warm"]),
    # The digits pipeline with vo (the integer n_iter rounded inside its search distribution)
    # against lbfgs, 1000 queries per step.
    "digits-vo": dict(problems=["digits"], acqs=["logei"], reps=5, n_iter=20, budget=1000,
                      methods=["lbfgs", "vo"]),
}
HARTMANN6_DIMS_IN_30 = (0, 5, 11, 17, 22, 28)  # spread out, so no method gains from order
# Alpine1's centre moved to +-8 in every coordinate (signs from torch.Generator().manual_seed(0)),
# so that the middle of the box is no advantage: there the function is 160, over the box 109 on
# average, and at 0.8 and 1.05 from the middle (unit cube, random directions) 101 and 103
# (unshifted: 0 at the middle, 42 and 52 at those distances).
ALPINE1_SHIFT = tuple(8.0 * s for s in (1, 1, -1, 1, 1, 1, -1, -1, 1, -1, -1, -1, -1, 1, -1,
                                        -1, -1, -1, 1, 1))


def _botorch_problem(name: str):
    from botorch.test_functions import Branin, Hartmann, Rosenbrock

    if name == "branin":
        f, dims, d = Branin(), None, 2
    elif name == "hartmann6":
        f, dims, d = Hartmann(dim=6), None, 6
    elif name == "rosenbrock-d8":
        f, dims, d = Rosenbrock(dim=8, bounds=[(-5.0, 10.0)] * 8), None, 8
    else:
        f, dims, d = Hartmann(dim=6), list(HARTMANN6_DIMS_IN_30), 30
    lower, upper = f.bounds.tolist()
    if dims is None:
        space = Space([Real(f"x{i}", lower[i], upper[i]) for i in range(d)])
    else:
        space = Space([Real(f"x{i}", 0.0, 1.0) for i in range(d)])

    def objective(p):
        x = torch.tensor([p[f"x{i}"] for i in range(d)], dtype=torch.float64)
        return float(f.evaluate_true(x[dims] if dims is not None else x))

    return objective, space


def _problem(name: str, seed: int):
    if name in MIXED:
        return mixed.problem(name)
    if name == "digits":
        return digits.make_objective(seed), digits.space()
    if name in ("alpine1-d20", "alpine1-d20-shifted"):
        f = get_function("alpine1")
        space = Space([Real(f"x{i}", -10.0, 10.0) for i in range(20)])
        shift = torch.tensor(ALPINE1_SHIFT if name.endswith("shifted") else [0.0] * 20,
                             dtype=torch.float64)

        def objective(p):
            x = torch.tensor([p[f"x{i}"] for i in range(20)], dtype=torch.float64)
            return float(f(x - shift))

        return objective, space
    return _botorch_problem("hartmann6" if name == "hartmann6-n600" else name)


def parse_refit(spec: str) -> tuple[str, str]:
    """``spec[@warm]`` -> (the method's spec, the loop's ``refit``)."""
    base, at, fit = spec.partition("@")
    if at and fit != "warm":
        raise ValueError(f"method: {spec!r}: the only suffix is '@warm', got '@{fit}'")
    return base, "warm" if at else "scratch"


def parse_method(spec: str):
    """``name``, ``name:field=value,...`` or ``botorch[-RxN]`` -> (name, options) or an optimizer."""
    if spec == "botorch-mixed":
        return BoTorchMixedOptimizer(), {}
    if spec.startswith("botorch"):
        return BoTorchOptimizer.from_name(spec), {}
    if specs.is_import_path(spec):
        return specs.resolve(spec), {}
    return specs.parse_variant(spec)


def tasks(profile: str, methods: list[str] | None, seeds: int | None) -> list[Task]:
    p = PROFILES[profile]
    out = []
    # Repetition-major within an acquisition, so a run stopped early holds whole repetitions.
    for acq in p["acqs"]:
        for rep in range(seeds or p["reps"]):
            for problem in p["problems"]:
                n_iter = p["n_iter"] or PROBLEMS[problem]["n_iter"]
                for method in methods or p["methods"] or METHODS:
                    key = f"bo/{problem}/{acq}/{rep}/{method}/{n_iter}"
                    out.append(Task(key, run, dict(problem=problem, acquisition=acq, rep=rep,
                                                   method=method, n_iter=n_iter,
                                                   budget=p["budget"]),
                                    label=f"{method} {problem} {acq} rep {rep}"))
    return out


def run(problem: str, acquisition: str, rep: int, method: str, n_iter: int,
        budget: int | None) -> dict:
    warnings.filterwarnings("ignore")
    objective, space = _problem(problem, rep)
    spec, refit = parse_refit(method)
    optimizer, options = parse_method(spec)
    h = minimize(objective, space, n_init=PROBLEMS[problem]["n_init"], n_iter=n_iter,
                 method=optimizer, method_options=options or None, acquisition=acquisition,
                 budget=budget, seed=rep, progress=False, refit=refit,
                 closed_form_fit=refit == "warm")
    cumulative, queries = 0, []
    for q in h.queries:
        cumulative += q
        queries.append(cumulative)
    steps = [i for i, p in enumerate(h.proposals) if p is not None]
    return {
        "suite": "bo", "problem": problem, "acquisition": acquisition, "seed": rep,
        "method": method, "refit": refit,
        "config": {"method": method, "budget": budget, "n_iter": n_iter},
        "n_init": PROBLEMS[problem]["n_init"], "n_iter": n_iter,
        "best": h.best, "values": h.values, "acq_queries": queries,
        "queries": cumulative, "wall_time": sum(h.wall_time), "final_best": h.best_value,
        "acq_time": [h.acq_time[i] for i in steps], "fit_time": [h.fit_time[i] for i in steps],
        "proposals": [h.proposals[i] for i in steps],
        "failures": sum(e is not None for e in h.errors),
    }


# -- the results page ----------------------------------------------------------------------

def report(records: list[dict], path: Path, profile: str) -> str:
    figure = path.with_name(f"{path.stem}-curves.png")
    bo_figure(records, figure)
    sections = [bo_table(records), bo_against_botorch(records),
                bo_against_botorch(records, "botorch-mixed"), bo_mechanism(records),
                bo_verdicts(records)]
    # bo-paper30.jsonl holds the first full profile (30 BO steps per problem, acqopt only).
    title = "first full profile, 30 BO steps" if profile == "paper30" else f"{profile} profile"
    return (f"# End-to-end BO ({title})\n\n![curves]({figure.name})\n\n"
            + "\n\n".join(s for s in sections if s) + "\n")


def bo_table(records: list[dict]) -> str:
    """Final best value per (problem, acquisition, method): median [IQR] over repetitions."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in records:
        groups[(r["problem"], r["acquisition"], r["method"])].append(r)
    lines = ["| problem | acq | method | reps | final best (median [IQR]) | acquisition queries "
             "(median) | wall time s (median) | failures | failed steps |",
             "|---|---|---|---|---|---|---|---|---|"]
    for (problem, acq, method), rs in sorted(groups.items()):
        lines.append(
            f"| {problem} | {acq} | {method} | {len(rs)} | {fmt([r['final_best'] for r in rs], 4)} "
            f"| {median(r['queries'] for r in rs):.0f} | {median(r['wall_time'] for r in rs):.1f} "
            f"| {sum(r['failures'] for r in rs)} | {sum(_failed_steps(r) for r in rs)} |")
    return ("Failures: objective evaluations that raised; failed steps: BO steps whose model fit "
            "or maximiser raised, where the loop evaluated a random point instead.\n\n"
            + "\n".join(lines))


def _failed_steps(record: dict) -> int:
    return sum(1 for p in record.get("proposals") or [] if p and "failed" in p)


def _by_seed(records: list[dict]) -> dict:
    by: dict[tuple, dict] = defaultdict(dict)
    for r in records:
        by[(r["problem"], r["acquisition"], r["method"])][r["seed"]] = r
    return by


def _pair(by: dict, problem: str, acq: str, method: str, base: str):
    """Seeds both ran, final bests of ``method`` and ``base`` on them, and W/T/L and p."""
    a, b = by.get((problem, acq, method), {}), by.get((problem, acq, base), {})
    seeds = sorted(set(a) & set(b))
    x = [a[s]["final_best"] for s in seeds]
    y = [b[s]["final_best"] for s in seeds]
    return seeds, x, y, paired(x, y)


def _step_seconds(record: dict) -> float:
    """The run's model steps' time: GP fits plus acquisition maximisation."""
    return sum(record.get("fit_time") or []) + sum(record.get("acq_time") or [])


def _acq_seconds_per_step(record: dict, key: str = "acq_time") -> float:
    times = [t for t in record.get(key) or [] if t]
    return float(np.median(times)) if times else float("nan")


REFERENCES = {"botorch": "BoTorch `optimize_acqf` 10x512",
              "botorch-mixed": "BoTorch `optimize_acqf_mixed_alternating` (mixed spaces)"}


def bo_against_botorch(records: list[dict], base: str = "botorch") -> str:
    """Every method against BoTorch's ``optimize_acqf`` 10x512 (or another reference,
    ``base``), paired by seed."""
    by = _by_seed(records)
    if not any(m == base for _, _, m in by):
        return ""
    lines = []
    for problem, acq, method in sorted(by):
        if method in REFERENCES:
            continue
        seeds, x, y, (w, t, lo, p) = _pair(by, problem, acq, method, base)
        if not seeds:
            continue
        acq_t = [_acq_seconds_per_step(by[(problem, acq, method)][s]) for s in seeds]
        bt_t = [_acq_seconds_per_step(by[(problem, acq, base)][s]) for s in seeds]
        fit_t = [_acq_seconds_per_step(by[(problem, acq, method)][s], "fit_time")
                 for s in seeds]
        bt_fit = [_acq_seconds_per_step(by[(problem, acq, base)][s], "fit_time") for s in seeds]
        step = [_step_seconds(by[(problem, acq, method)][s])
                / _step_seconds(by[(problem, acq, base)][s]) for s in seeds]
        verdict = ("better" if w > lo and p < 0.05 else "worse" if lo > w and p < 0.05
                   else "no significant difference")
        answered = [q.get("evaluator") for s in seeds
                    for q in by[(problem, acq, method)][s]["proposals"]]
        known = [e for e in answered if e is not None]
        closed = f"{known.count('closed-form') / len(known):.0%}" if known else "-"
        lines.append(
            f"| {problem} | {acq} | {method} | {len(seeds)} | {np.median(x):.4g} / "
            f"{np.median(y):.4g} | {w}/{t}/{lo} | {p:.2g} | {np.median(acq_t):.2f} / "
            f"{np.median(bt_t):.2f} | {closed} | {np.nanmedian(fit_t):.2f} / "
            f"{np.nanmedian(bt_fit):.2f} | {np.nanmedian(step):.2f} | {verdict} |")
    return (
        f"## Against {REFERENCES[base]}\n\nMedian final best, method / BoTorch "
        "(minimised); wins/ties/losses paired by seed (same initial design); p: two-sided "
        "Wilcoxon signed-rank (5% level, no correction for the many rows); acquisition wall "
        "time per step (median s, GP fit excluded); the share of the method's proposals "
        "answered by the closed-form evaluator (the oldest records' loop hid the model from it, "
        "so they time acqopt on GPyTorch's path, as BoTorch; `-`: not recorded); the GP fit's "
        "time (median s per step; the same fit unless the spec ends in `@warm`); and the whole "
        "step, fit + acquisition summed over the run, against BoTorch's (median of the seeds' "
        "ratios). `benchmarks/results/step_time-full.md` times one step of each problem paired "
        "in one process.\n\n"
        "| problem | acq | method | reps | final best | W/T/L | p | acq s/step | closed form "
        "| fit s/step | step / BoTorch | verdict |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|\n"
        + "\n".join(lines)
    )


def bo_mechanism(records: list[dict]) -> str:
    """Where proposals land: distance to the incumbent, to the data and to the middle of the
    space (unit cube), and how often the method's own search found near-equal maximisers far
    from the one it returned."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in records:
        if r.get("proposals"):
            groups[(r["problem"], r["acquisition"], r["method"])].append(r)
    if not groups:
        return ""
    lines = []
    for (problem, acq, method), rs in sorted(groups.items()):
        # a failed step (the fit or the maximiser raised; a random point was evaluated) has none
        props = [p for r in rs for p in r["proposals"] if p and "dist_incumbent" in p]
        if not props:
            continue
        inc = np.median([p["dist_incumbent"] for p in props])
        data = np.median([p["dist_data"] for p in props])
        centre = [p["dist_centre"] for p in props if "dist_centre" in p]
        centre = f"{np.median(centre):.3f}" if centre else "-"
        value = np.median([p["acq_value"] for p in props])
        found = [y for r in rs for y in r["values"][r["n_init"]:]]
        improved = [step for r in rs for step in _improving_steps(r)]
        far = [p["near_equal_far"] > 0 for p in props if "near_equal_far" in p]
        lines.append(f"| {problem} | {acq} | {method} | {len(props)} | {inc:.3f} | {data:.3f} | "
                     f"{centre} | {value:.4g} | {np.median(found):.4g} | {np.mean(improved):.1%} | "
                     + (f"{np.mean(far):.0%} |" if far else "- |"))
    return (
        "## Where the proposals land\n\nMedians over every proposal of every repetition, in "
        "the unit cube of the search space; the acquisition value the method returned; the "
        "objective at the proposals (minimised) and the share of steps whose proposal improved "
        "on the best so far. Last column: share of steps at which the method's own local "
        "searches ended at another point within 1e-3 of the returned value but more than 0.1 "
        "away from it (equal value, different place).\n\n"
        "| problem | acq | method | proposals | to incumbent | to nearest data | to centre "
        "| acquisition | objective | improving steps | near-equal far |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|\n" + "\n".join(lines)
    )


def _improving_steps(record: dict) -> list[bool]:
    """For each BO step, whether its evaluation was below every earlier one."""
    values, n = record["values"], record["n_init"]
    best, out = min(values[:n]), []
    for y in values[n:]:
        out.append(y < best)
        best = min(best, y)
    return out


def bo_verdicts(records: list[dict]) -> str:
    """The paper's Figures 3-4 claim, per (problem, acquisition): GENNES ends lower than repeated
    L-BFGS, with fewer acquisition queries; checked against the papers' baseline
    (``lbfgs-uniform``), acqopt's ``lbfgs`` and BoTorch's ``optimize_acqf`` 10x512."""
    by = _by_seed(records)
    lines = []
    for problem, acq in sorted({(r["problem"], r["acquisition"]) for r in records}):
        for base in ("lbfgs-uniform", "lbfgs", "botorch"):
            seeds, x, y, (wins, ties, losses, p) = _pair(by, problem, acq, "gennes", base)
            if len(seeds) < 2:
                continue
            g, b = by[(problem, acq, "gennes")], by[(problem, acq, base)]
            ahead = np.mean(x) < np.mean(y) and wins > losses
            fewer = median(g[s]["queries"] for s in seeds) < median(b[s]["queries"] for s in seeds)
            if ahead and p < 0.05:
                verdict = "reproduced" if fewer else "lower values reproduced, fewer queries not"
            elif ahead:
                verdict = "same direction, not significant"
            else:
                verdict = "not reproduced"
            lines.append(
                f"| {problem} | {acq} | {base} | {len(seeds)} | {np.mean(x):.4g} / "
                f"{np.mean(y):.4g} | {wins}/{ties}/{losses} | {p:.2g} "
                f"| {median(g[s]['queries'] for s in seeds):.0f} / "
                f"{median(b[s]['queries'] for s in seeds):.0f} | {verdict} |")
    if not lines:
        return ""
    return (
        "Beside the paper (Figures 3-4: GENNES reaches lower values than repeated L-BFGS, with "
        "fewer acquisition queries). Mean final best, `gennes` / baseline; repetitions paired by "
        "seed (same initial design); p: two-sided Wilcoxon signed-rank.\n\n"
        "| problem | acq | baseline | reps | mean final best | gennes wins/ties/losses | p "
        "| queries (median) | verdict |\n|---|---|---|---|---|---|---|---|---|\n"
        + "\n".join(lines)
    )


def bo_figure(records: list[dict], path: Path) -> None:
    """Writes :func:`curves_figure` to ``path``."""
    import matplotlib.pyplot as plt

    fig = curves_figure(records)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def curves_figure(records: list[dict]):
    """Best value, median over repetitions, against objective evaluations, acquisition queries
    and acquisition wall time (GP fit excluded), one row per (problem, acquisition): the
    paper's Figures 3 and 4, and the cost of getting there. A method keeps its colour in every
    row; each row's legend names the methods in it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = sorted({(r["problem"], r["acquisition"]) for r in records})
    colours = method_colours(r["method"] for r in records)
    fig, axes = plt.subplots(len(keys), 3, figsize=(13, 3 * len(keys)), squeeze=False)
    for row, (problem, acq) in zip(axes, keys):
        shown = []
        for method in colours:
            rs = [r for r in records if (r["problem"], r["acquisition"], r["method"])
                  == (problem, acq, method)]
            if not rs:
                continue
            shown.append(method)
            style = dict(label=method, color=colours[method])
            n = min(len(r["best"]) for r in rs)
            best = np.median(np.array([r["best"][:n] for r in rs]), axis=0)
            q = np.median(np.array([r["acq_queries"][:n] for r in rs]), axis=0)
            row[0].plot(np.arange(1, n + 1), best, **style)
            row[1].plot(q, best, **style)
            if all(r.get("acq_time") for r in rs):
                # acq_time has one entry per BO step; the initial design costs none.
                t = np.median(np.array([np.cumsum([0.0] * (len(r["best"]) - len(r["acq_time"]))
                                                  + list(r["acq_time"]))[:n] for r in rs]), axis=0)
                row[2].plot(t, best, **style)
        row[0].set(title=f"{problem} ({acq})", xlabel="objective evaluations", ylabel="best")
        row[1].set(title=f"{problem} ({acq})", xlabel="acquisition queries (cumulative)")
        row[2].set(title=f"{problem} ({acq})", xlabel="acquisition wall time s (cumulative)")
        method_legend(row[0], colours, shown)
    fig.tight_layout()
    return fig
