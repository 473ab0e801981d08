"""decoder_train.solver least_squares: a linear decoder solved in closed form on frozen latents."""

from __future__ import annotations

import json

import pytest
import torch
from jepa_builtins import networks
from jepa_builtins.datasets.curves import SpiralDataset, SpiralParams

from jepa_framework.commands.cli import main
from jepa_framework.core.components import Shapes
from jepa_framework.core.errors import JepaError
from jepa_framework.pipeline.checkpoint import load_checkpoint
from jepa_framework.pipeline.decoder_fit import fit_linear_decoder, linear_map
from jepa_framework.plugin.host import PluginHost
from jepa_framework.testing import OSCILLATOR_NETWORKS, run_tiny

HISTORY, DIM = 4, 8
#: a spiral run whose latent is linear in the frames (a linear frame encoder, the growing
#: oscillator) and whose decoder is linear: what the solved decoder is tested on, whatever
#: networks the spiral recipe ships with
LINEAR_SPIRAL = ("data.history=8", *OSCILLATOR_NETWORKS, "model.predictor.growing=true")


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def host() -> PluginHost:
    return PluginHost(extra_plugins=[networks], entry_points_group=False)


def build(host: PluginHost, kind: str, name: str, **params) -> torch.nn.Module:
    component = host.registry(kind).get(name)
    return component.factory(component.params(**params), Shapes((2,), HISTORY, DIM))


def spiral(tmp_path) -> SpiralDataset:
    return SpiralDataset(SpiralParams(size=12, sequence_length=20), cache_dir=tmp_path)


def test_the_solved_decoder_inverts_a_linear_encoder_exactly(host, tmp_path):
    """A linear frame encoder keeps each frame; the solve finds the inverse on every window,
    held-out trajectories included, where a gradient-trained decoder is still on its way."""
    torch.manual_seed(0)
    data = spiral(tmp_path)
    encoder = build(host, "encoders", "frame_mlp", depth=0, bias=False).eval()
    decoder = build(host, "decoders", "mlp", depth=0)
    train = torch.arange(8)
    windows = fit_linear_decoder(encoder, decoder, "mlp", data, train, HISTORY, torch.device("cpu"))
    assert windows == 8 * (20 - HISTORY + 1)
    frames = data.to_float(data.observations)
    held_out = frames[8:, 5 : 5 + HISTORY]
    with torch.no_grad():
        decoded = decoder(encoder(held_out))
    torch.testing.assert_close(decoded, held_out[:, -1], atol=1e-5, rtol=1e-4)


def test_a_dead_latent_dimension_still_gets_a_finite_solution(host, tmp_path):
    torch.manual_seed(0)
    data = spiral(tmp_path)
    encoder = build(host, "encoders", "frame_mlp", depth=0, bias=False).eval()
    with torch.no_grad():
        encoder.net[-1].weight[1] = 0.0  # the second channel of every frame is always zero
    decoder = build(host, "decoders", "mlp", depth=0)
    fit_linear_decoder(encoder, decoder, "mlp", data, torch.arange(8), HISTORY, torch.device("cpu"))
    assert all(torch.isfinite(p).all() for p in decoder.parameters())


def test_a_decoder_that_is_not_one_linear_map_is_refused(host):
    with pytest.raises(JepaError, match="decoder 'mlp' holds its parameters in 5 module"):
        linear_map(build(host, "decoders", "mlp", depth=2), "mlp")

    class Squashed(torch.nn.Module):  # one Linear, then a nonlinearity
        def __init__(self) -> None:
            super().__init__()
            self.linear = torch.nn.Linear(DIM, 2)

        def forward(self, z: torch.Tensor) -> torch.Tensor:
            return torch.tanh(self.linear(z))

    with pytest.raises(JepaError, match="decoder 'squashed' transforms that map's output"):
        linear_map(Squashed(), "squashed")


def test_a_spiral_run_with_the_solved_decoder_reconstructs_and_resumes(tmp_path):
    """End to end: phase 2 is one recorded epoch whose reconstruction error is at rounding,
    and a run resumed after the solve keeps the solved decoder."""
    run_dir = run_tiny(
        "spiral",
        tmp_path,
        *LINEAR_SPIRAL,
        "decoder_train.solver=least_squares",
        "eval.enabled=false",
    )
    metrics = json.loads((run_dir / "metrics.json").read_text())
    (decoder_epoch,) = metrics["history"]["decoder"]
    assert decoder_epoch["val_recon_mse"] < 1e-8 * decoder_epoch["val_blank_mse"]

    solved = torch.load(run_dir / "models" / "decoder.pt", weights_only=True)
    (run_dir / "metrics.json").unlink()  # as if it died after the solve's checkpoint
    assert main(["run", "--resume", str(run_dir)]) == 0
    log = (run_dir / "run.log").read_text()
    assert "resuming" in log and log.count("solved by least squares") == 1
    resumed = torch.load(run_dir / "models" / "decoder.pt", weights_only=True)
    assert all(torch.equal(solved[key], resumed[key]) for key in solved)


def test_the_supervised_baseline_gets_the_closed_form_decoder_too(tmp_path):
    """Same care: where the recipe solves its decoder, the end-to-end baseline's trained decoder
    is solved again on its own encoder's standardised latents (and not where it does not)."""
    notes = {}
    for solver in ("least_squares", "gradient"):
        run_dir = run_tiny(
            "spiral",
            tmp_path / solver,
            *LINEAR_SPIRAL,
            f"decoder_train.solver={solver}",
            "eval.horizon=6",
            "eval.controls=false",
            "output.forecast_frames=4",
        )
        notes[solver] = json.loads((run_dir / "eval.json").read_text())["settings"]["baselines"]
    assert notes["least_squares"]["supervised"]["decoder_solved"] is True
    assert notes["gradient"]["supervised"]["decoder_solved"] is False


def test_a_non_finite_solve_stops_the_run_and_is_never_saved(tmp_path, monkeypatch, capsys):
    import jepa_framework.pipeline.training as training

    def poisoned(encoder, decoder, *args, **kwargs) -> int:
        with torch.no_grad():
            for p in decoder.parameters():
                p.fill_(float("nan"))
        return 1

    monkeypatch.setattr(training, "fit_linear_decoder", poisoned)
    with pytest.raises(AssertionError, match="exited with code"):
        run_tiny(
            "spiral",
            tmp_path,
            *LINEAR_SPIRAL,
            "decoder_train.solver=least_squares",
            "eval.enabled=false",
        )
    err = capsys.readouterr().err
    assert "solved by least squares came out non-finite" in err and "Traceback" not in err
    (checkpoint,) = tmp_path.glob("runs-*/*/checkpoint.pt")
    assert load_checkpoint(checkpoint).phase == "jepa"
