"""Linear probes: how much privileged game state can a linear map read off the features?

A good encoder for control should make the state variables a policy needs (CarRacing:
speed, heading relative to the track, lateral offset from the centreline; Pong: ball
x/y and our paddle's y) linearly decodable. This module

* reads those variables from the simulator (``env.unwrapped``, RAM) while a scripted
  expert plays, and records the episode as a clip plus a ``.targets.npz`` beside it
  (:func:`build_probe_set`), so probes see frames through the same decode/preprocess
  path the learner uses;
* fits ridge regression on some episodes and scores R^2 on held-out ones
  (:func:`ridge_probe`). The maths are pure numpy functions.

The probe targets are used for *evaluation only*: no learner and no pretraining reads them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from encoders.clip_features import clip_features
from lfo.data.video import write_clip
from lfo.demonstrations.experts import make_expert
from lfo.envs.games import get_game, make_raw_env

#: privileged variables probed per game
PROBE_VARIABLES: dict[str, tuple[str, ...]] = {
    "carracing": ("speed", "heading", "offset"),
    "pong": ("ball_x", "ball_y", "paddle_y"),
}
#: Pong RAM addresses (see lfo.demonstrations.experts.atari): ball x, ball y (0 = no ball), our
#: paddle y
PONG_RAM = {"ball_x": 49, "ball_y": 54, "paddle_y": 51}
#: Pong variables only defined while a ball is in play (frames without one are masked)
_BALL_VARIABLES = ("ball_x", "ball_y")


# ----------------------------------------------------------------------------- targets
class CarRacingTracker:
    """Localises the car on the track centreline; gives speed, heading and offset.

    ``heading`` is the car's yaw minus the local track direction, wrapped to
    ``(-pi, pi]`` (positive: the car points left of the track); ``offset`` is the signed
    distance of the car from the centreline (positive: left of it), world units.
    """

    def __init__(self, env) -> None:
        track = env.unwrapped.track
        self.xy = np.asarray([(p[2], p[3]) for p in track], dtype=np.float64)
        tangent = np.roll(self.xy, -1, axis=0) - self.xy
        self.direction = np.arctan2(tangent[:, 1], tangent[:, 0])
        self.tangent = tangent / np.linalg.norm(tangent, axis=1, keepdims=True)
        self.idx: int | None = None

    def _nearest(self, pos: np.ndarray) -> int:
        n = len(self.xy)
        # A window around the last index keeps it from jumping to a nearby part of the
        # loop; a global search starts it and recovers it when the car has gone far.
        if self.idx is not None:
            window = np.arange(self.idx - 10, self.idx + 40) % n
            d2 = np.sum((self.xy[window] - pos) ** 2, axis=1)
            if d2.min() < 30.0**2:
                return int(window[int(np.argmin(d2))])
        return int(np.argmin(np.sum((self.xy - pos) ** 2, axis=1)))

    def state(self, env) -> dict[str, float]:
        """Speed, heading and offset of the car now."""
        hull = env.unwrapped.car.hull
        pos = np.array(hull.position, dtype=np.float64)
        self.idx = self._nearest(pos)
        # Project onto the segment idx -> idx+1 (or idx-1 -> idx when behind idx).
        i = self.idx
        if np.dot(pos - self.xy[i], self.tangent[i]) < 0:
            i = (i - 1) % len(self.xy)
        rel = pos - self.xy[i]
        t = self.tangent[i]
        offset = float(t[0] * rel[1] - t[1] * rel[0])  # cross(t, rel): left positive
        fwd = np.array(hull.GetWorldVector((0.0, 1.0)), dtype=np.float64)
        yaw = math.atan2(fwd[1], fwd[0])
        heading = (yaw - self.direction[i] + math.pi) % (2 * math.pi) - math.pi
        speed = float(np.linalg.norm(np.array(hull.linearVelocity)))
        return {"speed": speed, "heading": float(heading), "offset": offset}


def pong_state(env) -> dict[str, float]:
    """Ball x, ball y (NaN while no ball is in play) and our paddle's y, from RAM."""
    ram = env.unwrapped.ale.getRAM()
    out = {k: float(ram[a]) for k, a in PONG_RAM.items()}
    if ram[PONG_RAM["ball_y"]] == 0:
        out["ball_x"] = out["ball_y"] = float("nan")
    return out


@dataclass
class ProbeEpisode:
    """One expert episode: native frames (T, H, W, 3) and targets per frame (T,)."""

    frames: np.ndarray
    targets: dict[str, np.ndarray]
    seed: int
    skill: float


def record_probe_episode(
    game: str, *, seed: int, skill: float, max_steps: int | None = None
) -> ProbeEpisode:
    """Play one seeded episode with the scripted expert, keeping frames and targets."""
    name = get_game(game).name
    env = make_raw_env(name)
    expert = make_expert(name, skill=skill, seed=seed)
    obs, _ = env.reset(seed=seed)
    expert.reset(env, seed=seed)
    if name == "carracing":
        tracker = CarRacingTracker(env)
        read = tracker.state
    else:
        read = pong_state
    frames, rows = [obs], [read(env)]
    done = False
    while not done:
        obs, _, terminated, truncated, _ = env.step(expert.act(env, obs))
        frames.append(obs)
        rows.append(read(env))
        done = terminated or truncated or (max_steps is not None and len(frames) > max_steps)
    env.close()
    targets = {k: np.array([r[k] for r in rows], dtype=np.float64) for k in rows[0]}
    return ProbeEpisode(np.stack(frames), targets, seed, skill)


def targets_path(clip_path: Path) -> Path:
    """Where the probe targets of a clip live."""
    return clip_path.with_suffix(".targets.npz")


@dataclass(frozen=True)
class ProbeSetConfig:
    """Which held-out expert episodes the probe uses.

    Attributes:
        game: ``carracing`` or ``pong``.
        seeds: env seeds, from the evaluation range 0-9999 and never used to pretrain.
        skills: expert skills, cycled over the seeds so the probed variables vary
            (CarRacing at skill 1.0 / 0.9 / 0.8 drives at a median ~60 / ~17 / ~11;
            at 0.7 or below it leaves the road for good, up to 45 units from the
            centreline, where the road is out of view and the offset is unobservable).
        max_steps: cap on steps per episode (Pong games run for thousands of steps).
    """

    game: str
    seeds: tuple[int, ...] = tuple(range(500, 520))
    skills: tuple[float, ...] = (1.0, 0.9, 0.8)
    max_steps: int | None = None


#: default probe seeds (evaluation range, never used to pretrain) and episode caps per game
PROBE_SEEDS = {"carracing": tuple(range(500, 520)), "pong": tuple(range(500, 512))}
PROBE_MAX_EPISODE_STEPS: dict[str, int | None] = {"carracing": None, "pong": 1500}


@dataclass
class ProbeEncoderConfig:
    """What scripts/probe_encoder.py probes: an encoder, its baselines, on which episodes."""

    env: Literal["carracing", "pong"]
    """The game."""
    encoder: str | None = None
    """Encoder registry name or checkpoint path (default: the game's default encoder)."""
    weights: str | None = None
    """Weights file for the encoder (resnet18)."""
    json: Path | None = None
    """Also write the results JSON here."""
    seeds: tuple[int, ...] | None = None
    """Probe episode seed values (default: 500 ... 519 for carracing, 500 ... 511 for pong)."""
    skills: tuple[float, ...] = (1.0, 0.9, 0.8)
    """Expert skills, cycled over the seeds."""
    max_episode_steps: int | None = None
    """Cap on probe episode length (default: none for carracing, 1500 for pong)."""
    probe_dir: Path = Path(".cache/probe")
    """Where the probe episodes are recorded once and reused (a folder per game)."""
    cache: Path = Path(".cache/features")
    """Feature cache."""
    baselines: bool = True
    """Also probe a randomly initialised encoder and raw downsampled pixels."""
    threads: int = 2
    """torch CPU threads."""
    view: str | None = None
    """Experiment: probe the random and pixel baselines on another view (e.g. nohud)
    instead of the encoder's."""

    def probe_set(self) -> ProbeSetConfig:
        """The held-out episodes, with the game's defaults for unset seeds and cap."""
        cap = (self.max_episode_steps if self.max_episode_steps is not None
               else PROBE_MAX_EPISODE_STEPS[self.env])
        return ProbeSetConfig(self.env, self.seeds or PROBE_SEEDS[self.env], self.skills, cap)


def build_probe_set(cfg: ProbeSetConfig, out: Path, *, progress: bool = True) -> list[Path]:
    """Record (or reuse) the probe episodes as ``out/probe_<seed>.mp4`` + targets.

    An episode is re-recorded when its clip or targets file is missing or unreadable.
    Returns the clip paths in seed order.
    """
    spec = get_game(cfg.game)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, seed in enumerate(cfg.seeds):
        skill = cfg.skills[i % len(cfg.skills)]
        clip = out / f"probe_{seed}.mp4"
        tpath = targets_path(clip)
        if not (clip.exists() and _targets_ok(tpath, cfg.game, seed, skill)):
            ep = record_probe_episode(cfg.game, seed=seed, skill=skill, max_steps=cfg.max_steps)
            write_clip(clip, ep.frames, spec.control_hz(), crf=18)
            np.savez(tpath, seed=seed, skill=skill, **ep.targets)
            if progress:
                print(f"probe episode seed={seed} skill={skill}: {len(ep.frames)} frames")
        paths.append(clip)
    (out / "probe_set.json").write_text(json.dumps({**cfg.__dict__, "clips": len(paths)}))
    return paths


def _targets_ok(path: Path, game: str, seed: int, skill: float) -> bool:
    try:
        with np.load(path) as data:
            same = int(data["seed"]) == seed and float(data["skill"]) == skill
            return same and all(k in data for k in PROBE_VARIABLES[game])
    except Exception:  # missing, truncated or not an npz: re-record
        return False


def load_targets(clip_path: Path, game: str) -> dict[str, np.ndarray]:
    """The probe targets recorded beside a clip."""
    with np.load(targets_path(clip_path)) as data:
        return {k: np.asarray(data[k], dtype=np.float64) for k in PROBE_VARIABLES[game]}


# ----------------------------------------------------------------------------- maths
def ridge_fit(x: np.ndarray, y: np.ndarray, l2: float) -> tuple[np.ndarray, np.ndarray]:
    """Ridge regression with standardised inputs and an unpenalised intercept.

    Returns ``(w, b)`` in the original input units: ``y_hat = x @ w + b``. ``l2`` is the
    penalty per standardised feature, relative to the number of samples.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    mu, sd = x.mean(0), x.std(0)
    sd = np.where(sd > 1e-8, sd, 1.0)
    xs = (x - mu) / sd
    ym = y.mean(0)
    gram = xs.T @ xs + l2 * len(x) * np.eye(x.shape[1])
    w = np.linalg.solve(gram, xs.T @ (y - ym))
    w = w / sd[:, None] if w.ndim == 2 else w / sd
    return w, ym - mu @ w


def r2_score(y: np.ndarray, y_hat: np.ndarray) -> float:
    """Coefficient of determination 1 - SS_res / SS_tot (can be negative)."""
    y = np.asarray(y, dtype=np.float64)
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    ss_res = float(np.sum((y - y_hat) ** 2))
    return 1.0 - ss_res / max(ss_tot, 1e-12)


@dataclass
class ProbeResult:
    """R^2 per variable on the held-out test episodes, and the ridge penalty chosen."""

    r2: dict[str, float]
    l2: dict[str, float]
    n_train: int
    n_test: int
    extra: dict = field(default_factory=dict)


def ridge_probe(
    features: Sequence[np.ndarray],
    targets: Sequence[dict[str, np.ndarray]],
    *,
    test_fraction: float = 0.3,
    l2_grid: Sequence[float] = (1e-5, 1e-4, 1e-3, 1e-2, 1e-1),
) -> ProbeResult:
    """Fit one ridge per variable on the first episodes, score R^2 on the last ones.

    Episodes (not frames) are split, so the test frames come from unseen tracks. The
    penalty is chosen per variable by R^2 on the last training episode(s) (a
    validation split), then the ridge is refit on all training episodes.

    Args:
        features: per episode, ``(T_i, D)`` features.
        targets: per episode, ``{name: (T_i,)}``; NaN marks frames where a variable is
            undefined (they are dropped for that variable only).
        test_fraction: fraction of episodes held out for testing (at least one).
    """
    n_ep = len(features)
    if n_ep < 3:
        raise ValueError(f"need at least 3 episodes to split train/val/test, got {n_ep}")
    n_test = max(1, round(test_fraction * n_ep))
    n_val = max(1, round(0.2 * (n_ep - n_test)))
    train_ids = list(range(n_ep - n_test))
    fit_ids, val_ids = train_ids[: len(train_ids) - n_val], train_ids[len(train_ids) - n_val :]
    test_ids = list(range(n_ep - n_test, n_ep))

    def stack(ids: list[int], name: str) -> tuple[np.ndarray, np.ndarray]:
        x = np.concatenate([features[i] for i in ids]).astype(np.float64)
        y = np.concatenate([targets[i][name] for i in ids])
        keep = np.isfinite(y)
        return x[keep], y[keep]

    r2, chosen = {}, {}
    n_train = n_test_frames = 0
    for name in targets[0]:
        x_fit, y_fit = stack(fit_ids, name)
        x_val, y_val = stack(val_ids, name)
        scores = {}
        for l2 in l2_grid:
            w, b = ridge_fit(x_fit, y_fit, l2)
            scores[l2] = r2_score(y_val, x_val @ w + b)
        best = max(scores, key=scores.get)
        x_tr, y_tr = stack(train_ids, name)
        x_te, y_te = stack(test_ids, name)
        w, b = ridge_fit(x_tr, y_tr, best)
        r2[name] = r2_score(y_te, x_te @ w + b)
        chosen[name] = best
        n_train, n_test_frames = max(n_train, len(y_tr)), max(n_test_frames, len(y_te))
    return ProbeResult(r2, chosen, n_train, n_test_frames)


# ----------------------------------------------------------------------------- runs
def probe_encoder(
    encoder, clips: Sequence, game: str, *, cache_dir: Path | None, preprocess=None
) -> ProbeResult:
    """Features of every probe clip (cached), aligned with its targets, then ridge R^2."""
    feats, targets = [], []
    for clip in clips:
        f = clip_features(clip, encoder, game, cache_dir, preprocess=preprocess)
        t = load_targets(Path(clip.path), game)
        n = min(len(f), *(len(v) for v in t.values()))  # decode may drop a trailing frame
        feats.append(f[:n])
        targets.append({k: v[:n] for k, v in t.items()})
    return ridge_probe(feats, targets)


def encoder_throughput(encoder, *, batch: int = 256, repeats: int = 5) -> dict[str, float]:
    """Encode frames/s at ``batch`` and the latency (ms) of one stack at batch 1."""
    import time

    shape = tuple(encoder.spec.input_shape)
    rng = np.random.default_rng(0)
    big = rng.integers(0, 256, (batch, *shape), dtype=np.uint8)
    one = big[:1]
    encoder.encode(big, batch_size=batch)  # warm-up
    t0 = time.perf_counter()
    for _ in range(repeats):
        encoder.encode(big, batch_size=batch)
    fps = batch * repeats / (time.perf_counter() - t0)
    for _ in range(5):
        encoder.encode(one)
    times = []
    for _ in range(50):
        t0 = time.perf_counter()
        encoder.encode(one)
        times.append(time.perf_counter() - t0)
    return {f"frames_per_s_batch{batch}": round(fps, 1),
            "latency_ms_batch1": round(1000 * float(np.median(times)), 3)}
