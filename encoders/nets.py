"""Encoder architectures: a small CNN (the defaults) and a raw-pixel baseline."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from encoders.base import Encoder, EncoderSpec


@dataclass(frozen=True)
class ConvConfig:
    """Architecture of :class:`ConvEncoder`.

    Attributes:
        in_channels: ``stack * channels`` of the input.
        size: ``(H, W)`` of the input.
        widths: output channels of the three conv layers (Nature-DQN shapes:
            8x8 stride 4, 4x4 stride 2, 3x3 stride 1).
        feature_dim: ``D``.
        head: ``"flatten"``: a linear map of the whole last conv map (keeps where
            things are, which the geometry of the road needs); ``"spatial_softmax"``:
            expected (x, y) of each last-layer channel (keypoints) then a linear map.
    """

    in_channels: int = 3
    size: tuple[int, int] = (84, 84)
    widths: tuple[int, int, int] = (32, 64, 64)
    feature_dim: int = 128
    head: str = "flatten"


class ConvEncoder(Encoder):
    """Nature-DQN-shaped CNN, then a linear head and LayerNorm, ``D`` features."""

    def __init__(self, cfg: ConvConfig, spec: EncoderSpec | None = None) -> None:
        super().__init__()
        self.cfg = cfg
        w1, w2, w3 = cfg.widths
        self.convs = nn.Sequential(
            nn.Conv2d(cfg.in_channels, w1, 8, stride=4),
            nn.ReLU(),
            nn.Conv2d(w1, w2, 4, stride=2),
            nn.ReLU(),
            nn.Conv2d(w2, w3, 3, stride=1),
            nn.ReLU(),
        )
        with torch.no_grad():
            _, c, h, w = self.convs(torch.zeros(1, cfg.in_channels, *cfg.size)).shape
        if cfg.head == "flatten":
            head_in = c * h * w
        elif cfg.head == "spatial_softmax":
            head_in = 2 * c
            ys, xs = torch.meshgrid(
                torch.linspace(-1, 1, h), torch.linspace(-1, 1, w), indexing="ij"
            )
            self.register_buffer("grid", torch.stack([xs.flatten(), ys.flatten()], 1))
        else:
            raise ValueError(f"unknown head {cfg.head!r}; use 'flatten' or 'spatial_softmax'")
        self.head = nn.Linear(head_in, cfg.feature_dim)
        self.norm = nn.LayerNorm(cfg.feature_dim)
        self.spec = spec or EncoderSpec(
            name="conv", id="untrained", input_shape=(cfg.in_channels, *cfg.size),
            feature_dim=cfg.feature_dim, game="any",
        )

    def features(self, x: torch.Tensor) -> torch.Tensor:
        h = self.convs(x)
        if self.cfg.head == "flatten":
            h = h.flatten(1)
        else:
            attn = F.softmax(h.flatten(2), dim=-1)  # (N, C, HW): one heat map per channel
            h = (attn @ self.grid).flatten(1)  # expected (x, y) per channel
        return self.norm(self.head(h))

    def config_dict(self) -> dict:
        """The architecture as a JSON-able dict (stored in checkpoints)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self.cfg).items()}


class PixelEncoder(Encoder):
    """Baseline "no encoder": every stacked frame area-downsampled, flattened.

    ``features = avgpool(x)`` scaled to [0, 1]; ``D = C * h * w`` for output ``(h, w)``.
    """

    def __init__(self, spec: EncoderSpec, out_size: tuple[int, int] = (21, 21)) -> None:
        super().__init__()
        self.out_size = out_size
        self.spec = spec

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return F.adaptive_avg_pool2d(x, self.out_size).flatten(1)
