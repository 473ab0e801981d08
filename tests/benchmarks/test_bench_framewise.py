"""benchmarks/bench_framewise.py: both encoding paths timed on the same encoder, same latents."""

from __future__ import annotations

from jepa_framework.core.threads import one_torch_thread


def test_the_two_paths_are_timed_on_one_encoder_and_give_the_same_latents(benchmark_script):
    bench = benchmark_script("bench_framewise")
    with one_torch_thread():
        # measure() itself fails when the two paths' latents differ
        result = bench.measure(
            "pendulum_image_long", size=20, steps=1, repeats=1, overrides=("train.batch_size=6",)
        )
    assert (result["history"], result["rollout"]) == (3, 3)
    timed = ("step_framewise", "step_windows", "latents_framewise", "latents_windows")
    assert all(0 < result[key] < float("inf") for key in timed)
