"""Derived seeds: stable, and distinct per purpose."""

from __future__ import annotations

from jepa_framework.core.seeds import derive_seed


def test_derived_seeds_are_stable_and_distinct_per_purpose():
    assert derive_seed(0, "validation") == derive_seed(0, "validation")
    seeds = {derive_seed(s, p) for s in (0, 1) for p in ("validation", "forecast_video", "x")}
    assert len(seeds) == 6 and all(0 <= s < 2**63 for s in seeds)
