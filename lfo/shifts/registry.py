"""Named distribution-shift settings: how real videos, games and demonstrators differ from
the world the agent was built in.

Three registries, each entry a named, documented setting:

* :data:`VIDEO_SHIFTS`: the video domain (resolution, aspect, frame rate, compression,
  colours, crop). Each is a pure function on a clip ``(frames, fps) -> (frames, fps)``;
  :func:`shift_clip` applies one to a clip in memory and
  :func:`lfo.shifts.folders.apply_video_shift` to a whole folder of clip files.
* :data:`DEMO_SHIFTS`: the demonstrators. The folder's expert clips are mixed with clips
  recorded by weaker players (the scripted experts at a lower ``skill``, or random play),
  recorded on demand by :mod:`lfo.shifts.folders`.
* :func:`env_shifts`: the game itself, per game: option sets for
  :func:`lfo.envs.games.make_env` (CarRacing colours, Atari sticky actions, ROM modes and
  difficulties) and the episode seeds to evaluate on (CarRacing tracks never used
  anywhere else).

Seed ranges (every range disjoint from the others): evaluation 0-9999
(:data:`lfo.envs.evaluate.EVAL_SEEDS`); shipped demonstrations 10000-10019; weaker
demonstrators :data:`MIXED_SKILL_SEED_BASE` and :data:`RANDOM_MIX_SEED_BASE` upwards;
unseen tracks :data:`UNSEEN_TRACK_SEED_BASE` upwards; training episodes 1,000,000 and up
(:data:`lfo.loop.trainer.TRAIN_SEED_BASE`).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from lfo.data.video import resample_indices
from lfo.envs.games import get_game

#: H.264 quality of every re-encoded clip except ``crf40`` (near-lossless for a 2nd generation)
REENCODE_CRF = 18
#: seed of the per-clip draws of the random shifts (``color``); the clip's path is mixed in
SHIFT_SEED = 2024
#: first env seed of clips recorded for ``mixed-skill`` (shipped clips use 10000-10019)
MIXED_SKILL_SEED_BASE = 20_000
#: first env seed of the random-play clips of ``random-mix``
RANDOM_MIX_SEED_BASE = 30_000
#: first env seed of the ``unseen-tracks`` evaluation (CarRacing)
UNSEEN_TRACK_SEED_BASE = 50_000
#: a recorded-seed range per shift holds this many seeds at most
SEED_RANGE = 10_000


@dataclass(frozen=True)
class Clip:
    """Frames ``(T, H, W, 3)`` uint8 RGB and the rate they are shown at."""

    frames: np.ndarray
    fps: float


# ----------------------------------------------------------------------------- pure maths
def upscale(frames: np.ndarray, factor: int = 2) -> np.ndarray:
    """Every frame enlarged ``factor`` times (bicubic, as video players and editors do)."""
    if factor < 1:
        raise ValueError(f"factor must be >= 1, got {factor}")
    h, w = frames.shape[1:3]
    return np.stack(
        [cv2.resize(f, (w * factor, h * factor), interpolation=cv2.INTER_CUBIC) for f in frames]
    )


def letterbox_size(height: int, width: int, aspect: float = 16 / 9) -> tuple[int, int]:
    """The even ``(height, width)`` of a frame padded with bars to ``aspect`` (width/height)."""
    if width / height < aspect:  # too narrow: bars left and right (pillarbox)
        height, width = height, int(round(height * aspect))
    else:  # too wide: bars above and below
        height, width = int(round(width / aspect)), width
    return height + height % 2, width + width % 2


def letterbox(frames: np.ndarray, aspect: float = 16 / 9) -> np.ndarray:
    """Frames centred on black bars that make them ``aspect`` wide (16:9: a TV capture)."""
    t, h, w, c = frames.shape
    out_h, out_w = letterbox_size(h, w, aspect)
    out = np.zeros((t, out_h, out_w, c), dtype=frames.dtype)
    top, left = (out_h - h) // 2, (out_w - w) // 2
    out[:, top : top + h, left : left + w] = frames
    return out


def retime(clip: Clip, fps: float) -> Clip:
    """The clip shown at ``fps`` in real time: frames dropped or repeated, duration kept.

    Uses the decoder's own rule (:func:`lfo.data.video.resample_indices`): output frame k is
    the source frame on screen at time k / fps.
    """
    index = resample_indices(len(clip.frames), clip.fps, fps)
    return Clip(clip.frames[index], float(fps))


@dataclass(frozen=True)
class ColorJitter:
    """One colour setting: brightness and contrast factors and a hue rotation."""

    brightness: float
    contrast: float
    hue_deg: float

    @classmethod
    def draw(
        cls, rng: np.random.Generator, low: float = 0.1, high: float = 0.25, hue: float = 15.0
    ) -> ColorJitter:
        """A random setting whose every component is off by at least ``low`` (never ~identity).

        Brightness and contrast are ``1 +- U(low, high)``; the hue turns by
        ``+- U(hue / 3, hue)`` degrees; each sign is random.
        """
        sign = rng.choice([-1.0, 1.0], size=3)
        b, c = 1.0 + sign[:2] * rng.uniform(low, high, size=2)
        return cls(float(b), float(c), float(sign[2] * rng.uniform(hue / 3, hue)))


def color_jitter(frames: np.ndarray, jitter: ColorJitter) -> np.ndarray:
    """Frames with the hue turned, then contrast scaled about mid-grey and brightness scaled."""
    out = np.empty_like(frames)
    shift = jitter.hue_deg / 2.0  # OpenCV stores 8-bit hue in [0, 180)
    for i, frame in enumerate(frames):
        hsv = cv2.cvtColor(frame, cv2.COLOR_RGB2HSV)
        hsv[..., 0] = ((hsv[..., 0].astype(np.float32) + shift) % 180).astype(np.uint8)
        rgb = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB).astype(np.float32)
        rgb = (rgb - 128.0) * jitter.contrast + 128.0
        out[i] = np.clip(rgb * jitter.brightness, 0, 255).round().astype(np.uint8)
    return out


def offset_crop(frames: np.ndarray, fraction: float = 0.08) -> np.ndarray:
    """Cut ``fraction`` of the height off the top and of the width off the left, then resize
    back: the picture is shifted up-left and zoomed in by ``1 / (1 - fraction)``."""
    if not 0.0 <= fraction < 0.5:
        raise ValueError(f"fraction must lie in [0, 0.5), got {fraction}")
    h, w = frames.shape[1:3]
    top, left = int(round(h * fraction)), int(round(w * fraction))
    return np.stack(
        [cv2.resize(f[top:, left:], (w, h), interpolation=cv2.INTER_AREA) for f in frames]
    )


# ----------------------------------------------------------------------------- video shifts
#: ``make(rng) -> frames -> frames``: draws a clip's random settings once, then is pure
FrameTransform = Callable[[np.random.Generator], Callable[[np.ndarray], np.ndarray]]


def black_bottom(frames: np.ndarray, fraction: float) -> np.ndarray:
    """Frames with the bottom ``fraction`` of their height set to black."""
    out = np.array(frames, copy=True)
    rows = int(round(fraction * out.shape[-3]))
    if rows:
        out[..., out.shape[-3] - rows:, :, :] = 0
    return out


def _fixed(fn: Callable[[np.ndarray], np.ndarray]) -> FrameTransform:
    return lambda rng: fn


def _color_transform(rng: np.random.Generator) -> Callable[[np.ndarray], np.ndarray]:
    jitter = ColorJitter.draw(rng)  # one setting for the whole clip
    return lambda frames: color_jitter(frames, jitter)


@dataclass(frozen=True)
class VideoShift:
    """A named change of the video domain.

    Attributes:
        name: command-line name (``--video-shift``).
        doc: what it does and why a user would meet it.
        fps: re-time clips to this rate (``None``: keep each clip's rate).
        transform: per-clip factory of a per-frame transform (``None``: frames unchanged).
        crf: H.264 quality the shifted clips are written at.
        params: every setting, recorded in the cache key and in the shifted sidecars.
    """

    name: str
    doc: str
    fps: float | None = None
    transform: FrameTransform | None = None
    crf: int = REENCODE_CRF
    params: dict[str, Any] = field(default_factory=dict)


VIDEO_SHIFTS: dict[str, VideoShift] = {
    s.name: s
    for s in (
        VideoShift(
            "reencode",
            "control: the same frames re-encoded once more at crf 18 (every other video "
            "shift pays this second generation of compression too)",
        ),
        VideoShift(
            "up2x",
            "2x upscaled (bicubic), as an upscaled capture; decoding resizes it back",
            transform=_fixed(lambda f: upscale(f, 2)),
            params={"factor": 2},
        ),
        VideoShift(
            "letterbox",
            "padded with black bars to 16:9 (a TV or screen capture); decoding squeezes "
            "the whole 16:9 frame, bars included, into the env's frame size",
            transform=_fixed(lambda f: letterbox(f, 16 / 9)),
            params={"aspect": "16:9"},
        ),
        VideoShift(
            "fps25",
            "re-timed to 25 fps in real time (CarRacing, 50 Hz: every other frame, and "
            "decoding at 50 Hz repeats each once; Pong/Breakout, 15 Hz: frames shown once "
            "or twice, and decoding back at 15 Hz recovers every original frame)",
            fps=25.0,
        ),
        VideoShift(
            "fps60",
            "re-timed to 60 fps in real time (a 50 Hz game on a 60 Hz capture: one frame "
            "in five is shown twice); decoding back at 50 Hz does not undo it: one decoded "
            "frame in five repeats the previous one and another is skipped (judder)",
            fps=60.0,
        ),
        VideoShift(
            "crf40",
            "re-encoded at H.264 crf 40 (heavy compression: blocks, blurred edges)",
            crf=40,
            params={"crf": 40},
        ),
        VideoShift(
            "color",
            "colour jitter, one setting per clip (seeded by the clip's path): brightness "
            "and contrast x(1 +- U(0.1, 0.25)), hue turned +-U(5, 15) degrees",
            transform=_color_transform,
            params={"low": 0.1, "high": 0.25, "hue_deg": 15.0, "seed": SHIFT_SEED},
        ),
        VideoShift(
            "nohud",
            "CarRacing: the HUD (bottom 12/96 of the picture: speed, ABS, steering and gyro "
            "bars) blacked out, as in captures that crop the dashboard; the state estimator "
            "reads those bars, so this measures what it loses without them",
            transform=_fixed(lambda f: black_bottom(f, 12 / 96)),
            params={"fraction": 12 / 96},
        ),
        VideoShift(
            "crop",
            "8% of the height cut off the top and 8% of the width off the left, resized back "
            "(an off-centre crop: picture shifted and zoomed by 1.09)",
            transform=_fixed(lambda f: offset_crop(f, 0.08)),
            params={"fraction": 0.08},
        ),
    )
}


def clip_rng(key: str) -> np.random.Generator:
    """The generator of one clip's random settings (a clip's relative path as key)."""
    return np.random.default_rng([SHIFT_SEED, zlib.crc32(key.encode())])


def shift_clip(clip: Clip, shift: str | VideoShift, rng: np.random.Generator) -> Clip:
    """Apply a video shift to a clip held in memory: re-time, then transform each frame."""
    shift = get_video_shift(shift) if isinstance(shift, str) else shift
    if shift.fps is not None:
        clip = retime(clip, shift.fps)
    if shift.transform is None:
        return clip
    return Clip(shift.transform(rng)(clip.frames), clip.fps)


def get_video_shift(name: str) -> VideoShift:
    """A video shift by name; an unknown name is an error listing the known ones."""
    if name not in VIDEO_SHIFTS:
        raise ValueError(f"unknown video shift {name!r}; known: {', '.join(VIDEO_SHIFTS)}")
    return VIDEO_SHIFTS[name]


# ----------------------------------------------------------------------------- demonstrators
@dataclass(frozen=True)
class DemoShift:
    """A folder of expert clips mixed with clips of weaker demonstrators.

    Attributes:
        name: command-line name (``--video-shift``).
        doc: what the folder holds.
        skills: skill (:class:`lfo.demonstrations.experts.base.ScriptedExpert`) of each added
            clip, cycled; 0 is random play (4-step lapses of a random action, nothing else).
        added_per_clip: clips added per source clip (rounded, at least 1).
        seed_base: env seed of the first added clip (a range no other data uses).
    """

    name: str
    doc: str
    skills: tuple[float, ...]
    added_per_clip: float
    seed_base: int

    def added(self, n_source: int) -> list[float]:
        """The skill of each clip added to a folder of ``n_source`` clips."""
        k = max(1, int(round(self.added_per_clip * n_source)))
        return [self.skills[i % len(self.skills)] for i in range(k)]


DEMO_SHIFTS: dict[str, DemoShift] = {
    s.name: s
    for s in (
        DemoShift(
            "mixed-skill",
            "the expert clips plus as many clips by weaker players: the scripted expert at "
            "skill 0.7 and 0.4 (30% / 60% of steps are random 4-step lapses), alternately",
            skills=(0.7, 0.4),
            added_per_clip=1.0,
            seed_base=MIXED_SKILL_SEED_BASE,
        ),
        DemoShift(
            "random-mix",
            "the expert clips plus a few random-play clips (one per four expert clips)",
            skills=(0.0,),
            added_per_clip=0.25,
            seed_base=RANDOM_MIX_SEED_BASE,
        ),
    )
}

#: every name ``--video-shift`` accepts
FOLDER_SHIFTS: tuple[str, ...] = (*VIDEO_SHIFTS, *DEMO_SHIFTS)


# ----------------------------------------------------------------------------- env shifts
@dataclass(frozen=True)
class EnvShift:
    """A named change of the game the agent is evaluated in.

    Attributes:
        name: command-line name (``--shifts``).
        game: the game it applies to.
        doc: what changes.
        options: :func:`lfo.envs.games.make_env` options (merged over the run's own).
        seed_base: first episode seed (default 0: the usual evaluation seeds).
    """

    name: str
    game: str
    doc: str
    options: dict[str, Any] = field(default_factory=dict)
    seed_base: int = 0

    def seeds(self, n: int) -> list[int]:
        """The ``n`` episode seeds evaluated under this shift."""
        return list(range(self.seed_base, self.seed_base + n))


def _atari_shifts(game: str, difficulty: int, paddle: str, mode: int) -> list[EnvShift]:
    return [
        EnvShift("sticky0", game, "no sticky actions (repeat_action_probability 0; the agent "
                 "trains with 0.25)", {"repeat_action_probability": 0.0}),
        EnvShift("sticky25", game, "sticky actions 0.25 (the default: a no-op shift unless the "
                 "run changed it)", {"repeat_action_probability": 0.25}),
        EnvShift("sticky50", game, "sticky actions 0.5: every other decision repeats the last "
                 "action", {"repeat_action_probability": 0.5}),
        EnvShift(f"difficulty{difficulty}", game, f"ROM difficulty {difficulty}: {paddle}",
                 {"difficulty": difficulty}),
        EnvShift(f"mode{mode}", game, f"ROM game mode {mode} (another of the cartridge's "
                 "game variations)", {"mode": mode}),
    ]


_ENV_SHIFTS: dict[str, list[EnvShift]] = {
    "carracing": [
        EnvShift("unseen-tracks", "carracing", "tracks from seeds 50000 and up, a range no "
                 "demonstration, training or default evaluation episode uses",
                 seed_base=UNSEEN_TRACK_SEED_BASE),
        EnvShift("domain-randomize", "carracing", "random grass, road and background colours "
                 "every episode (domain_randomize=True)", {"domain_randomize": True}),
    ],
    # paddle sizes measured on rendered frames (ale-py 0.12.1)
    "pong": _atari_shifts("pong", 2, "the agent's paddle is half as tall (16 -> 8 px)", 1),
    "breakout": _atari_shifts("breakout", 1, "a narrower paddle (24 -> 20 px)", 4),
}


def env_shifts(game: str) -> dict[str, EnvShift]:
    """The named env shifts of a game, in table order."""
    return {s.name: s for s in _ENV_SHIFTS[get_game(game).name]}


def get_env_shift(game: str, name: str) -> EnvShift:
    """An env shift by game and name; an unknown name is an error listing the game's ones."""
    shifts = env_shifts(game)
    if name not in shifts:
        raise ValueError(f"unknown env shift {name!r} for {get_game(game).name}; "
                         f"known: {', '.join(shifts)}")
    return shifts[name]


def describe_all() -> str:
    """Every shift, one line each (for ``--help`` and the README)."""
    lines = ["video shifts (--video-shift):"]
    lines += [f"  {s.name}: {s.doc}" for s in VIDEO_SHIFTS.values()]
    lines += ["demonstrator shifts (--video-shift):"]
    lines += [f"  {s.name}: {s.doc}" for s in DEMO_SHIFTS.values()]
    for game, shifts in _ENV_SHIFTS.items():
        lines += [f"env shifts, {game} (--shifts):"]
        lines += [f"  {s.name}: {s.doc}" for s in shifts]
    return "\n".join(lines)
