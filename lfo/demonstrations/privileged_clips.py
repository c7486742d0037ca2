"""PRIVILEGED REFERENCE AND EVALUATION ONLY: the expert's simulator state along each clip.

A video cannot hold the simulator's state, so the ideal-encoder rung
(``--encoder state-<game>``) and the estimator's probe regenerate it: the clip's
recorded actions (read through :mod:`lfo.demonstrations.labels`, the one reader of them) are
replayed
from the clip's seed in the same env, and :mod:`lfo.envs.privileged` reads the state after
every step. Box2D is deterministic, and ALE draws its sticky actions from a generator
seeded by the reset seed (the recorder resets a fresh env with the sidecar's ``seed``,
as the replay does), so the replay retraces the recording; the replayed return must
match the sidecar's, else the clip is refused. Results are cached under
``.cache/privileged`` by clip content.

Nothing on the learning-from-video path imports this module.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from lfo.data.files import atomic_write, file_digest
from lfo.data.sidecar import sidecar_path
from lfo.data.video import resample_indices
from lfo.envs.games import get_game, make_raw_env
from lfo.envs.privileged import state_variables

DEFAULT_CACHE = Path(".cache/privileged")
CACHE_VERSION = 2  # 2: track labels also undefined when facing against the track


class ReplayMismatch(RuntimeError):
    """Replaying a clip's recorded actions does not retrace the recorded episode."""


def replay_states(clip_path: str | Path, game: str) -> tuple[np.ndarray, np.ndarray]:
    """States and validity ``(T+1, D)`` of a recorded clip: reset, then one per action."""
    _, states, valid = _replay(clip_path, game, keep_frames=False)
    return states, valid


def replay_frames_and_states(clip_path: str | Path, game: str
                             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The live RGB frames ``(T+1, H, W, 3)`` of a clip's replayed episode beside its
    states and validity: the same episode as the clip, pictured by the env, not the codec."""
    frames, states, valid = _replay(clip_path, game, keep_frames=True)
    return frames, states, valid


def _replay(clip_path: str | Path, game: str, *, keep_frames: bool
            ) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """Replay a clip's recorded actions from its seed (checked against its return)."""
    from lfo.demonstrations.labels import (
        read_expert_actions,  # the one reader of the recorded actions
    )

    state_variables(game)
    meta = json.loads(sidecar_path(clip_path).read_text())
    spec = get_game(game)
    if get_game(meta.get("game", game)).name != spec.name:
        raise ValueError(f"{clip_path}: the sidecar says {meta.get('game')}, not {spec.name}")
    # the recording's settings that differ from the game's defaults (e.g. sticky actions
    # off): a changed default such as repeat_action_probability must be replayed too
    options = {k: v for k, v in meta.get("env_kwargs", {}).items()
               if k not in spec.kwargs or spec.kwargs[k] != v}
    actions = read_expert_actions(clip_path)
    env = make_raw_env(spec.name, privileged_state=True, **options)
    obs, info = env.reset(seed=int(meta["seed"]))
    frames = [obs] if keep_frames else None
    states, valid, total = [info["state"]], [info["state_valid"]], 0.0
    for a in actions:
        obs, reward, _, _, info = env.step(int(a))
        total += float(reward)
        if frames is not None:
            frames.append(obs)
        states.append(info["state"])
        valid.append(info["state_valid"])
    env.close()
    recorded = meta.get("return")
    if recorded is not None and abs(total - float(recorded)) > 1e-3 * max(1.0, abs(recorded)):
        raise ReplayMismatch(f"{clip_path}: replayed return {total:.3f} differs from the "
                             f"recorded {float(recorded):.3f}; cannot regenerate its states")
    return (np.stack(frames) if frames is not None else None), np.stack(states), np.stack(valid)


def clip_states(
    clip_path: str | Path, game: str, *, control_hz: float | None = None,
    cache_dir: str | Path | None = DEFAULT_CACHE,
) -> tuple[np.ndarray, np.ndarray]:
    """The expert's states along a clip at ``control_hz`` (the recording rate by default).

    With an action repeat the clip is decoded at a lower rate; the states are picked with
    the same :func:`lfo.data.video.resample_indices` as the frames, so they stay aligned.
    """
    path = Path(clip_path)
    names = hashlib.sha1(" ".join(v.name for v in state_variables(game)).encode()).hexdigest()
    key = f"v{CACHE_VERSION}-{game}-{names[:8]}-{file_digest(path)[:24]}"
    cached = Path(cache_dir) / f"{key}.npz" if cache_dir is not None else None
    states = valid = None
    if cached is not None and cached.is_file():
        try:
            with np.load(cached) as data:
                states, valid = data["states"], data["valid"]
        except Exception:  # unreadable cache: replay again
            states = None
    if states is None:
        states, valid = replay_states(path, game)
        if cached is not None:
            atomic_write(cached, lambda f: np.savez(f, states=states, valid=valid))
    recorded_hz = get_game(game).control_hz()
    if control_hz is not None and abs(control_hz - recorded_hz) > 1e-6:
        idx = resample_indices(len(states), recorded_hz, control_hz)
        states, valid = states[idx], valid[idx]
    return states, valid
