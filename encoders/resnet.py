"""Optional ImageNet route: torchvision's ResNet-18 on each grey frame of a stack.

No weights are downloaded: they come from a file the user names, or from the torch hub
cache if a ``resnet18-*.pth`` is already there. Each grey frame is repeated to three
channels, normalised with the ImageNet statistics, and globally pooled to 512
features; the features of the ``stack`` frames are concatenated (``D = 512 * stack``).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from encoders.base import Encoder, EncoderError, EncoderSpec, spec_id, state_digest
from lfo.data.safe_load import UnsafeCheckpoint, safe_load

_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)


def hub_weights() -> Path | None:
    """A ResNet-18 checkpoint already in the torch hub cache, if any."""
    folder = Path(torch.hub.get_dir()) / "checkpoints"
    found = sorted(folder.glob("resnet18-*.pth")) if folder.is_dir() else []
    return found[0] if found else None


class ResNet18Encoder(Encoder):
    """Frozen-by-default ImageNet ResNet-18 applied frame by frame."""

    def __init__(self, state_dict: dict, input_shape: tuple[int, int, int], game: str, name: str):
        super().__init__()
        from torchvision.models import resnet18

        net = resnet18(weights=None)
        try:
            net.load_state_dict(state_dict)
        except RuntimeError as exc:
            first = str(exc).splitlines()[0]
            raise EncoderError(f"{name}: not ResNet-18 weights ({first})") from exc
        net.fc = nn.Identity()
        self.net = net
        self.register_buffer("mean", torch.tensor(_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(_STD).view(1, 3, 1, 1))
        stack = input_shape[0]
        self.spec = EncoderSpec(
            name=name,
            id=spec_id("resnet18", input_shape, state_digest(self.net.state_dict())),
            input_shape=input_shape,
            feature_dim=512 * stack,
            game=game,
            stack=stack,
            channels=1,
        )

    def features(self, x: torch.Tensor) -> torch.Tensor:
        n, k, h, w = x.shape
        frames = x.reshape(n * k, 1, h, w).expand(-1, 3, -1, -1)
        out = self.net((frames - self.mean) / self.std)  # (n * k, 512)
        return out.reshape(n, k * 512)


def load_resnet18(weights: str | Path | None, input_shape: tuple[int, int, int], game: str):
    """Build the ResNet-18 encoder from ``weights`` (or the hub cache); clear error if absent."""
    path = Path(weights) if weights else hub_weights()
    hub = Path(torch.hub.get_dir()) / "checkpoints"
    if path is None or not path.is_file():
        where = f"{path} does not exist" if path else f"no resnet18-*.pth in {hub}"
        raise EncoderError(
            f"resnet18 needs ImageNet weights and none can be downloaded here ({where}). "
            "Download resnet18-f37072fd.pth "
            "(torchvision ResNet18_Weights.IMAGENET1K_V1) "
            "elsewhere and pass it with weights=PATH (--weights PATH on the command line), "
            f"or put it in {hub}."
        )
    try:
        state = safe_load(path, fix="use the torchvision ResNet-18 weights file")
    except UnsafeCheckpoint:
        raise
    except Exception as exc:
        raise EncoderError(f"{path}: corrupt or unreadable ResNet-18 weights ({exc})") from exc
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    return ResNet18Encoder(state, input_shape, game, name=f"resnet18:{path}")
