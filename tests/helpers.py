"""What several test modules share (imported as ``tests.helpers``; pytest's conftest is for
fixtures only)."""

from __future__ import annotations

import torch

import acqopt
from acqopt.bo import fit_gp, make_acquisition

METHODS = acqopt.available_methods()
DTYPES = [torch.float32, torch.float64]


def gp_logei(d: int = 4, n: int = 20, seed: int = 0, kind: str = "logei", dtype=torch.float64):
    """A LogEI (or EI) on a GP fitted to a multimodal function in the unit cube."""
    g = torch.Generator().manual_seed(seed)
    X = torch.rand(n, d, generator=g, dtype=dtype)
    Y = (torch.sin(6 * X).sum(-1) - ((X - 0.6) ** 2).sum(-1)).unsqueeze(-1)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = fit_gp(X, Y, closed_form=False)  # the GPs the tests were written on
    return make_acquisition(model, kind)


class Spy(torch.nn.Module):
    """Answers as ``acq`` does and keeps every point it was asked about (``seen``, rows of
    ``d``); exposes ``acq``'s model, as BoTorch acquisitions do."""

    def __init__(self, acq: torch.nn.Module) -> None:
        super().__init__()
        self.acq = acq
        self.model = acq.model
        self.seen: list[torch.Tensor] = []

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        self.seen.append(X.detach().reshape(-1, X.shape[-1]))
        return self.acq(X)


class TwinPeaks(torch.nn.Module):
    """Two bumps at (0.2, 0.2) and (0.8, 0.8), the first higher by 5e-4, on a model whose
    training inputs lie around the first (for ``near_equal="far_from_data"``)."""

    def __init__(self):
        super().__init__()
        from botorch.models import SingleTaskGP

        X = 0.2 + 0.05 * torch.rand(8, 2, generator=torch.Generator().manual_seed(0),
                                    dtype=torch.float64)
        self.model = SingleTaskGP(X, X.sum(-1, keepdim=True))

    def forward(self, X):
        c = torch.tensor([[0.2, 0.2], [0.8, 0.8]], dtype=X.dtype)
        sq = ((X.unsqueeze(-2) - c) ** 2).sum(-1)  # b x q x 2
        heights = torch.tensor([1.0, 1.0 - 5e-4], dtype=X.dtype)
        return (heights * torch.exp(-sq / 0.02)).sum(-1).amax(-1)
