"""The one Adam: acqopt.adam.Adam follows torch.optim.Adam's trajectory (to rounding)."""

import torch

from acqopt.adam import Adam


def test_adam_follows_torch_optim_adam():
    g = torch.Generator().manual_seed(0)
    target = torch.randn(5, 3, generator=g, dtype=torch.float64)
    ours = [torch.zeros(5, 3, dtype=torch.float64, requires_grad=True),
            torch.ones(3, dtype=torch.float64, requires_grad=True)]
    theirs = [p.detach().clone().requires_grad_(True) for p in ours]
    mine, reference = Adam(ours, lr=0.05, betas=(0.5, 0.9)), torch.optim.Adam(
        theirs, lr=0.05, betas=(0.5, 0.9))

    def loss(w, b):
        return ((w + b - target) ** 2).sum() + (w ** 4).sum()

    for _ in range(50):
        mine.minimise(loss(*ours))
        reference.zero_grad()
        loss(*theirs).backward()
        reference.step()
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    assert float(loss(*ours)) < 0.5 * float(loss(torch.zeros(5, 3, dtype=torch.float64),
                                                 torch.ones(3, dtype=torch.float64)))
