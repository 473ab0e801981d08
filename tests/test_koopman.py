"""The ``koopman`` predictor turns latent pairs by state-dependent angles and keeps invariants."""

from __future__ import annotations

import math

import pytest
import torch
from jepa_builtins import networks

from jepa_framework.components import Shapes
from jepa_framework.errors import JepaError
from jepa_framework.plugins import PluginHost
from jepa_framework.threads import one_torch_thread


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    with one_torch_thread():
        yield


@pytest.fixture(scope="module")
def host() -> PluginHost:
    return PluginHost(extra_plugins=[networks], entry_points_group=False)


def koopman(host: PluginHost, dim: int, **params) -> torch.nn.Module:
    component = host.registry("predictors").get("koopman")
    return component.factory(component.params(**params), Shapes((2,), 2, dim))


def test_one_step_turns_each_pair_and_keeps_the_invariants(host):
    torch.manual_seed(0)
    net = koopman(host, 6, invariants=2)  # 2 invariants + 2 pairs
    head = net.frequencies[-1]
    with torch.no_grad():  # constant angles 0.3 and -1.0, no growth
        head.weight.zero_()
        head.bias.copy_(torch.tensor([0.3, -1.0, 0.0, 0.0]))
    z = torch.randn(5, 6)
    out = net(z)
    assert torch.equal(out[:, :2], z[:, :2])
    for pair, angle in ((0, 0.3), (1, -1.0)):
        x, y = z[:, 2 + 2 * pair], z[:, 3 + 2 * pair]
        c, s = math.cos(angle), math.sin(angle)
        torch.testing.assert_close(out[:, 2 + 2 * pair], c * x - s * y)
        torch.testing.assert_close(out[:, 3 + 2 * pair], s * x + c * y)


def test_starts_near_the_identity(host):
    torch.manual_seed(0)
    net = koopman(host, 8, invariants=4)
    z = torch.randn(16, 8)
    assert (net(z) - z).abs().max() < 0.05


def test_latent_width_that_does_not_split_into_pairs_is_a_user_error(host):
    with pytest.raises(JepaError, match="model.predictor.invariants"):
        koopman(host, 7, invariants=4)


def test_residual_option_adds_a_correction_on_the_whole_latent(host):
    torch.manual_seed(0)
    net = koopman(host, 6, invariants=2, residual=True, init_scale=1.0)
    z = torch.randn(4, 6)
    assert not torch.allclose(net(z)[:, :2], z[:, :2])  # invariants now move too


def test_learns_a_rotation_whose_speed_is_set_by_an_invariant(host):
    """Orbits at speeds read from the invariant stay on course for many more steps than trained."""
    torch.manual_seed(0)
    net = koopman(host, 4, invariants=2, hidden_dim=32)
    optimiser = torch.optim.Adam(net.parameters(), lr=3e-3)

    def batch(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        speed = torch.rand(n) * 0.3 + 0.1
        phase = torch.rand(n) * 2 * math.pi
        z = torch.stack([speed, -speed, phase.cos(), phase.sin()], 1)
        nxt = torch.stack([speed, -speed, (phase + speed).cos(), (phase + speed).sin()], 1)
        return z, nxt

    for _ in range(400):
        z, nxt = batch(128)
        loss = (net(z) - nxt).pow(2).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    z, _ = batch(64)
    speed, phase = z[:, 0], torch.atan2(z[:, 3], z[:, 2])
    with torch.no_grad():
        for _ in range(50):
            z = net(z)
    truth = torch.stack([(phase + 50 * speed).cos(), (phase + 50 * speed).sin()], 1)
    assert (z[:, 2:] - truth).norm(dim=1).median() < 0.3
