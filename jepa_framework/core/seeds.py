"""Seeds for every random choice of a run, derived from the recipe's one seed by purpose.

``derive_seed(seed, "validation")`` replaces ad-hoc offsets such as ``seed + 1``: each purpose
gets its own stream, streams of different purposes never coincide, and a new purpose cannot
shift an existing one.
"""

from __future__ import annotations

import hashlib


def derive_seed(seed: int, purpose: str) -> int:
    """A stable 63-bit seed for ``purpose`` (same inputs, same seed, on any machine)."""
    digest = hashlib.sha256(f"{seed}:{purpose}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1
