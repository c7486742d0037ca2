"""PRIVILEGED: the game's own state, read from the simulator (the ideal encoder's rung).

A learner that reads these numbers reads the simulator, not the video: runs on them
(``--encoder state-carracing``, ``state-pong``, ``state-breakout``) are a reference
ceiling, labelled like the oracles wherever they appear. The CarRacing numbers are the
regression labels of the shipped state estimator (:mod:`encoders.state_estimator`), which
recovers them from frames.

Pong and Breakout (:data:`PONG_STATE`, :data:`BREAKOUT_STATE`): 10 and 13 numbers read
from the console's RAM after every step (ball, paddles, their velocities; Breakout also
where the ball should next reach the paddle; see the Atari section below). Velocities
the RAM does not hold are differences across the step, from
the previous step's RAM kept in :class:`PrivilegedState`'s per-episode memory. Hidden
from both the RAM and the screen: the paddle controller's rest point, which the scripted
experts track from the paddle's past moves (notes/expert_atari.md).

CarRacing state (:data:`CARRACING_STATE`): 16 numbers, each divided by a fixed scale
so that typical values are O(1). Signs: "left" is positive (a wheel turned left, a
counter-clockwise yaw, a point or an offset to the left of the car or the track).
Everything here is drawn on screen: speed, wheel spin, wheel angle and yaw rate by the
HUD's bars (gymnasium's ``car_racing.py`` draws ``|v|``, each wheel's ``omega``, the
front wheel's joint angle and the hull's angular velocity), the rest by the road around
the car; the look-ahead points are at most ~32 world units ahead, inside the ~37 units
the 96x96 view shows in front of the car.

Track-relative variables (offset, heading error, look-ahead points) are measured from
the nearest centreline point. They are *undefined* far from the road (more than
:data:`TRACK_VALID_DISTANCE` from the centreline: the road may be out of view and the
nearest point ambiguous) and when the car faces against the track (|heading error| >
:data:`TRACK_VALID_HEADING`): the points "ahead" are then behind the car, out of the
view, and the heading error wraps around at +-pi, so no picture determines them.
:func:`carracing_state_and_valid` still returns a value for them (clipped, so a learner
on privileged state sees a bounded number) and says which entries are defined, so that
the estimator's regression leaves undefined labels out of its loss instead of averaging
them in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import gymnasium as gym
import numpy as np

#: simulator constants (gymnasium 1.4.0 car_racing.py)
TRACK_HALF_WIDTH = 40 / 6.0  # TRACK_WIDTH: centreline to road edge, world units
TRACK_STEP = 21 / 6.0  # TRACK_DETAIL_STEP: distance between centreline points
#: track-relative variables are undefined farther than this from the centreline
TRACK_VALID_DISTANCE = 3.0 * TRACK_HALF_WIDTH
#: ... and when the car points more than this (rad) away from the track direction
TRACK_VALID_HEADING = math.pi / 2
#: look-ahead centreline points, in track points ahead of the nearest one (~7-32 units)
LOOKAHEAD_POINTS = (2, 4, 6, 9)


@dataclass(frozen=True)
class StateVariable:
    """One named entry of a privileged state vector."""

    name: str
    unit: str
    scale: float
    """The vector holds ``value / scale``."""
    track_relative: bool = False
    """Undefined far from the road (see the module docstring)."""
    doc: str = ""


def _lookahead_vars() -> tuple[StateVariable, ...]:
    out = []
    for k in LOOKAHEAD_POINTS:
        for axis in ("forward", "left"):
            out.append(StateVariable(
                f"ahead{k}_{axis}", "world units", 30.0, True,
                f"centreline point {k} points ahead of the nearest one, {axis} in the car frame",
            ))
    return tuple(out)


CARRACING_STATE: tuple[StateVariable, ...] = (
    StateVariable("speed", "world units/s", 100.0, doc="|hull velocity| (HUD speed bar)"),
    StateVariable("lateral_velocity", "world units/s", 10.0,
                  doc="hull velocity along the car's left axis (sideslip)"),
    StateVariable("yaw_rate", "rad/s", 2.0, doc="hull angular velocity, left turn + (gyro bar)"),
    StateVariable("wheel_angle", "rad", 0.4,
                  doc="front-left wheel joint angle, left + (steering bar; limit 0.4)"),
    StateVariable("front_wheel_spin", "rad/s", 100.0,
                  doc="mean omega of the two front wheels (ABS bars 1-2)"),
    StateVariable("rear_wheel_spin", "rad/s", 100.0,
                  doc="mean omega of the two rear wheels (ABS bars 3-4)"),
    StateVariable("lateral_offset", "road half-widths", 1.0, True,
                  doc="signed distance from the centreline, left of the track direction +"),
    StateVariable("heading_error", "rad", 1.0, True,
                  doc="track direction minus car heading, wrapped to [-pi, pi]"),
    *_lookahead_vars(),
)
CARRACING_STATE_NAMES = tuple(v.name for v in CARRACING_STATE)
_SCALES = np.array([v.scale for v in CARRACING_STATE], dtype=np.float64)
_TRACK_RELATIVE = np.array([v.track_relative for v in CARRACING_STATE])


def centreline(track: list) -> np.ndarray:
    """``(N, 2)`` centreline points ``(x, y)`` of ``env.unwrapped.track``."""
    return np.asarray([(p[2], p[3]) for p in track], dtype=np.float64)


def car_frame(angle: float) -> tuple[np.ndarray, np.ndarray]:
    """Unit forward and left vectors of a Box2D body at ``angle`` (the car drives along +y)."""
    forward = np.array([-math.sin(angle), math.cos(angle)])
    left = np.array([-math.cos(angle), -math.sin(angle)])
    return forward, left


def track_relative(
    track: np.ndarray, position: np.ndarray, angle: float
) -> tuple[np.ndarray, float]:
    """Raw (unscaled) track-relative variables and the distance to the centreline.

    Returns ``[lateral_offset (half-widths), heading_error (rad), ahead points ...]`` in
    :data:`CARRACING_STATE` order, and the distance (world units) to the nearest point.
    """
    d2 = np.sum((track - position) ** 2, axis=1)
    i = int(np.argmin(d2))
    n = len(track)
    tangent = track[(i + 1) % n] - track[i]
    tangent /= max(np.linalg.norm(tangent), 1e-9)
    normal_left = np.array([-tangent[1], tangent[0]])
    offset = float(np.dot(position - track[i], normal_left)) / TRACK_HALF_WIDTH
    forward, left = car_frame(angle)
    car_heading = math.atan2(forward[1], forward[0])
    track_heading = math.atan2(tangent[1], tangent[0])
    heading_error = (track_heading - car_heading + math.pi) % (2 * math.pi) - math.pi
    ahead = []
    for k in LOOKAHEAD_POINTS:
        d = track[(i + k) % n] - position
        ahead += [float(np.dot(d, forward)), float(np.dot(d, left))]
    return np.array([offset, heading_error, *ahead]), math.sqrt(float(d2[i]))


def carracing_state_and_valid(env: gym.Env, track: np.ndarray | None = None
                              ) -> tuple[np.ndarray, np.ndarray]:
    """The scaled state (float32, :data:`CARRACING_STATE` order) and its validity mask.

    ``track``: the centreline (:func:`centreline`), passed in to avoid rebuilding it.
    """
    car = env.unwrapped.car
    hull = car.hull
    vel = np.array([hull.linearVelocity[0], hull.linearVelocity[1]], dtype=np.float64)
    _, left = car_frame(float(hull.angle))
    omegas = [float(w.omega) for w in car.wheels]
    body = [
        float(np.linalg.norm(vel)),
        float(np.dot(vel, left)),
        float(hull.angularVelocity),
        float(car.wheels[0].joint.angle),
        0.5 * (omegas[0] + omegas[1]),
        0.5 * (omegas[2] + omegas[3]),
    ]
    track = centreline(env.unwrapped.track) if track is None else track
    position = np.array([hull.position[0], hull.position[1]], dtype=np.float64)
    rel, distance = track_relative(track, position, float(hull.angle))
    state = np.concatenate([body, rel]) / _SCALES
    valid = np.ones(len(state), dtype=bool)
    if distance > TRACK_VALID_DISTANCE or abs(rel[1]) > TRACK_VALID_HEADING:
        valid[_TRACK_RELATIVE] = False
        state = np.where(_TRACK_RELATIVE, np.clip(state, -3.0, 3.0), state)
    return state.astype(np.float32), valid


def _carracing_reader(env: gym.Env, memory: dict) -> tuple[np.ndarray, np.ndarray]:
    """:func:`carracing_state_and_valid` with the episode's centreline built once."""
    if "track" not in memory:
        memory["track"] = centreline(env.unwrapped.track)
    return carracing_state_and_valid(env, memory["track"])


# ----------------------------------------------------------------------------- Atari
# The state is read from the console's RAM after each agent step (frameskip 4). RAM
# addresses and game facts: notes/expert_atari.md (measured by correlating bytes with
# the objects' pixels) and lfo.demonstrations.experts.atari. Velocities the RAM does not
# hold are taken across the step (this step's RAM minus the previous step's), so the
# reader keeps the previous step's RAM in the wrapper's per-episode memory: replaying a
# clip's actions and playing live go through the same wrapper, so both see the same
# numbers. At reset (no previous step) those differences are 0. Positions are RAM units
# (Pong: x grows towards our paddle on the right, y downwards; Breakout: x to the right,
# y downwards).


def signed_byte(byte: int) -> int:
    """A RAM byte read as a two's-complement int8."""
    byte = int(byte)
    return byte - 256 if byte >= 128 else byte


def _ram(env: gym.Env) -> np.ndarray:
    return env.unwrapped.ale.getRAM()


def _previous_ram(memory: dict, ram: np.ndarray) -> np.ndarray:
    """The previous step's RAM (this step's at reset); remembers this step's for the next."""
    prev = memory.get("ram")
    memory["ram"] = ram.copy()
    return ram if prev is None else prev


PONG_STATE: tuple[StateVariable, ...] = (
    StateVariable("ball_in_play", "flag", 1.0, doc="1 while a ball is in play (ram[54] != 0)"),
    StateVariable("ball_x", "RAM units", 200.0,
                  doc="ram[49]; grows towards our paddle on the right (pixel = ram - 48.5)"),
    StateVariable("ball_y", "RAM units", 200.0,
                  doc="ram[54]; grows downwards (pixel = ram - 12.5); 0 with no ball"),
    StateVariable("ball_vx", "RAM units/frame", 1.0, doc="-int8(ram[58]); +-1"),
    StateVariable("ball_vy", "RAM units/frame", 2.0, doc="int8(ram[56]); -2..2"),
    StateVariable("paddle_y", "RAM units", 200.0, doc="our (right) paddle, ram[51]"),
    StateVariable("paddle_dy", "RAM units/step", 20.0,
                  doc="ram[51] minus the previous step's: the paddle's velocity, the visible "
                      "trace of the controller's hidden rest point (without a press the "
                      "paddle closes 3/4 of its gap to it per step)"),
    StateVariable("cpu_y", "RAM units", 200.0, doc="the computer's (left) paddle, ram[50]"),
    StateVariable("cpu_dy", "RAM units/step", 8.0,
                  doc="ram[50] minus the previous step's, clipped to +-8 (its top speed; "
                      "it jumps when a point restarts)"),
    StateVariable("clock_phase", "flag", 1.0,
                  doc="(ram[8] // 4) % 2: which half of the computer's 8-frame rhythm "
                      "(it skips frames where ram[8] is a multiple of 8)"),
)
PONG_STATE_NAMES = tuple(v.name for v in PONG_STATE)
_PONG_SCALES = np.array([v.scale for v in PONG_STATE], dtype=np.float64)
#: entries undefined while no ball is in play
_PONG_BALL = np.array([v.name in ("ball_x", "ball_y", "ball_vx", "ball_vy") for v in PONG_STATE])


def pong_state_and_valid(env: gym.Env, memory: dict) -> tuple[np.ndarray, np.ndarray]:
    """Pong's scaled state (float32, :data:`PONG_STATE` order) and its validity mask.

    ``memory``: the episode's reader memory (the previous step's RAM), owned by
    :class:`PrivilegedState`; read once per step.
    """
    ram = _ram(env)
    prev = _previous_ram(memory, ram)
    in_play = int(ram[54]) != 0
    raw = [
        float(in_play), float(ram[49]), float(ram[54]),
        float(-signed_byte(ram[58])), float(signed_byte(ram[56])),
        float(ram[51]), float(int(ram[51]) - int(prev[51])),
        float(ram[50]), float(np.clip(int(ram[50]) - int(prev[50]), -8, 8)),
        float((int(ram[8]) // 4) % 2),
    ]
    state = np.asarray(raw) / _PONG_SCALES
    valid = np.ones(len(state), dtype=bool)
    if not in_play:
        valid[_PONG_BALL] = False
    return state.astype(np.float32), valid


BREAKOUT_STATE: tuple[StateVariable, ...] = (
    StateVariable("ball_in_play", "flag", 1.0, doc="1 while a ball is in play (ram[101] != 0)"),
    StateVariable("ball_x", "RAM units", 200.0, doc="ram[99] (pixel = ram - 48.5)"),
    StateVariable("ball_y", "RAM units", 200.0,
                  doc="ram[101]; grows downwards (pixel = ram + 10.5); 0 with no ball"),
    StateVariable("ball_vx", "RAM units/frame", 2.0,
                  doc="-int8(ram[105]): the whole part of the x speed (its fraction is not "
                      "in a plain byte; see ball_dx)"),
    StateVariable("ball_vy", "RAM units/frame", 3.0,
                  doc="int8(ram[103]) + ram[104] / 256 (1, 1.5, 2, 3.375 as the game "
                      "speeds up)"),
    StateVariable("ball_dx", "RAM units/step", 16.0,
                  doc="ram[99] minus the previous step's (0 unless a ball was in play at "
                      "both; a side-wall bounce within the step shortens it)"),
    StateVariable("paddle_x", "RAM units", 200.0, doc="ram[72] (left pixel = ram - 47)"),
    StateVariable("paddle_dx", "RAM units/step", 24.0,
                  doc="ram[72] minus the previous step's: the visible trace of the "
                      "controller's hidden rest point"),
    StateVariable("paddle_half_width", "pixels", 8.0,
                  doc="ram[108]: 8, then 6 once the ball has hit the top wall"),
    StateVariable("lives", "balls", 5.0, doc="ram[57]: balls left"),
    StateVariable("intercept_x", "RAM units", 200.0,
                  doc="ball x where the ball should next reach the paddle's height (y 177): "
                      "its path folded at the side walls; a rising ball is taken to turn at "
                      "the bricks' bottom (y 80) or, above them, the top wall (y 26). A "
                      "function of the ball variables above (no new information: what a "
                      "small network finds hard to compute; see notes/atari_ladder.md)"),
    StateVariable("intercept_gap", "RAM units", 100.0,
                  doc="intercept_x minus paddle_x"),
    StateVariable("intercept_steps", "steps", 50.0,
                  doc="steps until the ball reaches the paddle's height on that path"),
)
BREAKOUT_STATE_NAMES = tuple(v.name for v in BREAKOUT_STATE)
_BREAKOUT_SCALES = np.array([v.scale for v in BREAKOUT_STATE], dtype=np.float64)
_BREAKOUT_BALL = np.array([v.name in ("ball_x", "ball_y", "ball_vx", "ball_vy", "ball_dx",
                                      "intercept_x", "intercept_gap", "intercept_steps")
                           for v in BREAKOUT_STATE])
#: Breakout geometry in RAM units, measured (the expert's
#: :class:`lfo.demonstrations.experts.atari.BreakoutConfig` takes its defaults from here;
#: a test keeps the two equal): the ball x the side walls mirror about, the
#: ball y at which the paddle can first meet it, where a rising ball turns below / above
#: the bricks, and frames per env step.
BREAKOUT_WALLS = (55.0, 201.0)
BREAKOUT_PADDLE_Y = 177.0
BREAKOUT_TURN_Y = (80.0, 26.0)
BREAKOUT_FRAMES = 4


def fold(value: float, lo: float, hi: float) -> float:
    """Mirror ``value`` into ``[lo, hi]``, as a ball bouncing between walls at lo and hi."""
    span = hi - lo
    m = (value - lo) % (2.0 * span)
    return lo + (m if m <= span else 2.0 * span - m)


def breakout_intercept(x: float, y: float, dx: float, vx: float, vy: float
                       ) -> tuple[float, float]:
    """(ball x, steps) where a ball at (x, y) next reaches the paddle's height.

    ``dx``: the ball's x move over the last step (0 if unknown); ``vx``: the RAM's whole
    x speed per frame (used when dx is 0); ``vy``: y speed per frame (> 0 falling).
    """
    vx_frame = dx / BREAKOUT_FRAMES if dx != 0 else (vx if vx != 0 else -0.5)
    speed = max(abs(vy), 1.0)
    if vy > 0:
        frames = max(BREAKOUT_PADDLE_Y - y, 0.0) / speed
    else:
        turn = BREAKOUT_TURN_Y[0] if y > BREAKOUT_TURN_Y[0] else BREAKOUT_TURN_Y[1]
        frames = (max(y - turn, 0.0) + (BREAKOUT_PADDLE_Y - turn)) / speed
    return fold(x + vx_frame * frames, *BREAKOUT_WALLS), frames / BREAKOUT_FRAMES


def breakout_state_and_valid(env: gym.Env, memory: dict) -> tuple[np.ndarray, np.ndarray]:
    """Breakout's scaled state (float32, :data:`BREAKOUT_STATE` order) and validity mask."""
    ram = _ram(env)
    prev = _previous_ram(memory, ram)
    in_play = int(ram[101]) != 0
    was_in_play = int(prev[101]) != 0
    dx = float(int(ram[99]) - int(prev[99])) if in_play and was_in_play else 0.0
    raw = [
        float(in_play), float(ram[99]), float(ram[101]),
        float(-signed_byte(ram[105])),
        float(signed_byte(ram[103]) + int(ram[104]) / 256.0),
        dx,
        float(ram[72]), float(int(ram[72]) - int(prev[72])),
        float(ram[108]), float(ram[57]),
    ]
    if in_play:
        ix, steps = breakout_intercept(raw[1], raw[2], dx, raw[3], raw[4])
        raw += [ix, ix - raw[6], steps]
    else:
        raw += [0.0, 0.0, 0.0]
    state = np.asarray(raw) / _BREAKOUT_SCALES
    valid = np.ones(len(state), dtype=bool)
    if not in_play:
        valid[_BREAKOUT_BALL] = False
    return state.astype(np.float32), valid


#: game -> (variables, reader). A reader takes the env and the episode's memory (a dict
#: the wrapper clears at reset: the CarRacing centreline, the previous step's Atari RAM)
#: and returns ``(state, valid)``; it is called exactly once per reset and per step.
STATE_READERS = {
    "carracing": (CARRACING_STATE, _carracing_reader),
    "pong": (PONG_STATE, pong_state_and_valid),
    "breakout": (BREAKOUT_STATE, breakout_state_and_valid),
}


def state_variables(game: str) -> tuple[StateVariable, ...]:
    """The named privileged state of ``game``; a clear error for a game without one."""
    if game not in STATE_READERS:
        raise ValueError(
            f"no privileged state reader for {game!r} (available: {', '.join(STATE_READERS)})"
        )
    return STATE_READERS[game][0]


class PrivilegedState(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Put the privileged state (and its validity) in ``info["state"]`` / ``info["state_valid"]``.

    Wrap the raw game env (below any observation wrappers, and below an action repeat, as
    :func:`lfo.envs.games.make_raw_env` does with ``privileged_state=True``: the state's
    step-to-step differences then span one env step, as in a replayed clip). The reader's
    per-episode memory (the track, the previous step's RAM) is cleared at every reset.
    The observation is unchanged, so frames and state stay aligned step by step.
    """

    def __init__(self, env: gym.Env, game: str = "carracing") -> None:
        gym.utils.RecordConstructorArgs.__init__(self, game=game)
        gym.Wrapper.__init__(self, env)
        state_variables(game)
        self.game = game
        self._read = STATE_READERS[game][1]
        self._memory: dict = {}

    def _with_state(self, info: dict) -> dict:
        state, valid = self._read(self.env, self._memory)
        return {**info, "state": state, "state_valid": valid}

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        self._memory = {}
        return obs, self._with_state(info)

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        return obs, reward, terminated, truncated, self._with_state(info)


def find_privileged_state(env: gym.Env) -> PrivilegedState | None:
    """The :class:`PrivilegedState` in ``env``'s wrapper chain, if any."""
    while isinstance(env, gym.Wrapper):
        if isinstance(env, PrivilegedState):
            return env
        env = env.env
    return None


class StateObservation(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """PRIVILEGED: the observation becomes the state vector; the frame moves to ``info``.

    For the ideal-encoder rung only (``--encoder state-<game>``): the agent then reads the
    simulator. ``info["frame"]`` keeps the native RGB frame (for videos of the agent).
    ``env`` is wrapped in a :class:`PrivilegedState` unless it already holds one.
    """

    def __init__(self, env: gym.Env, game: str = "carracing") -> None:
        d = len(state_variables(game))
        inner = find_privileged_state(env)
        if inner is None:
            env = PrivilegedState(env, game)
        elif inner.game != game:
            raise ValueError(f"the env reads {inner.game}'s privileged state, not {game}'s")
        gym.utils.RecordConstructorArgs.__init__(self, game=game)
        gym.Wrapper.__init__(self, env)
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (d,), np.float32)

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        return info["state"], {**info, "frame": obs}

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        return info["state"], reward, terminated, truncated, {**info, "frame": obs}
