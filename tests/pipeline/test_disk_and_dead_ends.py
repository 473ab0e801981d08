"""A full disk and a vanishing run folder, as messages: every artifact is written atomically (no
partial or 0-byte file, ever), ffmpeg's failures are caught, a full disk at the start leaves no
half-made folder, and the dead ends (a finished run without models/, a folder deleted under a
running run, a checkpoint of random bytes) say what happened and, where possible, recover."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import subprocess
import uuid
from pathlib import Path

import numpy as np
import pytest
import torch

from jepa_framework import hookimpl
from jepa_framework.commands.cli import main
from jepa_framework.core.errors import JepaError
from jepa_framework.pipeline.checkpoint import CHECKPOINT_NAME, write_file
from jepa_framework.testing import OSCILLATOR_NETWORKS, plugin_host

from .test_faults import QUICK, Payload, _error, _run

#: the disks below are sized for a run of a few hundred weights (a checkpoint of a few KB): a
#: linear frame encoder, the parameter-free oscillator and a linear decoder
NARROW = [*QUICK, *OSCILLATOR_NETWORKS]

ARTIFACTS = ("config.yaml", "metrics.json", "reconstruction.png", "loss_curves.png")


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """One finished tiny run, copied by each test that damages it."""
    return _run(tmp_path_factory.mktemp("finished"))


@pytest.fixture
def copy_of(finished, tmp_path):
    run_dir = tmp_path / "runs" / finished.name
    shutil.copytree(finished, run_dir)
    return run_dir


def _no_partial_files(folder: Path) -> None:
    """Nothing half-written anywhere below ``folder``: no temporaries, no empty files."""
    for path in folder.rglob("*"):
        assert ".tmp" not in path.name, path
        assert path.is_dir() or path.stat().st_size > 0 or path.name == "run.log", path


def _writing_fails(monkeypatch, name: str, after_bytes: int = 0) -> None:
    """A full disk for the temporary file of ``name`` only: reserving its space fails (the
    first ``after_bytes`` bytes are written first, as a disk that fills mid-write leaves)."""
    import jepa_framework.pipeline.checkpoint as checkpoint

    real = checkpoint._reserve

    def reserve(fd: int, size: int) -> None:
        if os.readlink(f"/proc/self/fd/{fd}").rsplit("/", 1)[-1].startswith(f".{name}-"):
            os.write(fd, b"x" * after_bytes)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(fd, size)

    monkeypatch.setattr(checkpoint, "_reserve", reserve)


# --- a real small disk -------------------------------------------------------------------------


@contextlib.contextmanager
def _tmpfs(folder: Path, size: str):
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
        capture_output=True,
    )
    if done.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def _fill(folder: Path, leave: int = 0) -> Path:
    """Fill the disk of ``folder`` up to ``leave`` free bytes with one file."""
    filler = folder / "filler"
    free = shutil.disk_usage(folder).free - leave
    with open(filler, "wb") as f, contextlib.suppress(OSError):
        f.write(b"\0" * max(free, 0))
    return filler


def test_ffmpeg_on_a_full_disk_raises_and_leaves_no_partial_video(tmp_path):
    from jepa_framework.datasets.render import write_video

    frames = np.random.default_rng(0).integers(0, 255, (12, 64, 128, 3), dtype=np.uint8)
    with _tmpfs(tmp_path / "disk", "8k") as disk:
        with pytest.raises(OSError) as raised:  # ffmpeg itself left a partial file here
            write_video(frames, disk / "raw.mp4", fps=10)
        assert raised.value.errno == errno.ENOSPC
        (disk / "raw.mp4").unlink()
        from jepa_framework.pipeline.artifacts import writing

        full = pytest.raises(JepaError, match="forecast.mp4.*No space left on device")
        with full, writing(disk / "forecast.mp4") as tmp:
            write_video(frames, tmp, fps=10)
        assert list(disk.iterdir()) == []


def test_a_full_disk_at_the_start_leaves_no_half_made_run_folder(tmp_path, capsys):
    with _tmpfs(tmp_path / "disk", "256k") as disk:
        earlier = disk / "earlier_run"
        earlier.mkdir()
        (earlier / "config.yaml").write_text("kept: true\n")
        filler = _fill(disk)
        err = _error(capsys, ["run", "circle", *NARROW, f"output.dir={disk}"])
        assert "config.yaml" in err and "disk is full" in err and "removed again" in err
        assert sorted(p.name for p in disk.iterdir()) == ["earlier_run", "filler"]
        assert (earlier / "config.yaml").read_text() == "kept: true\n"  # nothing earlier lost
        filler.unlink()
        assert main(["run", "circle", *NARROW, f"output.dir={disk}"]) == 0


def test_a_disk_filling_during_training_keeps_whole_files_and_resumes(tmp_path, capsys):
    with _tmpfs(tmp_path / "disk", "1m") as disk:
        filler = _fill(disk, leave=40 * 1024)  # config, log, scalars, one checkpoint: no more
        err = _error(capsys, ["run", "circle", *NARROW, f"output.dir={disk}"])
        assert "disk is full" in err and "Nothing was left half-written" in err
        (run_dir,) = (p for p in disk.iterdir() if p.is_dir())
        _no_partial_files(run_dir)
        filler.unlink()  # space freed: the run resumes and finishes
        assert main(["run", "--resume", str(run_dir)]) == 0
        assert (run_dir / "metrics.json").exists() and (run_dir / "forecast.mp4").exists()
        _no_partial_files(run_dir)


# --- every artifact: atomic and checked --------------------------------------------------------


FAKE_FFMPEG = """#!/bin/sh
for last; do :; done
head -c 4096 /dev/zero > "$last"
cat > /dev/null
echo "[out#0/mp4] Error writing trailer: No space left on device" >&2
exit 228
"""


def test_ffmpeg_failing_is_an_error_naming_forecast_mp4_and_resumable(
    tmp_path, capsys, monkeypatch
):
    import imageio_ffmpeg

    fake = tmp_path / "ffmpeg"
    fake.write_text(FAKE_FFMPEG)
    fake.chmod(0o755)
    monkeypatch.setattr(imageio_ffmpeg, "get_ffmpeg_exe", lambda: str(fake))
    out = tmp_path / "out"
    err = _error(capsys, ["run", "circle", *QUICK, f"output.dir={out}"])
    (run_dir,) = out.iterdir()
    assert "forecast.mp4" in err and "No space left on device" in err
    assert f"jepa run --resume {run_dir}" in err
    assert not (run_dir / "forecast.mp4").exists()  # not the 4 KB ffmpeg left
    _no_partial_files(run_dir)
    monkeypatch.undo()
    assert main(["run", "--resume", str(run_dir)]) == 0
    assert (run_dir / "forecast.mp4").stat().st_size > 0


@pytest.mark.parametrize("name", ["reconstruction", "loss_curves", "metrics", "decoder"])
def test_a_full_disk_on_any_artifact_is_an_error_and_leaves_no_partial_file(
    tmp_path, capsys, monkeypatch, name
):
    _writing_fails(monkeypatch, name, after_bytes=100)
    if name in ("reconstruction", "loss_curves"):  # figures are written by matplotlib
        import jepa_framework.datasets.render as render

        real = render._save_figure

        def save(plt, fig, path):
            if path.name.startswith(f".{name}-"):
                path.write_bytes(b"\x89PNG half")
                plt.close(fig)
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            real(plt, fig, path)

        monkeypatch.setattr(render, "_save_figure", save)
    err = _error(capsys, ["run", "circle", *QUICK, f"output.dir={tmp_path}"])
    (run_dir,) = tmp_path.iterdir()
    assert name in err and "disk is full" in err and "half-written" in err
    if name in ("metrics", "decoder"):  # their size is known before writing
        assert "it needs" in err
    assert not list(run_dir.rglob(f"{name}.*"))
    _no_partial_files(run_dir)
    monkeypatch.undo()
    assert main(["run", "--resume", str(run_dir)]) == 0
    assert (run_dir / "metrics.json").exists()


def test_artifacts_are_written_with_ordinary_permissions(finished):
    umask = os.umask(0)
    os.umask(umask)
    for name in (*ARTIFACTS, "forecast.mp4", CHECKPOINT_NAME, "models/encoder.pt"):
        assert stat.S_IMODE((finished / name).stat().st_mode) == 0o666 & ~umask, name


def test_write_file_replaces_whole_or_not_at_all(tmp_path, monkeypatch):
    path = tmp_path / "config.yaml"
    path.write_text("old\n")
    _writing_fails(monkeypatch, "config", after_bytes=3)
    with pytest.raises(JepaError, match="disk is full.*it needs 10 bytes"):
        write_file(path, b"0123456789")
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["config.yaml"]
    monkeypatch.undo()
    write_file(path, b"new\n")
    assert path.read_text() == "new\n"


# --- dead ends ---------------------------------------------------------------------------------


def _weights(run_dir: Path) -> dict[str, dict[str, torch.Tensor]]:
    return {
        p.stem: torch.load(p, weights_only=True) for p in sorted((run_dir / "models").iterdir())
    }


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        a[k].keys() == b[k].keys() and all(torch.equal(a[k][n], b[k][n]) for n in a[k]) for k in a
    )


def test_resume_restores_the_deleted_models_of_a_finished_run(copy_of, capsys):
    before = _weights(copy_of)
    shutil.rmtree(copy_of / "models")
    capsys.readouterr()
    assert main(["run", "--resume", str(copy_of)]) == 0
    assert "nothing to do" not in capsys.readouterr().out
    assert _same(_weights(copy_of), before)
    assert main(["run", "--resume", str(copy_of)]) == 0  # now there is nothing to do
    assert "nothing to do" in capsys.readouterr().out


def test_opening_a_finished_run_restores_a_missing_model_file(copy_of):
    from jepa_framework.api import load_run

    before = _weights(copy_of)
    (copy_of / "models" / "predictor.pt").unlink()
    run = load_run(copy_of, device="cpu")
    assert _same(_weights(copy_of), before)
    state = run.model.predictor.state_dict()
    assert all(torch.equal(state[k], before["predictor"][k]) for k in state)


def test_a_finished_run_without_models_or_checkpoint_says_what_to_do(copy_of, capsys):
    shutil.rmtree(copy_of / "models")
    (copy_of / CHECKPOINT_NAME).unlink()
    err = _error(capsys, ["eval", str(copy_of)])
    assert "finished" in err and "did not finish" not in err
    assert f"jepa run {copy_of / 'config.yaml'}" in err


class DeletesTheRunFolder:
    """``rm -r`` of the run folder, in full or racing the run (some files only), after jepa
    epoch 1."""

    def __init__(self, names: tuple[str, ...] = ()) -> None:
        self.names = names

    @hookimpl
    def on_epoch_end(self, run, phase, epoch, metrics):
        if (phase, epoch) != ("jepa", 1):
            return
        if not self.names:
            shutil.rmtree(run.dir)
        for name in self.names:
            (run.dir / name).unlink()


def test_a_run_folder_deleted_during_training_is_an_error_that_promises_no_resume(tmp_path, capsys):
    with plugin_host(DeletesTheRunFolder()):
        err = _error(capsys, ["run", "circle", *QUICK, f"output.dir={tmp_path}"])
    assert "no longer exists" in err and "deleted while the run was training" in err
    assert "--resume" not in err and "kept" not in err
    assert list(tmp_path.iterdir()) == []


def test_files_deleted_under_a_running_run_stop_it_naming_them(tmp_path, capsys):
    lost = ("config.yaml", "run.log", "scalars.jsonl")
    with plugin_host(DeletesTheRunFolder(lost)):
        capsys.readouterr()
        assert main(["run", "circle", *QUICK, f"output.dir={tmp_path}"]) == 2
    out, err = capsys.readouterr()
    assert "run finished" not in out
    assert all(name in err for name in lost) and "deleted" in err


def test_a_folder_deleted_while_a_checkpoint_is_written_is_reported(tmp_path, capsys, monkeypatch):
    import jepa_framework.pipeline.checkpoint as checkpoint

    real = checkpoint._reserve

    def reserve(fd: int, size: int) -> None:
        target = Path(os.readlink(f"/proc/self/fd/{fd}"))
        if target.name.startswith(".checkpoint-"):
            shutil.rmtree(target.parent)  # the rm races the write
        real(fd, size)

    monkeypatch.setattr(checkpoint, "_reserve", reserve)
    err = _error(capsys, ["run", "circle", *QUICK, f"output.dir={tmp_path}"])
    assert "no longer exists" in err and CHECKPOINT_NAME in err and "--resume" not in err


def test_files_deleted_after_training_stop_the_run_before_it_reports_success(
    tmp_path, capsys, monkeypatch
):
    import jepa_framework.jobs.runner as runner

    real = runner.write_artifacts

    def write_then_lose(recipe, assembly, trainer, run_dir):
        metrics = real(recipe, assembly, trainer, run_dir)
        (run_dir / "run.log").unlink()
        return metrics

    monkeypatch.setattr(runner, "write_artifacts", write_then_lose)
    capsys.readouterr()
    assert main(["run", "circle", *QUICK, f"output.dir={tmp_path}"]) == 2
    out, err = capsys.readouterr()
    assert "run finished" not in out and "run.log" in err
    (run_dir,) = tmp_path.iterdir()
    assert not (run_dir / "metrics.json").exists()


@pytest.mark.parametrize("damage", ["random bytes", "pickle payload"])
def test_a_random_bytes_checkpoint_is_called_damaged_not_python_objects(copy_of, capsys, damage):
    (copy_of / "metrics.json").unlink()  # interrupted after its last checkpoint
    path = copy_of / CHECKPOINT_NAME
    if damage == "random bytes":
        path.write_bytes(np.random.default_rng(1).bytes(4096))
    else:
        torch.save({"payload": Payload(copy_of / f"pwned-{uuid.uuid4().hex}")}, path)
    err = _error(capsys, ["run", "--resume", str(copy_of)])
    assert str(path) in err
    if damage == "random bytes":
        assert "damaged or not a checkpoint" in err and "Python objects" not in err
    else:
        assert "Python objects" in err


def test_jepa_eval_of_a_finished_run_without_models_restores_them_and_evaluates(copy_of):
    shutil.rmtree(copy_of / "models")
    assert main(["eval", str(copy_of)]) == 0
    for name in ("eval.json", "forecast_eval.png", "probe_r2.png", "models/decoder.pt"):
        assert (copy_of / name).stat().st_size > 0, name
    _no_partial_files(copy_of)
