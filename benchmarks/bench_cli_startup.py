"""How fast `jepa --help` answers, and whether it drags in torch or wandb (it must not).

Runs ``python -m jepa_framework --help`` and the ``jepa`` console script several times each in
fresh processes and reports the median wall time against the 1.5 s target; a separate probe
checks ``sys.modules`` after ``main(["--help"])``.

    uv run python benchmarks/bench_cli_startup.py [--runs 10] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET_S = 1.5
PROBE = (
    "import sys\n"
    "from jepa_framework.commands.cli import main\n"
    "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
    "import json\n"
    "print(json.dumps({m: m in sys.modules for m in ('torch', 'wandb', 'numpy', 'matplotlib')}))"
)


def time_command(command: list[str], runs: int) -> list[float]:
    """Wall seconds of each run (after one untimed warm-up that fills the OS file cache)."""
    subprocess.run(command, capture_output=True, check=True)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return times


def imported_modules() -> dict[str, bool]:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def console_script() -> str | None:
    """The `jepa` script next to this interpreter (.venv/bin/jepa), else the one on PATH."""
    local = Path(sys.executable).parent / "jepa"
    return str(local) if local.exists() else shutil.which("jepa")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "cli_startup.json"
    )
    args = parser.parse_args()

    commands = {"python -m jepa_framework --help": [sys.executable, "-m", "jepa_framework"]}
    script = console_script()
    if script:
        commands["jepa --help"] = [script]
    rows = []
    for label, command in commands.items():
        times = time_command([*command, "--help"], args.runs)
        median = statistics.median(times)
        rows.append(
            {
                "command": label,
                "runs": len(times),
                "median_s": round(median, 4),
                "min_s": round(min(times), 4),
                "max_s": round(max(times), 4),
                "meets_target": median < TARGET_S,
            }
        )
    imported = imported_modules()

    print(f"{'command':<34} {'median':>8} {'min':>8} {'max':>8}  target < {TARGET_S} s")
    for row in rows:
        verdict = "ok" if row["meets_target"] else "TOO SLOW"
        print(
            f"{row['command']:<34} {row['median_s']:>7.3f}s {row['min_s']:>7.3f}s "
            f"{row['max_s']:>7.3f}s  {verdict}"
        )
    print("imported by --help: " + ", ".join(f"{m}={v}" for m, v in imported.items()))

    args.out.parent.mkdir(parents=True, exist_ok=True)
    result = {
        "target_s": TARGET_S,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "commands": rows,
        "imported_by_help": imported,
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    if not all(r["meets_target"] for r in rows) or imported["torch"] or imported["wandb"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
