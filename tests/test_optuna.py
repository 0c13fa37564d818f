"""acqopt.integrations.optuna with optuna-integration's BoTorchSampler (skipped without it)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

optuna = pytest.importorskip("optuna")
optuna_integration = pytest.importorskip("optuna_integration")

from acqopt.integrations.optuna import candidates_func  # noqa: E402


def test_botorch_sampler_with_an_acqopt_method():
    calls = []
    inner = candidates_func("cma-lbfgs", budget=400)

    def spy(*args):
        out = inner(*args)
        calls.append(out)
        return out

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna_integration.BoTorchSampler(candidates_func=spy, n_startup_trials=5, seed=0)
    study = optuna.create_study(direction="minimize", sampler=sampler)
    study.optimize(lambda t: (t.suggest_float("x", -3, 3) - 1.2) ** 2
                   + (t.suggest_float("y", 0.1, 10, log=True) - 2) ** 2, n_trials=12)
    assert len(calls) == 7
    assert all(c.shape == (1, 2) for c in calls)
    assert study.best_value < 0.5


def test_rejects_what_it_cannot_honour():
    f = candidates_func()
    g = torch.Generator().manual_seed(0)
    x = torch.rand(5, 2, generator=g, dtype=torch.float64)
    b = torch.tensor([[0.0, 0.0], [1.0, 1.0]]).double()
    y = torch.rand(5, 2, generator=g, dtype=torch.float64)
    with pytest.raises(ValueError, match="train_obj"):
        f(x, y, None, b, None)
    with pytest.raises(ValueError, match="train_con"):
        f(x, y[:, :1], y[:, 1:], b, None)
    with pytest.raises(ValueError, match="acquisition"):
        candidates_func(acquisition="ucb")


def _objective(trial):
    x, y = trial.suggest_float("x", -3, 3), trial.suggest_float("y", 0.1, 10, log=True)
    trial.set_user_attr("constraint", (x - 2.0,))  # feasible when x <= 2
    return (x - 1.2) ** 2 + (y - 2) ** 2


@pytest.mark.parametrize("case", ["single", "constrained", "two-objective", "running"])
def test_swap_optimizer_keeps_optunas_model_and_swaps_the_maximiser(case, monkeypatch):
    import acqopt
    from acqopt.integrations.optuna import swap_optimizer

    used = []
    original = acqopt.api.get_optimizer

    def spy(name, **options):  # every acquisition maximisation goes through acqopt
        used.append(name)
        return original(name, **options)

    monkeypatch.setattr(acqopt.api, "get_optimizer", spy)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    kwargs = dict(candidates_func=swap_optimizer("lbfgs"), n_startup_trials=5, seed=0)
    if case == "constrained":
        kwargs["constraints_func"] = lambda t: t.user_attrs["constraint"]
    if case == "running":
        kwargs["consider_running_trials"] = True
    sampler = optuna_integration.BoTorchSampler(**kwargs)
    if case == "two-objective":
        study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)
        study.optimize(lambda t: (_objective(t), t.params["x"] ** 2), n_trials=9)
    else:
        study = optuna.create_study(direction="minimize", sampler=sampler)
        study.optimize(_objective, n_trials=9)
    assert len(study.trials) == 9 and all(t.state.name == "COMPLETE" for t in study.trials)
    assert used.count("lbfgs") >= 4  # once per BO trial (9 trials, 5 of them startup)


def test_one_hot_groups_are_read_off_optunas_encoding():
    from acqopt.integrations.optuna import one_hot_groups

    # columns: a float, a 3-category one-hot, a 2-category one-hot, a float in [0, 1]
    x = torch.tensor([[0.3, 1, 0, 0, 0, 1, 0.0], [0.7, 0, 0, 1, 1, 0, 1.0],
                      [0.1, 0, 1, 0, 1, 0, 0.0]], dtype=torch.float64)
    bounds = torch.tensor([[-1.0] + [0.0] * 6, [1.0] * 7], dtype=torch.float64)
    assert one_hot_groups(x, bounds) == [[1, 2, 3], [4, 5]]


def test_categorical_columns_come_back_as_valid_one_hot_rows(monkeypatch):
    from acqopt.integrations.optuna import swap_optimizer

    returned = []
    inner = swap_optimizer("lbfgs")

    def spy(*args):
        out = inner(*args)
        returned.append(out)
        return out

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna_integration.BoTorchSampler(candidates_func=spy, n_startup_trials=6, seed=0)
    study = optuna.create_study(direction="minimize", sampler=sampler)

    def objective(t):
        x = t.suggest_float("x", -2, 2)
        k = t.suggest_categorical("k", ["a", "b", "c"])
        return (x - 0.5) ** 2 + {"a": 1.0, "b": 0.0, "c": 2.0}[k]

    study.optimize(objective, n_trials=10)
    assert len(returned) == 4
    for out in returned:  # columns: k's one-hot (a, b, c), then x
        one_hot = out[0, :3]
        assert sorted(one_hot.tolist()) == [0.0, 0.0, 1.0]


def _mixed_objective(trial):
    x = trial.suggest_float("x", -3, 3)
    lr = trial.suggest_float("lr", 1e-4, 1.0, log=True)
    n = trial.suggest_int("n", 1, 10)
    s = trial.suggest_float("s", 0.0, 1.0, step=0.25)
    k = trial.suggest_categorical("k", ["a", "b", "c"])
    return (x - 1) ** 2 + (np.log10(lr) + 2) ** 2 + 0.1 * abs(n - 7) + (s - 0.5) ** 2 \
        + (0.0 if k == "b" else 1.0)


def test_acqopt_sampler_mixed_study_is_valid_seeded_and_finds_the_basin():
    from acqopt.integrations.optuna import AcqoptSampler

    def study(seed):
        s = optuna.create_study(sampler=AcqoptSampler(seed=seed, n_startup_trials=5))
        s.optimize(_mixed_objective, n_trials=12)
        return s

    first, again = study(0), study(0)
    assert [t.params for t in first.trials] == [t.params for t in again.trials]
    for t in first.trials:
        p = t.params
        assert -3 <= p["x"] <= 3 and 1e-4 <= p["lr"] <= 1 and isinstance(p["n"], int)
        assert 1 <= p["n"] <= 10 and p["s"] in (0.0, 0.25, 0.5, 0.75, 1.0)
        assert p["k"] in ("a", "b", "c")
    assert first.best_value < 0.5  # random search: median 1.38 over 20 seeds, under 0.5 in 2


def test_acqopt_sampler_constraints_running_trials_and_two_objectives(monkeypatch):
    from acqopt.integrations.optuna import AcqoptSampler

    sampler = AcqoptSampler(seed=1, n_startup_trials=4,
                            constraints_func=lambda t: (t.user_attrs["c"],))
    study = optuna.create_study(sampler=sampler)

    def objective(t):
        x, y = t.suggest_float("x", 0, 1), t.suggest_float("y", 0, 1)
        t.set_user_attr("c", x + y - 1.0)  # feasible: x + y <= 1
        return -(x + 2 * y)

    study.optimize(objective, n_trials=10)
    late = study.trials[4:]  # the optimum, -2, lies on the constraint's boundary
    assert sum(t.user_attrs["c"] <= 0.01 for t in late) >= 4
    assert min(t.value for t in study.trials if t.user_attrs["c"] <= 0) < -1.7
    a, b = study.ask(), study.ask()  # a running trial is pending: the next one goes elsewhere
    for t in (a, b):
        t.suggest_float("x", 0, 1), t.suggest_float("y", 0, 1)
    assert (a.params["x"], a.params["y"]) != (b.params["x"], b.params["y"])

    from acqopt.integrations import _optuna_sampler

    built = []
    original = _optuna_sampler._acquisition
    monkeypatch.setattr(_optuna_sampler, "_acquisition",
                        lambda *a: built.append(type(original(*a)).__name__) or original(*a))
    two = optuna.create_study(directions=["minimize", "minimize"],
                              sampler=AcqoptSampler(seed=0, n_startup_trials=4))
    two.optimize(lambda t: (t.suggest_float("x", 0, 1) ** 2,
                            (t.params["x"] - 1) ** 2 + t.suggest_int("m", 0, 3)), n_trials=7)
    assert len(two.trials) == 7 and all(t.state.name == "COMPLETE" for t in two.trials)
    assert built == ["qLogNoisyExpectedHypervolumeImprovement"] * 3


def test_acqopt_sampler_independent_parameters_and_bad_arguments():
    from acqopt.integrations.optuna import AcqoptSampler

    study = optuna.create_study(sampler=AcqoptSampler(seed=0, n_startup_trials=2))

    def dynamic(t):
        x = t.suggest_float("x", 0, 1)
        extra = t.suggest_float(f"only{t.number}", 0, 1)  # never in every trial
        return x + extra

    with pytest.warns(UserWarning, match="outside the relative search space"):
        study.optimize(dynamic, n_trials=4)
    with pytest.raises(ValueError, match="n_startup_trials"):
        AcqoptSampler(n_startup_trials=0)
    with pytest.raises(ValueError, match="method"):
        AcqoptSampler(method="nope")


def test_the_swap_routes_by_thread(monkeypatch):
    """While one thread is inside a swapped candidates function, another thread calling the
    same module's optimize_acqf gets BoTorch's, and the swapping thread gets acqopt's."""
    import threading
    import types

    from acqopt.integrations import optuna as plugin

    host = types.ModuleType("host")
    calls = []
    inside, release = threading.Event(), threading.Event()
    exec("def optimize_acqf(*args, **kwargs):\n    return 'botorch'\n"
         "def candidates(train_x, train_obj, train_con, bounds, pending_x):\n"
         "    return optimize_acqf()\n", host.__dict__)

    def acqopt_maximiser(*args, **kwargs):
        inside.set()
        release.wait(10)
        return "acqopt"

    monkeypatch.setattr(plugin, "optimize_acqf", acqopt_maximiser, raising=False)
    monkeypatch.setattr("acqopt.api.optimize_acqf", acqopt_maximiser)
    swapped = plugin.swap_optimizer("lbfgs", candidates_func=host.candidates)
    x = torch.rand(3, 2, generator=torch.Generator().manual_seed(0))
    bounds = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
    worker = threading.Thread(target=lambda: calls.append(swapped(x, x[:, :1], None, bounds,
                                                                  None)))
    worker.start()
    assert inside.wait(10)
    assert host.candidates(x, x[:, :1], None, bounds, None) == "botorch"  # another thread
    release.set()
    worker.join(10)
    assert calls == ["acqopt"]
    assert host.candidates(x, x[:, :1], None, bounds, None) == "botorch"  # after the swap
