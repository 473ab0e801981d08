"""Where the cells of a sweep run: in this process one after another, or as submitit jobs.

``--launcher slurm`` submits each cell as a Slurm job (a job array) through submitit, with the
partition, time limit, GPUs and CPUs from the command line; ``--launcher local`` runs the same
jobs as local processes with submitit's ``LocalExecutor`` (all at once), which is how the cluster
path is tested on a laptop. submitit is the optional ``cluster`` extra, imported only here.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs

from jepa_framework.core.errors import JepaError

log = logging.getLogger("jepa_framework")

LAUNCHERS = ("inline", "local", "slurm")
JOBS_FILE = "jobs.json"
INSTALL_HINT = (
    "--launcher {launcher} needs the optional 'cluster' extra (submitit), which is not installed: "
    "run `uv sync --extra cluster` in a checkout, or `pip install '.[cluster]'` from one"
)

#: one cell: (name, function, args) -> the function is run with args where the launcher decides
Task = tuple[str, Callable[..., Any], tuple[Any, ...]]


def parse_time(text: str) -> int:
    """Slurm time limit -> minutes: ``90``, ``90:00`` (min:s), ``1:30:00``, ``1-12``."""
    m = re.fullmatch(r"(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?", text.strip())
    if not m:
        raise JepaError(
            f"--time '{text}' is not a Slurm time limit: use minutes (90), H:MM:SS (1:30:00) "
            f"or D-HH:MM:SS (1-12:00:00)."
        )
    days, a, b, c = (int(g) if g is not None else None for g in m.groups())
    if days is not None:  # D-H, D-H:M, D-H:M:S
        seconds = days * 86400 + a * 3600 + (b or 0) * 60 + (c or 0)
    elif c is not None:  # H:M:S
        seconds = a * 3600 + b * 60 + c
    elif b is not None:  # M:S
        seconds = a * 60 + b
    else:  # M
        seconds = a * 60
    if seconds <= 0:
        raise JepaError(f"--time '{text}' must be longer than zero.")
    return -(-seconds // 60)


@attrs.frozen
class JobOptions:
    """Resources of each cell's job; ``None`` leaves the cluster's default."""

    partition: str | None = None
    time_min: int | None = None
    gpus: int | None = None
    cpus: int | None = None


def check_options(launcher: str, options: JobOptions, detach: bool) -> None:
    """Flags that mean nothing for the chosen launcher are errors, not silently ignored."""
    if launcher not in LAUNCHERS:
        raise JepaError(f"--launcher '{launcher}' is unknown; use one of {', '.join(LAUNCHERS)}.")
    if launcher == "inline":
        given = [f"--{f.name.replace('_min', '')}" for f in attrs.fields(JobOptions)]
        given = [flag for flag, v in zip(given, attrs.astuple(options), strict=True) if v]
        if detach:
            given.append("--detach")
        if given:
            raise JepaError(
                f"{', '.join(given)} apply to jobs; add --launcher slurm (or --launcher local to "
                f"try the jobs on this machine)."
            )
    if launcher == "local" and options.partition:
        raise JepaError("--partition applies to --launcher slurm only.")
    if launcher == "slurm" and shutil.which("sbatch") is None:
        raise JepaError(
            "--launcher slurm needs Slurm's sbatch, which is not on PATH: run the sweep on a "
            "cluster's login node, or use --launcher local to run the same jobs here."
        )


def run_inline(tasks: Sequence[Task]) -> dict[str, str | None]:
    """Each task in turn in this process; a user-facing error is recorded and the sweep goes on."""
    errors: dict[str, str | None] = {}
    for i, (name, function, args) in enumerate(tasks, 1):
        log.info("sweep run %d/%d: %s", i, len(tasks), name)
        try:
            function(*args)
        except JepaError as exc:
            log.error("sweep run %s failed: %s", name, exc)
            errors[name] = str(exc)
        else:
            errors[name] = None
    return errors


def submit(
    tasks: Sequence[Task], launcher: str, options: JobOptions, folder: Path, wait: bool
) -> dict[str, str | None] | None:
    """Submit one job per task; with ``wait``, block until all end and return their errors."""
    try:
        import submitit
    except ImportError:
        raise JepaError(INSTALL_HINT.format(launcher=launcher) + ".") from None
    executor = submitit.AutoExecutor(folder=folder / "%j", cluster=launcher)
    executor.update_parameters(
        name=f"jepa-{folder.parent.name}",
        timeout_min=options.time_min,
        gpus_per_node=options.gpus,
        cpus_per_task=options.cpus,
        slurm_partition=options.partition,
    )
    jobs: list[Any] = []
    try:
        if launcher == "slurm":  # one job array for the whole grid
            with executor.batch():
                jobs = [executor.submit(function, *args) for _, function, args in tasks]
        else:
            jobs = [executor.submit(function, *args) for _, function, args in tasks]
    except Exception as exc:  # sbatch refused (partition, account, limits): say what it said
        raise JepaError(f"submitting the sweep's jobs failed: {exc}") from None
    names = [name for name, _, _ in tasks]
    record = [{"name": n, "job_id": job.job_id} for n, job in zip(names, jobs, strict=True)]
    (folder / JOBS_FILE).write_text(json.dumps(record, indent=2) + "\n")
    for entry in record:
        log.info("submitted %s as %s job %s", entry["name"], launcher, entry["job_id"])
    if not wait:
        return None
    errors: dict[str, str | None] = {}
    for name, job in zip(names, jobs, strict=True):
        try:
            job.result()
        except Exception as exc:  # the job's own traceback ends with the error it raised
            lines = [line for line in str(exc).splitlines() if line.strip()]
            errors[name] = lines[-1] if lines else type(exc).__name__
            log.error("sweep job %s (%s) failed: %s", name, job.job_id, errors[name])
        else:
            errors[name] = None
    return errors
