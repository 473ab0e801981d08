"""``action_mlp``: an action-conditioned predictor, z_t+1 = z_t + MLP([z_t, encode(a_t)]).

The action gets its own small encoder before it meets the latent, so a low-dimensional action
(two numbers for ``two_rooms``) weighs as much in the first layer as the latent does. The step
is residual and starts near the identity (``init_scale``), as ``residual_mlp``'s does, so long
rollouts -- a planner's horizon -- start stable. It declares ``action_dim``, which is how the
core knows to feed it actions (``jepa_framework.core.components``).
"""

from __future__ import annotations

import attrs
import torch
from torch import nn

from jepa_framework import hookimpl
from jepa_framework.core.components import Shapes
from jepa_framework.core.errors import JepaError
from jepa_framework.core.validators import between, count

from .blocks import ACTIVATION, WIDTH, mlp


@attrs.frozen
class ActionMLPParams:
    """The residual step's MLP and the action encoder before it."""

    # hidden units per layer of the step MLP
    hidden_dim: int = attrs.field(default=256, validator=WIDTH)
    # hidden layers of the step MLP
    depth: int = attrs.field(default=2, validator=count(1, 64))
    # width of the action encoding (one hidden layer of this width, then this many outputs)
    action_embedding_dim: int = attrs.field(default=32, validator=WIDTH)
    # activation after each hidden layer: gelu | relu | silu | tanh
    activation: str = ACTIVATION
    # LayerNorm after each hidden layer
    layernorm: bool = True
    # the last layer's initial size relative to its usual one (near 0: near the identity)
    init_scale: float = attrs.field(default=0.01, validator=between(0, 100))


class ActionMLP(nn.Module):
    """[B, D] latents and [B, A] actions -> [B, D] latents one step later."""

    def __init__(self, params: ActionMLPParams, shapes: Shapes) -> None:
        super().__init__()
        if not shapes.action_dim:
            raise JepaError(
                "predictor 'action_mlp' (model.predictor.name) conditions on actions, but the "
                "dataset (data.dataset.name) has none: its trajectories are autonomous. Use a "
                "dataset with an action space, such as env_rollouts, or an autonomous predictor "
                "such as residual_mlp."
            )
        self.action_dim = shapes.action_dim
        width, d = params.action_embedding_dim, shapes.embedding_dim
        self.action_encoder = mlp(
            self.action_dim, width, width, 1, params.activation, params.layernorm
        )
        self.net = mlp(
            d + width, params.hidden_dim, d, params.depth, params.activation, params.layernorm
        )
        last = self.net[-1]
        with torch.no_grad():
            last.weight.mul_(params.init_scale)
            last.bias.zero_()

    def forward(self, z: torch.Tensor, actions: torch.Tensor | None = None) -> torch.Tensor:
        if actions is None:
            raise JepaError(
                "predictor 'action_mlp' needs the action of every step, and was called without "
                "one: the forecast evaluation (`jepa eval`) does not pass actions yet. Evaluate "
                "an action-conditioned run with `jepa plan RUN_DIR`."
            )
        encoded = self.action_encoder(actions.to(z.dtype))
        return z + self.net(torch.cat([z, encoded], dim=-1))


def build_action_mlp(params: ActionMLPParams, shapes: Shapes) -> nn.Module:
    """z_t+1 = z_t + MLP([z_t, encode(a_t)]), starting near the identity."""
    return ActionMLP(params, shapes)


@hookimpl
def register_predictors(register) -> None:
    register("action_mlp", build_action_mlp, params=ActionMLPParams)
