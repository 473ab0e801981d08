"""Data at scale: memory of memory-mapped datasets, mmap vs in-memory speed, and a cost curve.

    uv run python benchmarks/bench_data_scale.py            # about 15 minutes on 2 CPU cores
    uv run python benchmarks/bench_data_scale.py --sizes 10000,30000 --image-sizes 32

Every measurement runs ``pendulum_image`` (grayscale unless stated) in a fresh subprocess with
its own empty dataset cache under ``--cache-dir`` (deleted afterwards), so a point's generation
is cold and its memory is its own. A point builds the dataset exactly as ``jepa run`` does
(chunked generation into the on-disk cache, then ``storage: auto``), then trains the recipe's
JEPA for ``--steps`` optimizer steps on batches gathered by ``Clips`` (the Trainer's batches)
and reports:

- generation: wall time to a ready dataset from a cold cache (simulate, render, write, fsync);
- peak RssAnon: the most anonymous memory the process held, sampled every 10 ms from
  ``/proc/self/status`` (pages of the mapped cache file are the kernel's to drop, not counted);
- peak RSS: ``VmHWM``, which does count mapped file pages the process touched;
- samples/s: training clips per second of the median step (gather, forward, backward, update;
  after 5 warm-up steps): the median resists bursts of other processes on a shared machine.

Also measured: training throughput reading a set that fits in memory through the memory map vs
from RAM (one process alternates steps between the two, so both see the same load; best of
``--repeats`` processes), and the gather itself: ``np.take`` vs torch
advanced indexing on RAM and on the map. Writes benchmarks/results/data_scale.json and the
Markdown tables to benchmarks/tables/data_scale.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MiB = 2**20


class PeakMemory:
    """Peak RssAnon of this process, sampled in a thread (RssAnon itself is only current)."""

    def __init__(self, interval: float = 0.01) -> None:
        self.peak_anon_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, args=(interval,), daemon=True)
        self._thread.start()

    @staticmethod
    def status() -> dict[str, int]:
        fields = {}
        for line in Path("/proc/self/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("RssAnon", "VmHWM"):
                fields[key] = int(value.split()[0])  # KiB
        return fields

    def _sample(self, interval: float) -> None:
        while not self._stop.is_set():
            self.peak_anon_kib = max(self.peak_anon_kib, self.status()["RssAnon"])
            time.sleep(interval)

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self._thread.join()
        now = self.status()
        anon = max(self.peak_anon_kib, now["RssAnon"])
        return {"peak_anon_mib": anon / 1024, "peak_rss_mib": now["VmHWM"] / 1024}


def overrides(size: int, image_size: int, grayscale: bool, storage: str) -> list[str]:
    return [
        f"data.dataset.size={size}",
        f"data.dataset.image_size={image_size}",
        f"data.dataset.grayscale={str(grayscale).lower()}",
        f"data.dataset.storage={storage}",
        "eval.enabled=false",
        "tracking=[]",
    ]


class Stepper:
    """JEPA optimizer steps (gather, forward, backward, update) on ``Clips`` batches, each timed."""

    def __init__(self, recipe, built, dataset=None) -> None:
        import torch

        from jepa_framework.datasets.batches import Clips
        from jepa_framework.pipeline.training import JEPAObjective

        history, k = recipe.data.history, recipe.objective.rollout_steps
        dataset = dataset or built.dataset
        train_idx, _ = dataset.split(recipe.data.val_fraction, recipe.seed)
        self.batch_size = recipe.train.batch_size
        self.clips = Clips(
            dataset,
            train_idx,
            history + k,
            self.batch_size,
            built.device,
            torch.Generator().manual_seed(recipe.seed),
        )
        self.objective = JEPAObjective(built.model, built.regularizer, k).train()
        params = [p for p in built.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(params, lr=recipe.train.lr)
        self.batches = iter(())

    def step(self) -> float:
        """Seconds of one full-batch step (a new epoch starts when one runs out)."""
        while True:
            tic = time.perf_counter()
            batch = next(self.batches, None)
            if batch is not None and len(batch) == self.batch_size:
                break
            self.batches = iter(self.clips)  # a new epoch; its short last batch is skipped
        loss = self.objective(batch)[0]
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return time.perf_counter() - tic


def samples_per_s(stepper: Stepper, times: list[float], warmup: int = 5) -> float:
    """Clips per second of the median step after ``warmup``: robust to bursts of other load."""
    import statistics

    return stepper.batch_size / statistics.median(times[warmup:])


def point(args: argparse.Namespace) -> dict:
    """One measurement in this (fresh) process: build the dataset, train, report."""
    memory = PeakMemory()
    import torch

    from jepa_framework.config.recipe import load_recipe
    from jepa_framework.pipeline.assemble import assemble
    from jepa_framework.plugin.host import host

    recipe, _ = load_recipe(
        "pendulum_image",
        overrides(args.size, args.image_size, not args.rgb, args.storage),
    )
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    built = assemble(recipe, host(), trackers=False)
    ready_s = time.perf_counter() - start
    result = {
        "size": args.size,
        "image_size": args.image_size,
        "grayscale": not args.rgb,
        "storage": built.dataset.storage,
        "frames_gb": built.dataset.observations.numel() / 1e9,
        "ready_s": ready_s,
        "timings": built.dataset.timings,
    }
    if args.steps:
        stepper = Stepper(recipe, built)
        times = [stepper.step() for _ in range(5 + args.steps)]
        result["samples_per_s"] = samples_per_s(stepper, times)
    return {**result, **memory.stop()}


def compare(args: argparse.Namespace) -> dict:
    """Samples/s from RAM and from the map in one process, steps alternating between the two,
    so both see the same load; the networks are shared (only the data path differs)."""
    import torch

    from jepa_framework.config.recipe import load_recipe
    from jepa_framework.pipeline.assemble import assemble, build
    from jepa_framework.plugin.host import host

    torch.set_num_threads(args.threads)
    recipe, _ = load_recipe(
        "pendulum_image", overrides(args.size, args.image_size, not args.rgb, "memory")
    )
    built = assemble(recipe, host(), trackers=False)
    mapped_spec = load_recipe(
        "pendulum_image", overrides(args.size, args.image_size, not args.rgb, "mmap")
    )[0].data.dataset
    mapped = build(host(), mapped_spec)
    steppers = {"memory": Stepper(recipe, built), "mmap": Stepper(recipe, built, mapped)}
    assert (built.dataset.storage, mapped.storage) == ("memory", "mmap")
    times: dict[str, list[float]] = {side: [] for side in steppers}
    for _ in range(5 + args.steps):
        for side, stepper in steppers.items():
            times[side].append(stepper.step())
    return {side: samples_per_s(steppers[side], times[side]) for side in steppers}


def gather_speed(args: argparse.Namespace) -> dict:
    """Clips per second of np.take vs torch advanced indexing, from RAM and from the map."""
    import numpy as np
    import torch

    from jepa_framework.config.recipe import load_recipe
    from jepa_framework.datasets.windows import gather_windows
    from jepa_framework.pipeline.assemble import build
    from jepa_framework.plugin.host import host

    recipe, _ = load_recipe("pendulum_image", overrides(args.size, args.image_size, True, "mmap"))
    mapped = build(host(), recipe.data.dataset).observations
    sources = {"memory": torch.from_numpy(np.array(mapped.numpy())), "mmap": mapped}
    n, t = mapped.shape[:2]
    g = torch.Generator().manual_seed(0)
    length, batch, best = 5, 256, {}
    for _ in range(args.repeats * 2):
        for where, source in sources.items():
            for how in ("np.take", "torch indexing"):
                tic = time.perf_counter()
                for _ in range(50):
                    traj = torch.randint(0, n, (batch,), generator=g)
                    starts = torch.randint(0, t - length + 1, (batch,), generator=g)
                    if how == "np.take":
                        gather_windows(source, traj, starts, length)
                    else:
                        source[traj[:, None], starts[:, None] + torch.arange(length)]
                rate = 50 * batch / (time.perf_counter() - tic)
                best[f"{how}, {where}"] = max(best.get(f"{how}, {where}", 0.0), rate)
    return best


def child(args: argparse.Namespace, *extra: str) -> dict:
    """Run this script's ``--child`` mode in a fresh process; its last stdout line is JSON."""
    cmd = [sys.executable, __file__, *extra, "--cache-dir", str(args.cache_dir)]
    cmd += ["--threads", str(args.threads), "--repeats", str(args.repeats)]
    env = {**os.environ, "JEPA_CACHE_DIR": str(args.cache_dir)}
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        sys.exit(f"child {' '.join(extra)} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def clear(cache_dir: Path) -> None:
    shutil.rmtree(cache_dir, ignore_errors=True)


def run_point(args, size: int, image: int, storage: str, steps: int, rgb=False) -> dict:
    extra = ["--child", "point", "--size", str(size), "--image-size", str(image)]
    extra += ["--storage", storage, "--steps", str(steps)] + (["--rgb"] if rgb else [])
    return child(args, *extra)


def measure(args: argparse.Namespace) -> dict:
    report: dict = {"curve": [], "throughput": {}}
    # 1. the cost curve, each point cold (an empty cache), storage as `auto` picks it
    for image in args.image_sizes:
        for size in args.sizes:
            clear(args.cache_dir)
            result = run_point(args, size, image, "auto", args.steps)
            print(json.dumps(result), flush=True)
            report["curve"].append(result)
    clear(args.cache_dir)
    # 2. training from the map vs from RAM on the quick start's data (fits in memory)
    size, image = args.compare_size, args.compare_image_size
    run_point(args, size, image, "memory", 0, rgb=True)  # generate the cache once, untimed
    extra = ["--child", "compare", "--size", str(size), "--image-size", str(image), "--rgb"]
    for _ in range(args.repeats):
        result = child(args, *extra, "--steps", str(args.steps))
        print(json.dumps(result), flush=True)
        for side, rate in result.items():
            report["throughput"][side] = max(report["throughput"].get(side, 0.0), rate)
    clear(args.cache_dir)
    # 3. the gather alone
    extra = ["--child", "gather", "--size", str(args.gather_size), "--image-size", "64"]
    report["gather"] = child(args, *extra)
    clear(args.cache_dir)
    return report


def markdown(report: dict, args: argparse.Namespace) -> str:
    tp = report["throughput"]
    ratio = tp["mmap"] / tp["memory"]
    big = max(report["curve"], key=lambda r: r["size"] * r["image_size"])
    lines = [
        f"`uv run python benchmarks/bench_data_scale.py` on {report['date']}, "
        f"{report['machine']}; {report['note']}",
        "",
        f"**Targets.** `pendulum_image`, {big['size']:,} sequences x 30 frames at "
        f"{big['image_size']} px grayscale ({big['frames_gb']:.1f} GB of frames), generated and "
        f"trained {args.steps} steps: peak RssAnon **{big['peak_anon_mib'] / 1024:.2f} GiB** "
        f"(target <= 3 GB). Training from the memory map runs at **{ratio:.0%}** of the "
        f"in-memory path ({tp['mmap']:.0f} vs {tp['memory']:.0f} samples/s; "
        f"{args.compare_size:,} sequences, {args.compare_image_size} px RGB, one process "
        f"alternating steps between the two, best of {args.repeats} processes; target >= 90 %). "
        f"Torch ran on {args.threads} thread(s).",
        "",
        "**Cost curve** (grayscale, 30 frames, cold cache, `storage: auto`; generation includes "
        "writing and fsyncing the cache; samples/s from the median of "
        f"{args.steps} training steps at batch 256; peak RSS counts the pages of the cache file "
        "written or read through the map, which the kernel may drop):",
        "",
        "| sequences | image | frames | storage | generation | peak RssAnon | peak RSS | "
        "samples/s |",
        "|---:|---:|---:|---|---:|---:|---:|---:|",
    ]
    for r in report["curve"]:
        lines.append(
            f"| {r['size']:,} | {r['image_size']} px | {r['frames_gb']:.2f} GB | {r['storage']} | "
            f"{r['ready_s']:.1f} s | {r['peak_anon_mib']:,.0f} MiB | {r['peak_rss_mib']:,.0f} MiB "
            f"| {r['samples_per_s']:,.0f} |"
        )
    lines += [
        "",
        f"**Gather** ({args.gather_size:,} sequences at 64 px, 256 clips of 5 frames, "
        "clips/s, best of the runs):",
        "",
        "| | from RAM | from the map |",
        "|---|---:|---:|",
    ]
    g = report["gather"]
    for how in ("np.take", "torch indexing"):
        lines.append(f"| {how} | {g[f'{how}, memory']:,.0f} | {g[f'{how}, mmap']:,.0f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ints = lambda s: [int(v) for v in s.split(",")]  # noqa: E731
    parser.add_argument("--sizes", type=ints, default=[10_000, 30_000, 100_000])
    parser.add_argument("--image-sizes", type=ints, default=[32, 64])
    parser.add_argument("--steps", type=int, default=40, help="timed training steps per point")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--compare-size", type=int, default=10_000)
    parser.add_argument("--compare-image-size", type=int, default=32)
    parser.add_argument("--gather-size", type=int, default=10_000)
    parser.add_argument("--threads", type=int, default=1, help="torch threads per point")
    parser.add_argument("--note", default="", help="what else ran on the machine")
    parser.add_argument(
        "--cache-dir", type=Path, default=Path(f"/tmp/jepa-data-scale-{os.getpid()}")
    )
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/data_scale.json")
    parser.add_argument("--table", type=Path, default=ROOT / "benchmarks/tables/data_scale.md")
    parser.add_argument("--child", choices=["point", "gather", "compare"], help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--image-size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--storage", default="auto", help=argparse.SUPPRESS)
    parser.add_argument("--rgb", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        fn = {"point": point, "gather": gather_speed, "compare": compare}[args.child]
        print(json.dumps(fn(args)))
        return
    try:
        report = measure(args)
    finally:
        clear(args.cache_dir)
    report.update(
        date=dt.date.today().isoformat(),
        machine=f"{os.cpu_count()} CPU cores ({platform.machine()}), "
        f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB RAM",
        note=args.note or "nothing else was running.",
    )
    table = markdown(report, args)
    print("\n" + table)
    for path, text in ((args.out, json.dumps(report, indent=2)), (args.table, table)):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


if __name__ == "__main__":
    main()
