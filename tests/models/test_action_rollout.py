"""The one latent rollout with actions: an action-conditioned predictor uses them, and the
autonomous rollout is unchanged."""

from __future__ import annotations

import pytest
import torch
from jepa_builtins.action_mlp import ActionMLP, ActionMLPParams
from torch import nn

from jepa_framework.core.components import Shapes
from jepa_framework.core.errors import JepaError
from jepa_framework.models.jepa import JEPA, StandardisedPredictor, unroll

D, A = 6, 2


def acting_model(init_scale: float = 1.0) -> JEPA:
    torch.manual_seed(0)
    predictor = ActionMLP(
        ActionMLPParams(hidden_dim=16, init_scale=init_scale), Shapes((2,), 1, D, A)
    )
    encoder = nn.Sequential(nn.Flatten(), nn.Linear(2, D))
    return JEPA(encoder, predictor, "ema", history=1)


def test_different_actions_lead_to_different_latents():
    model = acting_model()
    z = torch.randn(3, D)
    left, right = -torch.ones(3, 5, A), torch.ones(3, 5, A)
    a, b = model.rollout(z, 5, left), model.rollout(z, 5, right)
    assert a.shape == b.shape == (5, 3, D)
    assert not torch.allclose(a, b)
    # step k uses action k: changing only the last action leaves the earlier steps alone
    late = left.clone()
    late[:, -1] = 1.0
    c = model.rollout(z, 5, late)
    torch.testing.assert_close(c[:-1], a[:-1])
    assert not torch.allclose(c[-1], a[-1])


def test_the_action_predictor_starts_near_the_identity():
    model = acting_model(init_scale=0.0)
    z = torch.randn(4, D)
    torch.testing.assert_close(model.rollout(z, 3, torch.randn(4, 3, A))[-1], z)


def test_missing_or_misshapen_actions_are_clear_errors():
    model = acting_model()
    z = torch.randn(3, D)
    with pytest.raises(JepaError, match="conditions on actions.*`jepa plan RUN_DIR`"):
        model.rollout(z, 4)
    with pytest.raises(JepaError, match=r"needs actions \[3, 4, 2\], got \[3, 4, 3\]"):
        model.rollout(z, 4, torch.zeros(3, 4, 3))
    with pytest.raises(JepaError, match="the dataset .* has none"):
        ActionMLP(ActionMLPParams(), Shapes((2,), 1, D))


def test_the_autonomous_rollout_is_unchanged_and_refuses_actions():
    step = nn.Linear(D, D)
    model = JEPA(nn.Sequential(nn.Flatten(), nn.Linear(2, D)), step, "online", history=1)
    z = torch.randn(2, D)
    torch.testing.assert_close(model.rollout(z, 3), unroll(step, z, 3))
    assert model.action_dim == 0
    with pytest.raises(JepaError, match="autonomous"):
        model.rollout(z, 3, torch.zeros(2, 3, A))


def test_a_standardised_predictor_passes_the_actions_through():
    inner = acting_model().predictor
    wrapped = StandardisedPredictor(inner, D)
    z, a = torch.randn(2, D), torch.randn(2, A)
    assert wrapped.action_dim == A
    torch.testing.assert_close(wrapped(z, a), inner(z, a))
