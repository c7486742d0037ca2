"""Encoders by name: shipped defaults, baselines, ResNet-18, or a checkpoint path.

Names:
    ``default-carracing``: the shipped state estimator (:mod:`encoders.state_estimator`),
        frames to the game's state: v3 (``carracing_state_v3.pt``, since 2026-12-06),
        trained on 240 rollouts, a third of them in the env's random colours, with
        contrast/brightness jitter; it reads the HUD's bars.
    ``carracing-v1``: the default before it (``carracing_state.pt``: 160 rollouts in the
        stock colours); runs recorded with it load it by their encoder id.
    ``robust-carracing``: the state estimator v2 (``carracing_state_v2.pt``): the same
        net trained on more tracks, a third of them in random colours, with the HUD
        blacked out on 30% of its training frames and contrast/brightness jitter; for
        recoloured clips and captures without the dashboard.
    ``zoom-carracing``: the state estimator v4 (``carracing_state_v4.pt``): v3's recipe
        with 40% of its training stacks seen through a random window of the view, for
        captures that crop, pan or zoom the picture.
    ``ssl-carracing``: the earlier self-supervised CNN (128 features, IDM + temporal
        contrast), for games without simulator state and as a measured baseline.
    ``default-pong`` / ``default-breakout``: the game's shipped state estimator
        (``<game>_state.pt``; frames to the RAM state of :mod:`lfo.envs.privileged`).
    ``ssl-atari`` (old name ``default-atari``): the earlier self-supervised Atari CNN
        (trained on Pong), the fallback of an Atari game without a shipped estimator.
        Shipped weights are checked against ``MANIFEST.json``; a missing or corrupt file
        is an :class:`EncoderError`.
    ``state-<game>``: PRIVILEGED, the ideal encoder: the simulator's own state
        (:mod:`encoders.privileged`), the ceiling of the ladder.
    ``random-<game>``: the default architecture, randomly initialised (seed 0): a
        baseline, only ever by name.
    ``pixels-<game>``: area-downsampled raw pixels (baseline).
    ``resnet18`` / ``resnet18-<game>``: ImageNet ResNet-18; ``weights=PATH`` required
        unless the torch hub cache holds it.
    any path to a ``.pt`` checkpoint written by :func:`save_checkpoint`.
"""

from __future__ import annotations

import functools
import warnings
from pathlib import Path
from typing import Any

import torch

from encoders.base import (
    MANIFEST_NAME,
    WEIGHTS_DIR,
    Encoder,
    EncoderError,
    EncoderSpec,
    lists_to_tuples,
    manifest_digest,
    preprocess_dict,
    restore_checkpoint,
    spec_id,
    state_digest,
    write_checkpoint,
)
from encoders.nets import ConvConfig, ConvEncoder, PixelEncoder
from encoders.privileged import PrivilegedStateEncoder
from encoders.resnet import load_resnet18
from encoders.state_estimator import FORMAT as STATE_FORMAT
from encoders.state_estimator import from_payload
from lfo.data.files import file_digest
from lfo.data.preprocess import Preprocess
from lfo.data.safe_load import UnsafeCheckpoint, safe_load
from lfo.envs.games import get_game
from lfo.envs.privileged import state_variables

FORMAT = "lfo-encoder/1"

#: game -> family; the Atari games share the self-supervised CNN (trained on Pong)
_FAMILIES = {"carracing": "carracing", "pong": "atari", "breakout": "atari"}

#: shipped weights file of each registry name (each game's default is a state estimator).
#: CarRacing's default is the estimator v3 since 2026-12-06 (v1 before; runs recorded with
#: v1 resolve to ``carracing-v1`` by their encoder id, :func:`resolve_recorded`)
_SHIPPED = {"default-carracing": "carracing_state_v3.pt", "carracing-v1": "carracing_state.pt",
            "robust-carracing": "carracing_state_v2.pt",
            "zoom-carracing": "carracing_state_v4.pt",
            "default-pong": "pong_state.pt",
            "default-breakout": "breakout_state.pt", "ssl-carracing": "carracing.pt",
            "ssl-atari": "atari.pt"}
#: older or per-game names of shipped encoders
_ALIASES = {"default-atari": "ssl-atari", "ssl-pong": "ssl-atari", "ssl-breakout": "ssl-atari"}
#: the command that re-creates each shipped file
_RECREATE = {
    "carracing_state.pt": "python scripts/pretrain_state_encoder.py --env carracing "
                          "--out encoders/weights/carracing_state.pt --ship",
    "carracing_state_v3.pt": "python scripts/pretrain_state_encoder.py --env carracing "
                             "--episodes 240 --randomize-every 3 --intensity-jitter 0.2 "
                             "--epochs 15 --out encoders/weights/carracing_state_v3.pt --ship",
    "carracing_state_v4.pt": "python scripts/pretrain_state_encoder.py --env carracing "
                             "--episodes 240 --randomize-every 3 --intensity-jitter 0.2 "
                             "--zoom 0.4 --epochs 15 "
                             "--out encoders/weights/carracing_state_v4.pt --ship",
    "carracing_state_v2.pt": "python scripts/pretrain_state_encoder.py --env carracing "
                             "--episodes 240 --randomize-every 3 --hud-mask 0.3 "
                             "--intensity-jitter 0.2 --epochs 15 "
                             "--out encoders/weights/carracing_state_v2.pt --ship",
    "carracing.pt": "python scripts/pretrain_encoder.py --env carracing "
                    "--out encoders/weights/carracing.pt --ship",
    "atari.pt": "python scripts/pretrain_encoder.py --env pong --out encoders/weights/atari.pt "
                "--ship",
    "pong_state.pt": "python scripts/pretrain_state_encoder.py --env pong --episodes 60 "
                     "--max-episode-steps 800 --epochs 15 --out encoders/weights/pong_state.pt "
                     "--ship",
    "breakout_state.pt": "python scripts/pretrain_state_encoder.py --env breakout "
                         "--episodes 128 --max-episode-steps 3000 --epochs 8 "
                         "--out encoders/weights/breakout_state.pt --ship",
}

#: default architecture per family (the random baseline uses the same)
DEFAULT_ARCH: dict[str, dict[str, Any]] = {
    "carracing": {"widths": (32, 64, 64), "feature_dim": 128, "head": "flatten"},
    # Pong frames are nearly all background: subtract it, and read positions as keypoints
    "atari": {"widths": (32, 64, 64), "feature_dim": 128, "head": "spatial_softmax",
              "center": True},
}


def _family(game: str) -> str:
    name = get_game(game).name
    if name not in _FAMILIES:
        raise EncoderError(f"no encoder family for game {game!r}")
    return _FAMILIES[name]


def default_for(game: str) -> str:
    """Registry name of a game's default encoder, its state estimator (``default-pong``...)."""
    _family(game)  # a clear error for a game without encoders
    return f"default-{get_game(game).name}"


def default_weights(game: str) -> Path:
    """The shipped weights file behind a game's default encoder."""
    return WEIGHTS_DIR / _SHIPPED[default_for(game)]


def default_encoder(game: str) -> str:
    """The encoder a run uses when none is named.

    The game's shipped state estimator (``default-<game>``) if its weights file exists;
    otherwise, with a warning, the family's self-supervised CNN (``ssl-<family>``), then
    the raw-pixel encoder (e.g. in a checkout without ``encoders/weights/``). A *corrupt*
    weights file stays an error.
    """
    name = default_for(game)
    if default_weights(game).is_file():
        return name
    fallback = f"ssl-{_family(game)}"
    if not (WEIGHTS_DIR / _SHIPPED[fallback]).is_file():
        fallback = f"pixels-{get_game(game).name}"
    warnings.warn(f"no shipped weights for {name}: using {fallback} "
                  f"(create them with: {_RECREATE[_SHIPPED[name]]})", stacklevel=2)
    return fallback


def available() -> list[str]:
    """Registry names (paths to checkpoints are accepted too)."""
    names = [*_SHIPPED, "state-carracing", "state-pong", "state-breakout"]
    names += [f"{kind}-{g}" for kind in ("random", "pixels") for g in ("carracing", "pong")]
    return names + ["resnet18", "resnet18-carracing", "resnet18-pong"]


def _game_preprocess(game: str):
    return get_game(game).preprocess


def check_encoder_fits(encoder: Encoder, game: str) -> None:
    """Refuse (one-line :class:`EncoderError`) an encoder made for another game or state.

    A state estimator must name the same state variables as :mod:`lfo.envs.privileged` reads
    today and have been made for ``game`` itself; a visual encoder that records its game
    must have been made for ``game``'s family (the Atari games share one)."""
    spec = encoder.spec

    target = get_game(game).name
    if spec.game not in ("any", None):
        try:  # a state (read or estimated) is one game's; a visual CNN serves its family
            same = (spec.game == target if spec.outputs is not None
                    else _family(spec.game) == _family(target))
        except (EncoderError, ValueError):
            same = spec.game == target
        if not same:
            use = (f"state-{target}" if getattr(encoder, "privileged", False)
                   else f"one made for {target} (e.g. {default_for(target)})")
            raise EncoderError(f"encoder {spec.name} was made for {spec.game}, not {target}: "
                               f"use {use}")
    if spec.outputs is not None:
        expected = tuple(v.name for v in state_variables(target))
        if tuple(spec.outputs) != expected:
            raise EncoderError(f"state estimator {spec.name} estimates {len(spec.outputs)} "
                               f"variables that are not {target}'s state today "
                               f"({len(expected)}: {', '.join(expected[:3])}...); retrain it")


def preprocess_from_dict(data: dict | None, game: str):
    """Rebuild the Preprocess an encoder was trained on (``None``: the game's default)."""
    if data is None:
        return _game_preprocess(game)
    kw = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
    if "mask" in kw:
        kw["mask"] = tuple(tuple(b) for b in kw["mask"])

    return Preprocess(**kw)


# ----------------------------------------------------------------------------- checkpoints
def save_checkpoint(
    path: str | Path, encoder: ConvEncoder, *, game: str, preprocess: Any, meta: dict | None = None
) -> Path:
    """Write a ConvEncoder checkpoint (architecture, preprocessing, weights, metadata)."""
    return write_checkpoint(path, encoder, game=game, preprocess=preprocess, meta=meta,
                            format=FORMAT, arch="conv", config=encoder.config_dict())


def load_checkpoint(path: str | Path, *, name: str | None = None) -> ConvEncoder:
    """Load a ConvEncoder checkpoint; any problem is an :class:`EncoderError` naming the file."""
    path = Path(path)
    if not path.is_file():
        raise EncoderError(f"encoder weights file {path} not found")
    try:
        payload = safe_load(path, fix="re-create it with scripts/pretrain_encoder.py")
    except UnsafeCheckpoint:
        raise
    except Exception as exc:
        raise EncoderError(
            f"encoder weights file {path} is corrupt or not a checkpoint ({exc}); "
            "re-create it with scripts/pretrain_encoder.py"
        ) from exc

    if isinstance(payload, dict) and payload.get("format") == STATE_FORMAT:
        return from_payload(payload, path, name)
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise EncoderError(f"{path} is not an lfo encoder checkpoint (format {FORMAT})")
    cfg = ConvConfig(**lists_to_tuples(payload["config"]))
    return restore_checkpoint(ConvEncoder(cfg), payload, path=path, name=name, kind="conv",
                              arch_record=payload["config"])


def shipped_with_id(encoder_id: str) -> str | None:
    """The registry name of the shipped encoder whose weights have ``encoder_id`` (None:
    no shipped file has them)."""
    for name, file in _SHIPPED.items():
        path = WEIGHTS_DIR / file
        if path.is_file() and _shipped_id(name, str(path), path.stat().st_mtime_ns) == encoder_id:
            return name
    return None


@functools.lru_cache(maxsize=32)
def _shipped_id(name: str, path: str, mtime_ns: int) -> str:
    """The id of a shipped file's weights, read once per file version (keyed by its path
    and modification time, so a replaced file is read again)."""
    return _load_shipped(name).spec.id


def resolve_recorded(name: str, encoder_id: str | None) -> str:
    """The encoder to load for a run that recorded ``name`` with weights ``encoder_id``.

    ``name`` itself while it still loads those weights; otherwise the shipped encoder
    that has them (a game's default moved on to new weights, e.g. ``default-carracing``
    from v1, now ``carracing-v1``, to v3 on 2026-12-06). An :class:`EncoderError` if
    neither has them: the run's features cannot be reproduced.
    """
    if not encoder_id:
        return name
    try:
        current = load(name).spec.id
    except EncoderError:
        current = None
    if current == encoder_id:
        return name
    shipped = shipped_with_id(encoder_id)
    if shipped is None:
        raise EncoderError(f"the run was trained with encoder {name!r} of id {encoder_id}, "
                           f"but {name!r} now loads id {current} and no shipped encoder has "
                           f"that id: its features differ")
    return shipped


def _load_shipped(name: str) -> Encoder:
    path = WEIGHTS_DIR / _SHIPPED[name]
    if not path.is_file():
        raise EncoderError(
            f"shipped encoder weights {path} are missing; they ship with the package "
            f"(re-create them with: {_RECREATE[path.name]})"
        )
    expected = manifest_digest(path)
    if expected is not None and file_digest(path) != expected:
        raise EncoderError(
            f"default encoder weights {path} are corrupt (SHA-256 differs from {MANIFEST_NAME}); "
            f"restore the file or re-create it with: {_RECREATE[path.name]}"
        )
    return load_checkpoint(path, name=name)


# ----------------------------------------------------------------------------- builders
def build_conv(game: str, *, seed: int = 0, preprocess: Any = None, **arch: Any) -> ConvEncoder:
    """A randomly initialised ConvEncoder for ``game`` (default architecture of its family)."""
    pre = preprocess or _game_preprocess(game)
    kwargs = {**DEFAULT_ARCH[_family(game)], **arch}
    cfg = ConvConfig(in_channels=pre.stacked_shape[0], size=pre.size, **kwargs)
    torch.manual_seed(seed)
    encoder = ConvEncoder(cfg)
    pdict = preprocess_dict(pre)
    encoder.spec = EncoderSpec(
        name=f"random-{game}",
        id=spec_id("conv-random", encoder.config_dict(), pdict, state_digest(encoder.state_dict())),
        input_shape=pre.stacked_shape,
        feature_dim=cfg.feature_dim,
        game=game,
        stack=pre.stack,
        channels=pre.channels,
        preprocess=pdict,
    )
    return encoder.eval()


def build_pixels(
    game: str, out_size: tuple[int, int] = (21, 21), *, preprocess: Any = None
) -> PixelEncoder:
    """The raw-pixel baseline for ``game``'s preprocessed stacks (or another view's)."""
    pre = preprocess or _game_preprocess(game)
    pdict = preprocess_dict(pre)
    spec = EncoderSpec(
        name=f"pixels-{game}",
        id=spec_id("pixels", out_size, pdict),
        input_shape=pre.stacked_shape,
        feature_dim=pre.stacked_shape[0] * out_size[0] * out_size[1],
        game=game,
        stack=pre.stack,
        channels=pre.channels,
        preprocess=pdict,
    )
    return PixelEncoder(spec, out_size).eval()


def load(name_or_path: str, weights: str | None = None, *, game: str | None = None) -> Encoder:
    """An encoder (``nn.Module`` in eval mode) by registry name or checkpoint path.

    Args:
        name_or_path: a name from :func:`available` or a path to a checkpoint.
        weights: weights file for ``resnet18`` (or a checkpoint path for ``default-*``
            names, to use other weights of the same family).
        game: the game whose stacks ``resnet18`` will see (default from its name, else
            ``carracing``).
    """
    name = str(name_or_path)
    if name.startswith(("default-", "ssl-")) or name in _SHIPPED:
        canonical = _ALIASES.get(name, name)
        if canonical not in _SHIPPED:
            raise EncoderError(f"unknown encoder {name!r}; available: {', '.join(available())}")
        return load_checkpoint(weights, name=name) if weights else _load_shipped(canonical)
    if name.startswith("state-"):
        try:
            return PrivilegedStateEncoder(name.removeprefix("state-"))
        except ValueError as exc:
            raise EncoderError(str(exc)) from exc
    if name.startswith("random-"):
        return build_conv(name.removeprefix("random-"))
    if name.startswith("pixels-"):
        return build_pixels(name.removeprefix("pixels-"))
    if name == "resnet18" or name.startswith("resnet18-"):
        g = game or (name.removeprefix("resnet18-") if "-" in name else "carracing")
        pre = _game_preprocess(g)
        if pre.channels != 1:
            raise EncoderError("resnet18 route expects grey preprocessed frames")
        return load_resnet18(weights, pre.stacked_shape, g).eval()
    if Path(name).suffix in (".pt", ".pth") or Path(name).exists():
        return load_checkpoint(name)
    raise EncoderError(f"unknown encoder {name!r}; available: {', '.join(available())} or a path")
