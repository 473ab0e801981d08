"""The ``koopman`` predictor: latent pairs that rotate and scale, conserved quantities that don't.

An MLP predictor has to learn "turn by an angle that depends on the state" as a product of its
inputs, which it only approximates; over hundreds of steps the small error in that product
compounds into phase drift and a growing or shrinking orbit. Following Lusch, Kutz and Brunton
(2018, "Deep learning for universal linear embeddings of nonlinear dynamics"), this predictor
builds the rotation in: the latent is split into ``invariants`` (carried forward unchanged) and
2-D pairs, and each step turns every pair by an angle and scales it by a factor that an auxiliary
MLP reads from quantities the step itself cannot change (the invariants and each pair's
radius). A frequency that is a function of conserved quantities stays constant along the
rollout by construction, which is what periodic and quasi-periodic motion needs.
``residual: true`` adds a near-identity MLP correction on the whole latent for dynamics that
are not purely rotational.
"""

from __future__ import annotations

import attrs
import torch
from torch import nn

from jepa_framework import hookimpl
from jepa_framework.core.components import Shapes
from jepa_framework.core.errors import JepaError
from jepa_framework.core.validators import MAX_WIDTH, between, count

from .blocks import ACTIVATIONS, ResidualMLP, ResidualMLPParams, mlp


@attrs.frozen
class KoopmanParams:
    """Latent = ``invariants`` conserved dims + (embedding_dim - invariants) / 2 rotating pairs."""

    invariants: int = attrs.field(default=4, validator=count(0, MAX_WIDTH))
    hidden_dim: int = attrs.field(default=128, validator=count(1, MAX_WIDTH))  # auxiliary MLP
    # hidden layers of the auxiliary MLP
    depth: int = attrs.field(default=2, validator=count(1, 64))
    # activation of the auxiliary MLP: gelu | relu | silu | tanh
    activation: str = attrs.field(default="gelu", validator=attrs.validators.in_(ACTIVATIONS))
    # add z + MLP(z) after the rotation, its last layer init_scale times its usual size
    residual: bool = False
    # the residual MLP's last layer starts this times its usual size
    init_scale: float = attrs.field(default=0.01, validator=between(0, 100))


class KoopmanPredictor(nn.Module):
    """z = [c, a_1..a_m]: c' = c, a_i' = exp(s_i) R(w_i) a_i, (w, s) = MLP(c, |a_1|..|a_m|)."""

    def __init__(self, params: KoopmanParams, dim: int) -> None:
        super().__init__()
        rotating = dim - params.invariants
        if rotating < 2 or rotating % 2:
            raise JepaError(
                f"predictor 'koopman' splits the latent into {params.invariants} invariants and "
                f"2-D pairs, so model.embedding_dim minus model.predictor.invariants must be even "
                f"and at least 2; got embedding_dim {dim}. Change model.embedding_dim or "
                f"model.predictor.invariants."
            )
        self.invariants = params.invariants
        self.pairs = rotating // 2
        self.frequencies = mlp(
            params.invariants + self.pairs,
            params.hidden_dim,
            2 * self.pairs,
            params.depth,
            params.activation,
            layernorm=True,
        )
        last = self.frequencies[-1]
        with torch.no_grad():  # start close to the identity: no turn, no growth
            last.weight.mul_(params.init_scale)
            last.bias.zero_()
        self.residual = (
            ResidualMLP(
                ResidualMLPParams(
                    hidden_dim=params.hidden_dim,
                    depth=params.depth,
                    activation=params.activation,
                    init_scale=params.init_scale,
                ),
                dim,
            )
            if params.residual
            else None
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        conserved, pairs = z[:, : self.invariants], z[:, self.invariants :]
        pairs = pairs.reshape(len(z), self.pairs, 2)
        radius = pairs.pow(2).sum(-1).add(1e-12).sqrt()  # [B, m], unchanged by the turn
        angle, log_scale = self.frequencies(torch.cat([conserved, radius], 1)).chunk(2, dim=1)
        cos, sin = torch.cos(angle), torch.sin(angle)
        x, y = pairs[..., 0], pairs[..., 1]
        scale = torch.exp(log_scale)
        turned = torch.stack([scale * (cos * x - sin * y), scale * (sin * x + cos * y)], -1)
        out = torch.cat([conserved, turned.flatten(1)], 1)
        return self.residual(out) if self.residual is not None else out


def build_koopman_predictor(params: KoopmanParams, shapes: Shapes) -> nn.Module:
    """Rotating, scaling latent pairs with state-dependent frequencies; see the module docstring."""
    return KoopmanPredictor(params, shapes.embedding_dim)


@hookimpl
def register_predictors(register) -> None:
    register("koopman", build_koopman_predictor, params=KoopmanParams)
