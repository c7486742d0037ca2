"""Privileged scripted experts for Atari Pong and Breakout that read the console RAM.

RAM addresses follow the public Atari RAM annotations and were checked here, frame by
frame, against the screen and against each other (``notes/expert_atari.md``):

* Pong: ball x = ram[49] (grows towards our paddle on the right), ball y = ram[54]
  (0 while no ball is in play), ball velocity per frame: x = -int8(ram[58]),
  y = int8(ram[56]); our paddle y = ram[51]; the computer's paddle y = ram[50]; frame
  counter ram[8]. Minimal actions: 0 NOOP, 1 FIRE, 2 RIGHT (up), 3 LEFT (down), 4, 5.
* Breakout: ball x = ram[99], ball y = ram[101] (grows downwards), ball velocity per
  frame: x = -int8(ram[105]), y = int8(ram[103]) + ram[104] / 256; paddle x = ram[72]
  (its left pixel is ram - 47). Actions: 0 NOOP, 1 FIRE, 2 RIGHT, 3 LEFT.

Both games use the Atari *paddle controller*: a pressed direction moves the
controller's hidden *rest point* 5.75 RAM units per frame, and the paddle on screen
closes half of its gap to that point on every update (two updates per 4-frame agent
step in Pong, every frame, one frame late, in Breakout). With sticky actions the
emulator repeats the previous action on each frame with probability 0.25, so every new
action starts after a random delay. The controllers therefore (1) track the hidden rest
point from the positions seen (:class:`PaddleObserver`), (2) predict frame by frame
where the ball will meet the paddle, and (3) search every short action plan, averaging
over sticky delays, for the best expected contact (:func:`plan_contact`).

Step (1) comes in two kinds. The *tracking* controller (``memoryless=False``, the one
that recorded the clips before December 2026) follows the rest point over time from the
actions it played; its action then depends on a past that no frame shows, and a policy
on the current state could copy it only in part (``notes/atari_ladder.md``). The
*memoryless* controller reads the rest point off the paddle's last step
(:func:`rest_from_motion`; in Breakout through the mean gap after each move,
:data:`BREAKOUT_REST_GAP`) and assumes no previous action, so its action is a function
of the state a learner sees (the privileged state holds the paddle's last move). It is
the default of both games (Pong 19.4 against the tracking controller's 20.15, 10 games;
Breakout: :attr:`BreakoutConfig.memoryless`).
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np

from lfo.demonstrations.experts.base import ScriptedExpert
from lfo.envs.privileged import BREAKOUT_PADDLE_Y, BREAKOUT_TURN_Y, BREAKOUT_WALLS, fold


def signed_byte(byte: int) -> int:
    """A RAM byte read as a two's-complement int8."""
    return int(byte) - 256 if byte > 127 else int(byte)


# ---------------------------------------------------------------------------------
# Paddle dynamics and planning (shared by both games)
# ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PaddleModel:
    """Frame-by-frame dynamics of a paddle-controller paddle, with sticky actions.

    Holding a direction moves the rest point by ``speed`` per frame (kept within
    ``[rest_lo, rest_hi]``); on each of the step's ``update_frames`` the paddle closes ``gain``
    of its gap to the rest point (to the rest point of the previous frame if ``lag``).
    With sticky actions a new action starts after k frames of the old one, with
    P(k) = (1 - sticky) * sticky**k.
    """

    speed: float = 5.75
    lo: float = 38.0
    hi: float = 203.0
    rest_lo: float = 8.5
    rest_hi: float = 203.0
    """The rest point's own limits, which can lie beyond the paddle's (measured: how long
    a reversal takes to move a paddle held against its stop)."""
    gain: float = 0.5
    update_frames: tuple[int, ...] = (0, 2)
    lag: bool = False
    frames: int = 4
    sticky: float = 0.25
    max_delay: int = 2
    """Longest delay enumerated when planning (the tail is folded into it)."""

    def delay_probs(self, max_delay: int) -> np.ndarray:
        """P(delay = k) for k = 0..max_delay; the last entry absorbs the tail."""
        probs = (1.0 - self.sticky) * self.sticky ** np.arange(max_delay + 1, dtype=np.float64)
        probs[-1] = self.sticky**max_delay
        return probs

    def updates_between(self, start: int, stop: int) -> int:
        """Number of updates on frames ``start .. stop - 1``, counted from a step start."""

        def before(f: int) -> int:
            whole, part = divmod(f, self.frames)
            return whole * len(self.update_frames) + sum(u < part for u in self.update_frames)

        return before(stop) - before(start)

    def rollout(
        self,
        pos: float,
        rest: float,
        prev_dir: int,
        plans: np.ndarray,
        delays: np.ndarray,
        record: Sequence[int],
    ) -> tuple[np.ndarray, np.ndarray]:
        """Paddle positions after each frame count in ``record`` under every plan and delay.

        Args:
            pos, rest: the paddle and its rest point now.
            prev_dir: direction played on the last step (what sticky frames repeat).
            plans: (P, S) directions (-1, 0, +1) per step; released after S steps.
            delays: (C, S) sticky delay, in frames, of each step's action.
            record: frame counts (0 = now) at which to report the position.

        Returns:
            positions (P, C, len(record)) and rest points (P, C, S) after each step.
        """
        n_plans, n_steps = plans.shape
        p = np.full((n_plans, len(delays)), float(pos))
        r = np.full_like(p, float(rest))
        rests = np.zeros((*p.shape, n_steps))
        out = np.zeros((*p.shape, len(record)))
        old = np.concatenate([np.full((n_plans, 1), prev_dir), plans[:, :-1]], axis=1)
        planned = min(max(record, default=0), n_steps * self.frames)
        for i, f in enumerate(record):
            if f == 0:
                out[..., i] = p
        for f in range(planned):
            s, phase = divmod(f, self.frames)
            late = (phase < delays[:, s])[None, :]  # (1, C): still playing the old action
            direction = np.where(late, old[:, s : s + 1], plans[:, s : s + 1])
            r_before = r
            r = np.clip(r + self.speed * direction, self.rest_lo, self.rest_hi)
            if phase in self.update_frames:
                p = np.clip(p + self.gain * ((r_before if self.lag else r) - p), self.lo, self.hi)
            if phase == self.frames - 1:
                rests[..., s] = r
            for i, g in enumerate(record):
                if g == f + 1:
                    out[..., i] = p
        for s in range(n_steps):
            if (s + 1) * self.frames > planned:  # steps not simulated to their end
                rests[..., s] = r
        for i, g in enumerate(record):
            if g > planned:
                # Released: the rest point stays; each update closes `gain` of the gap.
                n = min(self.updates_between(planned, g), 64)
                out[..., i] = r + (p - r) * (1.0 - self.gain) ** n
        return out, rests

    @property
    def step_gain(self) -> float:
        """Share of a constant rest-point offset that shows in the position after a step."""
        return 1.0 - (1.0 - self.gain) ** len(self.update_frames)


@functools.lru_cache(maxsize=64)
def _plan_tables(n_plan: int, n_sim: int, max_delay: int) -> tuple[np.ndarray, np.ndarray]:
    """All plans (3**n_plan, n_sim), zero-padded, and all delay combinations (C, n_sim)."""
    plans = np.zeros((3**n_plan, n_sim), dtype=np.int64)
    if n_plan:
        plans[:, :n_plan] = np.array(list(itertools.product((0, 1, -1), repeat=n_plan)))
    delays = np.array(list(itertools.product(range(max_delay + 1), repeat=n_sim)))
    return plans, delays.reshape(-1, n_sim)


def gaussian_offsets(std: float) -> tuple[np.ndarray, np.ndarray]:
    """Integer offsets and their weights for a discretised Gaussian of ``std``."""
    if std <= 0:
        return np.zeros(1), np.ones(1)
    half = int(np.ceil(2 * std))
    offsets = np.arange(-half, half + 1, dtype=np.float64)
    weights = np.exp(-0.5 * (offsets / std) ** 2)
    return offsets, weights / weights.sum()


@dataclass(frozen=True)
class Contact:
    """Where the ball can meet the paddle, and what each way of meeting it is worth.

    The ball can meet the paddle on any of ``frames`` (frame counts from now, as
    :meth:`PaddleModel.rollout` records them), being at ``ball[k]`` then. On the first
    of them where ``ball - paddle`` lies in ``reach`` (inclusive) the contact happens,
    worth ``values[ball - paddle - reach[0]]``; if on none, the ball is missed.
    """

    frames: tuple[int, ...]
    ball: np.ndarray
    reach: tuple[int, int]
    values: np.ndarray
    miss_value: float
    target: float
    """Paddle position that plans of equal worth should head for."""


def plan_contact(
    model: PaddleModel,
    pos: float,
    rest: float,
    prev_dir: int,
    contact: Contact,
    horizon: int = 3,
    noise_std: float = 0.0,
    press_cost: float = 0.0,
) -> int:
    """First direction (-1, 0, +1) of the short plan with the best expected contact.

    Every plan of up to ``horizon`` steps (released afterwards) is scored by its worth
    averaged over sticky delays and over an extra Gaussian paddle error of
    ``noise_std`` that the model does not know of, less ``press_cost`` per press
    (gambles on sticky delays look better to the model than they are), less 0.01 per
    unit of expected distance to ``contact.target`` at contact, so that plans of
    equal worth head for the target, early.
    """
    frames = contact.frames
    steps_to_contact = -(-max(1, min(frames)) // model.frames)
    n_plan = min(horizon, steps_to_contact)
    # Simulate the release step too (its sticky delay matters), if it precedes contact.
    n_sim = max(n_plan, min(n_plan + 1, -(-max(1, max(frames)) // model.frames)))
    plans, delays = _plan_tables(n_plan, n_sim, model.max_delay)
    weights = np.prod(model.delay_probs(model.max_delay)[delays], axis=1)
    paddle, rests = model.rollout(pos, rest, prev_dir, plans, delays, frames)
    lo, hi = contact.reach
    worth = np.zeros(paddle.shape[:2])
    for off, w in zip(*gaussian_offsets(noise_std), strict=True):
        rel = np.rint(contact.ball[None, None, :] - paddle - off).astype(np.int64)
        inside = (rel >= lo) & (rel <= hi)
        first = np.argmax(inside, axis=-1)  # first frame of contact
        rel_at = np.take_along_axis(rel, first[..., None], axis=-1)[..., 0]
        value = contact.values[np.clip(rel_at - lo, 0, len(contact.values) - 1)]
        worth += w * np.where(inside.any(axis=-1), value, contact.miss_value)
    cost = -(worth @ weights) + press_cost * np.abs(plans).sum(axis=1)
    # Progress towards the target: decides between plans of equal worth (e.g. when no
    # plan of `horizon` steps can reach the ball yet), and outweighs `press_cost`.
    cost += 0.01 * (np.abs(paddle[..., 0] - contact.target) @ weights)
    cost += 0.001 * (np.abs(rests - contact.target).sum(axis=2) @ weights)
    return int(plans[int(np.argmin(cost)), 0])


def plan_rest(model: PaddleModel, pos: float, rest: float, prev_dir: int, target: float) -> int:
    """Direction that brings the paddle's rest point nearest ``target`` (no contact due)."""
    # A "contact" far ahead that every plan makes equally: only the distance of the
    # settled paddle to the target decides.
    far = Contact((16 * model.frames,), np.zeros(1), (-(10**6), 10**6), np.zeros(1), 0.0, target)
    return plan_contact(model, pos, rest, prev_dir, far, horizon=1)


def rest_from_motion(model: PaddleModel, pos: float, moved: float) -> float:
    """The paddle's rest point as read off its last step: ``pos`` after moving ``moved``.

    With the rest point still over the step the paddle closes ``step_gain`` of its gap per
    step, so the gap left is ``moved * (1 - step_gain) / step_gain``; a press during the step
    makes this an estimate. Clipped to the rest point's limits.
    """
    gain = model.step_gain
    return float(np.clip(pos + moved * (1.0 - gain) / gain, model.rest_lo, model.rest_hi))


class PaddleObserver:
    """Tracks the paddle's hidden rest point from the positions seen after each step."""

    def __init__(self, model: PaddleModel) -> None:
        self.model = model
        self.pos: float | None = None
        self.rest = 0.0
        self._prev_dir = 0

    def update(self, pos: float, last_dir: int) -> float:
        """Fold in the position seen now, after ``last_dir`` was played; the rest point."""
        m = self.model
        if self.pos is None:
            self.rest = pos  # at reset the paddle stands at its rest point
        else:
            # Which sticky delay of the last action explains the new position best?
            delays = np.arange(m.frames + 1)[:, None]
            ends, rests = m.rollout(
                self.pos, self.rest, self._prev_dir, np.array([[last_dir]]), delays, [m.frames]
            )
            k = int(np.argmin(np.abs(ends[0, :, 0] - pos)))
            # Rounding leaves a small residual; a rest-point error e shows as
            # step_gain * e in the position, so scale the residual back.
            estimate = rests[0, k, 0] + (pos - ends[0, k, 0]) / m.step_gain
            self.rest = float(np.clip(estimate, m.rest_lo, m.rest_hi))
        self.pos = pos
        self._prev_dir = last_dir
        return self.rest

    def read_motion(self, pos: float, gap_after: Callable[[float], float | None] | None = None
                    ) -> float:
        """The rest point read off the paddle's last step alone (memoryless): nothing is
        used but the position before, which the state's paddle velocity shows too.

        ``gap_after(moved)``: the mean gap rest - paddle after a step of ``moved`` (None
        where unknown); without it (or where None) the paddle is taken as released over the
        step (:func:`rest_from_motion`)."""
        moved = 0.0 if self.pos is None else pos - self.pos
        self.pos = pos
        gap = gap_after(moved) if gap_after is not None else None
        if gap is None:
            self.rest = rest_from_motion(self.model, pos, moved)
        else:
            self.rest = float(np.clip(pos + gap, self.model.rest_lo, self.model.rest_hi))
        return self.rest


class PaddleExpert(ScriptedExpert):
    """What the Pong and Breakout experts share: a paddle-controller paddle whose rest point
    is tracked over time or read off its last step (``config.memoryless``)."""

    DIRECTION: tuple[int, ...]
    """Paddle direction of each action."""
    config: PongConfig | BreakoutConfig

    def act(self, env: gym.Env, obs: np.ndarray) -> int:
        """As the base class; remembers the action played (lapses too) for the observer."""
        self._last_action = super().act(env, obs)
        return self._last_action

    def describe(self) -> str:
        """E.g. ``PongExpert(memoryless)`` or ``PongExpert(tracking)``: which controller played."""
        kind = "memoryless" if self.config.memoryless else "tracking"
        return f"{type(self).__name__}({kind})"

    def _gap_after(self, moved: float) -> float | None:
        """Memoryless: the mean rest-point gap after a paddle step of ``moved`` (None: read
        the step as a released paddle's)."""
        return None

    def _paddle_rest(self, paddle: float) -> tuple[float, int]:
        """The rest point now and the direction the plans take as last played."""
        if self.config.memoryless:
            return self._observer.read_motion(paddle, self._gap_after), 0
        last_dir = self.DIRECTION[self._last_action]
        return self._observer.update(paddle, last_dir), last_dir


# ---------------------------------------------------------------------------------
# Pong
# ---------------------------------------------------------------------------------


def pong_ball_frame(y: int, vy: int) -> tuple[int, int]:
    """Ball y and y-velocity one frame on; the walls bounce it at y <= 45 and y >= 206.

    Measured frame by frame: the bounce frame moves the ball |vy| + 1 back inwards
    (44 -> 47 at vy = -2, 207 -> 204 at vy = +2).
    """
    if vy < 0 and y <= 45:
        return y - vy + 1, -vy
    if vy > 0 and y >= 206:
        return y - vy - 1, -vy
    return y + vy, vy


def pong_run(
    x: int, y: int, vx: int, vy: int, cpu: int, clock: int, until_x: int, max_frames: int = 512
) -> list[tuple[int, int, int, int, int]]:
    """Frames of ball and computer paddle until the ball's x reaches ``until_x``.

    The computer paddle moves 2 units per frame towards the ball's y, except on frames
    when the frame counter (RAM[8]) is a multiple of 8 (measured: exact on 1,676 of
    1,677 60-frame windows). Returns ``(x, y, vy, cpu, clock)`` after each frame.
    """
    out = []
    while (until_x - x) * vx > 0 and len(out) < max_frames:
        x += vx
        y, vy = pong_ball_frame(y, vy)
        if clock % 8 != 0 and y != cpu:
            cpu += 2 if y > cpu else -2
        clock = (clock + 1) % 256
        out.append((x, y, vy, cpu, clock))
    return out


@dataclass(frozen=True)
class PongConfig:
    """Pong RAM layout, geometry (RAM units, measured here) and controller tuning."""

    ball_x: int = 49
    ball_y: int = 54
    ball_neg_vx: int = 58
    ball_vy: int = 56
    paddle_y: int = 51
    cpu_y: int = 50
    clock: int = 8
    window: tuple[int, int] = (188, 192)
    """Ball x range over which our paddle can meet the ball (one frame per unit of x)."""
    reach: tuple[int, int] = (-2, 16)
    """Ball y - paddle y range of a contact; the first frame in ``window`` inside it hits."""
    zones: tuple[tuple[int, int], ...] = ((-2, -2), (1, -1), (5, 0), (9, 1), (13, 2))
    """(lowest ball y - paddle y, ball vy after the hit) of each of the paddle's 5 zones."""
    cpu_x: int = 69
    """Ball x at which the computer's paddle meets the ball."""
    cpu_reach: tuple[int, int] = (-4, 14)
    """Ball y - computer paddle y at ``cpu_x`` for which the computer still returns it."""
    cpu_margin: int = 2
    """A shot counts as winning only if it clears ``cpu_reach`` by this much."""
    value_win: float = 1.0
    """Worth of a return the computer will miss."""
    value_return: float = 0.4
    """Worth of a return the computer reaches (the rally goes on and we usually win it)."""
    value_miss: float = -1.0
    """Worth of missing the ball."""
    patience: int = 6
    """Returns per rally after which a mere return starts losing its worth (no stalls)."""
    noise_std: float = 1.5
    """Std (RAM units) of the paddle error the plan model does not know of."""
    press_cost: float = 0.05
    """Worth deducted per press in a plan."""
    rest_y: float = 118.0
    """Paddle y to wait at while the ball moves away."""
    horizon: int = 3
    """Steps of paddle plans searched exhaustively (3**horizon plans)."""
    memoryless: bool = True
    """Decide from what the current state shows, nothing remembered: the rest point is
    read off the paddle's last step (:func:`rest_from_motion`), the last action is taken
    as none, and no rally count fades the worth of a return. Then the expert's action is
    a function of the (visible) state a learner sees, so a learner on that state can copy
    it. ``False``: the original controller, which tracks the rest point over time from the
    actions it played (:class:`PaddleObserver`) and so acts on a state nobody else sees."""
    stretch: float = 0.5
    """Memoryless: share of a return's worth lost when it lands at the middle of the
    computer's reach (none at its edge), in place of the rally count's fade."""
    paddle: PaddleModel = field(default_factory=PaddleModel)


class PongExpert(PaddleExpert):
    """Returns the ball at the angle the computer cannot reach.

    Each step it predicts, frame by frame, where the ball will pass our paddle and
    where the computer's paddle will be then. For each of the five return angles it
    plays the rally on to see whether the computer would miss, and it plans the paddle
    (sticky actions averaged over) for the best expected contact: a winning angle, else
    a safe return, never a miss if it can help it.
    """

    n_actions = 6
    NOOP, UP, DOWN = 0, 2, 3
    #: paddle direction (+1 = down = growing y) of each action
    DIRECTION = (0, 0, -1, 1, -1, 1)

    def __init__(
        self,
        skill: float = 1.0,
        seed: int = 0,
        lapse_steps: int = 4,
        config: PongConfig | None = None,
    ) -> None:
        super().__init__(skill=skill, seed=seed, lapse_steps=lapse_steps)
        self.config = config or PongConfig()
        self._reset_controller(None)

    def _reset_controller(self, env: gym.Env | None) -> None:
        self._observer = PaddleObserver(self.config.paddle)
        self._last_action = self.NOOP
        self._rally_returns = 0
        self._ball_was_coming = False

    def contact(self, ram: np.ndarray) -> Contact | None:
        """Where the ball can meet our paddle and what each way of meeting it is worth.

        ``None`` if the ball is not coming towards us. A contact offset (ball y -
        paddle y) is worth ``value_win`` if its zone's return angle beats the computer,
        else that of a return (which fades once a rally drags on), else a miss.
        """
        cfg = self.config
        x, y = int(ram[cfg.ball_x]), int(ram[cfg.ball_y])
        vx, vy = -signed_byte(ram[cfg.ball_neg_vx]), signed_byte(ram[cfg.ball_vy])
        first, last = cfg.window
        if y == 0 or vx <= 0 or x >= last:
            return None
        run = pong_run(x, y, vx, vy, int(ram[cfg.cpu_y]), int(ram[cfg.clock]), last)
        # run[t] is the state after t + 1 frames; our paddle's RAM byte then shows the
        # paddle after t frames (it lags a frame), which is what `reach` was fitted on.
        frames = tuple(t for t, s in enumerate(run) if s[0] >= first)
        if not frames:
            return None
        ball = np.array([run[t][1] for t in frames], dtype=np.float64)
        _, y_hit, _, cpu, clock = run[frames[0]]
        fade = min(1.0, max(0.0, 2.0 - self._rally_returns / cfg.patience))
        values = np.empty(cfg.reach[1] - cfg.reach[0] + 1)
        tops = [lo for lo, _ in cfg.zones[1:]] + [cfg.reach[1] + 1]
        lo_cpu, hi_cpu = cfg.cpu_reach
        for (lo, vy_out), top in zip(cfg.zones, tops, strict=True):
            end = pong_run(first, y_hit, -1, vy_out, cpu, clock, cfg.cpu_x)[-1]
            gap = end[1] - end[3]  # ball y - computer paddle y when it gets there
            wins = gap < lo_cpu - cfg.cpu_margin or gap > hi_cpu + cfg.cpu_margin
            worth = cfg.value_win if wins else cfg.value_return * fade
            if not wins and cfg.memoryless:
                # No rally count to fade returns: prefer the return that lands nearest the
                # edge of the computer's reach (long rallies end, no endless loops).
                depth = min(gap - lo_cpu, hi_cpu - gap) / ((hi_cpu - lo_cpu) / 2.0)
                worth = cfg.value_return * (1.0 - cfg.stretch * float(np.clip(depth, 0, 1)))
            values[lo - cfg.reach[0] : top - cfg.reach[0]] = worth
        best = np.flatnonzero(values >= values.max() - 1e-9)
        target = ball[0] - (cfg.reach[0] + _middle_of_longest_run(best))
        return Contact(frames, ball, cfg.reach, values, cfg.value_miss, target)

    def _policy(self, env: gym.Env, obs: np.ndarray) -> int:
        cfg = self.config
        ram = env.unwrapped.ale.getRAM()
        paddle = float(ram[cfg.paddle_y])
        rest, last_dir = self._paddle_rest(paddle)
        contact = self.contact(ram)
        coming = contact is not None
        # Count our returns in this rally (the ball turned away from us since last step).
        if cfg.memoryless:
            pass  # no rally count: a return keeps its worth
        elif int(ram[cfg.ball_y]) == 0:
            self._rally_returns = 0  # between points
        elif self._ball_was_coming and not coming and -signed_byte(ram[cfg.ball_neg_vx]) < 0:
            self._rally_returns += 1
        self._ball_was_coming = coming
        if contact is None:
            push = plan_rest(cfg.paddle, paddle, rest, last_dir, cfg.rest_y)
        else:
            push = plan_contact(
                cfg.paddle, paddle, rest, last_dir, contact, cfg.horizon, cfg.noise_std,
                cfg.press_cost,
            )  # fmt: skip
        return (self.UP, self.NOOP, self.DOWN)[push + 1]


def _middle_of_longest_run(indices: np.ndarray) -> float:
    """Middle of the longest run of consecutive integers in sorted ``indices``."""
    runs = np.split(indices, np.flatnonzero(np.diff(indices) != 1) + 1)
    longest = max(runs, key=len)
    return (longest[0] + longest[-1]) / 2.0


# ---------------------------------------------------------------------------------
# Breakout
# ---------------------------------------------------------------------------------


BREAKOUT_REST_GAP_MOVES = (-24, 24)
"""Range of paddle moves (RAM units per step) that :data:`BREAKOUT_REST_GAP` covers."""

BREAKOUT_REST_GAP: tuple[float | None, ...] = (
    -10.6, -10.8, -11.3, -10.3, -9.9, -4.0, -1.1, -1.7, -1.5, -2.6, -1.6, -8.6, -10.4, -5.2,
    -2.5, 0.9, -2.0, -6.0, -7.1, -8.8, None, -7.7, -8.4, -2.4, 0.1, 2.4, 9.2, 9.5, 8.9, 6.8,
    9.3, 8.8, 1.7, 4.6, 1.9, 4.6, 10.7, 10.1, 2.4, 1.2, 1.6, 8.3, 8.4, 8.4, 8.4, 10.9,
    11.3, 11.4, 11.5,
)
"""The Breakout paddle's mean rest-point gap after each move of -24..24 units in a step.
One step's move does not tell the hidden rest point in Breakout: after a press the paddle
lags it by ~11 units in the press's direction, after a release by ~0, and the moves of the
two overlap (sticky actions; catching up after a press). A memoryless expert reads
``paddle + gap(move)``, the mean over its own play (a shadow observer tracking the true
rest point from the actions played): ``experiments/fit_breakout_rest_gap.py --seeds
20000-20003``, run with a first table fitted the same way on the tracking controller's play
(the second fit moved no entry by more than 5 units)."""


@dataclass(frozen=True)
class BreakoutConfig:
    """Breakout RAM layout, geometry (RAM units, measured here) and controller tuning."""

    ball_x: int = 99
    ball_y: int = 101
    ball_neg_vx: int = 105
    ball_vy: int = 103
    ball_vy_frac: int = 104
    paddle_x: int = 72
    paddle_half_width: int = 108
    """RAM address of half the paddle's width in pixels (8; 6 once the ball has hit the
    top wall and the paddle shrinks to 12 pixels)."""
    walls: tuple[float, float] = BREAKOUT_WALLS
    """Ball x the left and right walls mirror about."""
    window: tuple[int, int] = (int(BREAKOUT_PADDLE_Y), 183)
    """Ball y range over which the paddle can meet the ball."""
    reach_lo: int = 1
    """Lowest ball x - paddle x of a contact; the highest is the paddle's width + 1."""
    ceiling: float = BREAKOUT_TURN_Y[0]
    """Where a rising ball is assumed to turn (the bottom of the bricks), for a first guess."""
    top: float = BREAKOUT_TURN_Y[1]
    """Where a rising ball above the bricks turns (the top wall)."""
    centre_weight: float = 0.02
    """Per unit of ``ball x - paddle x`` away from the paddle centre, worth lost."""
    noise_std: float = 1.5
    """Std (RAM units) of the paddle error the plan model does not know of."""
    press_cost: float = 0.05
    """Worth deducted per press in a plan."""
    horizon: int = 3
    """Steps of paddle plans searched exhaustively (3**horizon plans)."""
    memoryless: bool = True
    """As :attr:`PongConfig.memoryless`: the rest point is read off the paddle's last step
    (through :attr:`rest_gap`) and the last action is taken as none. 594 +- 176 over seeds
    10000-10009 (6,000-step cap) against 719 for the tracking controller (``False``) on the
    same seeds; reading the step as a released paddle's instead (no table) gave 409 +- 26
    on 10000-10004 (794 tracking there): after a press the paddle lags its rest point."""
    rest_gap: tuple[float | None, ...] = BREAKOUT_REST_GAP
    """Memoryless: mean gap rest point - paddle after a step that moved the paddle by each
    integer in :data:`BREAKOUT_REST_GAP_MOVES` (None: too rare to say; read as released)."""
    paddle: PaddleModel = field(
        default_factory=lambda: PaddleModel(
            lo=55.0, hi=191.0, rest_lo=55.0, rest_hi=236.0, update_frames=(0, 1, 2, 3), lag=True
        )
    )


class BreakoutExpert(PaddleExpert):
    """Serves, then keeps the paddle under the ball where it will come down.

    A falling ball's path to the paddle is predicted frame by frame with mirror bounces
    off the side walls; the paddle plan (sticky actions averaged over) maximises the
    chance of meeting it near the paddle's centre. A rising ball is followed to where
    it should come down after turning at the bricks.
    """

    n_actions = 4
    NOOP, FIRE, RIGHT, LEFT = 0, 1, 2, 3
    DIRECTION = (0, 0, 1, -1)

    def __init__(
        self,
        skill: float = 1.0,
        seed: int = 0,
        lapse_steps: int = 4,
        config: BreakoutConfig | None = None,
    ) -> None:
        super().__init__(skill=skill, seed=seed, lapse_steps=lapse_steps)
        self.config = config or BreakoutConfig()
        self._reset_controller(None)

    def _reset_controller(self, env: gym.Env | None) -> None:
        self._observer = PaddleObserver(self.config.paddle)
        self._last_action = self.NOOP
        self._prev_ball: tuple[int, int] | None = None

    def _gap_after(self, moved: float) -> float | None:
        lo, hi = BREAKOUT_REST_GAP_MOVES
        m = int(round(moved))
        return self.config.rest_gap[m - lo] if lo <= m <= hi else None

    def ball_velocity(self, ram: np.ndarray) -> tuple[float, float]:
        """Ball velocity per frame.

        vy is in RAM (whole and 1/256 parts). The x speed's fraction is not in a plain
        byte, so vx is the last step's move over its frames when the ball was clear of
        the side walls (no bounce within the step), else the RAM's whole pixels per frame.
        """
        cfg = self.config
        vy = signed_byte(ram[cfg.ball_vy]) + int(ram[cfg.ball_vy_frac]) / 256.0
        ram_vx = -signed_byte(ram[cfg.ball_neg_vx])
        x = int(ram[cfg.ball_x])
        frames = cfg.paddle.frames
        reach = 2 * frames + 1  # farthest a ball travels in a step, plus one
        lo, hi = cfg.walls
        prev = self._prev_ball
        if prev is not None and min(x, prev[0]) > lo + reach and max(x, prev[0]) < hi - reach:
            moved = (x - prev[0]) / frames
            if moved != 0 and (ram_vx == 0 or np.sign(moved) == np.sign(ram_vx)):
                return moved, vy
        return (float(ram_vx) if ram_vx != 0 else -0.5), vy

    def landing(self, x: int, y: int, vx: float, vy: float) -> tuple[tuple[int, ...], np.ndarray]:
        """Frames (from now) on which a falling ball is in the paddle's window, and its x."""
        cfg = self.config
        lo, hi = cfg.window
        frames, xs = [], []
        fx, fy = float(x), float(y)
        for t in range(1, 256):
            fx, fy = fx + vx, fy + vy
            if fy > hi:
                break
            if fy >= lo:
                frames.append(t)
                xs.append(fold(fx, *cfg.walls))
        return tuple(frames), np.rint(np.array(xs))

    def _policy(self, env: gym.Env, obs: np.ndarray) -> int:
        cfg = self.config
        ram = env.unwrapped.ale.getRAM()
        paddle = float(ram[cfg.paddle_x])
        rest, last_dir = self._paddle_rest(paddle)
        x, y = int(ram[cfg.ball_x]), int(ram[cfg.ball_y])
        if y == 0:  # no ball in play: serve
            self._prev_ball = None
            return self.FIRE
        vx, vy = self.ball_velocity(ram)
        self._prev_ball = (x, y)
        half = int(ram[cfg.paddle_half_width])
        reach = (cfg.reach_lo, cfg.reach_lo + 2 * (half if 3 <= half <= 8 else 8))
        centre = (reach[0] + reach[1]) / 2.0
        frames, ball = self.landing(x, y, vx, vy) if vy > 0 else ((), np.zeros(0))
        if not frames:
            # Rising (or past the paddle): go where it should come down after turning.
            turn = cfg.ceiling if y > cfg.ceiling else cfg.top
            down = abs(vy) if vy != 0 else 2.0
            n = (max(y - turn, 0.0) + (cfg.window[0] - turn)) / down
            goal = fold(x + vx * n, *cfg.walls) - centre
            push = plan_rest(cfg.paddle, paddle, rest, last_dir, goal)
        else:
            rel = np.arange(reach[0], reach[1] + 1)
            values = 1.0 - cfg.centre_weight * np.abs(rel - centre)
            contact = Contact(frames, ball, reach, values, -1.0, ball[0] - centre)
            push = plan_contact(
                cfg.paddle, paddle, rest, last_dir, contact, cfg.horizon, cfg.noise_std,
                cfg.press_cost,
            )  # fmt: skip
        return (self.LEFT, self.NOOP, self.RIGHT)[push + 1]
