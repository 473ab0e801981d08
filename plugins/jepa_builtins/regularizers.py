"""Built-in objectives on latent predictions: MSE, VICReg, SimSiam, SIGReg, Barlow Twins.

Each term is a pure function of tensors (shapes in its docstring, weights as arguments with the
papers' defaults), in the manner of solo-learn. The registered objects combine them into the
``Regularizer`` protocol of ``jepa_framework.core.components``::

    loss, terms = regularizer(predictions [K, B, D], targets [K, B, D], context [B, D])

``predictions[k-1]`` is the predictor rolled out k steps from the context embedding;
``targets[k-1]`` embeds the window k steps later (already detached by the core). Statistics over
the batch (variance, covariance, SIGReg, cross-correlation) use the global batch under
torch.distributed, through ``gather_batch``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ClassVar

import attrs
import torch
import torch.distributed as dist
from torch.nn import functional as F

from jepa_framework import hookimpl
from jepa_framework.core.validators import MAX_WEIGHT, MAX_WIDTH, between, count, fraction, positive

# --------------------------------------------------------------------------- global batch


def gather_batch(z: torch.Tensor, dim: int = 0) -> torch.Tensor:
    """All-gather ``z`` along its batch dimension ``dim`` across ranks; gradient reaches the shard.

    Returns ``z`` itself when torch.distributed is not initialised (or has a single rank). Every
    rank must hold the same local batch size (use ``drop_last`` in the data loader).
    """
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return z
    try:
        from torch.distributed.nn.functional import all_gather
    except ImportError:  # pragma: no cover - very old torch: gradient reaches the local shard only
        shards = [torch.zeros_like(z) for _ in range(dist.get_world_size())]
        dist.all_gather(shards, z.detach().contiguous())
        shards[dist.get_rank()] = z
    else:
        shards = list(all_gather(z.contiguous()))
    return torch.cat(shards, dim=dim)


def _flat(z: torch.Tensor) -> torch.Tensor:
    """[..., D] -> [N, D]: rollout steps and batch pooled into one sample axis."""
    return z.reshape(-1, z.shape[-1])


# --------------------------------------------------------------------------- loss terms


def prediction_mse(predictions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean squared error, [K, B, D] x [K, B, D] -> scalar (equal weight for every step)."""
    return F.mse_loss(predictions, targets)


def whitened_mse(
    predictions: torch.Tensor, targets: torch.Tensor, floor: float = 1e-2
) -> torch.Tensor:
    """Prediction MSE after whitening by the targets' covariance, [K, B, D] x [K, B, D] -> scalar.

    Plain MSE weighs each direction of the embedding by its variance, so a state variable held
    in a low-variance direction (the second bob of a pendulum, a velocity) is barely asked to be
    predicted. Here the error is measured in the targets' whitened coordinates (W = Sigma^-1/2,
    detached), which weighs every direction alike and, above the floor, does not reward
    shrinking the embedding. Eigenvalues are floored at ``floor`` (absolute: VICReg's variance
    hinge holds each dimension's variance near 1), so a collapsed or barely used direction is
    not blown up: the predictor's start-of-training noise would otherwise swamp the variance
    term and keep the embedding collapsed. Equals plain MSE for isotropic targets.

    Whitening an ill-conditioned covariance is the point, so the covariance, its eigenbasis and
    the whitened error are computed in float64 (float32 where the device has none): in float32
    the result depends on the BLAS kernels at the 1e-3 level for a condition number of 1e3.
    """
    wide = torch.float32 if targets.device.type == "mps" else torch.float64
    flat_targets = _flat(gather_batch(targets, dim=1)).detach().to(wide)
    centred = flat_targets - flat_targets.mean(dim=0)
    cov = centred.T @ centred / max(1, centred.shape[0] - 1)
    values, vectors = torch.linalg.eigh(cov)
    values = values.clamp_min(floor)
    whiten = (vectors * values.rsqrt()) @ vectors.T
    error = (predictions.to(wide) - targets.to(wide)) @ whiten
    return error.square().mean().to(torch.promote_types(predictions.dtype, torch.float32))


def variance_loss(z: torch.Tensor, eps: float = 1e-4) -> torch.Tensor:
    """VICReg variance hinge, [N, D] -> scalar: mean_j relu(1 - sqrt(Var(z_j) + eps)).

    Var is the unbiased variance over the N samples; the hinge keeps each dimension's std >= 1.
    """
    std = torch.sqrt(z.var(dim=0) + eps)
    return F.relu(1.0 - std).mean()


def _off_diagonal(m: torch.Tensor) -> torch.Tensor:
    """The off-diagonal entries of a square [D, D] matrix, as a flat vector [D * (D - 1)]."""
    d = m.shape[0]
    return m.flatten()[:-1].view(d - 1, d + 1)[:, 1:].flatten()


def covariance_loss(z: torch.Tensor) -> torch.Tensor:
    """VICReg covariance term, [N, D] -> scalar: sum of squared off-diagonal covariances / D."""
    n, d = z.shape
    z = z - z.mean(dim=0)
    cov = (z.T @ z) / (n - 1)
    return _off_diagonal(cov).pow(2).sum() / d


def negative_cosine(predictions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """SimSiam term, [..., D] x [..., D] -> scalar: -mean cos(p, stopgrad(t)); -1 is perfect."""
    return -F.cosine_similarity(predictions, targets.detach(), dim=-1).mean()


def epps_pulley(s: torch.Tensor, t_max: float = 3.0, knots: int = 17) -> torch.Tensor:
    """Epps-Pulley statistic per column, [N, M] -> [M], testing each column against N(0, 1).

    EP = N * integral over t in [-t_max, t_max] of |phi_hat(t) - exp(-t^2/2)|^2 exp(-t^2/2) dt,
    phi_hat(t) = mean_n exp(i t s_n). The integrand is even, so the trapezoid rule runs on
    [0, t_max] with ``knots`` points and is doubled. About 1.06 per column for Gaussian samples
    (sqrt(2 pi) - sqrt(2 pi / 3) as t_max grows), of order N for a collapsed column.
    """
    t = torch.linspace(0.0, t_max, knots, device=s.device, dtype=s.dtype)
    gauss = torch.exp(-0.5 * t**2)  # [T]: the N(0,1) characteristic function, also the weight
    ts = s.unsqueeze(-1) * t  # [N, M, T]
    real = torch.cos(ts).mean(dim=0) - gauss  # [M, T]
    imag = torch.sin(ts).mean(dim=0)
    err = (real.square() + imag.square()) * gauss
    return 2.0 * s.shape[0] * torch.trapezoid(err, t, dim=-1)


def random_directions(
    dim: int, num: int, like: torch.Tensor, generator: torch.Generator | None = None
) -> torch.Tensor:
    """``num`` random unit vectors in R^dim as columns [dim, num], on ``like``'s device/dtype."""
    a = torch.randn(dim, num, device=like.device, dtype=like.dtype, generator=generator)
    return a / a.norm(dim=0, keepdim=True)


def sigreg(
    z: torch.Tensor, num_directions: int = 256, generator: torch.Generator | None = None
) -> torch.Tensor:
    """SIGReg (LeJEPA), [N, D] -> scalar: mean Epps-Pulley statistic of Z a_k over random a_k.

    Z is deliberately not standardised: the statistic pushes the embedding toward N(0, I) itself,
    scale included, which is what stops it from shrinking.
    """
    directions = random_directions(z.shape[1], num_directions, z, generator)
    return epps_pulley(z @ directions).mean()


def _standardise(z: torch.Tensor, eps: float) -> torch.Tensor:
    """[..., N, D]: zero mean, unit (biased, as BatchNorm) variance over the N samples."""
    return (z - z.mean(dim=-2, keepdim=True)) / torch.sqrt(
        z.var(dim=-2, unbiased=False, keepdim=True) + eps
    )


def cross_correlation(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """[..., N, D] x [..., N, D] -> [..., D, D]: correlation of batch-standardised a and b."""
    return _standardise(a, eps).transpose(-2, -1) @ _standardise(b, eps) / a.shape[-2]


def barlow_twins(c: torch.Tensor, lambd: float = 5e-3) -> torch.Tensor:
    """Barlow Twins, [..., D, D] -> [...]: sum_i (1 - C_ii)^2 + lambd * sum_{i != j} C_ij^2."""
    diag = torch.diagonal(c, dim1=-2, dim2=-1)
    off_diag = c.pow(2).sum(dim=(-2, -1)) - diag.pow(2).sum(dim=-1)
    return (1.0 - diag).pow(2).sum(dim=-1) + lambd * off_diag


# --------------------------------------------------------------------------- params


WEIGHT = between(0, MAX_WEIGHT)  # a loss term's weight
INVARIANCES = ("mse", "whitened")  # how VICReg's invariance term measures prediction error
EPS = positive(1.0)  # added to a variance or a norm


@attrs.frozen
class MSEParams:
    """Plain prediction MSE has no options."""


@attrs.frozen
class VICRegParams:
    """Weights of the invariance, variance, covariance terms (Bardes et al. 2022: 25 / 25 / 1).

    ``invariance: whitened`` measures the prediction error in the targets' whitened coordinates
    (:func:`whitened_mse`, covariance eigenvalues floored at ``whiten_floor``) instead of
    plain MSE.
    """

    # weight of the invariance (prediction) term
    inv_weight: float = attrs.field(default=25.0, validator=WEIGHT)
    # weight of the variance hinge (keeps each dimension's std near 1)
    var_weight: float = attrs.field(default=25.0, validator=WEIGHT)
    # weight of the covariance term (decorrelates dimensions)
    cov_weight: float = attrs.field(default=1.0, validator=WEIGHT)
    # added to the variance before its square root in the hinge
    eps: float = attrs.field(default=1e-4, validator=EPS)
    invariance: str = attrs.field(default="mse", validator=attrs.validators.in_(INVARIANCES))
    whiten_floor: float = attrs.field(default=1e-2, validator=positive(1e6))


@attrs.frozen
class SimSiamParams:
    """SimSiam has no options: the predictor's asymmetry and the stop-gradient do the work."""


@attrs.frozen
class SIGRegParams:
    """``loss = (1 - lam) * mse + lam * SIGReg``; SIGReg on context (and predictions, if set)."""

    lam: float = attrs.field(default=0.05, validator=fraction())
    # random unit directions the Epps-Pulley test is applied along, fresh each step
    num_directions: int = attrs.field(default=256, validator=count(1, MAX_WIDTH))
    # also test the predicted latents, averaging both statistics
    on_predictions: bool = False


@attrs.frozen
class BarlowTwinsParams:
    """Off-diagonal weight ``lambd`` (Zbontar et al. 2021: 5e-3) and an optional MSE weight."""

    lambd: float = attrs.field(default=5e-3, validator=WEIGHT)
    # weight of an added prediction MSE term (0: Barlow Twins alone)
    pred_weight: float = attrs.field(default=0.0, validator=WEIGHT)


# --------------------------------------------------------------------------- regularizers


def _detached(terms: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {name: value.detach() for name, value in terms.items()}


LossCall = Callable[..., tuple[torch.Tensor, dict[str, torch.Tensor]]]


def _float32(call: LossCall) -> LossCall:
    """Run an objective in float32 with autocast off: batch statistics and cos(t s) in bf16 or
    fp16 lose the precision the hinge, covariance and Epps-Pulley terms depend on."""

    @functools.wraps(call)
    def wrapper(self, predictions, targets, context):
        with torch.autocast(device_type=context.device.type, enabled=False):
            return call(self, predictions.float(), targets.float(), context.float())

    return wrapper


class BuiltinRegularizer:
    """Base of the built-in regularizers: holds ``params`` (the class's ``Params`` defaults when
    none are given) and says which target encoder the loss expects (``"ema"`` or ``"online"``)."""

    Params: ClassVar[type]
    target: ClassVar[str] = "ema"

    def __init__(self, params: Any = None) -> None:
        self.params = params if params is not None else self.Params()


class MSE(BuiltinRegularizer):
    """Prediction MSE against an EMA target; no anti-collapse term (embeddings shrink)."""

    target = "ema"

    Params = MSEParams
    params: MSEParams

    @_float32
    def __call__(self, predictions, targets, context):
        loss = prediction_mse(predictions, targets)
        return loss, {"pred": loss.detach()}


class VICReg(BuiltinRegularizer):
    """VICReg: prediction MSE plus variance and covariance on context and predictions."""

    target = "ema"

    Params = VICRegParams
    params: VICRegParams

    @_float32
    def __call__(self, predictions, targets, context):
        p = self.params
        branches = (gather_batch(context), _flat(gather_batch(predictions, dim=1)))
        if p.invariance == "whitened":
            inv = whitened_mse(predictions, targets, p.whiten_floor)
        else:
            inv = prediction_mse(predictions, targets)
        # As in the paper's code: variance averaged over the two branches, covariance summed.
        var = sum(variance_loss(z, p.eps) for z in branches) / len(branches)
        cov = sum(covariance_loss(z) for z in branches)
        loss = p.inv_weight * inv + p.var_weight * var + p.cov_weight * cov
        return loss, _detached({"inv": inv, "var": var, "cov": cov})


class SimSiam(BuiltinRegularizer):
    """SimSiam: negative cosine to the online encoder's stop-gradient targets (no EMA)."""

    target = "online"

    Params = SimSiamParams
    params: SimSiamParams

    @_float32
    def __call__(self, predictions, targets, context):
        loss = negative_cosine(predictions, targets)
        return loss, {"neg_cos": loss.detach()}


class SIGReg(BuiltinRegularizer):
    """LeJEPA: (1 - lam) prediction MSE + lam SIGReg, pushing embeddings toward N(0, I)."""

    target = "ema"

    Params = SIGRegParams
    params: SIGRegParams

    @_float32
    def __call__(self, predictions, targets, context):
        p = self.params
        pred = prediction_mse(predictions, targets)
        reg = sigreg(gather_batch(context), p.num_directions)
        if p.on_predictions:
            flat = _flat(gather_batch(predictions, dim=1))
            reg = 0.5 * (reg + sigreg(flat, p.num_directions))
        loss = (1.0 - p.lam) * pred + p.lam * reg
        return loss, _detached({"pred": pred, "sigreg": reg})


class BarlowTwins(BuiltinRegularizer):
    """Barlow Twins between each step's predictions and its EMA targets, averaged over steps.

    The targets carry no gradient, so the loss shapes the encoder through the predictor: each
    predicted dimension must correlate with the same target dimension and with no other one.
    Batch standardisation makes it blind to scale; ``pred_weight`` adds an MSE term if wanted.
    """

    target = "ema"

    Params = BarlowTwinsParams
    params: BarlowTwinsParams

    @_float32
    def __call__(self, predictions, targets, context):
        p = self.params
        preds, targs = gather_batch(predictions, dim=1), gather_batch(targets, dim=1)
        bt = barlow_twins(cross_correlation(preds, targs), p.lambd).mean()  # per step, averaged
        pred = prediction_mse(predictions, targets)
        loss = bt + p.pred_weight * pred if p.pred_weight else bt
        return loss, _detached({"bt": bt, "pred": pred})


# --------------------------------------------------------------------------- registration


@hookimpl
def register_regularizers(register) -> None:
    register("mse", MSE, params=MSEParams)
    register("vicreg", VICReg, params=VICRegParams)
    register("simsiam", SimSiam, params=SimSiamParams)
    register("sigreg", SIGReg, params=SIGRegParams)
    register("barlow_twins", BarlowTwins, params=BarlowTwinsParams)
