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
