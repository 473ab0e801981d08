"""Logs a cluster can read: redirected output gets plain progress lines, never carriage returns."""

from __future__ import annotations

import os
import subprocess
import sys

from ..conftest import TINY


def test_redirected_progress_is_plain_lines(tmp_path):
    log_file = tmp_path / "slurm-123.out"
    with log_file.open("w") as out:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "jepa_framework",
                "run",
                "circle",
                *TINY,
                "eval.enabled=false",
                "decoder_train.solver=gradient",  # a decoder phase in steps, with its progress
                f"output.dir={tmp_path / 'out'}",
            ],  # fmt: skip
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "JEPA_PROGRESS_SECONDS": "30"},
            timeout=300,
        )
    text = log_file.read_text()
    assert proc.returncode == 0, text
    assert "\r" not in text and "\x1b[" not in text  # no tqdm redraws, no terminal escapes
    lines = text.splitlines()
    assert any(line.startswith("jepa: step") and "epoch 2/2" in line for line in lines), text
    assert any(line.startswith("decoder: step") and "epoch 1/1" in line for line in lines), text
    assert len(text) < 5000  # a few lines per epoch, not a redraw per step
