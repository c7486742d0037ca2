"""Training data of the state estimator: the game's own rollouts, labelled by the simulator.

Episodes are played in the env with a mix of behaviours, so that both the expert's
states and the states a learning agent visits are covered (:data:`BEHAVIOURS`): the
scripted expert at several skill levels with short and long lapses (long lapses run off
the road and the expert then recovers), and held random play (uniform actions, each
held for several steps). Every frame is labelled with :mod:`lfo.envs.privileged` (value and
validity). Seeds start at :data:`STATE_SEED_BASE`, disjoint from evaluation (0-9999), demonstrations
(10000-999999) and training episodes (1,000,000+). Nothing here reads the shipped clips
or their sidecars.

Codec robustness: most episodes go through a real video round trip before they are
preprocessed (H.264, VP9 or MPEG-4 at a random quality, often at another resolution),
decoded by the same reader the clips use, so decoded clips and live frames map to the
same state (:func:`codec_round_trip`).

Rollouts are the slow part (Breakout: ~13 s an episode, 128 episodes ~25 min), so each
preprocessed episode can be kept on disk (:func:`collect` with ``cache``) and reused by
any later estimator on the same view: episode ``i`` is the same whichever total is asked
for, so 256 episodes reuse the first 128.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

from lfo.algorithms.exploration import held_random_policy
from lfo.data.preprocess import Preprocess
from lfo.data.video import ClipInfo, read_clip, write_clip
from lfo.demonstrations.experts import make_expert
from lfo.envs.games import get_game, make_raw_env
from lfo.envs.privileged import PrivilegedState, state_variables

#: first env seed of the estimator's rollouts (far above every other use)
STATE_SEED_BASE = 5_000_000
#: version of the rollouts' recipe in the cache key: bump it when the behaviours, experts
#: or codec draws change what an episode holds (the state reader's names are in the key)
ROLLOUT_FORMAT = 1


@dataclass(frozen=True)
class Behaviour:
    """One way of playing an episode: the expert with lapses, or held random play."""

    name: str
    skill: float | None
    """Expert skill (fraction of steps it plays); ``None``: held random play."""
    lapse_steps: int = 4
    """Length of each random lapse of the expert."""
    mean_hold: float = 10.0
    """Random play: mean number of steps each random action is held."""


BEHAVIOURS: tuple[Behaviour, ...] = (
    Behaviour("expert", 1.0),
    Behaviour("expert-lapses", 0.8, lapse_steps=4),
    Behaviour("expert-recoveries", 0.6, lapse_steps=15),
    Behaviour("expert-offroad", 0.35, lapse_steps=30),
    Behaviour("held-random", None, mean_hold=10.0),
)

#: Atari (15 Hz agent steps): the expert, the expert with lapses (missed balls, paddles
#: in odd places), and held random play (the states of an agent that cannot play yet)
ATARI_BEHAVIOURS: tuple[Behaviour, ...] = (
    Behaviour("expert", 1.0),
    Behaviour("expert-lapses", 0.9, lapse_steps=4),
    Behaviour("expert-weak", 0.7, lapse_steps=8),
    Behaviour("held-random", None, mean_hold=4.0),
)


def behaviours_for(game: str) -> tuple[Behaviour, ...]:
    """The rollout behaviours of ``game``'s estimator data (in turn over the episodes)."""
    return BEHAVIOURS if game == "carracing" else ATARI_BEHAVIOURS


@dataclass(frozen=True)
class CodecSetting:
    """A video round trip: container (codec), quality, and the size the video is written at."""

    ext: str | None
    """``.mp4`` (H.264), ``.webm`` (VP9), ``.avi`` (MPEG-4); ``None``: no round trip."""
    crf: int = 20
    size: int = 96
    """Height the frames are resized to before encoding (the width keeps the aspect ratio;
    decoded back to native)."""


#: frame heights of the round trips, as multiples of the native height (CarRacing: 64-240)
CODEC_SCALES = (1.0, 1.0, 1.0, 2 / 3, 4 / 3, 5 / 3, 2.5)


def draw_codec(rng: np.random.Generator, native_height: int = 96) -> CodecSetting:
    """A random round trip: 20% none, 45% H.264, 25% VP9, 10% MPEG-4; heights 2/3 to 2.5x
    the native one."""
    u = rng.random()
    size = 2 * int(round(float(rng.choice(CODEC_SCALES)) * native_height / 2))  # even
    if u < 0.2:
        return CodecSetting(None)
    if u < 0.65:
        return CodecSetting(".mp4", int(rng.integers(15, 33)), size)
    if u < 0.9:
        return CodecSetting(".webm", int(rng.integers(10, 31)), size)
    return CodecSetting(".avi", 0, size)


def codec_round_trip(frames: np.ndarray, setting: CodecSetting, fps: float) -> np.ndarray:
    """Write RGB frames ``(T, H, W, 3)`` as a video with ``setting`` and decode them back
    at their own size with the clip reader (:mod:`lfo.data.video`)."""
    if setting.ext is None:
        return frames

    t, h, w, _ = frames.shape
    size_h = setting.size
    size_w = w if size_h == h else 2 * int(round(w * size_h / h / 2))  # even, same aspect
    if (size_h, size_w) != (h, w):
        frames = np.stack([cv2.resize(f, (size_w, size_h), interpolation=cv2.INTER_AREA)
                           for f in frames])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"episode{setting.ext}"
        write_clip(path, frames, fps, crf=setting.crf)
        clip = ClipInfo(path, t, fps, size_h, size_w)
        decoded = read_clip(clip, size=(h, w))
    if len(decoded) != t:  # a codec that drops or adds a frame would misalign the labels
        raise RuntimeError(f"round trip {setting} returned {len(decoded)} of {t} frames")
    return decoded


@dataclass
class StateEpisodes:
    """Preprocessed frame stacks with their state labels, many episodes concatenated.

    Attributes:
        stacks: uint8 ``(N, k*c, h, w)``: the view at each step (stacked as in the env).
        states: float32 ``(N, D)``: the scaled privileged state at that step.
        valid: bool ``(N, D)``: which labels are defined.
        episode: int ``(N,)``: episode index of each sample.
        behaviour: the behaviour name of each episode.
    """

    stacks: np.ndarray
    states: np.ndarray
    valid: np.ndarray
    episode: np.ndarray
    behaviour: list[str]

    def __len__(self) -> int:
        return len(self.stacks)


def play_episode(game: str, seed: int, behaviour: Behaviour, max_steps: int,
                 options: dict[str, Any] | None = None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One rollout: native RGB frames ``(T+1, H, W, 3)``, states and validity ``(T+1, D)``
    (``options``: the game's env options, e.g. CarRacing's ``domain_randomize``)."""
    env = PrivilegedState(make_raw_env(game, **(options or {})), game)
    obs, info = env.reset(seed=seed)
    if behaviour.skill is not None:
        expert = make_expert(game, skill=behaviour.skill, seed=seed,
                             lapse_steps=behaviour.lapse_steps)
        expert.reset(env.unwrapped, seed=seed)
        act = lambda o: expert.act(env.unwrapped, o)  # noqa: E731
    else:
        act = held_random_policy(int(env.action_space.n), behaviour.mean_hold, seed=seed)
    frames, states, valid = [obs], [info["state"]], [info["state_valid"]]
    for _ in range(max_steps):
        obs, _, terminated, truncated, info = env.step(act(obs))
        frames.append(obs)
        states.append(info["state"])
        valid.append(info["state_valid"])
        if terminated or truncated:
            break
    env.close()
    return np.stack(frames), np.stack(states), np.stack(valid)


def randomized_colours(i: int, every: int) -> bool:
    """Whether rollout episode ``i`` is played with the env's own colour randomisation
    (every ``every``-th episode, the last of each group; ``every`` 0: none)."""
    if every < 0:
        raise ValueError(f"randomize_every must be >= 0, got {every}")
    return every > 0 and i % every == every - 1


def rollout_cache_dir(root: str | Path, game: str, preprocess: Preprocess, *,
                      max_steps: int, seed: int, codec: bool,
                      randomize_every: int = 0) -> Path:
    """The folder of cached episodes for these rollout settings under ``root`` (a hash of
    everything that decides an episode's content; the episode count is not in it). Without
    colour randomisation the key is the one caches had before it existed."""
    key = {"format": ROLLOUT_FORMAT, "game": game, "preprocess": asdict(preprocess),
           "max_steps": max_steps, "seed": seed, "codec": codec,
           "states": [v.name for v in state_variables(game)],
           "behaviours": [asdict(b) for b in behaviours_for(get_game(game).name)]}
    if randomize_every:
        key["randomize_every"] = randomize_every
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    return Path(root) / f"{game}-{digest}"


def _write_episode(path: Path, stacks: np.ndarray, states: np.ndarray, valid: np.ndarray,
                   behaviour: str) -> None:
    """Write one episode atomically (a killed run leaves no half-written file)."""
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(tmp, stacks=stacks, states=states, valid=valid,
                        behaviour=np.array(behaviour))
    os.replace(tmp, path)


def collect(
    game: str,
    preprocess: Preprocess,
    *,
    episodes: int,
    max_steps: int,
    seed: int = STATE_SEED_BASE,
    codec: bool = True,
    progress: bool = True,
    cache: str | Path | None = None,
    randomize_every: int = 0,
) -> StateEpisodes:
    """Play ``episodes`` rollouts (behaviours in turn), round-trip and preprocess them.

    ``randomize_every``: every so many episodes one is played with the env's
    ``domain_randomize`` (CarRacing: random grass, road and background colours; see
    :func:`randomized_colours`), so the estimator sees more than the stock colours.

    ``cache``: a folder where each preprocessed episode is kept (see
    :func:`rollout_cache_dir`); episodes found there are read instead of played, and the
    result is assembled from the files one at a time, so memory peaks at the data's size
    (without a cache the per-episode pieces and their concatenation coexist: twice it).
    """
    state_variables(game)  # a clear error for a game without a state reader
    spec = get_game(game)
    randomized_colours(0, randomize_every)  # refuses a negative period before any play
    if randomize_every and "domain_randomize" not in spec.options:
        raise ValueError(f"{spec.name} has no domain_randomize option: randomize_every "
                         "needs a game with random colours (carracing)")
    behaviours = behaviours_for(spec.name)
    rng = np.random.default_rng(seed)
    folder = (rollout_cache_dir(cache, game, preprocess, max_steps=max_steps, seed=seed,
                                codec=codec, randomize_every=randomize_every)
              if cache is not None else None)
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
    pieces: list = []
    for i in tqdm(range(episodes), desc="estimator rollouts", disable=not progress):
        behaviour = behaviours[i % len(behaviours)]
        # drawn for every episode, cached or not, so episode i's codec never depends on
        # which episodes were cached
        setting = (draw_codec(rng, native_height=spec.native_size[0]) if codec
                   else CodecSetting(None))
        path = folder / f"episode_{i:05d}.npz" if folder is not None else None
        if path is not None and path.is_file():
            pieces.append(path)
            continue
        options = ({"domain_randomize": True} if randomized_colours(i, randomize_every)
                   else None)
        frames, s, v = play_episode(game, seed + i, behaviour, max_steps, options)
        frames = codec_round_trip(frames, setting, fps=spec.control_hz())
        stacks = preprocess.clip(frames)
        if path is not None:
            _write_episode(path, stacks, s, v, behaviour.name)
            pieces.append(path)
        else:
            pieces.append((stacks, s, v, behaviour.name))
    return _assemble(pieces)


def _assemble(pieces: list) -> StateEpisodes:
    """Concatenate the episodes: all held in memory ``(stacks, states, valid, behaviour)``,
    or all cached as files, which are read one at a time into one preallocated array."""
    if all(isinstance(p, tuple) for p in pieces):
        stacks = np.concatenate([p[0] for p in pieces])
        states, valid, names = ([p[k] for p in pieces] for k in (1, 2, 3))
    else:
        lengths = []
        for path in pieces:
            with np.load(path) as data:
                lengths.append(len(data["states"]))
        stacks, states, valid, names, at = None, [], [], [], 0
        for path, n in zip(pieces, lengths, strict=True):
            with np.load(path) as data:
                episode_stacks = data["stacks"]
                if stacks is None:
                    stacks = np.empty((sum(lengths), *episode_stacks.shape[1:]),
                                      dtype=episode_stacks.dtype)
                stacks[at:at + n] = episode_stacks
                states.append(data["states"])
                valid.append(data["valid"])
                names.append(str(data["behaviour"]))
            at += n
    episode = np.concatenate([np.full(len(s), i) for i, s in enumerate(states)])
    return StateEpisodes(stacks, np.concatenate(states), np.concatenate(valid), episode,
                         list(names))
