"""The built-in environments: two_rooms' wall and door, and the gymnasium adapter."""

from __future__ import annotations

import numpy as np
import pytest
from jepa_builtins.envs.adapter import GymnasiumParams, make_gymnasium
from jepa_builtins.envs.two_rooms import TwoRooms, TwoRoomsParams

from jepa_framework.config.recipe import EnvironmentSpec
from jepa_framework.datasets.environments import make_environment, missing_task


def walk(env: TwoRooms, start, action, steps: int) -> np.ndarray:
    env.reset(options={"state": start})
    for _ in range(steps):
        env.step(action)
    return env.state


def test_the_wall_stops_the_agent_where_it_meets_it():
    env = TwoRooms()
    x, y = walk(env, [-0.5, 0.6], [1.0, 0.0], 10)
    assert x == pytest.approx(-env.params.wall_width / 2, abs=1e-4) and y == pytest.approx(0.6)
    assert walk(env, [0.5, -0.6], [-1.0, 0.0], 10)[0] == pytest.approx(0.05, abs=1e-4)


def test_the_door_lets_the_agent_through():
    end = walk(TwoRooms(), [-0.5, 0.0], [1.0, 0.0], 10)
    assert end == pytest.approx([0.5, 0.0], abs=1e-5)


def test_the_wall_has_no_gap_at_the_arenas_edge():
    """Sliding along the top or bottom edge never slips round the wall's end."""
    env = TwoRooms()
    assert walk(env, [-0.5, 0.99], [1.0, 1.0], 10)[0] < 0
    assert walk(env, [-0.5, -0.99], [1.0, -1.0], 10)[0] < 0


def test_a_stopped_agent_slides_along_the_wall_and_leaves_it():
    env = TwoRooms()
    walk(env, [-0.5, 0.6], [1.0, 0.0], 10)
    env.step([0.0, -1.0])  # along the wall
    assert env.state[1] == pytest.approx(0.5)
    env.step([-1.0, 0.0])  # away from it
    assert env.state[0] == pytest.approx(-0.15, abs=1e-4)


def test_the_arena_edges_clip_and_actions_are_bounded():
    env = TwoRooms(TwoRoomsParams(max_step=0.2))
    assert walk(env, [-0.5, 0.5], [-5.0, 0.0], 10)[0] == pytest.approx(-1.0)
    env.reset(options={"state": [-0.5, 0.5]})
    env.step([3.0, 0.0])  # clipped to 1: one full step
    assert env.state[0] == pytest.approx(-0.3)


def test_simulate_matches_stepping_and_tasks_cross_the_wall():
    env = TwoRooms()
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1, 1, (1, 25, 2))
    env.reset(options={"state": [-0.6, 0.3]})
    stepped = []
    for a in actions[0]:
        env.step(a)
        stepped.append(env.state)
    simulated = env.simulate(np.array([[-0.6, 0.3]]), actions)[0]
    assert np.allclose(simulated, np.stack(stepped), atol=1e-6)
    for _ in range(20):
        start, goal = env.sample_task(rng)
        assert np.sign(start[0]) == -np.sign(goal[0])
        assert env.distance(start, goal) > 0.2


def test_reset_refuses_a_start_inside_the_wall_and_renders_a_frame():
    env = TwoRooms(TwoRoomsParams(image_size=32))
    with pytest.raises(ValueError, match="not a free position"):
        env.reset(options={"state": [0.0, 0.8]})
    env.reset(seed=3)
    frame = env.render()
    assert frame.shape == (32, 32, 3) and frame.dtype == np.uint8


def test_frames_show_where_the_agent_stands_within_a_pixel():
    """Anti-aliased: a move of a sixth of a pixel changes the frame, and the agent's red
    weighted centre moves the same way, so a planner on frames can tell it is off its goal."""
    env = TwoRooms(TwoRoomsParams(image_size=32))

    def centre(x: float) -> float:
        env.reset(options={"state": [x, 0.3]})
        frame = env.render().astype(float)
        red = np.clip(frame[..., 0] - frame[..., 1], 0, None)  # the agent's pixels only
        return float((red * np.arange(32)[None]).sum() / red.sum())

    pixel = 2 / 32
    shifts = [centre(0.5 + k * pixel / 6) for k in range(4)]
    assert all(b > a for a, b in zip(shifts, shifts[1:], strict=False))
    assert shifts[-1] - shifts[0] == pytest.approx(0.5, abs=0.15)  # half a pixel, in pixels


def test_the_gymnasium_adapter_exposes_the_true_state_and_starts_where_told():
    env = make_gymnasium(GymnasiumParams(id="Pendulum-v1"))
    assert env.render_mode == "rgb_array" and env.state_names == ("s0", "s1")
    obs, _ = env.reset(seed=0, options={"state": [np.pi, 0.0]})
    assert env.state == pytest.approx([np.pi, 0.0], abs=1e-6)
    assert obs == pytest.approx([-1.0, 0.0, 0.0], abs=1e-6)  # cos, sin, velocity
    env.step(np.array([0.5], np.float32))
    assert env.state.shape == (2,)


def test_environments_come_from_the_registry_checked():
    env = make_environment(EnvironmentSpec(name="two_rooms", params=TwoRoomsParams()))
    assert not missing_task(env)
    pendulum = make_environment(EnvironmentSpec(name="gymnasium", params=GymnasiumParams()))
    assert missing_task(pendulum) == ["sample_task", "distance", "success_radius"]


def test_an_unknown_gymnasium_id_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown gymnasium environment id 'Pendulm-v1'.*Pendulum"):
        GymnasiumParams(id="Pendulm-v1")
