"""Monte-Carlo dropout (models/ensemble.py): the mean of dropout-on passes, seeded, leaving the network as it was."""

from __future__ import annotations

import torch
from torch import nn

from brats_unet.models.ensemble import MonteCarloDropout, has_dropout


def _net(p: float) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(2, 8, 3, padding=1), nn.InstanceNorm2d(8), nn.Dropout(p), nn.Conv2d(8, 4, 1)).eval()


def test_the_mean_probability_of_the_seeded_dropout_passes():
    net, x = _net(0.5), torch.randn(3, 2, 8, 8)
    out = MonteCarloDropout(net, samples=5).eval()(x)
    torch.manual_seed(0)  # the passes by hand: dropout on, the same seed, softmax averaged, then log
    net.train()
    by_hand = torch.stack([torch.softmax(net(x), 1) for _ in range(5)]).mean(0).log()
    net.eval()
    torch.testing.assert_close(out, by_hand)
    assert not torch.allclose(torch.softmax(out, 1), torch.softmax(net(x), 1), atol=1e-3)  # dropout did act


def test_repeatable_and_the_network_stays_in_inference_mode():
    net, x = _net(0.3), torch.randn(2, 2, 8, 8)
    mc = MonteCarloDropout(net, samples=3).eval()
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    torch.testing.assert_close(mc(x), mc(x))
    assert not any(m.training for m in net.modules())
    assert torch.equal(torch.rand(1), before)  # the caller's random stream is untouched (forked)


def test_without_dropout_it_is_the_network_itself():
    net, x = _net(0.0), torch.randn(2, 2, 8, 8)
    assert not has_dropout(net) and has_dropout(_net(0.1))
    torch.testing.assert_close(torch.softmax(MonteCarloDropout(net, 4)(x), 1), torch.softmax(net(x), 1))
