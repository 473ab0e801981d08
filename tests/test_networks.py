"""The built-in networks honour the factory contract for every observation shape they accept."""

from __future__ import annotations

import pytest
import torch
from jepa_builtins import networks

from jepa_framework.components import Shapes
from jepa_framework.errors import JepaError
from jepa_framework.plugins import PluginHost
from jepa_framework.threads import one_torch_thread

VECTOR_SHAPES = [(2,), (4,)]
IMAGE_SHAPES = [(3, 32, 32), (1, 32, 32), (3, 64, 64), (1, 64, 64), (3, 40, 40), (1, 16, 16)]
D = 8
H = 2
B = 3


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny tensors gain nothing from threads, and idle OpenMP threads spin on a shared CPU."""
    with one_torch_thread():
        yield


@pytest.fixture(scope="module")
def host() -> PluginHost:
    return PluginHost(extra_plugins=[networks], entry_points_group=False)


def build(host: PluginHost, kind: str, name: str, obs_shape: tuple[int, ...], **params):
    component = host.registry(kind).get(name)
    return component.factory(component.params(**params), Shapes(obs_shape, H, D))


def window(obs_shape: tuple[int, ...], batch: int = B) -> torch.Tensor:
    return torch.rand(batch, H, *obs_shape)


def test_every_network_is_registered_with_defaults_for_all_params(host):
    assert host.registry("encoders").names() == ["cnn", "mlp"]
    assert host.registry("predictors").names() == ["mlp", "residual_mlp"]
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


def test_cnn_encoder_channels_last_computes_the_same_function(host):
    plain = build(host, "encoders", "cnn", (3, 32, 32))
    fast = build(host, "encoders", "cnn", (3, 32, 32), channels_last=True)
    fast.load_state_dict(plain.state_dict())
    x = window((3, 32, 32))
    assert torch.allclose(fast(x), plain(x), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("name", ["mlp", "residual_mlp"])
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
