"""The built-in networks honour the factory contract for every observation shape they accept."""

from __future__ import annotations

import json
import math

import pytest
import torch
import yaml
from jepa_builtins import keypoints, networks, oscillator
from jepa_builtins import koopman as koopman_module

from jepa_framework.core.components import Shapes
from jepa_framework.core.errors import JepaError
from jepa_framework.plugin.host import PluginHost
from jepa_framework.testing import run_tiny

VECTOR_SHAPES = [(2,), (4,)]
IMAGE_SHAPES = [(3, 32, 32), (1, 32, 32), (3, 64, 64), (1, 64, 64), (3, 40, 40), (1, 16, 16)]
D = 8
H = 2
B = 3


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def host() -> PluginHost:
    return PluginHost(
        extra_plugins=[networks, keypoints, koopman_module, oscillator], entry_points_group=False
    )


def build(host: PluginHost, kind: str, name: str, obs_shape: tuple[int, ...], **params):
    component = host.registry(kind).get(name)
    return component.factory(component.params(**params), Shapes(obs_shape, H, D))


def window(obs_shape: tuple[int, ...], batch: int = B) -> torch.Tensor:
    return torch.rand(batch, H, *obs_shape)


def test_every_network_is_registered_with_defaults_for_all_params(host):
    assert host.registry("encoders").names() == ["cnn", "frame_mlp", "keypoints", "mlp"]
    assert host.registry("predictors").names() == ["koopman", "mlp", "oscillator", "residual_mlp"]
    assert host.registry("decoders").names() == ["cnn", "mlp"]
    for kind in ("encoders", "predictors", "decoders"):
        for component in host.registry(kind):
            assert "<required>" not in component.param_defaults().values()
            assert component.doc  # `jepa list` shows the first docstring line


@pytest.mark.parametrize("obs_shape", VECTOR_SHAPES + IMAGE_SHAPES)
def test_mlp_encoder_maps_window_to_embedding(host, obs_shape):
    encoder = build(host, "encoders", "mlp", obs_shape)
    assert encoder(window(obs_shape)).shape == (B, D)


@pytest.mark.parametrize("obs_shape", IMAGE_SHAPES)
@pytest.mark.parametrize("channels_last", [False, True])
def test_cnn_encoder_maps_window_to_embedding(host, obs_shape, channels_last):
    encoder = build(host, "encoders", "cnn", obs_shape, channels_last=channels_last)
    assert encoder(window(obs_shape)).shape == (B, D)


@pytest.mark.parametrize("obs_shape", IMAGE_SHAPES)
@pytest.mark.parametrize("channels_last", [False, True])
def test_cnn_encoder_with_coord_channels_maps_window_to_embedding(host, obs_shape, channels_last):
    encoder = build(host, "encoders", "cnn", obs_shape, coord_channels=True)
    assert encoder.convs[0].in_channels == H * obs_shape[0] + 2
    assert encoder(window(obs_shape)).shape == (B, D)


def test_coord_channels_let_a_cnn_tell_where_a_lone_pixel_is(host):
    """Without position channels a conv + average pool is blind to where a pixel sits."""
    plain = build(host, "encoders", "cnn", (1, 16, 16), num_layers=1, pool_size=1)
    coords = build(
        host, "encoders", "cnn", (1, 16, 16), num_layers=1, pool_size=1, coord_channels=True
    )
    frames = torch.zeros(2, H, 1, 16, 16)
    frames[0, :, 0, 3, 3] = 1.0
    frames[1, :, 0, 11, 11] = 1.0
    assert torch.allclose(plain(frames)[0], plain(frames)[1], atol=1e-6)
    assert not torch.allclose(coords(frames)[0], coords(frames)[1], atol=1e-3)


@pytest.mark.parametrize("obs_shape", IMAGE_SHAPES)
@pytest.mark.parametrize(
    "params", [{}, {"stride": 1, "presence": True}, {"coord_channels": True, "keypoints": 3}]
)
def test_keypoint_encoder_maps_window_to_embedding(host, obs_shape, params):
    encoder = build(host, "encoders", "keypoints", obs_shape, **params)
    x = window(obs_shape)
    assert encoder(x).shape == (B, D)
    points = encoder.keypoints(x)
    assert points.shape == (B, H, params.get("keypoints", 8), 2)
    assert points.abs().max() <= 1.0


@pytest.mark.parametrize(("row", "col"), [(0, 0), (5, 12), (31, 31), (20, 3)])
def test_a_keypoint_of_one_bright_pixel_lands_at_its_coordinate(host, row, col):
    """A sharp spatial softmax over a map that fires at one pixel is that pixel's (x, y)."""
    encoder = build(host, "encoders", "keypoints", (1, 32, 32), stride=1, temperature=0.01)
    with torch.no_grad():  # the map is the frame itself: one 1x1 conv passing the pixel through
        encoder.convs = torch.nn.Conv2d(1, 8, 1)
        encoder.convs.weight.fill_(100.0)
        encoder.convs.bias.zero_()
    frames = torch.zeros(1, H, 1, 32, 32)
    frames[0, 0, 0, row, col] = 1.0
    frames[0, 1, 0, 31 - row, 31 - col] = 1.0  # frame order is kept
    points = encoder.keypoints(frames)
    expected = torch.tensor([[-1 + 2 * col / 31, -1 + 2 * row / 31]])
    assert torch.allclose(points[0, 0], expected.expand(8, 2), atol=1e-3)
    assert torch.allclose(points[0, 1], -expected.expand(8, 2), atol=1e-3)


def test_keypoints_learn_where_a_blob_is_in_a_few_steps():
    """Trained through a linear readout, a blob's position becomes linear in the keypoints."""
    torch.manual_seed(0)
    params = keypoints.KeypointEncoderParams(keypoints=4, channels=8, num_layers=2, depth=0)
    encoder = keypoints.KeypointEncoder(params, Shapes((1, 16, 16), 1, 2))
    rows, cols = torch.randint(1, 15, (2, 64))
    frames = torch.zeros(64, 1, 1, 16, 16)
    for i, (r, c) in enumerate(zip(rows.tolist(), cols.tolist(), strict=True)):
        frames[i, 0, 0, r - 1 : r + 2, c - 1 : c + 2] = 1.0
    target = torch.stack([cols, rows], dim=1).float() / 7.5 - 1.0
    optimizer = torch.optim.Adam(encoder.parameters(), lr=1e-2)
    for _ in range(80):
        loss = torch.nn.functional.mse_loss(encoder(frames), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.05 * target.var().item()


def test_a_bounded_keypoint_moves_with_a_blob_between_pixels():
    """Maps of any scale: unbounded, the softmax is an argmax and the keypoint snaps to the
    brighter pixel; with max_logit it sits between the two, in proportion to their values."""
    maps = torch.zeros(1, 1, 1, 8)
    maps[0, 0, 0, 3], maps[0, 0, 0, 4] = 1000.0, 600.0  # a blob between pixels 3 and 4
    sharp = keypoints.SpatialSoftmax(1, 1, 8, temperature=1.0, learn=False)
    bounded = keypoints.SpatialSoftmax(1, 1, 8, temperature=1.0, learn=False, max_logit=4.0)
    grid = sharp.grid[0]  # the x coordinate of each pixel
    assert sharp(maps)[0][0, 0, 0] == pytest.approx(float(grid[3]))
    x = float(bounded(maps)[0][0, 0, 0])
    assert float(grid[3]) < x < float(grid[4])


def test_keypoint_temperature_is_learned_only_if_asked(host):
    learned = build(host, "encoders", "keypoints", (1, 16, 16))
    fixed = build(host, "encoders", "keypoints", (1, 16, 16), learn_temperature=False)
    assert learned.softmax.log_temperature.requires_grad
    assert not fixed.softmax.log_temperature.requires_grad


def test_keypoint_encoder_on_vector_data_is_a_user_error_pointing_at_mlp(host):
    with pytest.raises(JepaError, match=r"encoder 'keypoints'.*Use encoder 'mlp'"):
        build(host, "encoders", "keypoints", (4,))


@pytest.mark.parametrize("name", ["cnn", "keypoints"])
def test_conv_encoder_channels_last_computes_the_same_function(host, name):
    plain = build(host, "encoders", name, (3, 32, 32))
    fast = build(host, "encoders", name, (3, 32, 32), channels_last=True)
    fast.load_state_dict(plain.state_dict())
    x = window((3, 32, 32))
    assert torch.allclose(fast(x), plain(x), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("name", ["mlp", "residual_mlp", "koopman"])
def test_predictor_maps_embedding_to_embedding(host, name):
    predictor = build(host, "predictors", name, (2,))
    assert predictor(torch.randn(B, D)).shape == (B, D)


def test_residual_mlp_predictor_starts_near_identity(host):
    predictor = build(host, "predictors", "residual_mlp", (2,))
    z = torch.randn(64, D)
    assert (predictor(z) - z).norm() < 0.05 * z.norm()


@pytest.mark.parametrize("obs_shape", VECTOR_SHAPES + IMAGE_SHAPES)
def test_mlp_decoder_reconstructs_one_frame(host, obs_shape):
    decoder = build(host, "decoders", "mlp", obs_shape)
    assert decoder(torch.randn(B, D)).shape == (B, *obs_shape)


def test_mlp_decoder_clamps_images_in_eval_mode_but_not_vectors(host):
    image = build(host, "decoders", "mlp", (1, 16, 16))
    vector = build(host, "decoders", "mlp", (4,))
    for decoder in (image, vector):
        torch.nn.init.constant_(decoder.net[-1].bias, -5.0)
    z = torch.randn(B, D)
    assert image(z).min() < -1.0  # training: linear, so the gradient never vanishes
    assert image.eval()(z).min() >= 0.0
    assert vector.eval()(z).min() < -1.0


def test_cnn_decoder_learns_sparse_frames_instead_of_sticking_at_blank(host):
    """A sigmoid output used to sit at the blank frame forever on pendulum-like frames."""
    torch.manual_seed(0)
    frames = torch.zeros(64, 1, 16, 16)
    z = torch.randn(64, D)
    for i in range(64):  # one lit 3x3 square per sample, placed by the latent's sign pattern
        r, c = int(z[i, 0] > 0) * 8 + 2, int(z[i, 1] > 0) * 8 + 2
        frames[i, 0, r : r + 3, c : c + 3] = 1.0
    decoder = build(host, "decoders", "cnn", (1, 16, 16))
    optimizer = torch.optim.Adam(decoder.parameters(), lr=1e-3)
    blank = frames.pow(2).mean()
    for _ in range(150):
        loss = torch.nn.functional.mse_loss(decoder(z), frames)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    decoder.eval()
    assert torch.nn.functional.mse_loss(decoder(z), frames) < 0.5 * blank


@pytest.mark.parametrize("obs_shape", [*IMAGE_SHAPES, (3, 24, 40)])
def test_cnn_decoder_gives_frames_of_exact_size_in_unit_range(host, obs_shape):
    decoder = build(host, "decoders", "cnn", obs_shape).eval()
    frames = decoder(10 * torch.randn(B, D))
    assert frames.shape == (B, *obs_shape)
    assert frames.min() >= 0.0 and frames.max() <= 1.0


@pytest.mark.parametrize("kind", ["encoders", "decoders"])
@pytest.mark.parametrize("obs_shape", VECTOR_SHAPES)
def test_cnn_on_vector_data_is_a_user_error_pointing_at_mlp(host, kind, obs_shape):
    with pytest.raises(JepaError, match=r"'cnn'.*Use \w+ 'mlp'"):
        build(host, kind, "cnn", obs_shape)


def test_cnn_on_frames_smaller_than_16_pixels_is_a_user_error(host):
    with pytest.raises(JepaError, match="at least 16x16"):
        build(host, "encoders", "cnn", (3, 8, 8))


@pytest.mark.parametrize(
    ("encoder_name", "decoder_name", "obs_shape"),
    [("mlp", "mlp", (4,)), ("cnn", "cnn", (1, 16, 16))],
)
def test_a_few_optimizer_steps_reduce_an_autoencoding_loss(
    host, encoder_name, decoder_name, obs_shape
):
    torch.manual_seed(0)
    encoder = build(host, "encoders", encoder_name, obs_shape)
    predictor = build(host, "predictors", "residual_mlp", obs_shape)
    decoder = build(host, "decoders", decoder_name, obs_shape)
    model = torch.nn.Sequential(encoder, predictor, decoder)
    levels = torch.rand(16, H, *[1] * len(obs_shape))
    x = levels.expand(16, H, *obs_shape)  # each frame a constant level: learnable through z

    def loss() -> torch.Tensor:
        return torch.nn.functional.mse_loss(model(x), x[:, -1])

    first = loss().item()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(25):
        optimizer.zero_grad()
        loss().backward()
        optimizer.step()
    assert loss().item() < 0.5 * first


def test_invalid_activation_is_rejected_by_the_params_class():
    with pytest.raises(ValueError, match="activation"):
        networks.MLPParams(activation="sigmoidish")


def test_a_tiny_pendulum_image_run_trains_the_keypoint_encoder(tmp_path):
    """The encoder plugs into a real run: chosen in a recipe, trained and saved (the evaluation
    of image runs is tested in test_end_to_end)."""
    run_dir = run_tiny(
        "pendulum_image",
        tmp_path,
        "data.dataset.image_size=16",
        "output.forecast_frames=8",
        "eval.enabled=false",
        "model.encoder={name: keypoints, keypoints: 4, channels: 8}",
    )
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert config["model"]["encoder"]["name"] == "keypoints"
    assert config["model"]["encoder"]["keypoints"] == 4
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["jepa"]["train_loss"] > 0
    state = torch.load(run_dir / "models" / "encoder.pt", weights_only=True)
    assert any("log_temperature" in key for key in state)


# --------------------------------------------------------------------------- koopman


def koopman(host: PluginHost, dim: int, **params) -> torch.nn.Module:
    """The koopman predictor on a latent of ``dim`` (its split into invariants and pairs)."""
    component = host.registry("predictors").get("koopman")
    return component.factory(component.params(**params), Shapes((2,), 2, dim))


def test_koopman_step_turns_each_pair_and_keeps_the_invariants(host):
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


def test_koopman_starts_near_the_identity(host):
    torch.manual_seed(0)
    net = koopman(host, 8, invariants=4)
    z = torch.randn(16, 8)
    assert (net(z) - z).abs().max() < 0.05


def test_koopman_latent_width_that_does_not_split_into_pairs_is_a_user_error(host):
    with pytest.raises(JepaError, match="model.predictor.invariants"):
        koopman(host, 7, invariants=4)


def test_koopman_residual_option_adds_a_correction_on_the_whole_latent(host):
    torch.manual_seed(0)
    net = koopman(host, 6, invariants=2, residual=True, init_scale=1.0)
    z = torch.randn(4, 6)
    assert not torch.allclose(net(z)[:, :2], z[:, :2])  # invariants now move too


def test_koopman_learns_a_rotation_whose_speed_is_set_by_an_invariant(host):
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


# --------------------------------------------------------------------------- oscillator


def oscillator_latent(
    frames: int, steps: int, omegas: torch.Tensor, start: int = 0
) -> torch.Tensor:
    """``frames`` frames of channels ``sin(omega t + 1)``, from frame ``start``: [1, frames * C]."""
    t = torch.arange(start, start + frames, dtype=torch.float64)[:, None]
    return torch.sin(omegas * t + 1.0).flatten()[None].float()


def test_frame_mlp_encoder_codes_every_frame_alone_and_keeps_their_order(host):
    component = host.registry("encoders").get("frame_mlp")
    encoder = component.factory(component.params(), Shapes((2,), 4, 12))
    x = torch.randn(B, 4, 2)
    codes = encoder(x).reshape(B, 4, 3)
    changed = x.clone()
    changed[:, 2] += 1.0  # only the third frame: only its code may move
    moved = (encoder(changed).reshape(B, 4, 3) - codes).abs().amax(dim=(0, 2))
    assert moved[2] > 0 and moved[[0, 1, 3]].eq(0).all()


def test_frame_mlp_encoder_without_bias_is_linear_in_each_frame(host):
    component = host.registry("encoders").get("frame_mlp")
    encoder = component.factory(component.params(depth=0, bias=False), Shapes((2,), 4, 8))
    x = torch.randn(B, 4, 2)
    assert torch.equal(encoder(torch.zeros(B, 4, 2)), torch.zeros(B, 8))
    torch.testing.assert_close(encoder(2.5 * x), 2.5 * encoder(x))


def test_frame_mlp_encoder_needs_history_to_divide_the_latent(host):
    component = host.registry("encoders").get("frame_mlp")
    with pytest.raises(JepaError, match="data.history must divide model.embedding_dim"):
        component.factory(component.params(), Shapes((2,), 3, 8))


@pytest.mark.parametrize(
    ("name", "params", "history"),
    [
        ("keypoints", {"presence": True, "coord_channels": True, "channels_last": True}, 3),
        ("keypoints", {"depth": 1, "hidden_dim": 16}, 2),
        ("frame_mlp", {}, 2),
        ("cnn", {}, 2),  # stacks frames: not frame-wise, every window encoded whole
    ],
)
def test_every_window_latent_matches_the_encoder_on_that_window(
    host, name, params, history, tmp_path
):
    """Frame-wise encoders give the refit and the controls their latents one frame at a time;
    the latents must be the encoder's own on each window, in window order."""
    from jepa_builtins.datasets.pendulum_image import PendulumImageDataset, PendulumImageParams

    from jepa_framework.models.framewise import FrameWiseEncoder
    from jepa_framework.pipeline.latents import window_latents

    data = PendulumImageDataset(
        PendulumImageParams(size=5, sequence_length=6, image_size=16), cache_dir=tmp_path
    )
    component = host.registry("encoders").get(name)
    encoder = component.factory(component.params(**params), Shapes(data.obs_shape, history, 12))
    assert isinstance(encoder, FrameWiseEncoder) == (name != "cnn")
    latents = window_latents(encoder, data, torch.tensor([3, 0, 4]), history, torch.device("cpu"))
    assert latents.shape == (3, 6 - history + 1, 12)
    frames = data.to_float(data.observations)
    with torch.no_grad():
        for i, trajectory in enumerate([3, 0, 4]):
            for start in range(6 - history + 1):
                window = frames[trajectory, start : start + history][None]
                torch.testing.assert_close(latents[i, start], encoder(window)[0])


def test_oscillator_continues_every_channel_as_its_own_sinusoid_for_hundreds_of_steps(host):
    component = host.registry("predictors").get("oscillator")
    net = component.factory(component.params(), Shapes((2,), 4, 12))
    omegas = torch.tensor([0.05, 0.3, 1.2], dtype=torch.float64)  # slow, medium, fast
    z = oscillator_latent(4, 0, omegas)
    for _ in range(500):
        z = net(z)
    truth = oscillator_latent(4, 0, omegas, start=500)
    assert (z - truth).abs().max() < 0.02


def test_oscillator_grows_a_channel_that_is_not_a_sinusoid_no_faster_than_linearly(host):
    component = host.registry("predictors").get("oscillator")
    net = component.factory(component.params(), Shapes((2,), 3, 3))
    z = torch.tensor([[1.0, 3.0, 9.0]])  # geometric growth: the fitted cos would be 5/3
    for _ in range(200):
        z = net(z)
    assert z[0, -1].item() == pytest.approx(9.0 + 6.0 * 200)  # cos clamped to 1: a straight line


@pytest.mark.parametrize(
    ("history", "dim", "growing", "least"),
    [(2, 8, False, 3), (3, 8, False, 3), (5, 10, True, 6)],
)
def test_oscillator_latent_that_is_not_enough_equal_frames_is_a_user_error(
    host, history, dim, growing, least
):
    component = host.registry("predictors").get("oscillator")
    with pytest.raises(JepaError, match=f"data.history must be at least {least} and"):
        component.factory(component.params(growing=growing), Shapes((2,), history, dim))


def test_growing_oscillator_continues_a_spiral_whose_radius_grows_linearly(host):
    component = host.registry("predictors").get("oscillator")
    t = torch.arange(0, 108, dtype=torch.float64)[:, None]
    radius = 0.2 + 0.02 * t
    spiral = torch.cat([radius * torch.cos(0.3 * t), radius * torch.sin(0.3 * t)], 1)  # [T, 2]
    plain, growing = (
        component.factory(component.params(growing=g), Shapes((2,), 8, 16)).double()
        for g in (False, True)
    )
    errors = []
    for net in (plain, growing):
        z = spiral[:8].flatten()[None]
        with torch.no_grad():
            for _ in range(100):
                z = net(z)
        errors.append((z.view(8, 2)[-1] - spiral[-1]).norm().item())
    assert errors[1] < 0.01 < 0.3 < errors[0]  # radius 2.3 by then: only growing keeps up


def test_growing_oscillator_keeps_a_slow_float32_spiral_for_five_hundred_steps(host):
    """The fourth-order fit is fragile to rounding: fitted in float32, a slow spiral's rollout
    wandered 1.4 radii off in 500 steps (the spiral recipe's forecasts stopped at 257-297 of 300
    frames in some seeds). Fitted in float64, the latents that come out stay float32."""
    component = host.registry("predictors").get("oscillator")
    net = component.factory(component.params(growing=True), Shapes((2,), 8, 16))
    t = torch.arange(0, 508, dtype=torch.float64)[:, None]
    radius = 0.3 + 0.015 * t
    spiral = torch.cat([radius * torch.cos(0.1 * t + 1), radius * torch.sin(0.1 * t + 1)], 1)
    z = spiral[:8].flatten()[None].float()
    with torch.no_grad():
        for _ in range(500):
            z = net(z)
    assert z.dtype == torch.float32
    error = (z.view(8, 2)[-1].double() - spiral[-1]).norm().item()
    assert error < 0.15 * radius[-1].item()  # float32 throughout: 1.4 radii off
