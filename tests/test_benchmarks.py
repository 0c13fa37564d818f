"""Benchmark suite: objectives, the record store, the CLI, and resuming after SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from benchmarks.functions import FUNCTIONS, get_function
from benchmarks.__main__ import main
from benchmarks.store import Appender, read

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
@pytest.mark.parametrize("d", [2, 10, 30])
def test_objective_optimum(name, d):
    f = get_function(name)
    x_star = torch.full((d,), f.argmin, dtype=torch.float64)
    assert float(f(x_star)) == pytest.approx(f.optimum(d), abs=1e-6 * d)
    # The optimum is below every point of a random sample of the domain.
    g = torch.Generator().manual_seed(d)
    X = f.lower + (f.upper - f.lower) * torch.rand(2000, d, generator=g, dtype=torch.float64)
    assert (f(X) >= f.optimum(d) - 1e-9).all()


def test_known_values():
    """Textbook values at non-optimal points (Jamil & Yang 2013 forms)."""
    one = torch.ones(2, dtype=torch.float64)
    assert float(get_function("rastrigin")(one)) == pytest.approx(2.0)
    assert float(get_function("alpine1")(one)) == pytest.approx(2 * abs(torch.sin(one[0]) + 0.1))
    assert float(get_function("ackley")(one)) == pytest.approx(3.6253849384403627)
    assert float(get_function("styblinski_tang")(one)) == pytest.approx(-10.0)
    assert float(get_function("schwefel")(one)) == pytest.approx(837.9657745448676 - 2 * 0.8414709848)


def test_store_cuts_a_partial_line(tmp_path):
    path = tmp_path / "r.jsonl"
    with Appender(path) as store:
        store.append({"key": "a", "v": 1})
    with open(path, "ab") as fh:
        fh.write(b'{"key": "b", "v"')  # a run killed mid-write
    assert [r["key"] for r in read(path)] == ["a"]
    with Appender(path) as store:
        store.append({"key": "c", "v": 3})
    assert [r["key"] for r in read(path)] == ["a", "c"]
    assert path.read_bytes().count(b"\n") == 2


def test_smoke_run_and_report(tmp_path):
    assert main(["run", "landscapes", "--profile", "smoke", "--out", str(tmp_path),
                 "--no-progress"]) == 0
    records = read(tmp_path / "landscapes-smoke.jsonl")
    assert len(records) == 1
    r = records[0]
    for key in ("method", "config", "problem", "seed", "budget", "queries", "grad_queries",
                "trace", "wall_time", "versions", "host", "botorch_value"):
        assert key in r
    assert r["queries"] <= r["budget"]
    assert r["host"]["threads"] >= 1 and "linear_operator" in r["versions"]
    assert r["command"] == "python -m benchmarks run landscapes --profile smoke"
    # Resuming runs nothing new.
    assert main(["run", "landscapes", "--profile", "smoke", "--out", str(tmp_path),
                 "--no-progress"]) == 0
    assert len(read(tmp_path / "landscapes-smoke.jsonl")) == 1
    (tmp_path / "notes.jsonl").write_text('{"host": "ax"}\n')  # not <suite>-<profile>
    assert main(["report", "--out", str(tmp_path)]) == 0
    assert not (tmp_path / "notes.md").exists()
    page = (tmp_path / "landscapes-smoke.md").read_text()
    assert "| logei | 10x512 | lbfgs |" in page
    assert "`python -m benchmarks run landscapes --profile smoke` (1 runs)" in page


def test_sigkill_midway_then_resume_matches_an_uninterrupted_run(tmp_path):
    args = ["run", "landscapes", "--profile", "smoke", "--no-progress",
            "--methods", "lbfgs-uniform", "cma", "lbfgs", "gennes"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "benchmarks", *args, "--out", str(killed)],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    path = killed / "landscapes-smoke.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and not (path.exists() and path.read_bytes().count(b"\n") >= 1):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = len(read(path))
    assert 1 <= before < 4
    assert main([*args, "--out", str(killed)]) == 0
    assert main([*args, "--out", str(tmp_path / "clean")]) == 0
    resumed = read(path)
    clean = read(tmp_path / "clean" / "landscapes-smoke.jsonl")
    keys = [r["key"] for r in resumed]
    assert len(keys) == len(set(keys)) == 4
    assert set(keys) == {r["key"] for r in clean}
    # Every line is a complete record, and the deterministic results agree.
    for line in path.read_bytes().splitlines():
        json.loads(line)
    by_key = {r["key"]: r for r in clean}
    for r in resumed:
        assert r["value"] == by_key[r["key"]]["value"]
        assert r["queries"] == by_key[r["key"]]["queries"]


def test_global_smoke_and_report(tmp_path):
    assert main(["run", "global", "--profile", "smoke", "--out", str(tmp_path),
                 "--no-progress"]) == 0
    (r,) = read(tmp_path / "global-smoke.jsonl")
    assert r["queries"] <= 100 and r["regret"]["100"] >= 0
    assert main(["report", "--out", str(tmp_path)]) == 0
    assert "| rastrigin-d10 | lbfgs | 1 |" in (tmp_path / "global-smoke.md").read_text()
    assert (tmp_path / "global-smoke-regret.png").stat().st_size > 1000


def test_translated_objective_has_its_minimum_where_moved():
    from benchmarks.suites.globalopt import Translated, bounds, shift

    for name in ("rastrigin", "ackley", "styblinski_tang", "schwefel"):
        f = get_function(name)
        t = shift(name, 10, 3)
        x_star = (f.argmin + t).view(1, 1, -1)
        box = bounds(name, 10)
        assert ((x_star[0, 0] > box[0]) & (x_star[0, 0] < box[1])).all()
        assert float(-Translated(name, t)(x_star)) == pytest.approx(f.optimum(10), abs=1e-6)


def test_bo_smoke_and_report(tmp_path):
    assert main(["run", "bo", "--profile", "smoke", "--out", str(tmp_path), "--no-progress"]) == 0
    r, bt = sorted(read(tmp_path / "bo-smoke.jsonl"), key=lambda r: r["method"] != "lbfgs")
    assert (r["method"], bt["method"]) == ("lbfgs", "botorch")
    assert len(r["best"]) == 7 and r["best"] == sorted(r["best"], reverse=True)
    assert r["acq_queries"][-1] == r["queries"] <= 2 * 300
    # Per step: the acquisition's time apart from the fit, and where the proposal landed.
    assert len(r["acq_time"]) == len(r["fit_time"]) == len(r["proposals"]) == 2
    assert all(p["dist_data"] <= p["dist_incumbent"] + 1e-12 for p in r["proposals"])
    assert all(p["near_equal"] >= 1 for p in bt["proposals"])  # BoTorch's restarts, reported
    assert main(["report", "--out", str(tmp_path)]) == 0
    page = (tmp_path / "bo-smoke.md").read_text()
    assert "| branin | logei | lbfgs | 1 |" in page and "## Against BoTorch" in page
    assert (tmp_path / "bo-smoke-curves.png").stat().st_size > 1000


def test_ray_executor_matches_the_local_pool(tmp_path):
    """The Ray path on a local 2-CPU instance: same records as the process pool, and it resumes."""
    pytest.importorskip("ray")
    args = ["run", "global", "--profile", "smoke", "--no-progress", "--methods", "lbfgs", "cma",
            "--seeds", "2"]
    assert main([*args, "--out", str(tmp_path / "local"), "--workers", "2"]) == 0
    ray_args = [*args, "--out", str(tmp_path / "ray"), "--executor", "ray", "--workers", "2"]
    assert main(ray_args) == 0
    local = {r["key"]: r for r in read(tmp_path / "local" / "global-smoke.jsonl")}
    remote = read(tmp_path / "ray" / "global-smoke.jsonl")
    assert len(remote) == len(local) == 4
    for r in remote:
        assert r["key"] in local
        assert r["final_regret"] == local[r["key"]]["final_regret"]
        assert r["queries"] == local[r["key"]]["queries"]
    # Completed runs are skipped without starting Ray.
    assert main(ray_args) == 0
    assert len(read(tmp_path / "ray" / "global-smoke.jsonl")) == 4


def test_cli_rejects_bad_arguments(capsys):
    with pytest.raises(SystemExit):
        main(["run", "global", "--address", "auto"])
    assert "--address is for --executor ray" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["run", "global", "--workers", "0"])
    assert "--workers must be a positive integer" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["run", "bo", "--device", "cuda"])
    assert "--device: suite 'bo' runs on the CPU only" in capsys.readouterr().err


def test_every_landscape_snapshot_loads_as_an_ard_matern_gp():
    from gpytorch.kernels import MaternKernel, ScaleKernel

    from benchmarks.snapshots import acquisition, load, snapshot_names

    names = snapshot_names()
    assert {n.split("-")[0] for n in names} == {"alpine1", "rastrigin", "schwefel", "digits"}
    for name in names:
        model = load(name)
        X = model.train_inputs[0]
        d = int(name.split("-")[1][1:])
        assert X.shape == (int(name.split("-")[2][1:]), d)
        assert ((X >= 0) & (X <= 1)).all()
        kernel = model.covar_module
        assert isinstance(kernel, ScaleKernel) and isinstance(kernel.base_kernel, MaternKernel)
        assert kernel.base_kernel.nu == 2.5 and kernel.base_kernel.lengthscale.shape[-1] == d
        for kind in ("logei", "ei"):
            acq, bounds = acquisition(name, kind)
            assert bounds.shape == (2, d)
            with torch.no_grad():
                assert torch.isfinite(acq(X[:4].unsqueeze(1))).all()


def test_snapshot_generation_is_deterministic(tmp_path):
    from benchmarks.snapshots import Run, make_snapshots

    run = Run("rastrigin", 2, 6, (6, 8), seed=3)
    make_snapshots([run], tmp_path / "a")
    make_snapshots([run], tmp_path / "b")
    for n in (6, 8):
        a = torch.load(tmp_path / "a" / f"rastrigin-d2-n{n}.pt", weights_only=True)
        b = torch.load(tmp_path / "b" / f"rastrigin-d2-n{n}.pt", weights_only=True)
        assert torch.equal(a["X"], b["X"]) and torch.equal(a["Y"], b["Y"])
        for key, value in a["state"].items():
            assert torch.equal(value, b["state"][key]), key


def test_bo_verdicts_pair_repetitions_by_seed():
    from benchmarks.suites.bo import bo_verdicts

    def rec(method, seed, best, queries):
        return {"problem": "p", "acquisition": "logei", "method": method, "seed": seed,
                "final_best": best, "queries": queries}

    # gennes lower in all 8 paired repetitions, with fewer queries: reproduced.
    records = [rec("gennes", s, 1.0 + 0.1 * s, 100) for s in range(8)]
    records += [rec("lbfgs", s, 2.0 + 0.1 * s, 200) for s in range(8)]
    (line,) = [x for x in bo_verdicts(records).splitlines() if x.startswith("| p |")]
    assert "| 8/0/0 |" in line and line.endswith("| reproduced |")
    # Ties in every repetition: not reproduced, whatever the query counts.
    records = [rec("gennes", s, 1.0, 100) for s in range(8)]
    records += [rec("lbfgs", s, 1.0, 200) for s in range(8)]
    (line,) = [x for x in bo_verdicts(records).splitlines() if x.startswith("| p |")]
    assert "| 0/8/0 |" in line and line.endswith("| not reproduced |")
    # Unpaired seeds are not compared.
    assert bo_verdicts([rec("gennes", 0, 1.0, 1), rec("lbfgs", 1, 2.0, 1)]) == ""


def test_results_page_lists_the_commands_that_made_its_records(tmp_path):
    from benchmarks.report import provenance

    path = tmp_path / "bo-full.jsonl"
    records = [{"command": "python -m benchmarks run bo --profile full"}] * 3 + [{}]
    text = provenance(records, path)
    assert "`python -m benchmarks run bo --profile full` (3 runs)" in text
    assert "1 runs made before commands were recorded\n" in text
    (tmp_path / "legacy-commands.json").write_text('{"bo-full.jsonl": "python -m old"}')
    assert "1 runs made before commands were recorded: `python -m old`" in provenance(records, path)


def test_store_keeps_a_whole_record_that_lost_its_newline(tmp_path):
    from benchmarks.runner import Task, run_tasks

    path = tmp_path / "r.jsonl"
    path.write_text('{"key": "a", "x": 1}\n{"key": "b", "x": 2}')  # newline lost, record whole
    ran = run_tasks([Task("a", dict), Task("b", dict), Task("c", dict)], path, progress=False)
    assert ran == 1  # only c: b is a record, kept and counted as done
    assert [r["key"] for r in read(path)] == ["a", "b", "c"]


def test_store_skips_lines_that_are_not_records_and_dedupes_by_key(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text('{"key": "a"}\n5\nnull\n{"key": "a", "late": 1}\n{"key": "b"}\n')
    with pytest.warns(UserWarning, match="skipped 2 line"):
        records = read(path)
    assert records == [{"key": "a"}, {"key": "b"}]


def test_a_second_writer_is_refused_and_a_read_only_finished_file_is_fine(tmp_path, monkeypatch):
    from benchmarks.runner import Task, run_tasks
    from benchmarks.store import StoreLocked

    path = tmp_path / "r.jsonl"
    with Appender(path) as first:
        first.append({"key": "a"})
        with pytest.raises(StoreLocked, match="being written by another run"):
            Appender(path)
    # Nothing left to do: the file is not opened for writing at all (so read-only is fine).
    import benchmarks.runner as runner

    def refuse(path):
        raise PermissionError(path)

    monkeypatch.setattr(runner, "Appender", refuse)
    assert run_tasks([Task("a", dict)], path, progress=False) == 0


def test_gradient_bias_compares_each_step_with_the_true_gradient():
    from benchmarks.suites.gradient_bias import fixed_point, run

    r = run("stochastic-rosenbrock-d10", seed=0, method="lgso", noise=False, budget=3300)
    assert len(r["cosine"]) == len(r["g"]) == 2  # two steps of (15 + 1) x 100 queries
    assert all(c > 0.5 for c in r["cosine"])  # a descent direction on the noise-free mean
    f = fixed_point("stochastic-rosenbrock-d10", point=0, method="es-grad", estimates=3)
    assert len(f["cosine"]) == 3 and f["g"] == pytest.approx(45.0)  # g(2, ..., 2) = 9 * 5
    assert f["cosine_of_mean"] > 0.9


def test_plugins_page_pairs_by_seed_against_the_host(tmp_path):
    from benchmarks.suites.plugins import INITIAL, page

    def rec(method, seed, best):
        n = INITIAL + 2
        return {"suite": "plugins", "plugin": "optuna", "problem": "hartmann6", "seed": seed,
                "method": method, "final_best": best, "feasible": [True] * n,
                "trial_time": [0.0] * INITIAL + [1.0, 2.0], "acq_time": [0.0] * INITIAL
                + [0.5, 0.5], "command": "python -m benchmarks.plugins"}

    records = [rec("optuna", 0, -1.0), rec("optuna", 1, -2.0),
               rec("lbfgs", 0, -1.5), rec("lbfgs", 1, -1.0)]
    text = page(records, tmp_path / "plugins.jsonl")
    assert "| optuna (own) | 2 |" in text
    assert "| acqopt `lbfgs` | 2 | " in text and "| 1/0/1 | 1.00 | 1.50 | 0.50 | 0 |" in text


def test_variants_of_a_method_are_paired_with_its_baseline(tmp_path, capsys):
    """``--methods cma cma:popsize=6`` runs both specs on the same problems and folds; the page
    pairs each with the bare name (the baseline: 0 / 0 and calls 1.00 against itself)."""
    assert main(["run", "global", "--profile", "smoke", "--methods", "cma", "cma:popsize=6",
                 "--seeds", "2", "--out", str(tmp_path), "--no-progress"]) == 0
    assert main(["report", "--out", str(tmp_path)]) == 0
    text = (tmp_path / "global-smoke.md").read_text()
    section = text[text.index("### Variants"):]
    rows = [line.split(" | ") for line in section.splitlines() if line.startswith("| rastrigin")]
    assert [r[1] for r in rows] == ["`cma` (baseline)", "`cma:popsize=6`"]
    assert rows[0][2:] == ["2", rows[0][3], "0 / 0", "1.00 |"]
    assert rows[1][2] == "2" and rows[1][5] != "1.00 |"  # popsize 6 spends its calls otherwise
    with pytest.raises(SystemExit):
        main(["run", "global", "--profile", "smoke", "--methods", "cma:no_such_option=1",
              "--out", str(tmp_path)])
    assert "no_such_option" in capsys.readouterr().err


def test_a_page_without_variants_has_no_variants_section():
    from benchmarks.report import variants_table

    records = [{"method": m, "problem": "p", "seed": s, "calls": 10, "v": 1.0}
               for m in ("lbfgs", "cma") for s in (0, 1)]
    assert variants_table(records, group=lambda r: r["problem"], pair=lambda r: r["seed"],
                          value=lambda r: r["v"], higher_is_better=True,
                          tol=lambda r: 0.01) == ""
    records += [{"method": "lbfgs:design='sobol'", "problem": "p", "seed": 0, "calls": 20,
                 "v": 0.5}]
    table = variants_table(records, group=lambda r: r["problem"], pair=lambda r: r["seed"],
                           value=lambda r: r["v"], higher_is_better=True, tol=lambda r: 0.01)
    assert "| p | `lbfgs:design='sobol'` | 1 | 0.5 | 0 / 1 | 2.00 |" in table


def test_the_shifted_alpine1_is_alpine1_centred_at_the_shift():
    from benchmarks.suites.bo import ALPINE1_SHIFT, _problem

    at = lambda x: {f"x{i}": float(v) for i, v in enumerate(x)}  # noqa: E731
    plain, _ = _problem("alpine1-d20", 0)
    shifted, space = _problem("alpine1-d20-shifted", 0)
    shift = torch.tensor(ALPINE1_SHIFT, dtype=torch.float64)
    assert shifted(at(shift)) == 0.0 and plain(at(torch.zeros(20))) == 0.0
    x = torch.linspace(-3.0, 3.0, 20, dtype=torch.float64)
    assert shifted(at(x + shift)) == pytest.approx(plain(at(x)))
    assert shifted(at(torch.zeros(20))) > 20.0  # the box's centre is far from the optimum
    assert all(space.params[i].low <= s <= space.params[i].high for i, s in enumerate(shift))


def test_centre_records_where_a_proposal_lies_and_what_the_objective_is_there():
    import acqopt
    from benchmarks import snapshots
    from benchmarks.suites import centre
    from benchmarks.functions import get_function

    r = centre.run("rastrigin-d8-n40", "logei", "lbfgs", 0)
    acq, bounds = snapshots.acquisition("rastrigin-d8-n40", "logei")
    x, value = acqopt.optimize_acqf(acq, bounds, method="lbfgs", generator=0)
    assert r["value"] == pytest.approx(float(value))
    assert r["dist_centre"] == pytest.approx(float((x - 0.5).norm()))
    f = get_function("rastrigin")
    assert r["objective"] == pytest.approx(float(f(f.lower + x * (f.upper - f.lower))))
    # The page's reference column: where each function's minimiser lies.
    s = get_function("schwefel")
    optimum = (s.argmin - s.lower) / (s.upper - s.lower) - 0.5
    assert centre.OPTIMUM_FROM_CENTRE["schwefel"] == pytest.approx(abs(optimum) * 10 ** 0.5)
    page = centre.page([r, {**r, "method": "botorch", "value": r["value"] - 0.5}], Path("c.jsonl"))
    (row,) = [line for line in page.splitlines()
              if line.startswith("| rastrigin (8) | 0.00 | lbfgs |")]
    assert row.endswith("| +0.500 |")


def test_a_method_keeps_its_colour_in_every_row_of_the_bo_figure():
    import matplotlib.pyplot as plt

    from benchmarks.suites.bo import curves_figure

    def record(problem, method):
        return {"problem": problem, "acquisition": "ei", "method": method, "best": [3.0, 2.0],
                "acq_queries": [0, 10], "acq_time": [0.1]}

    # "a" is missing from the second row: with matplotlib's per-axes colour cycle, "c" would
    # take "a"'s colour there.
    records = [record("p1", "a"), record("p1", "c"), record("p2", "c")]
    fig = curves_figure(records)
    colours = {}
    for ax in fig.axes:
        for line in ax.get_lines():
            colours.setdefault(line.get_label(), set()).add(line.get_color())
        legend = ax.get_legend()
        if legend is not None:  # a row's legend names the methods drawn in it, in their colours
            drawn = {line.get_label(): line.get_color() for line in ax.get_lines()}
            assert {t.get_text() for t in legend.get_texts()} == set(drawn)
            for handle, text in zip(legend.legend_handles, legend.get_texts()):
                assert handle.get_color() == drawn[text.get_text()]
    plt.close(fig)
    assert set(colours) == {"a", "c"} and all(len(c) == 1 for c in colours.values())
    assert colours["a"] != colours["c"]


def test_bo_method_specs_name_the_fit():
    from benchmarks.suites.bo import parse_refit

    assert parse_refit("lbfgs") == ("lbfgs", "scratch")
    assert parse_refit("lbfgs:design=sobol@warm") == ("lbfgs:design=sobol", "warm")
    with pytest.raises(ValueError, match="@warm"):
        parse_refit("lbfgs@cold")


def test_searches_suite_smoke(tmp_path):
    """The scikit-learn searches suite: every method makes its trials' scores, the same folds
    give the same score to the same setting, and the page pairs each method with TPE."""
    from benchmarks.suites import searches

    r = searches.run("tree-wine", 0, "random", 4)
    assert len(r["scores"]) == len(r["best"]) == 4 and r["final_best"] == max(r["scores"])
    assert 0 < r["cv_time"] <= r["wall_time"]
    tpe = searches.run("tree-wine", 0, "tpe", 4)
    bayes = searches.run("tree-wine", 0, "bayes", 4)  # 4 design points, no model step
    assert len(tpe["scores"]) == len(bayes["scores"]) == 4
    page = searches.report([r, tpe, bayes], tmp_path / "searches-x.jsonl", "x")
    assert "| tree-wine | random | 4 | 1 |" in page and "tree-wine: `BayesSearchCV`" in page
    with pytest.raises(ValueError, match="methods"):
        searches.tasks("smoke", ["nope"], None)


def test_samplers_suite_smoke(tmp_path):
    """The Optuna samplers suite: each problem's curve, hypervolume against the reference
    point, and the page pairing each sampler with GPSampler and TPE."""
    pytest.importorskip("optuna")
    from benchmarks.suites import samplers

    assert samplers.hypervolume([(0.0, 0.0)]) == pytest.approx(18.0 * 6.0)
    assert samplers.hypervolume([(20.0, 1.0)]) == 0.0
    records = [samplers.run(problem, 0, sampler, 3)
               for problem in ("hartmann6-constrained", "branin-currin")
               for sampler in ("acqopt", "tpe")]
    for r in records:
        assert len(r["best"]) == 3
        assert all(b >= a for a, b in zip(r["best"], r["best"][1:])) if r["maximised"] \
            else all(b <= a for a, b in zip(r["best"], r["best"][1:]))
    page = samplers.report(records, tmp_path / "samplers-x.jsonl", "x")
    assert "| branin-currin | acqopt | 3 | 1 |" in page
    with pytest.raises(ValueError, match="methods"):
        samplers.tasks("smoke", ["nope"], None)


def test_a_researchers_own_maximiser_runs_in_the_suites(tmp_path, monkeypatch):
    """``package.module:attribute`` names any object with acqopt's optimize signature; it runs
    in the landscapes, global, mixed, bo, scaling and highdim suites beside the registered
    methods."""
    (tmp_path / "my_maximisers.py").write_text(
        "import acqopt\n"
        "class HalfBudget:\n"
        "    def optimize(self, acq_function, bounds, *, budget=None, **kwargs):\n"
        "        budget = None if budget is None else budget // 2\n"
        "        return acqopt.get_optimizer('lbfgs').optimize(acq_function, bounds,\n"
        "                                                      budget=budget, **kwargs)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    from acqopt.testing import MixedBumps
    from benchmarks import methods
    from benchmarks.suites import bo, globalopt, highdim, landscapes, mixed, scaling

    assert methods.is_import_path("my_maximisers:HalfBudget")
    assert not methods.is_import_path("lbfgs:design=sobol")
    acq, bounds = MixedBumps(), MixedBumps.bounds.double()
    r = landscapes._method(acq, bounds, "my_maximisers:HalfBudget", 1200, 0)
    assert r["counts"].queries <= 600 and r["config"] == {"method": "HalfBudget"}
    grid = {"discrete_dims": MixedBumps.discrete_dims, "cat_dims": MixedBumps.cat_dims}
    r = mixed._method(acq, bounds, grid, None, "my_maximisers:HalfBudget", 1200, 0)
    assert r["counts"].queries <= 600
    optimizer, options = bo.parse_method("my_maximisers:HalfBudget")
    assert type(optimizer).__name__ == "HalfBudget" and options == {}
    point = {**scaling.BASE, "n": 30, "d": 3}
    r = scaling._optimise(scaling.acquisition(point, 0), point, "my_maximisers:HalfBudget", 0)
    assert r["X"].shape == (1, 3) and r["queries"] > 0  # counted as BoTorch is, on its path
    assert r["evaluator"] == "botorch"
    acq = scaling.acquisition(point, 0)
    X, value, queries = highdim._maximise(acq, 3, 1, "my_maximisers:HalfBudget", 0)
    assert X.shape == (1, 3) and queries > 0 and value == pytest.approx(float(acq(X[None])))
    r = globalopt.run_table1("rastrigin", 10, 0, "my_maximisers:HalfBudget", 1000)
    assert 0 < r["queries"] <= 500 and r["config"] == {"method": "HalfBudget"}
    with pytest.raises(ValueError, match="cannot import"):
        methods.resolve("my_maximisers:Nope")


def test_the_shared_table_helpers_import_no_suite():
    """benchmarks.report is a leaf: the suites import it, it imports none of them (not even
    inside a function)."""
    import ast

    import benchmarks.report

    tree = ast.parse(Path(benchmarks.report.__file__).read_text())
    modules = [node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    modules += [a.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                for a in node.names]
    assert not [m for m in modules if m and m.startswith("benchmarks.suites")]


def test_compat_suite_records_each_call_shape_and_reports_the_matrix():
    from benchmarks.suites import compat

    shapes = ("positional (1, 10, 512)", "linear constraints")
    records = [compat.run_shape("rastrigin-d8-n40", shape, method, 0)
               for shape in shapes for method in ("botorch", "lbfgs")]
    assert all("error" not in r and r["feasible"] for r in records)
    bt, ours = records[0]["value"], records[1]["value"]
    assert ours >= bt - 0.01
    page = compat.report(records, Path("compat-full.jsonl"), "full")
    (row,) = [line for line in page.splitlines() if line.startswith("| positional (1, 10, 512) |")]
    assert row.count(" s) |") == 2 and "0 infeasible" in page


def test_cost_suite_reports_both_evaluators_and_the_time_split():
    from benchmarks.suites import cost

    records = [
        {"suite": "cost", "part": "evaluation", "snapshot": "s", "q": 1,
         "rows": [{"batch": 4, "botorch": 0.004, "closed_form": 0.001}]},
        {"suite": "cost", "part": "methods", "snapshot": "s",
         "botorch": {"time": 2.0, "calls": 30, "queries": 900, "value": 1.0},
         "rows": [{"method": "lbfgs", "evaluator": "closed form", "time": 0.5, "share": 0.4,
                   "calls": 28, "queries": 900, "value": 1.0}]},
    ]
    page = cost.report(records, Path("cost-full.jsonl"), "full")
    assert "| s | 4 | 4.00 | 1.00 | 1000.0 | 250.0 | 0.25 |" in page
    assert "| s | lbfgs | closed form | 0.50 | 0.25 | 40% | 28 | 900 | +0 |" in page
    assert len(cost.tasks("full", ["lbfgs"], 2)) == 3 * len(cost.SNAPSHOTS)


def test_scaling_page_pairs_with_botorch_gives_the_cost_per_point_and_draws_the_sweeps(tmp_path):
    from benchmarks.suites import scaling

    def rec(method, seed, wall, value, **axis):
        point = {**scaling.BASE, **axis}
        return {"point": scaling.key(point), **point, "seed": seed, "method": method,
                "value": value, "wall_time": wall, "acq_time": wall / 2, "overhead": wall / 2,
                "queries": 100, "evaluator": "botorch" if method == "botorch" else "closed-form"}

    records = [rec(m, s, w * f, v) for s in (0, 1) for m, w, v in
               (("botorch", 1.0, 0.5), ("lbfgs", 0.25, 0.5 + 0.01 * s)) for f in (1,)]
    assert "![time along each sweep]" not in scaling.report(records, tmp_path / "s.jsonl", "x")
    records += [rec(m, s, w * q, 0.5, q=q, acq="qlogei") for s in (0, 1) for q in (1, 4)
                for m, w in (("botorch", 0.5), ("lbfgs", 0.125))]
    text = scaling.report(records, tmp_path / "scaling-x.jsonl", "x")
    assert (tmp_path / "scaling-x-curves.png").stat().st_size > 1000
    row = next(line for line in text.splitlines() if "| 4 | qlogei |" in line and "lbfgs" in line)
    cells = [c.strip() for c in row.split("|")[1:-1]]
    # 0.25 s of acquisition over 100 queries of 4 points: 625 us a point; a quarter of BoTorch's time
    assert cells[12] == "625 [625, 625]" and cells[13] == "0.25 [0.25, 0.25]"
    base = next(line for line in text.splitlines() if "| 1 | logei |" in line and "lbfgs" in line)
    assert base.split("|")[15].strip() == "0.005 [0.0025, 0.0075]"  # value - BoTorch's, paired


def test_constrained_suite_records_a_botorch_run_that_returns_nothing(tmp_path, monkeypatch):
    """BoTorch's SLSQP can end infeasible from every feasible start and raise; the run is
    recorded (no value, not feasible) and the other methods still run and are timed."""
    import botorch.optim

    from benchmarks.suites import constrained

    assert main(["run", "constrained", "--profile", "smoke", "--out", str(tmp_path),
                 "--no-progress"]) == 0
    (ok,) = read(tmp_path / "constrained-smoke.jsonl")
    assert ok["violation"] <= constrained.TOL and ok["botorch_value"] is not None

    def fail(*args, **kwargs):
        from botorch.exceptions.errors import CandidateGenerationError

        raise CandidateGenerationError("The optimizer produced infeasible candidates. 10 out")

    monkeypatch.setattr(botorch.optim, "optimize_acqf", fail)
    bt = constrained.run("tension-compression-string", 0, "botorch")
    assert bt["logei_value"] is None and bt["status"] == "failed"
    assert bt["error"] == "The optimizer produced infeasible candidates"
    ours = constrained.run("tension-compression-string", 0, "lbfgs")
    assert ours["violation"] <= constrained.TOL and ours["botorch_value"] is None
    text = constrained.report([ok, bt, ours], tmp_path / "c.jsonl", "x")
    assert "| tension-compression-string | botorch | 1 | 0/1 |" in text
    assert "BoTorch returned no candidate on tension-compression-string seed 0" in text
