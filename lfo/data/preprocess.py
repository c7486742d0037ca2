"""One preprocessing pipeline for video frames and live env observations alike.

The learner must see the game the same way in the expert's videos and in its own
play, so a single :class:`Preprocess` object (crop, resize, grey, frame stack) is
applied to decoded video frames (:meth:`Preprocess.clip`) and, through the
:func:`lfo.envs.games.make_env` wrappers, to env observations (:meth:`Preprocess.frame`).
Both paths call the same per-frame function, so they agree up to codec error.

Layout: a single frame in ``(H, W, 3)`` RGB uint8 becomes ``(c, h, w)`` uint8 with
``c = 1`` (grey) or 3; a stack of ``k`` frames is ``(k * c, h, w)``, oldest first.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import cv2
import numpy as np
from einops import rearrange


@dataclass(frozen=True)
class Preprocess:
    """Crop, resize, optionally grey, then stack frames.

    Attributes:
        crop: ``(top, bottom, left, right)`` pixel bounds kept from the native frame
            (rows ``top:bottom``, columns ``left:right``); ``None`` keeps all.
        mask: ``(top, bottom, left, right)`` boxes of the native frame set to black
            before cropping (to hide parts of a HUD that echo the pressed action).
        size: ``(height, width)`` after resizing (area interpolation).
        grayscale: convert to one luminance channel.
        stack: number of consecutive frames stacked along channels (motion/speed cues).
        objects: if > 0, a codec-robust "object view" (grey only): each frame becomes
            255 where ``|grey - the frame's median grey| > objects`` and 0 elsewhere. On a
            near-static screen (Atari) H.264 shifts the whole field by ~1 grey level and
            smears 1-2 px objects, which makes decoded clips linearly separable from live
            frames; the mask removes that (see notes/iq_core.md). 0 keeps grey levels.
    """

    crop: tuple[int, int, int, int] | None = None
    mask: tuple[tuple[int, int, int, int], ...] = ()
    size: tuple[int, int] = (84, 84)
    grayscale: bool = True
    stack: int = 4
    objects: int = 0

    def __post_init__(self) -> None:
        if self.stack < 1:
            raise ValueError(f"stack must be >= 1, got {self.stack}")
        if min(self.size) < 1:
            raise ValueError(f"size must be positive, got {self.size}")
        if self.objects < 0 or (self.objects > 0 and not self.grayscale):
            raise ValueError(f"objects needs grayscale and a threshold >= 0, got {self.objects}")
        if self.crop is not None:
            top, bottom, left, right = self.crop
            if not (0 <= top < bottom and 0 <= left < right):
                raise ValueError(f"crop (top, bottom, left, right) is empty: {self.crop}")

    def record(self) -> dict:
        """The fields as a JSON-able dict (tuples become lists), for checkpoints, ids and
        cache keys. Fields added later are left out at their off value (``objects = 0``),
        so records made before them stay valid."""
        data = json.loads(json.dumps(asdict(self)))
        if data["objects"] == 0:
            del data["objects"]
        return data

    @property
    def channels(self) -> int:
        """Channels of one preprocessed frame."""
        return 1 if self.grayscale else 3

    @property
    def stacked_shape(self) -> tuple[int, int, int]:
        """Shape of one stacked observation ``(stack * channels, h, w)``."""
        return (self.stack * self.channels, *self.size)

    def frame(self, rgb: np.ndarray) -> np.ndarray:
        """One native RGB frame ``(H, W, 3)`` uint8 -> ``(c, h, w)`` uint8."""
        if rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError(f"expected an RGB frame (H, W, 3), got shape {rgb.shape}")
        if self.mask:
            rgb = rgb.copy()
            for top, bottom, left, right in self.mask:
                rgb[top:bottom, left:right] = 0
        if self.crop is not None:
            top, bottom, left, right = self.crop
            if bottom > rgb.shape[0] or right > rgb.shape[1]:
                raise ValueError(f"crop {self.crop} exceeds frame shape {rgb.shape[:2]}")
            rgb = rgb[top:bottom, left:right]
        height, width = self.size
        out = cv2.resize(np.ascontiguousarray(rgb), (width, height), interpolation=cv2.INTER_AREA)
        if self.grayscale:
            grey = cv2.cvtColor(out, cv2.COLOR_RGB2GRAY)
            if self.objects > 0:
                deviation = np.abs(grey.astype(np.int16) - int(np.median(grey)))
                grey = np.where(deviation > self.objects, 255, 0).astype(np.uint8)
            return grey[None]
        return rearrange(out, "h w c -> c h w")

    def frames(self, rgb: np.ndarray) -> np.ndarray:
        """Many native frames ``(T, H, W, 3)`` -> ``(T, c, h, w)`` uint8 (no stacking)."""
        if len(rgb) == 0:
            return np.zeros((0, self.channels, *self.size), dtype=np.uint8)
        return np.stack([self.frame(f) for f in rgb])

    def stack_frames(self, frames: np.ndarray) -> np.ndarray:
        """Stack preprocessed frames ``(T, c, h, w)`` -> ``(T, stack * c, h, w)``.

        Entry ``t`` holds frames ``t - stack + 1 .. t`` (oldest first); before the
        start of the clip the first frame is repeated, as the env wrapper does at reset.
        """
        offsets = np.arange(-self.stack + 1, 1)
        index = np.clip(np.arange(len(frames))[:, None] + offsets[None, :], 0, None)
        return rearrange(frames[index], "t k c h w -> t (k c) h w")

    def clip(self, rgb: np.ndarray) -> np.ndarray:
        """Native frames of one clip ``(T, H, W, 3)`` -> stacked ``(T, stack * c, h, w)``."""
        return self.stack_frames(self.frames(rgb))
