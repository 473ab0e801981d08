"""The `wandb` tracker against a real wandb in offline mode: nothing touches the network or ~."""

from __future__ import annotations

import json
import logging
import os
import shutil
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from jepa_framework.commands.cli import main
from jepa_framework.pipeline.checkpoint import CHECKPOINT_NAME, load_checkpoint

from ..pipeline.test_end_to_end import TINY

RECIPE = ["circle", *TINY, "output.forecast_frames=16", "train.threads=1"]
WANDB_TRACKING = "tracking=[{name: wandb, mode: offline, project: test, tags: [ci]}]"


@pytest.fixture
def wandb_env(tmp_path, monkeypatch):
    """Every folder wandb writes to lives under tmp_path; offline, quiet, no console capture."""
    home = tmp_path / "wandb-home"
    for var, sub in {
        "WANDB_DIR": "dir",
        "WANDB_CONFIG_DIR": "config",
        "WANDB_CACHE_DIR": "cache",
        "WANDB_DATA_DIR": "data",
        "WANDB_ARTIFACT_DIR": "artifacts",
    }.items():
        monkeypatch.setenv(var, str(home / sub))
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_CONSOLE", "off")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("NETRC", str(home / "no-netrc"))
    yield home
    import wandb

    wandb.teardown()  # stop wandb's service process before the folders go


def wandb_records(path: Path):
    """Each protobuf Record of a run's .wandb file (a LevelDB-style log after a 7-byte header)."""
    from wandb.proto import wandb_internal_pb2 as pb

    data, block = path.read_bytes(), 32768
    assert data[:4] == b":W&B"
    pos, buf = 7, b""
    while pos + 7 <= len(data):
        if block - pos % block < 7:  # a block's tail too short for a header is padding
            pos += block - pos % block
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        buf += data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):  # a full record, or the last piece of one
            record = pb.Record()
            record.ParseFromString(buf)
            yield record
            buf = b""


def by_type(path: Path) -> dict[str, list]:
    out: dict[str, list] = {}
    for record in wandb_records(path):
        out.setdefault(record.WhichOneof("record_type"), []).append(record)
    return out


def key(item) -> str:
    return item.key or "/".join(item.nested_key)


def test_an_offline_run_logs_config_scalars_media_summary_and_weights(wandb_env, tmp_path):
    out = tmp_path / "out"
    assert main(["run", *RECIPE, WANDB_TRACKING, f"output.dir={out}"]) == 0
    (run_dir,) = out.iterdir()
    (wandb_dir,) = (run_dir / "wandb").glob("offline-run-*")
    run_id = wandb_dir.name.rsplit("-", 1)[1]
    assert load_checkpoint(run_dir / CHECKPOINT_NAME).tracker_state == {"wandb_run_id": run_id}

    media = wandb_dir / "files" / "media"
    images = sorted(p.name.split("_")[0] for p in (media / "images").glob("*.png"))
    assert images == ["loss", "reconstruction"]
    (video,) = (media / "videos").glob("forecast_*.mp4")
    assert video.read_bytes() == (run_dir / "forecast.mp4").read_bytes()

    records = by_type(wandb_dir / f"run-{run_id}.wandb")
    (run_record,) = records["run"]
    assert run_record.run.project == "test" and run_record.run.display_name == run_dir.name
    assert list(run_record.run.tags) == ["ci"]
    config = {item.key: json.loads(item.value_json) for item in run_record.run.config.update}
    assert config["data"]["dataset"]["name"] == "circle" and config["train"]["epochs"] == 2
    history_keys = {key(i) for r in records["history"] for i in r.history.item}
    assert {"jepa/train_loss", "jepa/val_loss", "decoder/val_recon_mse"} <= history_keys
    summary = {
        key(u): json.loads(u.value_json) for r in records["summary"] for u in r.summary.update
    }
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert summary["reconstruction_mse"] == pytest.approx(metrics["reconstruction_mse"])
    assert summary["embedding/rankme"] == pytest.approx(metrics["embedding"]["rankme"])
    (artifact,) = [r.artifact for r in records["artifact"]]
    assert (artifact.name, artifact.type) == (f"model-{run_id}", "model")
    assert sorted(c.path for c in artifact.manifest.contents) == [
        "config.yaml",
        "models/decoder.pt",
        "models/encoder.pt",
        "models/predictor.pt",
        "models/target_encoder.pt",
    ]

    # a resumed run continues the same W&B run: its id comes back from the checkpoint
    resumed = tmp_path / "resumed"
    shutil.copytree(run_dir, resumed)
    (resumed / "metrics.json").unlink()
    assert main(["run", "--resume", str(resumed)]) == 0
    ids = {p.name.rsplit("-", 1)[1] for p in (resumed / "wandb").glob("offline-run-*")}
    assert ids == {run_id} and len(list((resumed / "wandb").glob("offline-run-*"))) == 2


def test_a_wandb_failure_is_a_warning_not_a_crash(wandb_env, tmp_path, monkeypatch, caplog):
    """Online mode with the server unreachable: the tracker gives up, the run would go on."""
    from jepa_builtins.wandb_tracker import WandbParams, make_wandb_tracker

    from jepa_framework.config.recipe import load_recipe
    from jepa_framework.pipeline.run import Run

    monkeypatch.setenv("WANDB_MODE", "online")
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    monkeypatch.setenv("WANDB_BASE_URL", "http://127.0.0.1:9")  # nothing listens on port 9
    monkeypatch.setenv("WANDB_INIT_TIMEOUT", "1")
    recipe, _ = load_recipe("circle")
    run = Run(recipe, tmp_path)
    tracker = make_wandb_tracker(WandbParams(mode="online"))
    with caplog.at_level(logging.WARNING, logger="jepa_framework"):
        tracker.start(run)
        tracker.log({"jepa/loss": 1.0}, step=1)
        tracker.finish(run, {"reconstruction_mse": 0.1})
    assert "wandb: could not start a run" in caplog.text
    assert "wandb_run_id" not in run.state


def _python(code: str, tmp_path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "WANDB_MODE": "offline"},
        timeout=120,
    )


def test_a_run_without_the_wandb_tracker_never_imports_wandb(tmp_path):
    out = tmp_path / "out"
    proc = _python(
        f"""
        import sys
        from jepa_framework.commands.cli import main
        assert main({["run", *RECIPE, f"output.dir={out}"]!r}) == 0
        assert main(["list", "trackers"]) == 0
        print("imported:", "wandb" in sys.modules)
        """,
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "wandb " in proc.stdout and "imported: False" in proc.stdout


def test_without_wandb_installed_the_recipe_fails_before_any_work(tmp_path):
    out = tmp_path / "out"
    proc = _python(
        f"""
        import sys
        sys.modules["wandb"] = None  # `import wandb` now raises ImportError, as if uninstalled
        from jepa_framework.commands.cli import main
        from jepa_builtins.wandb_tracker import WandbParams, make_wandb_tracker
        make_wandb_tracker(WandbParams(mode="disabled")).start(None)  # needs no wandb
        sys.exit(main({["run", *RECIPE, WANDB_TRACKING, f"output.dir={out}"]!r}))
        """,
        tmp_path,
    )
    assert proc.returncode == 2, proc.stderr
    assert "uv sync --extra wandb" in proc.stderr
    assert "pip install '.[wandb]'" in proc.stderr
    assert not out.exists()
