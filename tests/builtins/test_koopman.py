"""The koopman predictor's ``scaling`` and ``coupled`` options (the rest: test_networks.py)."""

from __future__ import annotations

import math

import pytest
import torch
from jepa_builtins import koopman as koopman_module

from jepa_framework.core.components import Shapes
from jepa_framework.core.errors import JepaError
from jepa_framework.plugin.host import PluginHost

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def host() -> PluginHost:
    return PluginHost(extra_plugins=[koopman_module], entry_points_group=False)


def koopman(host: PluginHost, dim: int, **params) -> torch.nn.Module:
    component = host.registry("predictors").get("koopman")
    return component.factory(component.params(**params), Shapes((2,), 2, dim))


def fix_angles(net: torch.nn.Module, angles: list[float], coupling: list | None = None):
    """Make the auxiliary MLP output constant angles (and no scale), and set the couplings."""
    head = net.frequencies[-1]
    with torch.no_grad():
        head.weight.zero_()
        head.bias.zero_()
        head.bias[: len(angles)] = torch.tensor(angles, dtype=torch.float64)
        if coupling is not None:
            net.coupling.copy_(torch.tensor(coupling, dtype=torch.float64))


def test_without_scaling_every_pair_keeps_its_radius_for_any_output(host):
    torch.manual_seed(0)
    net = koopman(host, 8, invariants=2, scaling=False, init_scale=10.0)  # large, varied angles
    assert net.frequencies[-1].out_features == 3  # one angle per pair, no scale
    z = torch.randn(32, 8)
    out = z
    for _ in range(200):
        out = net(out)
    radius = lambda v: v[:, 2:].reshape(len(v), 3, 2).norm(dim=-1)  # noqa: E731
    torch.testing.assert_close(radius(out), radius(z), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(out[:, :2], z[:, :2])


def test_coupled_step_is_a_turning_jordan_block_that_grows_linearly(host):
    """p_t = (r + g t) e^{i w t}, q_t = g e^{i w t}: the step continues a spiral exactly."""
    net = koopman(host, 5, invariants=1, coupled=True, scaling=False).double()
    w, r, g = 0.3, 0.5, 0.02
    fix_angles(net, [w], coupling=[[1.0, 0.0]])

    def state(t: int) -> torch.Tensor:
        c, s = math.cos(w * t), math.sin(w * t)
        return torch.tensor(
            [[7.0, (r + g * t) * c, (r + g * t) * s, g * c, g * s]], dtype=torch.float64
        )

    z = state(0).double()
    with torch.no_grad():
        for _ in range(300):
            z = net(z)
    torch.testing.assert_close(z, state(300).double(), rtol=1e-9, atol=1e-9)


def test_coupled_starts_as_separate_turns_and_reads_the_q_radii(host):
    torch.manual_seed(0)
    net = koopman(host, 10, invariants=2, coupled=True)
    assert net.modes == 2
    assert net.frequencies[0].in_features == 2 + 2  # invariants + one |q| per couple
    assert torch.equal(net.coupling, torch.zeros(2, 2))
    z = torch.randn(16, 10)
    assert (net(z) - z).abs().max() < 0.05  # near the identity at initialisation


def test_coupling_turns_q_a_quarter_turn_off_p(host):
    """p_t = (r + g t) e^{i w t}, q_t = i g e^{i w t}: K = -i brings q back in line with p."""
    net = koopman(host, 4, invariants=0, coupled=True, scaling=False).double()
    w, r, g = -0.2, 0.3, 0.01
    fix_angles(net, [w], coupling=[[0.0, -1.0]])

    def state(t: int) -> torch.Tensor:
        c, s = math.cos(w * t), math.sin(w * t)
        return torch.tensor(
            [[(r + g * t) * c, (r + g * t) * s, -g * s, g * c]], dtype=torch.float64
        )

    z = state(0)
    with torch.no_grad():
        for _ in range(100):
            z = net(z)
    torch.testing.assert_close(z, state(100), rtol=1e-9, atol=1e-9)


def test_coupled_pairs_share_the_couples_angle(host):
    net = koopman(host, 8, invariants=0, coupled=True, scaling=False)
    fix_angles(net, [0.4, -0.7])
    z = torch.randn(3, 8)
    out = net(z).view(3, 2, 2, 2)  # [B, couple, (p, q), (x, y)]
    z = z.view(3, 2, 2, 2)
    for couple, angle in ((0, 0.4), (1, -0.7)):
        for member in (0, 1):
            x, y = z[:, couple, member, 0], z[:, couple, member, 1]
            c, s = math.cos(angle), math.sin(angle)
            torch.testing.assert_close(out[:, couple, member, 0], c * x - s * y)
            torch.testing.assert_close(out[:, couple, member, 1], s * x + c * y)


def test_coupled_latent_must_split_into_couples(host):
    with pytest.raises(JepaError, match="multiple of 4"):
        koopman(host, 10, invariants=4, coupled=True)  # 6 rotating dims: not couples


def test_delay_step_continues_a_sinusoid_and_its_delay(host):
    """(u, v) = (sin(w t), sin(w (t - 1))): the recurrence keeps frequency and amplitude."""
    net = koopman(host, 5, invariants=1, delay=True, scaling=False).double()
    assert net.frequencies[0].in_features == 1  # the invariants alone
    w = 0.05  # slow, where a quadrature would divide by sin(w) ~ 0.05
    fix_angles(net, [w, 2 * w])

    def state(t: int) -> torch.Tensor:
        u = [math.sin(m * w * t + 1) for m in (1, 2)]
        v = [math.sin(m * w * (t - 1) + 1) for m in (1, 2)]
        return torch.tensor([[3.0, u[0], v[0], u[1], v[1]]], dtype=torch.float64)

    z = state(0)
    with torch.no_grad():
        for _ in range(500):
            z = net(z)
    torch.testing.assert_close(z, state(500), rtol=1e-8, atol=1e-8)


def test_delay_needs_invariants_and_no_coupling(host):
    with pytest.raises(JepaError, match="invariants"):
        koopman(host, 4, invariants=0, delay=True)
    with pytest.raises(JepaError, match="coupled"):
        koopman(host, 9, invariants=1, delay=True, coupled=True)
