"""Markdown tables (median and IQR) from the benchmark records under ``benchmarks/results``."""

from __future__ import annotations

import warnings
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
    for path in sorted(out.glob("*.jsonl")):
        records = read(path)
        if not records:
            continue
        suite, profile = path.stem.split("-", 1)
        if suite == "landscapes":
            text = (
                f"# Landscapes ({profile} profile)\n\n"
                "Medians with [IQR]. Gap = best LogEI found on that landscape by any run minus "
                "this run's LogEI at its candidate. Budgets equal the queries BoTorch "
                "`optimize_acqf` used at the named setting, counted by the same counter; time "
                f"ratios are paired runs in the same process.\n\n{landscapes_table(records)}\n"
            )
        elif suite == "global":
            t1 = [r for r in records if r.get("table") == "table1"]
            qiu = [r for r in records if r.get("table") == "qiu"]
            text = f"# Global optimisation ({profile} profile)\n\n"
            if t1:
                figure = path.with_name(f"{path.stem}-regret.png")
                regret_figure(t1, figure)
                text += (f"## GENNES paper, Table 1\n\n![regret]({figure.name})\n\n"
                         + table1(t1) + "\n\n")
            if qiu:
                text += "## Qiu (2020), 2-D table\n\n" + qiu_table(qiu) + "\n"
        elif suite == "bo":
            figure = path.with_name(f"{path.stem}-curves.png")
            bo_figure(records, figure)
            text = (f"# End-to-end BO ({profile} profile)\n\n![curves]({figure.name})\n\n"
                    + bo_table(records) + "\n\n" + bo_against_botorch(records) + "\n\n"
                    + bo_mechanism(records) + "\n\n" + bo_verdicts(records) + "\n")
        else:
            continue
        text += (f"\nRecords: `{path.name}`. Made by `python -m benchmarks run {suite} --profile "
                 f"{profile} --workers 2` (resumable: runs added with other `--methods` or "
                 "`--seeds` land in the same file), then `python -m benchmarks report`.\n")
        path.with_suffix(".md").write_text(text)
        texts.append(text)
    return "\n".join(texts) or f"no records under {out}"


# Faury et al. (2018), Table 1: mean regret of (GENNES, repeated L-BFGS), legible cells only.
PAPER_TABLE1 = {
    ("rastrigin", 10): {"100": (71.3, 24.3), "1000": (41.3, 13.3), "10000": (4.1, 6.9),
                        "100000": (3.9, 5.4)},
    ("rastrigin", 30): {"100": (279.0, 90.4), "1000": (212.1, 74.5), "10000": (72.3, 60.7)},
    ("ackley", 10): {"100": (7.9, 11.9), "10000": (0.007, 5.1), "100000": (0.005, 3.2)},
    ("ackley", 30): {"100": (9.4, 12.9), "1000": (5.4, 11.6), "10000": (0.007, 9.0)},
    ("styblinski_tang", 10): {"100": (206.1, 35.3), "1000": (111.1, 24.0), "10000": (7.8, 9.9),
                              "100000": (5.2, 5.6)},
    ("styblinski_tang", 30): {"100": (2371.3, 169.0), "100000": (21.1, 67.8)},
    ("schwefel", 10): {"100": (3011.9, 1463.2), "1000": (2186.0, 989.0),
                       "100000": (533.6, 542.8)},
    ("schwefel", 30): {"100": (10100.0, 5021.4), "100000": (943.8, 3331.7)},
}
# Qiu (2020): success rate of (cma, cma-linesearch, cma-adam): Figures 3.1.1-3.1.4 for the
# first two, Table 3.1.1 for cma-adam.
PAPER_QIU = {
    "ackley": (0.217, 0.988, 0.19), "bukin6": (0.007, 0.956, 0.0),
    "eggholder": (0.013, 0.056, 0.012),
}


def table1(records: list[dict]) -> str:
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in records:
        groups[(r["function"], r["d"], r["method"])].append(r)
    budgets = sorted({int(c) for r in records for c in r["regret"]})
    methods = sorted({r["method"] for r in records})
    head = "| problem | method | folds | " + " | ".join(
        f"regret @{b:.0e} mean / median [IQR]" for b in budgets) + " |"
    lines = [head, "|---|---|---|" + "---|" * len(budgets)]
    verdicts = []
    for (fn, d) in sorted({(r["function"], r["d"]) for r in records}):
        for m in methods:
            rs = groups.get((fn, d, m))
            if not rs:
                continue
            cells = []
            for b in budgets:
                xs = [r["regret"].get(str(b)) for r in rs]
                xs = [x for x in xs if x is not None]
                cells.append(f"{sum(xs) / len(xs):.3g} / {fmt(xs)}" if xs else "n/a")
            lines.append(f"| {fn}-d{d} | {m} | {len(rs)} | " + " | ".join(cells) + " |")
        for b, (g_paper, l_paper) in PAPER_TABLE1.get((fn, d), {}).items():
            ours = {}
            for m in ("gennes", "lbfgs-uniform"):
                xs = [r["regret"].get(b) for r in groups.get((fn, d, m), [])]
                xs = [x for x in xs if x is not None]
                if xs:
                    ours[m] = sum(xs) / len(xs)
            if len(ours) == 2:
                same = (ours["gennes"] < ours["lbfgs-uniform"]) == (g_paper < l_paper)
                verdicts.append(
                    f"| {fn}-d{d} | {int(b):.0e} | {g_paper:g} / {l_paper:g} | "
                    f"{ours['gennes']:.3g} / {ours['lbfgs-uniform']:.3g} | "
                    f"{'GENNES' if g_paper < l_paper else 'L-BFGS'} | "
                    f"{'reproduced' if same else 'not reproduced'} |"
                )
    text = "\n".join(lines)
    if verdicts:
        text += (
            "\n\nBeside the paper (mean regret, GENNES / repeated L-BFGS; ours: `gennes` / "
            "`lbfgs-uniform`). The claim checked is which of the two is ahead.\n\n"
            "| problem | evaluations | paper | ours | paper: ahead | verdict |\n"
            "|---|---|---|---|---|---|\n" + "\n".join(verdicts)
        )
    return text


def qiu_table(records: list[dict]) -> str:
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in records:
        groups[(r["problem"], r["method"])].append(r)
    lines = ["| function | method | starts | success | mean loss | queries (median) | time s (median) "
             "| paper success | ordering vs cma |",
             "|---|---|---|---|---|---|---|---|---|"]
    for (fn, m), rs in sorted(groups.items()):
        success = sum(r["success"] for r in rs) / len(rs)
        paper = PAPER_QIU.get(fn)
        idx = {"cma": 0, "cma-linesearch": 1, "cma-adam": 2}.get(m)
        paper_s = f"{paper[idx]:.1%}" if paper and idx is not None else "-"
        verdict = "-"
        base = groups.get((fn, "cma"))
        if paper and idx in (1, 2) and base:
            ours_better = success > sum(r["success"] for r in base) / len(base)
            verdict = "reproduced" if ours_better == (paper[idx] > paper[0]) else "not reproduced"
        lines.append(
            f"| {fn} | {m} | {len(rs)} | {success:.0%} | "
            f"{sum(r['loss'] for r in rs) / len(rs):.3g} | {median(r['queries'] for r in rs):.0f} | "
            f"{median(r['wall_time'] for r in rs):.2f} | {paper_s} | {verdict} |"
        )
    return "\n".join(lines)


def regret_figure(records: list[dict], path: Path) -> None:
    """Median best-so-far regret against evaluations, one panel per problem (log-log)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    problems = sorted({r["problem"] for r in records})
    methods = sorted({r["method"] for r in records})
    cols = min(4, len(problems))
    rows = -(-len(problems) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.2 * rows), squeeze=False)
    for ax, problem in zip(axes.flat, problems):
        for m in methods:
            rs = [r for r in records if r["problem"] == problem and r["method"] == m]
            if not rs:
                continue
            budget = max(r["budget"] for r in rs)
            grid = np.unique(np.geomspace(1, budget, 60).astype(int))
            curves = []
            for r in rs:
                tr = np.array(r["trace"])
                offset = r["final_regret"] + tr[-1, 1]  # regret = -best - f*: f* from the end
                idx = np.searchsorted(tr[:, 0], grid, side="right") - 1
                curves.append(np.where(idx >= 0, offset - tr[np.maximum(idx, 0), 1], np.nan))
            with warnings.catch_warnings():  # grid points before a method's first call
                warnings.simplefilter("ignore", RuntimeWarning)
                med = np.nanmedian(np.array(curves), axis=0)
            ax.plot(grid, np.maximum(med, 1e-12), label=m)
        ax.set(xscale="log", yscale="log", title=problem, xlabel="evaluations")
    axes.flat[0].set_ylabel("median regret")
    axes.flat[0].legend(fontsize=7)
    for ax in list(axes.flat)[len(problems):]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def bo_table(records: list[dict]) -> str:
    """Final best value per (problem, acquisition, method): median [IQR] over repetitions."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in records:
        groups[(r["problem"], r["acquisition"], r["method"])].append(r)
    lines = ["| problem | acq | method | reps | final best (median [IQR]) | acquisition queries "
             "(median) | wall time s (median) | failures |", "|---|---|---|---|---|---|---|---|"]
    for (problem, acq, method), rs in sorted(groups.items()):
        lines.append(
            f"| {problem} | {acq} | {method} | {len(rs)} | {fmt([r['final_best'] for r in rs], 4)} "
            f"| {median(r['queries'] for r in rs):.0f} | {median(r['wall_time'] for r in rs):.1f} "
            f"| {sum(r['failures'] for r in rs)} |")
    return "\n".join(lines)


def _paired(by: dict, problem: str, acq: str, method: str, base: str):
    """Final best of ``method`` and ``base`` on the seeds both ran, with W/T/L and Wilcoxon p
    (objectives are minimised: a win is a lower final best)."""
    from scipy.stats import wilcoxon

    a, b = by.get((problem, acq, method), {}), by.get((problem, acq, base), {})
    seeds = sorted(set(a) & set(b))
    x = [a[s]["final_best"] for s in seeds]
    y = [b[s]["final_best"] for s in seeds]
    diff = [xi - yi for xi, yi in zip(x, y)]
    wins, losses = sum(d < 0 for d in diff), sum(d > 0 for d in diff)
    p = wilcoxon(x, y).pvalue if len(seeds) > 1 and any(diff) else 1.0
    return seeds, x, y, wins, len(seeds) - wins - losses, losses, p


def bo_against_botorch(records: list[dict]) -> str:
    """Every method against BoTorch's ``optimize_acqf`` 10x512, paired by seed."""
    import numpy as np

    by = defaultdict(dict)
    for r in records:
        by[(r["problem"], r["acquisition"], r["method"])][r["seed"]] = r
    if not any(m == "botorch" for _, _, m in by):
        return ""
    lines = []
    for problem, acq, method in sorted(by):
        if method == "botorch":
            continue
        seeds, x, y, w, t, lo, p = _paired(by, problem, acq, method, "botorch")
        if not seeds:
            continue
        acq_t = [np.median(by[(problem, acq, method)][s].get("acq_time") or [np.nan]) for s in seeds]
        bt_t = [np.median(by[(problem, acq, "botorch")][s].get("acq_time") or [np.nan])
                for s in seeds]
        verdict = ("better" if w > lo and p < 0.05 else "worse" if lo > w and p < 0.05
                   else "no significant difference")
        lines.append(
            f"| {problem} | {acq} | {method} | {len(seeds)} | {np.median(x):.4g} / "
            f"{np.median(y):.4g} | {w}/{t}/{lo} | {p:.2g} | {np.median(acq_t):.2f} / "
            f"{np.median(bt_t):.2f} | {verdict} |")
    return (
        "## Against BoTorch `optimize_acqf` 10x512\n\nMedian final best, method / BoTorch "
        "(minimised); wins/ties/losses paired by seed (same initial design); p: two-sided "
        "Wilcoxon signed-rank (5% level, no correction for the many rows); acquisition wall "
        "time per step (median s, GP fit excluded).\n\n"
        "| problem | acq | method | reps | final best | W/T/L | p | acq s/step | verdict |\n"
        "|---|---|---|---|---|---|---|---|---|\n" + "\n".join(lines)
    )


def bo_mechanism(records: list[dict]) -> str:
    """Where proposals land: distance to the incumbent and to the data (unit cube), and how
    often the method's own search found near-equal maximisers far from the one it returned."""
    import numpy as np

    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in records:
        if r.get("proposals"):
            groups[(r["problem"], r["acquisition"], r["method"])].append(r)
    if not groups:
        return ""
    lines = []
    for (problem, acq, method), rs in sorted(groups.items()):
        props = [p for r in rs for p in r["proposals"]]
        inc = np.median([p["dist_incumbent"] for p in props])
        data = np.median([p["dist_data"] for p in props])
        far = [p["near_equal_far"] > 0 for p in props if "near_equal_far" in p]
        lines.append(f"| {problem} | {acq} | {method} | {len(props)} | {inc:.3f} | {data:.3f} | "
                     + (f"{np.mean(far):.0%} |" if far else "- |"))
    return (
        "## Where the proposals land\n\nMedians over every proposal of every repetition, in "
        "the unit cube of the search space. Last column: share of steps at which the method's "
        "own local searches ended at another point within 1e-3 of the returned value but more "
        "than 0.1 away from it (equal value, different place).\n\n"
        "| problem | acq | method | proposals | to incumbent | to nearest data | near-equal far "
        "|\n|---|---|---|---|---|---|---|\n" + "\n".join(lines)
    )


def bo_verdicts(records: list[dict]) -> str:
    """The paper's Figures 3-4 claim, per (problem, acquisition): GENNES ends lower than repeated
    L-BFGS, with fewer acquisition queries. Repetitions share their initial design, so they are
    paired: wins/ties/losses and a two-sided Wilcoxon signed-rank test on the final best."""
    from scipy.stats import wilcoxon

    by = defaultdict(dict)
    for r in records:
        by[(r["problem"], r["acquisition"], r["method"])][r["seed"]] = r
    lines = []
    for problem, acq in sorted({(r["problem"], r["acquisition"]) for r in records}):
        g = by.get((problem, acq, "gennes"), {})
        for base in ("lbfgs-uniform", "lbfgs"):
            b = by.get((problem, acq, base), {})
            seeds = sorted(set(g) & set(b))
            if len(seeds) < 2:
                continue
            x = [g[s]["final_best"] for s in seeds]
            y = [b[s]["final_best"] for s in seeds]
            diff = [xi - yi for xi, yi in zip(x, y)]
            wins, losses = sum(d < 0 for d in diff), sum(d > 0 for d in diff)
            p = wilcoxon(x, y).pvalue if any(diff) else 1.0
            ahead = sum(x) / len(x) < sum(y) / len(y) and wins > losses
            fewer = median(g[s]["queries"] for s in seeds) < median(b[s]["queries"] for s in seeds)
            if ahead and p < 0.05:
                verdict = "reproduced" if fewer else "lower values reproduced, fewer queries not"
            elif ahead:
                verdict = "same direction, not significant"
            else:
                verdict = "not reproduced"
            lines.append(
                f"| {problem} | {acq} | {base} | {len(seeds)} | {sum(x) / len(x):.4g} / "
                f"{sum(y) / len(y):.4g} | {wins}/{len(seeds) - wins - losses}/{losses} | {p:.2g} "
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
    """Best value against objective evaluations (left) and acquisition queries (right), median
    over repetitions, one row per (problem, acquisition): the paper's Figures 3 and 4."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    keys = sorted({(r["problem"], r["acquisition"]) for r in records})
    fig, axes = plt.subplots(len(keys), 2, figsize=(9, 3 * len(keys)), squeeze=False)
    for row, (problem, acq) in zip(axes, keys):
        for method in sorted({r["method"] for r in records}):
            rs = [r for r in records if (r["problem"], r["acquisition"], r["method"])
                  == (problem, acq, method)]
            if not rs:
                continue
            n = min(len(r["best"]) for r in rs)
            best = np.median(np.array([r["best"][:n] for r in rs]), axis=0)
            q = np.median(np.array([r["acq_queries"][:n] for r in rs]), axis=0)
            row[0].plot(np.arange(1, n + 1), best, label=method)
            row[1].plot(q, best, label=method)
        row[0].set(title=f"{problem} ({acq})", xlabel="objective evaluations", ylabel="best")
        row[1].set(title=f"{problem} ({acq})", xlabel="acquisition queries (cumulative)")
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
