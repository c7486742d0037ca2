"""Encoder architectures: a small CNN (the defaults) and a raw-pixel baseline."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from encoders.base import Encoder, EncoderSpec

NATURE_CONVS = ((8, 4), (4, 2), (3, 1))
"""(kernel, stride) of the Nature-DQN convolutions every CNN here uses."""


def unseen_edge(size: tuple[int, int]) -> tuple[int, int]:
    """Rows and columns at the bottom / right of a ``(height, width)`` input that no output of
    the convolutions depends on. Zero for 84 x 84; a wider view must keep it zero or the
    estimator is blind there (Breakout's paddle sits in the last rows)."""

    def blind(n: int) -> int:
        out = n
        for kernel, stride in NATURE_CONVS:
            out = (out - kernel) // stride + 1
        used = out  # map the last layer's outputs back to the input span they read
        for kernel, stride in reversed(NATURE_CONVS):
            used = (used - 1) * stride + kernel
        return n - used

    return blind(size[0]), blind(size[1])


def check_view_size(size: tuple[int, int]) -> None:
    """Refuse (ValueError) a view the convolutions do not read to its edge."""
    blind = unseen_edge(size)
    if any(blind):
        raise ValueError(f"view size {tuple(size)} leaves the last {blind[0]} rows and "
                         f"{blind[1]} columns outside every convolution (strides 4, 2): "
                         f"use heights and widths of 8m + 20, e.g. 84, 100, 148")


def spatial_soft_argmax(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Expected position and peak probability of each map of ``logits`` ``(N, K, H, W)``.

    Each map is turned into a distribution over its pixels by a softmax; the position is
    the distribution's mean, ``(x, y)`` in pixel units (column, row; 0 at the first
    pixel's centre), so a sharp peak between two pixels reads between them (sub-pixel).
    Returns ``positions (N, K, 2)`` and ``peak (N, K)``, the largest probability (near 1
    when one spot dominates the map, near ``1 / (H * W)`` when none does).
    """
    n, k, h, w = logits.shape
    prob = F.softmax(logits.reshape(n, k, h * w), dim=-1).reshape(n, k, h, w)
    xs = torch.arange(w, dtype=prob.dtype, device=prob.device)
    ys = torch.arange(h, dtype=prob.dtype, device=prob.device)
    x = (prob.sum(2) * xs).sum(-1)  # marginal over rows, then its mean column
    y = (prob.sum(3) * ys).sum(-1)
    return torch.stack([x, y], -1), prob.flatten(2).amax(-1)


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
        center: subtract a fixed per-pixel background (the ``background`` buffer, set
            from training frames by :meth:`ConvEncoder.set_background`) before the
            convolutions. In Pong the frames are nearly all the same background (pixel
            std across frames ~2 of 255), so without it a fresh net maps every frame to
            almost the same features and the contrastive objectives cannot start
            (measured: cosine 0.999 between the features of any two Pong frames). The
            conv and head biases of a ``center`` net also start at zero, so the
            background maps to zero activations and only the objects drive the features
            at initialisation (cosine 0.29).
    """

    in_channels: int = 3
    size: tuple[int, int] = (84, 84)
    widths: tuple[int, int, int] = (32, 64, 64)
    feature_dim: int = 128
    head: str = "flatten"
    center: bool = False


class ConvEncoder(Encoder):
    """Nature-DQN-shaped CNN, then a linear head and LayerNorm, ``D`` features."""

    def __init__(self, cfg: ConvConfig, spec: EncoderSpec | None = None) -> None:
        super().__init__()
        check_view_size(cfg.size)
        self.cfg = cfg
        w1, w2, w3 = cfg.widths
        (k1, s1), (k2, s2), (k3, s3) = NATURE_CONVS
        self.convs = nn.Sequential(
            nn.Conv2d(cfg.in_channels, w1, k1, stride=s1),
            nn.ReLU(),
            nn.Conv2d(w1, w2, k2, stride=s2),
            nn.ReLU(),
            nn.Conv2d(w2, w3, k3, stride=s3),
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
        if cfg.center:
            self.register_buffer("background", torch.zeros(1, cfg.in_channels, *cfg.size))
            for layer in [*self.convs, self.head]:
                if isinstance(layer, (nn.Conv2d, nn.Linear)):
                    nn.init.zeros_(layer.bias)
        self.norm = nn.LayerNorm(cfg.feature_dim)
        self.spec = spec or EncoderSpec(
            name="conv", id="untrained", input_shape=(cfg.in_channels, *cfg.size),
            feature_dim=cfg.feature_dim, game="any",
        )

    @torch.no_grad()
    def set_background(self, frames: np.ndarray) -> None:
        """Per-pixel median of single preprocessed frames ``(N, c, H, W)`` uint8, tiled
        over the stack, as the background subtracted from every input (``center`` only)."""
        if not self.cfg.center:
            raise ValueError("set_background needs ConvConfig(center=True)")
        med = torch.from_numpy(np.median(np.asarray(frames, dtype=np.float32), axis=0) / 255.0)
        reps = self.cfg.in_channels // med.shape[0]
        self.background.copy_(med.repeat(reps, 1, 1)[None])

    def features(self, x: torch.Tensor) -> torch.Tensor:
        if self.cfg.center:
            x = x - self.background
        h = self.convs(x)
        if self.cfg.head == "flatten":
            h = h.flatten(1)
        else:
            attn = F.softmax(h.flatten(2), dim=-1)  # (N, C, HW): one heat map per channel
            h = (attn @ self.grid).flatten(1)  # expected (x, y) per channel
        return self.norm(self.head(h))

    def config_dict(self) -> dict:
        """The architecture as a JSON-able dict (stored in checkpoints)."""
        out = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self.cfg).items()}
        if not out["center"]:  # keeps the ids of checkpoints written before the field
            del out["center"]
        return out


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
