"""Privileged scripted expert for discrete ``CarRacing-v3`` (``continuous=False``).

The controller reads the track centreline (``env.unwrapped.track``) and the car's body
state, which the learner never sees, and plays one of the 5 discrete actions:
0 noop, 1 steer right, 2 steer left, 3 gas, 4 brake (gymnasium 1.4.0 source:
``steer(-0.6 * (a == 1) + 0.6 * (a == 2))``, ``gas(0.2 * (a == 3))``, ``brake(0.8 * (a == 4))``).

Only one control can be pressed per step, and what is not pressed is released: the
front wheels spring back towards straight at up to 0.06 rad per step, and the gas
drops to zero at once (it then climbs back by 0.1 per step). So the controller works
in two layers:

* steering: pure pursuit on a point a speed-dependent distance ahead along a
  minimum-curvature racing line (computed once per track, within the road) gives a
  desired wheel angle; we press left/right only when releasing the wheel would leave
  it too far from that angle (a one-step model of the steering motor decides); an
  edge guard adds steering when the car is about to run off the road;
* speed: when the wheel can be released, we gas, coast or brake to follow a speed
  profile: the highest speed from which the car can still brake down to each upcoming
  corner's cornering speed (``sqrt(lateral_accel / curvature)``).

The car is power-limited (speed grows like the square root of the time spent on the
gas, and nothing but braking slows it), so the time budget of 1000 steps is won by
pressing gas as often as possible and braking as little as possible: the racing line
lowers the peak curvature, which is what lets the car keep its speed through bends.
Measured returns are in ``notes/expert_carracing.md``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import gymnasium as gym
import numpy as np

from lfo.demonstrations.experts.base import ScriptedExpert
from lfo.envs.privileged import TRACK_HALF_WIDTH, centreline

NOOP, RIGHT, LEFT, GAS, BRAKE = 0, 1, 2, 3, 4

#: simulator constants (gymnasium/envs/box2d/car_racing.py and car_dynamics.py, 1.4.0)
_DT = 1.0 / 50.0  # FPS = 50
_STEER_TARGET = 0.6  # |steer| commanded by actions 1 and 2
_STEER_LIMIT = 0.4  # revolute joint limits of the front wheels (+/-0.4 rad)
_STEER_MAX_RATE = 3.0  # rad/s: motorSpeed = sign * min(50 * |error|, 3)
_WHEELBASE = 162 * 0.02  # front wheels at y=+80, rear at y=-82, SIZE=0.02
_TRACK_HALF_WIDTH = TRACK_HALF_WIDTH  # TRACK_WIDTH = 40 / SCALE: centreline to road edge


@dataclass(frozen=True)
class CarRacingControllerConfig:
    """Tuning of the pursuit + speed-profile controller (units: metres-ish world units, s)."""

    lookahead_min: float = 6.0
    """Shortest pursuit distance along the track, used at standstill."""
    lookahead_time: float = 0.25
    """Extra pursuit distance per unit of speed (seconds of travel)."""
    steer_gain: float = 1.2
    """Multiplies the kinematic pure-pursuit wheel angle (tyres slip, so >1 can help)."""
    edge_guard_time: float = 0.2
    """The edge guard looks at where the car will be this many seconds ahead."""
    edge_guard_gain: float = 0.2
    """Extra wheel angle (rad) per unit that the predicted position lies beyond the
    road edge (minus a car half-width): pure pursuit cuts inside the line on fast bends."""
    steer_tolerance: float = 0.03
    """Release the wheel (and use the step for speed) if that leaves it this close (rad)."""
    min_steer_speed: float = 5.0
    """Below this speed the car only accelerates (steering a still car does nothing)."""
    max_speed: float = 120.0
    """Speed cap on straights."""
    lateral_accel: float = 220.0
    """Cornering limit: corner speed = sqrt(lateral_accel / curvature)."""
    brake_decel: float = 100.0
    """Deceleration assumed when planning braking before a corner."""
    speed_margin: float = 2.0
    """Dead band around the planned speed where the car coasts."""
    horizon: float = 150.0
    """How far ahead (along the track) corners are considered."""
    curvature_window: int = 3
    """Half-width, in track points, of the moving maximum taken over the curvature."""
    edge_margin: float = 2.0
    """Racing line keeps this far inside the road edge (the car is ~2.4 wide)."""
    search_back: int = 5
    """Track points behind the last nearest index searched when re-localising."""
    search_ahead: int = 40
    """Track points ahead of the last nearest index searched when re-localising."""


def left_normals(xy: np.ndarray) -> np.ndarray:
    """Unit normals pointing to the left of the direction of travel, per point of a loop."""
    tangent = np.roll(xy, -1, axis=0) - np.roll(xy, 1, axis=0)  # central difference
    tangent /= np.linalg.norm(tangent, axis=1, keepdims=True)
    return np.stack([-tangent[:, 1], tangent[:, 0]], axis=1)


def curvature_cost(path: np.ndarray) -> tuple[float, np.ndarray]:
    """Integrated squared curvature of a closed path and its gradient w.r.t. the points.

    The cost is ``sum_i kappa_i^2 * l_i`` (curvature as in :func:`path_curvature`,
    ``l_i`` the segment lengths); the gradient is a hand-derived backward pass.
    """
    seg = np.roll(path, -1, axis=0) - path  # seg[i] = p[i+1] - p[i]
    sq = np.sum(seg * seg, axis=1)
    length = np.sqrt(sq)
    heading = np.arctan2(seg[:, 1], seg[:, 0])
    turn = heading - np.roll(heading, 1)  # heading change at point i
    turn = (turn + np.pi) % (2 * np.pi) - np.pi
    mean_len = 0.5 * (length + np.roll(length, 1))
    kappa = turn / mean_len
    cost = float(np.sum(kappa**2 * length))
    # backward pass: cost -> kappa -> (turn, mean_len, length) -> heading, length -> seg -> path
    g_turn = 2.0 * kappa * length / mean_len
    g_mean = -2.0 * kappa**2 * length / mean_len
    g_heading = g_turn - np.roll(g_turn, -1)
    g_length = kappa**2 + 0.5 * g_mean + 0.5 * np.roll(g_mean, -1)
    g_seg = (
        g_heading[:, None] * np.stack([-seg[:, 1], seg[:, 0]], axis=1) / sq[:, None]
        + g_length[:, None] * seg / length[:, None]
    )
    return cost, np.roll(g_seg, 1, axis=0) - g_seg


def racing_line(
    xy: np.ndarray, half_width: float, steps: int = 300, lr: float = 0.05
) -> np.ndarray:
    """A smooth closed path that stays within ``half_width`` of the centreline.

    Each point may only slide along its centreline normal, by ``half_width * tanh(u)``;
    Adam on ``u`` minimises the integrated squared curvature of the path (the classic
    minimum-curvature racing line). It cuts corners from outside to apex, which lowers
    the peak curvature and so raises the speed the car can corner at.
    """
    normals = left_normals(xy)
    u = np.zeros(len(xy))
    m = np.zeros_like(u)
    v = np.zeros_like(u)
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    for t in range(1, steps + 1):
        th = np.tanh(u)
        _, g_path = curvature_cost(xy + (half_width * th)[:, None] * normals)
        g = np.sum(g_path * normals, axis=1) * half_width * (1.0 - th**2)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        u -= lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps)
    return xy + (half_width * np.tanh(u))[:, None] * normals


def path_curvature(path: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unsigned curvature at each point of a closed path, and each segment's length.

    Curvature at point i is the heading change from segment i-1 to segment i divided by
    the mean length of those two segments; indices wrap around the loop.
    """
    seg = np.roll(path, -1, axis=0) - path
    length = np.linalg.norm(seg, axis=1)
    heading = np.arctan2(seg[:, 1], seg[:, 0])
    dh = heading - np.roll(heading, 1)
    dh = (dh + np.pi) % (2 * np.pi) - np.pi
    return np.abs(dh) / (0.5 * (length + np.roll(length, 1))), length


def smooth_circular(values: np.ndarray, half_width: int) -> np.ndarray:
    """Moving maximum over a circular window of ``2 * half_width + 1`` points.

    A maximum (not a mean) so that a short sharp kink is never averaged away.
    """
    if half_width <= 0:
        return values.copy()
    shifted = [np.roll(values, k) for k in range(-half_width, half_width + 1)]
    return np.max(np.stack(shifted), axis=0)


def nearest_index(xy: np.ndarray, pos: np.ndarray, prev: int, back: int, ahead: int) -> int:
    """Index of the centreline point closest to ``pos`` within a window around ``prev``.

    Searching a window (not the whole loop) keeps the index from jumping to another
    part of the track that passes close by.
    """
    n = len(xy)
    idx = np.arange(prev - back, prev + ahead + 1) % n
    d2 = np.sum((xy[idx] - pos) ** 2, axis=1)
    return int(idx[int(np.argmin(d2))])


def wheel_angle_after(angle: float, target: float) -> float:
    """The front-wheel angle one step later when steering towards ``target`` (motor model)."""
    err = target - angle
    rate = min(50.0 * abs(err), _STEER_MAX_RATE)
    new = angle + math.copysign(rate * _DT, err)
    return float(np.clip(new, -_STEER_LIMIT, _STEER_LIMIT))


def planned_speed(
    curvature_ahead: np.ndarray, dist: np.ndarray, cfg: CarRacingControllerConfig
) -> float:
    """Highest speed now that still allows braking to every upcoming corner speed.

    ``curvature_ahead[k]`` is the path curvature at distance ``dist[k]`` ahead of the car.
    """
    corner = np.sqrt(cfg.lateral_accel / np.maximum(curvature_ahead, 1e-6))
    allowed = np.sqrt(np.square(np.minimum(corner, cfg.max_speed)) + 2 * cfg.brake_decel * dist)
    return float(min(cfg.max_speed, allowed.min()))


def _track_key(track: list) -> tuple:
    """Cheap fingerprint of a track, to notice a new episode whose reset() was missed."""
    return (len(track), tuple(track[0]), tuple(track[-1]))


class CarRacingExpert(ScriptedExpert):
    """Pure-pursuit steering on a racing line plus a braking-aware speed profile."""

    n_actions = 5

    def __init__(
        self,
        skill: float = 1.0,
        seed: int = 0,
        lapse_steps: int = 4,
        config: CarRacingControllerConfig | None = None,
    ) -> None:
        super().__init__(skill=skill, seed=seed, lapse_steps=lapse_steps)
        self.config = config or CarRacingControllerConfig()
        self._track_key: tuple = ()
        self._path = np.zeros((0, 2))
        self._curv = np.zeros(0)
        self._arc = np.zeros(0)
        self._centre = np.zeros((0, 2))
        self._centre_normals = np.zeros((0, 2))
        self._idx = 0

    def _reset_controller(self, env: gym.Env) -> None:
        cfg = self.config
        track = env.unwrapped.track
        xy = centreline(track)
        self._path = racing_line(xy, max(0.0, _TRACK_HALF_WIDTH - cfg.edge_margin))
        self._centre = xy
        self._centre_normals = left_normals(xy)
        curv, seg_len = path_curvature(self._path)
        self._curv = smooth_circular(curv, cfg.curvature_window)
        # cumulative arc length over two laps, so distances ahead never need a wrap test
        self._arc = np.concatenate([[0.0], np.cumsum(np.concatenate([seg_len, seg_len]))])
        self._track_key = _track_key(track)
        self._idx = 0  # the car starts on track[0]

    def _policy(self, env: gym.Env, obs: np.ndarray) -> int:
        cfg = self.config
        if self._track_key != _track_key(env.unwrapped.track):  # reset() was not called
            self._reset_controller(env)
        car = env.unwrapped.car
        hull = car.hull
        pos = np.array(hull.position, dtype=np.float64)
        fwd = np.array(hull.GetWorldVector((0.0, 1.0)), dtype=np.float64)
        speed = float(np.linalg.norm(np.array(hull.linearVelocity)))
        n = len(self._path)

        self._idx = nearest_index(self._path, pos, self._idx, cfg.search_back, cfg.search_ahead)
        arc = self._arc[self._idx : self._idx + n] - self._arc[self._idx]  # distance ahead

        # Pure pursuit: wheel angle that puts the look-ahead point on the car's arc.
        look = cfg.lookahead_min + cfg.lookahead_time * speed
        k = max(1, int(np.searchsorted(arc, look)))
        to_target = self._path[(self._idx + k) % n] - pos
        dist = max(float(np.linalg.norm(to_target)), 1e-6)
        cross = fwd[0] * to_target[1] - fwd[1] * to_target[0]  # > 0: target on the left
        alpha = math.atan2(cross, float(fwd @ to_target))
        desired = cfg.steer_gain * math.atan(2.0 * _WHEELBASE * math.sin(alpha) / dist)
        # Edge guard: pure pursuit cuts inside its line on fast bends; if the car is about
        # to leave the road (a missed tile means no early finish), steer back towards it.
        if cfg.edge_guard_gain > 0.0:
            ahead_pos = pos + cfg.edge_guard_time * np.array(hull.linearVelocity)
            j = nearest_index(self._centre, ahead_pos, self._idx, 2, 20)
            off = float((ahead_pos - self._centre[j]) @ self._centre_normals[j])
            excess = abs(off) - (_TRACK_HALF_WIDTH - 1.2)
            if excess > 0.0:
                desired -= math.copysign(cfg.edge_guard_gain * excess, off)
        desired = float(np.clip(desired, -_STEER_LIMIT, _STEER_LIMIT))

        # Steer only if releasing the wheel would leave it too far from the desired angle
        # (and never at a crawl: the wheel cannot turn a car that is not moving).
        angle = float(car.wheels[0].joint.angle)
        released = wheel_angle_after(angle, 0.0)
        if speed > cfg.min_steer_speed and abs(released - desired) > cfg.steer_tolerance:
            left = abs(wheel_angle_after(angle, _STEER_TARGET) - desired)
            right = abs(wheel_angle_after(angle, -_STEER_TARGET) - desired)
            if min(left, right) < abs(released - desired):
                return LEFT if left < right else RIGHT

        # Speed: follow the braking-aware profile of the corners ahead.
        m = int(np.searchsorted(arc, cfg.horizon))
        ahead = self._curv[(self._idx + np.arange(m)) % n]
        v_plan = planned_speed(ahead, arc[:m], cfg)
        if speed > v_plan + cfg.speed_margin:
            return BRAKE
        if speed < v_plan:
            return GAS
        return NOOP
