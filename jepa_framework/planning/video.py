"""plan.mp4: closed-loop episodes filmed from the environment, the agent beside its goal.

Each filmed episode is re-rendered from the true states the episode visited (the environment
is reset to each one and renders it), so the video shows what happened in the real
environment, not what the world model predicted. The goal is rendered the same way and held
beside every frame; a short white pause separates episodes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from jepa_framework.datasets.render import side_by_side, write_video
from jepa_framework.pipeline.artifacts import writing
from jepa_framework.planning.closed_loop import Episode, observe

PLAN_VIDEO_NAME = "plan.mp4"
#: white frames between two episodes
PAUSE = 3


def render_state(env: Any, state: np.ndarray, seed: int) -> np.ndarray:
    """The environment's rgb_array frame [h, w, 3] at ``state``."""
    observe(env, state, seed)
    return np.asarray(env.render(), dtype=np.uint8)


def episode_frames(env: Any, episode: Episode, index: int, seed: int) -> np.ndarray:
    """[T + 1, h', w', 3]: the agent at every visited state (left) beside its goal (right)."""
    agent = np.stack([render_state(env, s, seed) for s in episode.states])
    goal = np.broadcast_to(render_state(env, episode.task.goal, seed), agent.shape)
    outcome = "reached" if episode.success else f"missed by {episode.final_distance:.2f}"
    return side_by_side(agent, goal, captions=(f"episode {index + 1}: agent", f"goal, {outcome}"))


def write_plan_video(
    env: Any, episodes: list[Episode], run_dir: Path, seed: int, fps: int = 10
) -> Path:
    """plan.mp4 in ``run_dir`` of ``episodes`` one after the other (written atomically)."""
    clips = [episode_frames(env, e, i, seed) for i, e in enumerate(episodes)]
    pause = np.full((PAUSE, *clips[0].shape[1:]), 255, dtype=np.uint8)
    frames = np.concatenate([part for clip in clips for part in (clip, pause)][:-1])
    path = run_dir / PLAN_VIDEO_NAME
    with writing(path) as tmp:
        write_video(frames, tmp, fps)
    return path
