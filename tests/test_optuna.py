"""acqopt.integrations.optuna with optuna-integration's BoTorchSampler (skipped without it)."""

from __future__ import annotations

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
