"""The `tensorboard` tracker after a real tiny run, read back with TensorBoard's own reader."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap

import pytest

from jepa_framework.commands.cli import main

from ..conftest import TINY

pytest.importorskip("tensorboard")

RECIPE = ["circle", *TINY, "output.forecast_frames=16", "train.threads=1", "eval.enabled=false"]
TRACKING = "tracking=[{name: local}, {name: tensorboard, forecast_frames: 4}]"


def test_a_run_writes_scalars_images_forecast_recipe_and_hparams(tmp_path):
    from PIL import Image
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    out = tmp_path / "out"
    assert main(["run", *RECIPE, TRACKING, f"output.dir={out}"]) == 0
    (run_dir,) = out.iterdir()
    events = EventAccumulator(
        str(run_dir / "tensorboard"), size_guidance={"images": 0, "scalars": 0, "tensors": 0}
    )
    events.Reload()
    tags = events.Tags()

    # every scalar the local tracker saw, at the same steps and values
    local = [json.loads(line) for line in (run_dir / "scalars.jsonl").read_text().splitlines()]
    for key in ("jepa/train_loss", "jepa/val_loss", "jepa/rankme", "decoder/val_recon_mse"):
        expected = [(r["step"], r[key]) for r in local if key in r]
        assert expected and key in tags["scalars"]
        got = [(e.step, e.value) for e in events.Scalars(key)]
        assert got == [(s, pytest.approx(v, rel=1e-6)) for s, v in expected]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    (rankme,) = events.Scalars("final/embedding/rankme")
    assert rankme.value == pytest.approx(metrics["embedding"]["rankme"], rel=1e-6)

    # the reconstruction as the PNG's pixels; the forecast as a 16-frame GIF and a 4-frame strip
    (recon,) = events.Images("reconstruction")
    png = Image.open(run_dir / "reconstruction.png")
    assert (recon.width, recon.height) == png.size
    (gif,) = events.Images("forecast")
    animation = Image.open(io.BytesIO(gif.encoded_image_string))
    assert animation.format == "GIF" and animation.n_frames == 16
    assert [e.step for e in events.Images("forecast/frames")] == [recon.step]
    assert "loss_curves" in tags["images"]

    # the resolved recipe as text, and the hyperparameters with the final metrics
    (text,) = events.Tensors("recipe/text_summary")
    recipe_text = text.tensor_proto.string_val[0].decode()
    assert "    name: circle" in recipe_text and "epochs: 2" in recipe_text
    content = events.PluginTagToContent("hparams")["_hparams_/session_start_info"]
    hparams = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info.hparams
    assert hparams["train.epochs"].number_value == 2
    assert hparams["objective.regularizer.name"].string_value == "vicreg"
    assert hparams["data.dataset.name"].string_value == "circle"


def test_without_tensorboard_installed_the_recipe_fails_before_any_work(tmp_path):
    out = tmp_path / "out"
    code = f"""
        import sys
        sys.modules["torch.utils.tensorboard"] = None  # as if the extra were not installed
        from jepa_framework.commands.cli import main
        assert main(["list", "trackers"]) == 0  # listing never builds the tracker
        sys.exit(main({["run", *RECIPE, TRACKING, f"output.dir={out}"]!r}))
    """
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "MPLBACKEND": "Agg"},
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert "tensorboard " in proc.stdout
    assert "uv sync --extra tensorboard" in proc.stderr and "Traceback" not in proc.stderr
    assert not out.exists()
