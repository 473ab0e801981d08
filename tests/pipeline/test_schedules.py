"""Learning-rate and EMA schedules on inputs with known answers."""

from __future__ import annotations

import pytest

from jepa_framework.pipeline.schedules import ema_decay, warmup_cosine


def test_warmup_then_cosine_to_zero():
    assert warmup_cosine(0, 100, 10) == pytest.approx(0.1)
    assert warmup_cosine(9, 100, 10) == pytest.approx(1.0)
    assert warmup_cosine(10, 100, 10) == pytest.approx(1.0)
    assert warmup_cosine(55, 100, 10) == pytest.approx(0.5)
    assert warmup_cosine(100, 100, 10) == pytest.approx(0.0)


def test_ema_decay_follows_a_cosine_from_start_to_end():
    assert ema_decay(0, 100, 0.99, 1.0) == pytest.approx(0.99)
    assert ema_decay(50, 100, 0.99, 1.0) == pytest.approx(0.995)
    assert ema_decay(100, 100, 0.99, 1.0) == pytest.approx(1.0)
