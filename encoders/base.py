"""The encoder interface: preprocessed uint8 frame stacks in, float features out."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from lfo.data.files import atomic_torch_save, atomic_write_text, file_digest


class EncoderError(RuntimeError):
    """An encoder cannot be built: unknown name, missing or corrupt weights file."""


@dataclass(frozen=True)
class EncoderSpec:
    """What an encoder expects and produces.

    Attributes:
        name: registry name (or checkpoint path) it was loaded as.
        id: changes whenever the weights, the architecture or the expected
            preprocessing change; feature caches are keyed by it.
        input_shape: ``(C, H, W)`` of one input: ``stack * channels`` preprocessed frames.
        feature_dim: ``D``, the length of one feature vector.
        game: the game (family) it was made for (``"carracing"``, ``"pong"``...).
        stack: frames per input.
        channels: channels per frame (1 = grey).
        preprocess: the :class:`lfo.data.preprocess.Preprocess` fields the inputs must come
            from (``None``: any view of the right shape).
        outputs: names of the features when each one estimates a named state variable
            (a state estimator, :mod:`encoders.state_estimator`); ``None`` otherwise.
    """

    name: str
    id: str
    input_shape: tuple[int, int, int]
    feature_dim: int
    game: str
    stack: int = 1
    channels: int = 1
    preprocess: dict[str, Any] | None = field(default=None, compare=False)
    outputs: tuple[str, ...] | None = field(default=None, compare=False)

    @property
    def input_size(self) -> tuple[int, int]:
        """``(H, W)`` of the input frames."""
        return self.input_shape[1], self.input_shape[2]


def spec_id(*parts: Any) -> str:
    """A short stable hash of JSON-able parts (arch, preprocessing, weights digest)."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def state_digest(state_dict: dict[str, torch.Tensor]) -> str:
    """SHA-256 of a state dict's tensors (names, shapes and bytes), in name order."""
    h = hashlib.sha256()
    for key in sorted(state_dict):
        t = state_dict[key].detach().cpu().contiguous()
        h.update(key.encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()


def preprocess_dict(preprocess: Any) -> dict[str, Any]:
    """A Preprocess as a JSON-able dict (:meth:`lfo.data.preprocess.Preprocess.record`)."""
    return preprocess.record()


def lists_to_tuples(record: dict[str, Any]) -> dict[str, Any]:
    """A JSON-loaded dataclass record with its lists turned back into tuples."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in record.items()}


def write_checkpoint(path: Any, module: nn.Module, *, game: str, preprocess: Any,
                     meta: dict | None, **header: Any) -> Path:
    """Write ``header`` + game, view, weights and metadata to ``path`` atomically (a
    temporary file, then a rename: a crash never leaves half a checkpoint)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        **header, "game": game, "preprocess": preprocess_dict(preprocess),
        "state_dict": {k: v.detach().cpu().clone() for k, v in module.state_dict().items()},
        "meta": json.loads(json.dumps(meta or {}, default=str)),
    }
    return atomic_torch_save(payload, path)


def restore_checkpoint(module: nn.Module, payload: dict[str, Any], *, path: Any,
                       name: str | None, kind: str, arch_record: dict[str, Any],
                       outputs: tuple[str, ...] | None = None) -> nn.Module:
    """Load a checkpoint's weights into ``module`` and give it the spec the checkpoint
    describes (its id hashes ``kind``, the architecture record, the view and the weights).

    Raises:
        EncoderError: the weights do not fit the architecture.
    """
    try:
        module.load_state_dict(payload["state_dict"])
    except RuntimeError as exc:
        raise EncoderError(f"{path}: weights do not fit the stored architecture ({exc})") from exc
    pre = payload["preprocess"]
    channels = 1 if pre["grayscale"] else 3
    module.spec = EncoderSpec(
        name=name or str(path),
        id=spec_id(kind, arch_record, pre, state_digest(payload["state_dict"])),
        input_shape=tuple(module.spec.input_shape), feature_dim=int(module.spec.feature_dim),
        game=payload["game"], stack=int(pre["stack"]), channels=channels, preprocess=pre,
        outputs=outputs,
    )
    module.meta = payload.get("meta", {})
    return module.eval()


class Encoder(nn.Module):
    """Base class: maps ``(N, C, H, W)`` frame stacks (0..255) to ``(N, D)`` features.

    Subclasses implement :meth:`features` on float inputs scaled to ``[0, 1]``.
    Inputs may be uint8 or float tensors; either way their values are on the 0..255
    scale of the preprocessed frames (a float input is *not* assumed pre-scaled).
    """

    def __init__(self) -> None:
        super().__init__()
        self.spec: EncoderSpec

    def features(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, H, W)`` uint8 or float (0..255) -> ``(N, D)`` float32."""
        if x.ndim != 4 or tuple(x.shape[1:]) != tuple(self.spec.input_shape):
            raise ValueError(
                f"encoder {self.spec.name} expects (N, "
                f"{', '.join(map(str, self.spec.input_shape))}) inputs, got {tuple(x.shape)}"
            )
        return self.features(x.float() / 255.0)

    @torch.no_grad()
    def encode(self, frames: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """Features of many stacks: uint8 ``(N, C, H, W)`` -> float32 ``(N, D)``, no grad."""
        frames = np.asarray(frames)
        if frames.dtype != np.uint8:
            raise TypeError(f"encode expects uint8 frames, got {frames.dtype}")
        was_training = self.training
        self.eval()
        device = next(self.parameters(), torch.zeros(0)).device
        out = [
            self(torch.from_numpy(frames[i : i + batch_size]).to(device)).float().cpu().numpy()
            for i in range(0, len(frames), batch_size)
        ]
        self.train(was_training)
        if not out:
            return np.zeros((0, self.spec.feature_dim), dtype=np.float32)
        return np.concatenate(out).astype(np.float32, copy=False)


#: where shipped weights live
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
#: the file beside shipped weights that records each one's SHA-256
MANIFEST_NAME = "MANIFEST.json"


def manifest_digest(path: Path) -> str | None:
    """The SHA-256 recorded for a weights file in the manifest beside it (None if none)."""
    manifest = path.parent / MANIFEST_NAME
    return json.loads(manifest.read_text()).get(path.name) if manifest.exists() else None


def write_manifest_entry(path: Path) -> None:
    """Record a weights file's SHA-256 in the ``MANIFEST.json`` beside it."""
    manifest = path.parent / MANIFEST_NAME
    data = json.loads(manifest.read_text()) if manifest.exists() else {}
    data[path.name] = file_digest(path)
    atomic_write_text(manifest, json.dumps(data, indent=1, sort_keys=True) + "\n")
