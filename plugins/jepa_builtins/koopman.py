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
are not purely rotational. ``scaling: false`` leaves out the scale factor, so every pair keeps
its radius exactly, as an orbit of constant size does (circle, Lissajous). ``coupled: true``
groups the pairs in twos, (p, q) with one angle: p' = R(p + K q), q' = R q (a 2-D Jordan
block; K, learned per couple, scales and turns q as a complex number does, so it commutes with
R), so |q| stays put while p's radius grows by |K q| a step: a turn whose amplitude grows
linearly (a spiral), which a scale factor could only follow as a growth rate that changes with
the radius, beyond the radii seen in training as well. K's turn lets q lie a quarter turn off
p, uncorrelated with it, as a covariance penalty on the latent asks. The auxiliary MLP
then reads the invariants and the |q| radii, which the step keeps (with ``scaling`` off).
``delay: true`` reads each pair as one channel now and a frame before, (u, v), and steps it by
a sinusoid's recurrence, (u, v) -> (2 cos(w) u - v, u) (with ``scaling``, 2 r cos(w) u - r^2 v,
r = exp(s)): the same turn by w, in coordinates that are a channel and its delay rather than a
channel and its quadrature, so a window encoder can pass a coordinate through as it is instead of
computing its quadrature (a division by sin w, ill-conditioned at slow frequencies). A pair's
radius then changes along the turn, so the auxiliary MLP reads the invariants alone.
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
    # scale each pair by exp(s) as well as turning it; false: radii are kept exactly
    scaling: bool = True
    # pairs in couples (p, q) sharing an angle: p' = R(p + K q), q' = R q (linear growth)
    coupled: bool = False
    # pairs are a channel and its previous frame: (u, v) -> (2 cos(w) u - v, u)
    delay: bool = False


class KoopmanPredictor(nn.Module):
    """z = [c, a_1..a_m]: c' = c, a_i' = exp(s_i) R(w_i) a_i, (w, s) = MLP(c, |a_1|..|a_m|).

    Coupled, z = [c, p_1, q_1, .., p_n, q_n]: p_i' = exp(s_i) R(w_i) (p_i + K_i q_i),
    q_i' = exp(s_i) R(w_i) q_i, (w, s) = MLP(c, |q_1|..|q_n|).
    Delay, a_i = (u_i, v_i): u_i' = 2 r_i cos(w_i) u_i - r_i^2 v_i, v_i' = u_i, r_i = exp(s_i),
    (w, s) = MLP(c).
    """

    def __init__(self, params: KoopmanParams, dim: int) -> None:
        super().__init__()
        rotating = dim - params.invariants
        group = 4 if params.coupled else 2
        if rotating < group or rotating % group:
            what = "couples of 2-D pairs (4 dims)" if params.coupled else "2-D pairs"
            raise JepaError(
                f"predictor 'koopman' splits the latent into {params.invariants} invariants and "
                f"{what}, so model.embedding_dim minus model.predictor.invariants must be a "
                f"multiple of {group} and at least {group}; got embedding_dim {dim}. Change "
                f"model.embedding_dim or model.predictor.invariants."
            )
        if params.delay and (params.coupled or not params.invariants):
            raise JepaError(
                "predictor 'koopman' with delay: true reads its frequencies from the invariants "
                "alone and has no coupled form: set model.predictor.invariants to 1 or more and "
                "model.predictor.coupled to false."
            )
        self.invariants = params.invariants
        self.pairs = rotating // 2
        self.delay = params.delay
        self.coupled = params.coupled
        self.scaling = params.scaling
        #: pairs that share one angle (a couple) or turn on their own
        self.modes = self.pairs // 2 if params.coupled else self.pairs
        self.frequencies = mlp(
            params.invariants + (0 if params.delay else self.modes),
            params.hidden_dim,
            (2 if params.scaling else 1) * self.modes,
            params.depth,
            params.activation,
            layernorm=True,
        )
        # K of each couple as (real, imaginary): starts at 0 (p and q turn apart), learned
        self.coupling = nn.Parameter(torch.zeros(self.modes, 2)) if params.coupled else None
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
        if self.delay:
            return self._delay_step(conserved, pairs.reshape(len(z), self.pairs, 2))
        if self.coupling is not None:
            couples = pairs.reshape(len(z), self.modes, 2, 2)  # [B, n, (p, q), (x, y)]
            p, q = couples[:, :, 0], couples[:, :, 1]
            kept = q  # the step turns q alone, so |q| stays put
            re, im = self.coupling[:, 0], self.coupling[:, 1]
            kq = torch.stack([re * q[..., 0] - im * q[..., 1], im * q[..., 0] + re * q[..., 1]], -1)
            pairs = torch.stack([p + kq, q], 2)  # [B, n, 2, 2]
        else:
            pairs = kept = pairs.reshape(len(z), self.pairs, 1, 2)[:, :, 0]
            pairs = pairs[:, :, None]  # [B, m, 1, 2]
        radius = kept.pow(2).sum(-1).add(1e-12).sqrt()  # [B, modes], unchanged by the turn
        out = self.frequencies(torch.cat([conserved, radius], 1))
        angle = out[:, : self.modes, None]  # one angle per mode, for each of its pairs
        cos, sin = torch.cos(angle), torch.sin(angle)
        x, y = pairs[..., 0], pairs[..., 1]
        turned = torch.stack([cos * x - sin * y, sin * x + cos * y], -1)
        if self.scaling:
            turned = turned * torch.exp(out[:, self.modes :, None, None])
        out = torch.cat([conserved, turned.flatten(1)], 1)
        return self.residual(out) if self.residual is not None else out

    def _delay_step(self, conserved: torch.Tensor, pairs: torch.Tensor) -> torch.Tensor:
        """(u, v) -> (2 r cos(w) u - r^2 v, u) for pairs [B, m, 2]; conserved kept."""
        out = self.frequencies(conserved)
        u, v = pairs[..., 0], pairs[..., 1]
        cos = torch.cos(out[:, : self.modes])
        if self.scaling:
            r = torch.exp(out[:, self.modes :])
            ahead = 2 * r * cos * u - r.pow(2) * v
        else:
            ahead = 2 * cos * u - v
        stepped = torch.stack([ahead, u], -1).flatten(1)
        out = torch.cat([conserved, stepped], 1)
        return self.residual(out) if self.residual is not None else out


def build_koopman_predictor(params: KoopmanParams, shapes: Shapes) -> nn.Module:
    """Rotating, scaling latent pairs with state-dependent frequencies; see the module docstring."""
    return KoopmanPredictor(params, shapes.embedding_dim)


@hookimpl
def register_predictors(register) -> None:
    register("koopman", build_koopman_predictor, params=KoopmanParams)
