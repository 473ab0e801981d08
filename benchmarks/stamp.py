"""How a benchmark table says where it came from, what it keeps of its runs, how its cells read,
and how a new table reaches README."""

from __future__ import annotations

import datetime as dt
import shutil
import statistics
import sys
from pathlib import Path


def _relative(arg: str) -> str:
    """An absolute path inside the working directory as a relative one (no machine paths)."""
    path = Path(arg)
    if path.is_absolute() and path.is_relative_to(Path.cwd()):
        return path.relative_to(Path.cwd()).as_posix() + ("/" if arg.endswith("/") else "")
    return arg


def stamp() -> str:
    """``"`uv run python benchmarks/<script> <args>`, <UTC time>+00:00"`` for this process."""
    args = [_relative(arg) for arg in sys.argv[1:]]
    command = " ".join(["uv run python", f"benchmarks/{Path(sys.argv[0]).name}", *args])
    return f"`{command}`, {dt.datetime.now(dt.timezone.utc):%Y-%m-%dT%H:%M}+00:00"


def publish(path: Path, lines: list[str], footer: str, readme: bool = True) -> None:
    """Write a Markdown table and its footer to ``path``, print it, refresh README's copy."""
    path.write_text("\n".join([*lines, "", footer]) + "\n")
    print(path.read_text())
    if readme:
        import sync_readme  # a sibling module

        sync_readme.main([])


def keep_run(run_dir: Path, target: Path, names: tuple[str, ...], root: Path) -> Path:
    """Copy the small files ``names`` of a run into ``target`` (emptied first), with where the
    run directory is, relative to ``root`` (no machine paths)."""
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for name in names:
        if (run_dir / name).is_file():
            shutil.copy2(run_dir / name, target / name)
    (target / "run_dir.txt").write_text(str(run_dir.relative_to(root)) + "\n")
    return target


def seeds_cell(values: list[float | None], digits: int = 3) -> str:
    """Mean ± std over the seeds that have a value ("—" for none, the value alone for one)."""
    present = [v for v in values if v is not None]
    if not present:
        return "—"
    if len(present) == 1:  # one seed has no spread to show
        return f"{present[0]:.{digits}g}"
    return f"{statistics.fmean(present):.{digits}g} ± {statistics.stdev(present):.2g}"
