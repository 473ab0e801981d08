"""Each loss term matches its published formula on hand-computed inputs; each objective trains."""

from __future__ import annotations

import math

import pytest
import torch
from jepa_builtins import regularizers as R

from jepa_framework.core.components import Regularizer
from jepa_framework.plugin.host import PluginHost

NAMES = ["barlow_twins", "mse", "sigreg", "simsiam", "vicreg"]


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def host() -> PluginHost:
    return PluginHost(extra_plugins=[R], entry_points_group=False)


def build(host: PluginHost, name: str, **params) -> Regularizer:
    component = host.registry("regularizers").get(name)
    return component.factory(component.params(**params))


# --------------------------------------------------------------------------- registration


def test_every_regularizer_is_registered_and_satisfies_the_protocol(host):
    assert host.registry("regularizers").names() == NAMES
    for name in NAMES:
        regularizer = build(host, name)
        assert isinstance(regularizer, Regularizer)
        assert regularizer.target == ("online" if name == "simsiam" else "ema")


@pytest.mark.parametrize("name", NAMES)
def test_every_regularizer_returns_a_scalar_and_named_terms(host, name):
    predictions, targets, context = torch.randn(3, 8, 4), torch.randn(3, 8, 4), torch.randn(8, 4)
    loss, terms = build(host, name)(predictions, targets, context)
    assert loss.shape == () and torch.isfinite(loss)
    assert terms and all(t.shape == () for t in terms.values())


@pytest.mark.parametrize("name", NAMES)
def test_every_regularizer_computes_in_float32_under_mixed_precision(host, name):
    torch.manual_seed(0)
    inputs = (torch.randn(2, 64, 4), torch.randn(2, 64, 4), torch.randn(64, 4))
    regularizer = build(host, name, **({"num_directions": 4096} if name == "sigreg" else {}))
    exact, _ = regularizer(*inputs)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed, _ = regularizer(*(z.bfloat16() for z in inputs))
    assert mixed.dtype == torch.float32
    assert mixed.item() == pytest.approx(exact.item(), rel=0.05)


# --------------------------------------------------------------------------- MSE and VICReg terms


def test_prediction_mse_is_the_mean_over_steps_of_each_steps_mse():
    predictions, targets = torch.randn(3, 5, 2), torch.randn(3, 5, 2)
    per_step = [((p - t) ** 2).mean() for p, t in zip(predictions, targets, strict=True)]
    assert R.prediction_mse(predictions, targets).item() == pytest.approx(
        sum(per_step).item() / 3, rel=1e-6
    )


def test_variance_loss_is_the_mean_hinge_on_each_dimensions_std():
    z = torch.tensor([[0.0, 0.0], [2.0, 0.0], [0.0, 0.0], [2.0, 1.0]])
    # column 0: unbiased var 4/3, std > 1, no penalty; column 1: var 0.25, std sqrt(0.2501)
    expected = (0.0 + (1.0 - math.sqrt(0.25 + 1e-4))) / 2
    assert R.variance_loss(z).item() == pytest.approx(expected, rel=1e-6)


def test_covariance_loss_is_the_squared_off_diagonal_sum_over_d():
    z = torch.tensor([[0.0, 0.0], [1.0, 1.0], [2.0, 5.0]])
    # centred columns (-1, 0, 1) and (-2, -1, 3): cov_01 = (2 + 0 + 3) / 2 = 2.5
    expected = 2 * 2.5**2 / 2
    assert R.covariance_loss(z).item() == pytest.approx(expected, rel=1e-6)


def test_covariance_loss_is_zero_for_uncorrelated_dimensions():
    z = torch.tensor([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])
    assert R.covariance_loss(z).item() == 0.0


def test_vicreg_total_is_the_weighted_sum_of_its_three_terms(host):
    torch.manual_seed(0)
    predictions, targets, context = torch.randn(2, 6, 3), torch.randn(2, 6, 3), torch.randn(6, 3)
    regularizer = build(host, "vicreg", inv_weight=2.0, var_weight=3.0, cov_weight=0.5)
    loss, terms = regularizer(predictions, targets, context)
    assert loss.item() == pytest.approx(
        (2.0 * terms["inv"] + 3.0 * terms["var"] + 0.5 * terms["cov"]).item(), rel=1e-6
    )
    flat = predictions.reshape(12, 3)
    assert terms["inv"].item() == pytest.approx(R.prediction_mse(predictions, targets).item())
    var = (R.variance_loss(context) + R.variance_loss(flat)) / 2
    cov = R.covariance_loss(context) + R.covariance_loss(flat)
    assert terms["var"].item() == pytest.approx(var.item(), rel=1e-6)
    assert terms["cov"].item() == pytest.approx(cov.item(), rel=1e-6)


def test_whitened_mse_is_plain_mse_when_the_targets_are_already_white():
    # four samples of (+-1, +-1): zero mean, unbiased covariance 4/3 I -> whitening is a scale
    t = torch.tensor([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])[None]
    p = t + torch.tensor([0.3, -0.2])
    plain = R.prediction_mse(p, t).item()
    assert R.whitened_mse(p, t).item() == pytest.approx(plain * 3 / 4, rel=1e-5)


def test_whitened_mse_ignores_any_invertible_linear_map_of_the_embedding():
    """Shrinking, stretching or mixing the embedding changes plain MSE, not the whitened one:
    a low-variance direction is asked to be predicted as well as a high-variance one."""
    generator = torch.Generator().manual_seed(0)
    t = torch.randn(3, 400, 4, generator=generator, dtype=torch.float64)
    p = t + 0.1 * torch.randn(t.shape, generator=generator, dtype=torch.float64)
    q = torch.linalg.qr(torch.randn(4, 4, generator=generator, dtype=torch.float64)).Q
    mix = torch.diag(torch.tensor([10.0, 1.0, 0.1, 0.01], dtype=torch.float64)) @ q
    # a floor below the smallest eigenvalue (about 1e-4) leaves every direction whitened; in
    # float64 (condition number 1e3, so about 1e-13 of rounding) the two agree far below 1e-9
    whitened = R.whitened_mse(p, t, floor=1e-8).item()
    assert R.whitened_mse(p @ mix, t @ mix, floor=1e-8).item() == pytest.approx(whitened, rel=1e-9)
    # float32 inputs: rounding the mixed embedding costs about cond * eps = 1e3 * 6e-8 relative
    # per entry, which is whitened in float64 inside, so 1e-3 is a bound on every BLAS kernel
    mixed = R.whitened_mse((p @ mix).float(), (t @ mix).float(), floor=1e-8).item()
    assert mixed == pytest.approx(whitened, rel=1e-3)
    assert R.prediction_mse(p @ mix, t @ mix).item() > 5 * R.prediction_mse(p, t).item()


def test_vicreg_whitened_invariance_uses_the_whitened_error(host):
    torch.manual_seed(0)
    predictions, targets, context = torch.randn(2, 32, 3), torch.randn(2, 32, 3), torch.randn(32, 3)
    regularizer = build(host, "vicreg", invariance="whitened", whiten_floor=1e-2)
    _, terms = regularizer(predictions, targets, context)
    expected = R.whitened_mse(predictions, targets, 1e-2).item()
    assert terms["inv"].item() == pytest.approx(expected, rel=1e-6)


def test_vicreg_defaults_are_the_papers_weights():
    assert (R.VICRegParams().inv_weight, R.VICRegParams().var_weight) == (25.0, 25.0)
    assert R.VICRegParams().cov_weight == 1.0


# --------------------------------------------------------------------------- SimSiam


def test_negative_cosine_is_minus_one_for_identical_and_zero_for_orthogonal_vectors():
    p = torch.tensor([[[1.0, 2.0], [3.0, -1.0]]])
    assert R.negative_cosine(p, 5.0 * p).item() == pytest.approx(-1.0)
    assert R.negative_cosine(p, -p).item() == pytest.approx(1.0)
    orthogonal = torch.tensor([[[-2.0, 1.0], [1.0, 3.0]]])
    assert R.negative_cosine(p, orthogonal).item() == pytest.approx(0.0, abs=1e-7)
    # a half-and-half batch: cos = 1 for the first pair, 0 for the second
    mixed = torch.tensor([[[2.0, 4.0], [1.0, 3.0]]])
    assert R.negative_cosine(p, mixed).item() == pytest.approx(-0.5)


def test_simsiam_sends_no_gradient_to_the_target(host):
    predictions = torch.randn(2, 4, 3, requires_grad=True)
    targets = torch.randn(2, 4, 3, requires_grad=True)
    loss, _ = build(host, "simsiam")(predictions, targets, torch.randn(4, 3))
    loss.backward()
    assert targets.grad is None
    assert predictions.grad is not None and predictions.grad.abs().sum() > 0


# --------------------------------------------------------------------------- SIGReg


def test_epps_pulley_of_a_point_mass_matches_the_closed_form_integral():
    # phi_hat = 1: N * int_{-3}^{3} (1 - e^{-t^2/2})^2 e^{-t^2/2} dt; the untruncated integral is
    # sqrt(2 pi) - 2 sqrt(pi) + sqrt(2 pi / 3) = 0.4090, and the tails past |t| = 3 hold ~0.007.
    n = 100
    statistic = R.epps_pulley(torch.zeros(n, 1))
    assert statistic.shape == (1,)
    exact = math.sqrt(2 * math.pi) - 2 * math.sqrt(math.pi) + math.sqrt(2 * math.pi / 3)
    assert statistic.item() / n == pytest.approx(exact, abs=0.01)


def test_epps_pulley_uses_the_trapezoid_rule_on_17_knots_doubled():
    s = torch.tensor([[-1.0], [0.5], [2.0]])
    knots = [3.0 * i / 16 for i in range(17)]

    def integrand(t: float) -> float:
        real = sum(math.cos(t * v) for v in (-1.0, 0.5, 2.0)) / 3 - math.exp(-(t**2) / 2)
        imag = sum(math.sin(t * v) for v in (-1.0, 0.5, 2.0)) / 3
        return (real**2 + imag**2) * math.exp(-(t**2) / 2)

    h = knots[1] - knots[0]
    trapezoid = h * (sum(integrand(t) for t in knots) - (integrand(0.0) + integrand(3.0)) / 2)
    assert R.epps_pulley(s).item() == pytest.approx(3 * 2 * trapezoid, rel=1e-5)


def test_sigreg_is_small_on_standard_normal_samples_and_large_on_collapsed_ones():
    torch.manual_seed(0)
    gaussian = R.sigreg(torch.randn(2048, 16))
    # Under N(0, I) the expected statistic is int (1 - e^{-t^2}) e^{-t^2/2} dt ~ 1.05 for any N.
    assert 0.5 < gaussian.item() < 2.0
    constant = R.sigreg(torch.ones(2048, 16))
    rank_one = R.sigreg(torch.randn(2048, 1) @ torch.randn(1, 16))
    shrunk = R.sigreg(0.1 * torch.randn(2048, 16))
    for collapsed in (constant, rank_one, shrunk):
        assert collapsed.item() > 50 * gaussian.item()


def test_sigreg_draws_fresh_unit_directions_each_call():
    a = R.random_directions(16, 256, torch.zeros(1))
    assert a.shape == (16, 256)
    assert torch.allclose(a.norm(dim=0), torch.ones(256))
    assert not torch.equal(a, R.random_directions(16, 256, torch.zeros(1)))


def test_sigreg_loss_mixes_prediction_and_sigreg_by_lambda(host):
    torch.manual_seed(0)
    predictions, targets, context = torch.randn(2, 64, 4), torch.randn(2, 64, 4), torch.randn(64, 4)
    loss, terms = build(host, "sigreg", lam=0.25)(predictions, targets, context)
    assert loss.item() == pytest.approx((0.75 * terms["pred"] + 0.25 * terms["sigreg"]).item())
    assert terms["pred"].item() == pytest.approx(R.prediction_mse(predictions, targets).item())


# --------------------------------------------------------------------------- Barlow Twins

ORTHOGONAL = torch.tensor([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])


def test_barlow_twins_is_zero_for_identical_decorrelated_inputs():
    c = R.cross_correlation(ORTHOGONAL, ORTHOGONAL)
    assert torch.allclose(c, torch.eye(2), atol=1e-4)
    assert R.barlow_twins(c).item() == pytest.approx(0.0, abs=1e-8)


def test_barlow_twins_penalises_swapped_and_flipped_dimensions_by_the_formula():
    swapped = R.cross_correlation(ORTHOGONAL, ORTHOGONAL.flip(-1))  # C = [[0, 1], [1, 0]]
    assert R.barlow_twins(swapped, lambd=5e-3).item() == pytest.approx(2 + 5e-3 * 2, rel=1e-4)
    flipped = R.cross_correlation(ORTHOGONAL, -ORTHOGONAL)  # C = -I
    assert R.barlow_twins(flipped).item() == pytest.approx(2 * 2.0**2, rel=1e-4)


def test_barlow_twins_regularizer_averages_the_per_step_losses(host):
    torch.manual_seed(0)
    predictions, targets = torch.randn(3, 16, 4), torch.randn(3, 16, 4)
    loss, terms = build(host, "barlow_twins")(predictions, targets, torch.randn(16, 4))
    per_step = [R.barlow_twins(R.cross_correlation(predictions[k], targets[k])) for k in range(3)]
    assert loss.item() == pytest.approx(sum(per_step).item() / 3, rel=1e-5)
    assert terms["bt"].item() == pytest.approx(loss.item())


# --------------------------------------------------------------------------- global batch


def test_gather_batch_is_the_identity_without_torch_distributed():
    z = torch.randn(4, 3)
    assert R.gather_batch(z) is z


def test_gather_batch_concatenates_every_ranks_shard_along_the_batch_dim(monkeypatch):
    import torch.distributed.nn.functional as dist_fn

    monkeypatch.setattr(R.dist, "is_initialized", lambda: True)
    monkeypatch.setattr(R.dist, "get_world_size", lambda: 2)
    monkeypatch.setattr(dist_fn, "all_gather", lambda z: (z, z + 10))
    z = torch.zeros(2, 3, 4, requires_grad=True)
    gathered = R.gather_batch(z, dim=1)
    assert gathered.shape == (2, 6, 4)
    assert gathered[:, 3:].eq(10).all()
    gathered.sum().backward()
    assert z.grad is not None


# --------------------------------------------------------------------------- training


def toy_losses(host: PluginHost, name: str, steps: int = 40) -> tuple[float, float]:
    """Train a linear encoder and predictor on a rotating 6-D signal; (first, last) loss."""
    torch.manual_seed(0)
    angle = 0.3
    rotation = torch.eye(6)
    rotation[:2, :2] = torch.tensor(
        [[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]]
    )
    x = [torch.randn(128, 6)]
    for _ in range(3):
        x.append(x[-1] @ rotation.T)
    encoder, predictor = torch.nn.Linear(6, 4), torch.nn.Linear(4, 4)
    regularizer = build(host, name)
    params = [*encoder.parameters(), *predictor.parameters()]
    optimizer = torch.optim.Adam(params, lr=1e-2)
    losses = []
    for _ in range(steps):
        context = encoder(x[0])
        with torch.no_grad():  # the target encoder: here the online one under stop-gradient
            targets = torch.stack([encoder(xk) for xk in x[1:]])
        rollout, z = [], context
        for _ in range(3):
            z = predictor(z)
            rollout.append(z)
        loss, _ = regularizer(torch.stack(rollout), targets, context)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return sum(losses[:3]) / 3, sum(losses[-3:]) / 3


@pytest.mark.parametrize("name", NAMES)
def test_each_objective_decreases_when_training_a_small_linear_model(host, name):
    first, last = toy_losses(host, name)
    assert last < first - 0.1 * abs(first)
