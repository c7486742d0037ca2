"""The state estimator: a CNN from the game's view to its privileged state.

``features(stack) = estimate of`` :mod:`lfo.envs.privileged`'s scaled state vector (one
named number per feature), so a learner on it sees the game's state as read from
pixels. Trained by regression on the game's own rollouts (:mod:`encoders.state_data`),
labels from the simulator, undefined labels left out of the loss (:func:`masked_mse`).

Command (CarRacing's default, v3: 13 min of rollouts and 24 min of training on one core of
this machine; the weights ship, users do not pay it)::

    python scripts/pretrain_state_encoder.py --env carracing --episodes 240 \
        --randomize-every 3 --intensity-jitter 0.2 --epochs 15 \
        --out encoders/weights/carracing_state_v3.pt --ship

The v1 weights (``carracing-v1``: ``--out encoders/weights/carracing_state.pt`` and the
defaults otherwise) were trained before :mod:`lfo.envs.privileged` also marked track labels
undefined when the car faces against the track (only far-from-road labels were left out
then); the command today leaves those frames' track labels out too, so it does not
reproduce the shipped file bit for bit.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from encoders.base import (
    Encoder,
    EncoderSpec,
    lists_to_tuples,
    restore_checkpoint,
    write_checkpoint,
    write_manifest_entry,
)
from encoders.nets import NATURE_CONVS, check_view_size, spatial_soft_argmax
from encoders.state_data import STATE_SEED_BASE, collect
from lfo.data.preprocess import Preprocess
from lfo.envs.games import get_game
from lfo.envs.privileged import state_variables

FORMAT = "lfo-state-estimator/1"


@dataclass(frozen=True)
class StateEstimatorArch:
    """Architecture: Nature-DQN convolutions, then an MLP to ``len(outputs)`` numbers."""

    in_channels: int = 3
    size: tuple[int, int] = (84, 84)
    widths: tuple[int, int, int] = (32, 64, 64)
    hidden: int = 256
    outputs: tuple[str, ...] = ()
    center: bool = False
    """Subtract the training frames' mean image and divide by their spread before the
    convolutions (Atari: the frames are nearly all fixed background, and without it the
    net never finds the ball and paddles)."""
    keypoints: int = 0
    """Objects located in every frame of the stack at full resolution (0: none). A small
    unstrided detector (5x5 over the stack, then 1x1) gives ``keypoints`` maps per frame;
    the spatial soft-argmax of each map (its expected pixel, sub-pixel, and its peak)
    goes to the head beside the strided convolutions' features. The strided stack alone
    reads Breakout's 1-2 pixel ball to a median 3.8 native pixels. Measured, keypoints
    read worse on Breakout (with and without the keypoint loss; with it the maps sharpen
    but follow something other than the ball) and on Pong, where more rollouts read
    better (notes/atari_ladder.md, 2026-12-04, commit beda349). The shipped estimators have none."""
    frame_channels: int = 1
    """Channels of one frame of the stack (1 grey, 3 colour): the number of frames, and
    so of maps, is ``in_channels // frame_channels`` (``keypoints`` only)."""
    detector_width: int = 8
    """Channels of the detector's 5x5 layer (``keypoints`` only; the full-resolution layer
    is most of the cost: at 8 a CPU training step takes 5 times as long as without)."""

    def record(self) -> dict[str, Any]:
        """The architecture as a JSON-able dict for checkpoints; the keypoint fields are
        left out when off, so an estimator without them keeps the record (and id) it had
        before they existed."""
        out = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}
        if not self.keypoints:
            for key in ("keypoints", "frame_channels", "detector_width"):
                del out[key]
        return out


class StateEstimator(Encoder):
    """Frame stack -> estimated privileged state (in :mod:`lfo.envs.privileged` units).

    The net regresses standardised labels; ``label_mean``/``label_std`` (buffers, set
    from the training labels) map its output back to the state's own scale.
    """

    def __init__(self, arch: StateEstimatorArch) -> None:
        super().__init__()
        if not arch.outputs:
            raise ValueError("a state estimator needs at least one output name")
        check_view_size(arch.size)
        self.arch = arch
        w1, w2, w3 = arch.widths
        (k1, s1), (k2, s2), (k3, s3) = NATURE_CONVS
        self.convs = nn.Sequential(
            nn.Conv2d(arch.in_channels, w1, k1, stride=s1), nn.ReLU(),
            nn.Conv2d(w1, w2, k2, stride=s2), nn.ReLU(),
            nn.Conv2d(w2, w3, k3, stride=s3), nn.ReLU(),
            nn.Flatten(),
        )
        with torch.no_grad():
            flat = self.convs(torch.zeros(1, arch.in_channels, *arch.size)).shape[1]
        d = len(arch.outputs)
        if arch.keypoints:
            if arch.in_channels % arch.frame_channels:
                raise ValueError(f"in_channels {arch.in_channels} is not a whole number of "
                                 f"{arch.frame_channels}-channel frames")
            maps = arch.keypoints * (arch.in_channels // arch.frame_channels)
            self.detector = nn.Sequential(
                nn.Conv2d(arch.in_channels, arch.detector_width, 5, padding=2), nn.ReLU(),
                nn.Conv2d(arch.detector_width, maps, 1),
            )
            # a direct linear path too: positions are linear in the keypoints
            self.keypoint_readout = nn.Linear(3 * maps, d)
            flat += 3 * maps
        self.head = nn.Sequential(nn.Linear(flat, arch.hidden), nn.ReLU(),
                                  nn.Linear(arch.hidden, d))
        self.register_buffer("label_mean", torch.zeros(d))
        self.register_buffer("label_std", torch.ones(d))
        if arch.center:
            self.register_buffer("pixel_mean", torch.zeros(1, arch.in_channels, *arch.size))
            self.register_buffer("pixel_scale", torch.ones(()))
        self.spec = EncoderSpec(name="state-estimator", id="untrained",
                                input_shape=(arch.in_channels, *arch.size), feature_dim=d,
                                game="any")

    def normalise_input(self, x01: torch.Tensor) -> torch.Tensor:
        """Inputs scaled to [0, 1], centred on the training frames' mean image when
        ``arch.center``."""
        if not self.arch.center:
            return x01
        return (x01 - self.pixel_mean) / self.pixel_scale

    def standardised(self, x01: torch.Tensor, normalised: bool = False) -> torch.Tensor:
        """The net's raw output on inputs scaled to [0, 1] (or already passed through
        :meth:`normalise_input`): standardised state estimates."""
        return self.outputs(x01 if normalised else self.normalise_input(x01))[0]

    def outputs(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """On normalised inputs: the standardised estimates, and (``keypoints`` only) the
        estimates of the keypoints' linear read alone, which training also fits so that
        the detector is taught positions directly (None without keypoints)."""
        h = self.convs(x)
        if not self.arch.keypoints:
            return self.head(h), None
        points = self.keypoint_features(x)
        direct = self.keypoint_readout(points)
        return self.head(torch.cat([h, points], 1)) + direct, direct

    def keypoint_features(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, frames * keypoints * 3)``: each frame's keypoints as (x, y) scaled to
        [-1, 1] and peak probability, from normalised inputs ``(N, C, H, W)``."""
        pos, peak = spatial_soft_argmax(self.detector(x))  # (n, frames * k, 2), (n, frames * k)
        h, w = x.shape[-2:]
        pos = 2 * pos / torch.tensor([w - 1, h - 1], dtype=pos.dtype) - 1
        return torch.cat([pos, peak[..., None]], -1).flatten(1)

    def set_input_stats(self, stacks: np.ndarray) -> None:
        """Mean image and spread of uint8 training stacks ``(N, C, H, W)`` (``center`` only)."""
        if not self.arch.center:
            return
        # in chunks: a float copy of 20k wide stacks is several GB
        chunks = [stacks[i:i + 1024] for i in range(0, len(stacks), 1024)]  # views, no copy
        total = sum(c.sum(axis=0, dtype=np.float64) for c in chunks)
        mean = (total / (255.0 * len(stacks))).astype(np.float32)[None]
        sq = sum(float(np.square(c.astype(np.float32) / 255.0 - mean).sum()) for c in chunks)
        self.pixel_mean.copy_(torch.from_numpy(mean))
        self.pixel_scale.fill_(float(max(np.sqrt(sq / stacks.size), 1e-3)))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.standardised(x) * self.label_std + self.label_mean

    def set_label_stats(self, states: np.ndarray, valid: np.ndarray) -> None:
        """Mean and std of each label over the samples where it is defined."""
        s = np.where(valid, states, np.nan)
        mean = np.nan_to_num(np.nanmean(s, axis=0))
        std = np.nan_to_num(np.nanstd(s, axis=0), nan=1.0)
        self.label_mean.copy_(torch.as_tensor(mean, dtype=torch.float32))
        self.label_std.copy_(torch.as_tensor(np.maximum(std, 1e-3), dtype=torch.float32))


def masked_mse(pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor,
               weights: torch.Tensor | None = None) -> torch.Tensor:
    """Mean squared error over the defined labels only (``valid`` True).

    Each variable's error is averaged over its own defined samples, then the variables
    are averaged, so a label that is often undefined weighs as much as any other;
    ``weights`` (one per variable) make that a weighted mean instead.
    """
    w = valid.float()
    per_var = ((pred - target) ** 2 * w).sum(0) / w.sum(0).clamp_min(1.0)
    if weights is None:
        return per_var.mean()
    return (per_var * weights).sum() / weights.sum()


def random_shift(x: torch.Tensor, pad: int, generator: torch.Generator) -> torch.Tensor:
    """Shift each image of a batch by up to ``pad`` pixels (replicate-pad, random crop)."""
    if pad <= 0:
        return x
    n, _, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad), mode="replicate")
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
    rows = (dy[:, None] + torch.arange(h)[None]).clamp_max(h + 2 * pad - 1)
    cols = (dx[:, None] + torch.arange(w)[None]).clamp_max(w + 2 * pad - 1)
    idx_n = torch.arange(n)[:, None, None]
    out = padded.permute(0, 2, 3, 1)[idx_n, rows[:, :, None], cols[:, None, :]]
    return out.permute(0, 3, 1, 2)


def bottom_band_visibility(height: int, fraction: float) -> torch.Tensor:
    """Which of a view's ``height`` rows stay visible when the bottom ``fraction`` of the
    native picture is black before it is resized to ``height`` rows: 0 on the rows drawn
    wholly from the band, 1 above. The row that straddles the band's edge keeps its value:
    exact where the band's first native row was already black (CarRacing's HUD, black
    behind its bars, so a view times this equals the view of the nohud clip). Shape
    ``(height, 1)``."""
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"a blacked-out band covers a fraction in [0, 1), got {fraction}")
    rows = torch.arange(height, dtype=torch.float64)
    inside = rows / height >= 1.0 - fraction - 1e-9
    return (~inside).float()[:, None]


def check_zoom(prob: float, max_cut: float) -> None:
    """Refuse zoom settings :func:`random_zoom` cannot honour (a ValueError)."""
    if not 0.0 <= max_cut < 0.5:
        raise ValueError(f"a zoom cuts a share of each side in [0, 0.5), got {max_cut}")
    if not 0.0 <= prob <= 1.0:
        raise ValueError(f"the zoomed share of a batch lies in [0, 1], got {prob}")


def random_zoom(x: torch.Tensor, prob: float, max_cut: float,
                generator: torch.Generator) -> torch.Tensor:
    """On a ``prob`` share of a batch ``(N, C, H, W)``, show a random window of each view
    resized back to the full view (bilinear): the window's sides are ``1 - c`` of the view's
    with ``c ~ U(0, max_cut)``, placed uniformly inside it, one window per sample for all
    frames of its stack. As captures that crop, pan or zoom the game's picture (the crop
    video shift cuts 0.08 off the top and the left: ``c = 0.08`` at the top-left corner)."""
    check_zoom(prob, max_cut)
    n = x.shape[0]
    hit = torch.rand(n, generator=generator) < prob
    if prob <= 0 or max_cut <= 0 or not bool(hit.any()):
        return x
    cut = max_cut * torch.rand(n, generator=generator) * hit
    top, left = (cut * torch.rand(n, generator=generator) for _ in range(2))
    return torch.where(hit[:, None, None, None], view_windows(x, cut, top, left), x)


def view_windows(x: torch.Tensor, cut: torch.Tensor, top: torch.Tensor,
                 left: torch.Tensor) -> torch.Tensor:
    """Each view of ``x`` ``(N, C, H, W)`` cut to the window whose sides are ``1 - cut``
    of the view's, ``top`` and ``left`` (shares of the view, ``<= cut``) from its top-left
    corner, resized back to ``H x W`` (bilinear, edges repeated)."""
    side = (1.0 - cut).to(x.dtype)
    # in grid_sample's [-1, 1] frame a window of side s starting at share o is centred
    # at -1 + 2 o + s
    theta = torch.zeros(x.shape[0], 2, 3, dtype=x.dtype)
    theta[:, 0, 0] = side
    theta[:, 1, 1] = side
    theta[:, 0, 2] = -1.0 + 2.0 * left.to(x.dtype) + side
    theta[:, 1, 2] = -1.0 + 2.0 * top.to(x.dtype) + side
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border",
                         align_corners=False)


def augment_views(x01: torch.Tensor, generator: torch.Generator, *, band_prob: float = 0.0,
                  band_fraction: float = 12 / 96, intensity: float = 0.0,
                  zoom_prob: float = 0.0, zoom_max_cut: float = 0.12) -> torch.Tensor:
    """Training-time changes of a batch of stacks in [0, 1] ``(N, C, H, W)``, each drawn per
    sample and shared by the frames of its stack (a clip keeps its look):

    - ``band_prob``: the share of samples whose bottom ``band_fraction`` is black, as in
      captures that crop a HUD (:func:`bottom_band_visibility`);
    - ``intensity``: contrast about mid-grey and brightness, each ``x(1 +- U(0, intensity))``
      (colour grading, other screens);
    - ``zoom_prob``: the share of samples seen through a random window of their view
      (:func:`random_zoom`, up to ``zoom_max_cut`` off each side), after the band: a
      capture crops the picture it was given.
    """
    n = x01.shape[0]
    out = x01
    if intensity > 0:
        contrast = 1.0 + intensity * (2 * torch.rand(n, generator=generator) - 1)
        brightness = 1.0 + intensity * (2 * torch.rand(n, generator=generator) - 1)
        out = (((out - 0.5) * contrast[:, None, None, None] + 0.5)
               * brightness[:, None, None, None]).clamp(0.0, 1.0)
    if band_prob > 0:
        hit = torch.rand(n, generator=generator) < band_prob
        keep = bottom_band_visibility(out.shape[-2], band_fraction).to(out.dtype)
        scale = torch.where(hit[:, None, None, None], keep, torch.ones_like(keep))
        out = out * scale
    if zoom_prob > 0:
        out = random_zoom(out, zoom_prob, zoom_max_cut, generator)
    return out


def r2_per_variable(pred: np.ndarray, target: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Coefficient of determination of each column over its defined samples (nan where
    fewer than two are defined or the target does not vary: R^2 says nothing there)."""
    out = np.full(pred.shape[1], np.nan)
    for j in range(pred.shape[1]):
        m = valid[:, j]
        if m.sum() < 2:
            continue
        resid = np.sum((pred[m, j] - target[m, j]) ** 2)
        total = np.sum((target[m, j] - target[m, j].mean()) ** 2)
        if total <= 1e-12 * m.sum():
            continue
        out[j] = 1.0 - resid / total
    return out


def rmse_per_variable(pred: np.ndarray, target: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Root mean squared error of each column over its defined samples."""
    err = np.where(valid, (pred - target) ** 2, np.nan)
    return np.sqrt(np.nanmean(err, axis=0))


def train_step(model: StateEstimator, optimiser: torch.optim.Optimizer, stacks: torch.Tensor,
               states: torch.Tensor, valid: torch.Tensor, *, shift: int,
               generator: torch.Generator, keypoint_weight: float = 0.0,
               weights: torch.Tensor | None = None,
               augment: dict[str, float] | None = None) -> float:
    """One regression step on a batch of uint8 stacks; returns the loss before the step
    (with keypoints, ``keypoint_weight`` times the keypoints' own read error is added:
    without it the strided path fits first and the detector's maps stay flat;
    ``weights``: per-variable loss weights, see :func:`masked_mse`; ``augment``: keyword
    arguments of :func:`augment_views`, none when empty)."""
    x01 = stacks.float() / 255.0
    if augment:
        x01 = augment_views(x01, generator, **augment)
    x = random_shift(model.normalise_input(x01), shift, generator)
    target = (states - model.label_mean) / model.label_std
    pred, direct = model.outputs(x)
    loss = masked_mse(pred, target, valid, weights)
    if direct is not None and keypoint_weight > 0:
        loss = loss + keypoint_weight * masked_mse(direct, target, valid, weights)
    optimiser.zero_grad()
    loss.backward()
    optimiser.step()
    return float(loss.detach())


# ----------------------------------------------------------------------------- checkpoints
def save_state_estimator(path: str | Path, model: StateEstimator, *, game: str,
                         preprocess: Any, meta: dict | None = None) -> Path:
    """Write a state-estimator checkpoint (architecture, view, label names, weights)."""
    return write_checkpoint(path, model, game=game, preprocess=preprocess, meta=meta,
                            format=FORMAT, arch=model.arch.record())


def from_payload(payload: dict, path: Path, name: str | None) -> StateEstimator:
    """Build a :class:`StateEstimator` from a loaded checkpoint dict (see the registry)."""
    arch = StateEstimatorArch(**lists_to_tuples(payload["arch"]))
    return restore_checkpoint(StateEstimator(arch), payload, path=path, name=name,
                              kind="state-estimator", arch_record=payload["arch"],
                              outputs=arch.outputs)


# ----------------------------------------------------------------------------- training
@dataclass
class EstimatorTrainConfig:
    """How the shipped state estimator is trained (scripts/pretrain_state_encoder.py)."""

    env: str = "carracing"
    """Game (needs a privileged state reader in lfo.envs.privileged)."""
    out: str = "runs/state_estimator/carracing_state.pt"
    """Checkpoint path (the training log is written beside it as .log.json)."""
    episodes: int = 160
    """Rollout episodes (behaviours in turn, see encoders.state_data)."""
    max_episode_steps: int = 500
    """Steps per rollout episode, a cap on its length (frames = steps + 1)."""
    val_fraction: float = 0.1
    """Share of the episodes held out for validation (whole episodes)."""
    epochs: int = 25
    """Passes over the training frames."""
    batch_size: int = 128
    """Frames per optimiser step."""
    lr: float = 1e-3
    """Adam learning rate (cosine-decayed to 5% over the epochs)."""
    weight_decay: float = 1e-5
    """AdamW weight decay."""
    shift: int | None = None
    """Random shift augmentation, pixels (None: 2, or 0 with keypoints: the labels do not
    move with the image, so a shift is position noise to a detector that reads it to the
    pixel)."""
    keypoints: int = 0
    """Objects the estimator locates in every frame at full resolution (0: none; see
    StateEstimatorArch.keypoints)."""
    keypoint_loss: float = 1.0
    """Weight of the keypoints' own read error in the loss (keypoints only; 0: the
    estimate's error alone, with which the first Breakout detector never left flat maps:
    peak probability 0.002, a flat map 0.0001)."""
    center: bool | None = None
    """Centre the input frames on their mean image (None: on for Atari, off for CarRacing,
    whose shipped weights were trained without)."""
    codec: bool = True
    """Round-trip most episodes through a video codec (see draw_codec)."""
    rollout_cache: str | None = ".cache/estimator_rollouts"
    """Keep each preprocessed rollout episode here and reuse it in later trainings on the
    same view and rollout settings (None: play every episode again; see
    encoders.state_data.collect). Breakout: ~0.4 MB an episode."""
    loss_weights: dict[str, float] = field(default_factory=dict)
    """Per-variable loss weights by state variable name, e.g. --loss-weights intercept_gap
    4 (the others weigh 1): spends the net on what the learner needs most."""
    seed: int = 0
    """Seeds the validation split, the init and the batches (the rollouts are fixed: env
    seeds STATE_SEED_BASE + i, codec draws seeded by STATE_SEED_BASE)."""
    view_crop: tuple[int, int, int, int] | None = None
    """The estimator's own view: native-frame crop (top, bottom, left, right) (None: the
    game's). Clips and the agent's frames go through the view the checkpoint records."""
    view_size: tuple[int, int] | None = None
    """The estimator's own view: (height, width) after the crop (None: the game's).
    Sides of 8m + 20 (84, 100, 148, ...): the convolutions read other sizes short of their
    bottom / right edge, and they are refused."""
    view_stack: int | None = None
    """The estimator's own view: frames in its stack (None: the game's, 4 on Atari). More
    frames give the ball's velocity over a longer track; clips and the agent's frames
    follow the checkpoint's stack, the learner still sees only the estimate."""
    randomize_every: int = 0
    """Every so many rollout episodes, one is played with the env's own colour
    randomisation (CarRacing's domain_randomize: grass, road and background colours; 0:
    none, the shipped v1 weights)."""
    hud_mask: float = 0.0
    """Share of the training stacks whose bottom hud_fraction is blacked out, as in
    captures that crop CarRacing's dashboard (0: none). The labels stay: the estimator
    learns to read speed and steering from the road's motion where the bars are gone."""
    hud_fraction: float = 12 / 96
    """Height share of the blacked-out band (CarRacing's HUD: the bottom 12 of 96 rows, as
    the nohud video shift)."""
    intensity_jitter: float = 0.0
    """Contrast and brightness of each training stack scaled by 1 +- U(0, this) (0:
    none), for colour-graded or re-encoded clips."""
    zoom: float = 0.0
    """Share of the training stacks seen through a random window of their view resized
    back (0: none, the weights up to v3): for captures that crop, pan or zoom the
    picture (the crop video shift)."""
    zoom_max_cut: float = 0.12
    """The largest share of each side a zoom's window leaves out (the crop shift: 0.08)."""
    threads: int = 1
    """torch CPU threads (1: the shipped weights were trained beside another job)."""
    ship: bool = False
    """Record the written weights' SHA-256 in encoders/weights/MANIFEST.json."""
    progress: bool = True
    """Show progress bars."""


def estimator_view(base: Preprocess, crop: tuple[int, int, int, int] | None,
                   size: tuple[int, int] | None,
                   native_size: tuple[int, int] | None = None,
                   stack: int | None = None) -> Preprocess:
    """The game's view with the estimator's own crop, size and stack where given (a crop
    outside a ``native_size`` ``(height, width)`` frame is refused)."""
    changes: dict[str, Any] = {}
    if stack is not None:
        changes["stack"] = stack  # Preprocess refuses stack < 1
    if crop is not None and native_size is not None:
        top, bottom, left, right = crop
        if bottom > native_size[0] or right > native_size[1]:
            raise ValueError(f"view crop {tuple(crop)} (top, bottom, left, right) reaches "
                             f"outside the game's {native_size[0]}x{native_size[1]} frame")
    if crop is not None:
        changes["crop"] = tuple(crop)
    if size is not None:
        check_view_size(size)  # before minutes of rollouts, not after
        changes["size"] = tuple(size)
    return replace(base, **changes) if changes else base


def loss_weight_vector(weights: dict[str, float], names: tuple[str, ...]
                       ) -> torch.Tensor | None:
    """Per-variable loss weights in ``names`` order (1 where not given); None when none
    are given. Unknown names and negative or all-zero weights are refused."""
    if not weights:
        return None
    unknown = sorted(set(weights) - set(names))
    if unknown:
        raise ValueError(f"loss weights for unknown state variables {unknown} "
                         f"(this game's: {', '.join(names)})")
    w = torch.tensor([float(weights.get(n, 1.0)) for n in names])
    if (w < 0).any() or w.sum() <= 0:
        raise ValueError(f"loss weights must be >= 0 and not all 0, got {weights}")
    return w


def train_estimator(cfg: EstimatorTrainConfig, *, progress: bool | None = None) -> dict[str, Any]:
    """Collect rollouts, fit the estimator, write checkpoint + log; return the log
    (progress, when given, overrides cfg.progress)."""
    progress = cfg.progress if progress is None else progress
    torch.set_num_threads(cfg.threads)
    spec = get_game(cfg.env)
    names = tuple(v.name for v in state_variables(spec.name))
    pre = estimator_view(spec.preprocess, cfg.view_crop, cfg.view_size, spec.native_size,
                         cfg.view_stack)
    weights = loss_weight_vector(cfg.loss_weights, names)  # refused before the rollouts
    t0 = time.time()
    augment = ({"band_prob": cfg.hud_mask, "band_fraction": cfg.hud_fraction,
                "intensity": cfg.intensity_jitter, "zoom_prob": cfg.zoom,
                "zoom_max_cut": cfg.zoom_max_cut}
               if cfg.hud_mask or cfg.intensity_jitter or cfg.zoom else None)
    # bad augmentation settings fail here, not after minutes of rollouts
    if cfg.hud_mask:
        bottom_band_visibility(1, cfg.hud_fraction)
    check_zoom(cfg.zoom, cfg.zoom_max_cut)
    data = collect(spec.name, pre, episodes=cfg.episodes, max_steps=cfg.max_episode_steps,
                   seed=STATE_SEED_BASE, codec=cfg.codec, progress=progress,
                   cache=cfg.rollout_cache, randomize_every=cfg.randomize_every)
    collect_s = time.time() - t0
    rng = np.random.default_rng(cfg.seed)
    n_val = max(1, int(round(cfg.val_fraction * cfg.episodes)))
    val_eps = rng.choice(cfg.episodes, size=n_val, replace=False)
    is_val = np.isin(data.episode, val_eps)
    tr, va = np.flatnonzero(~is_val), np.flatnonzero(is_val)

    torch.manual_seed(cfg.seed)
    center = spec.name != "carracing" if cfg.center is None else cfg.center
    model = StateEstimator(StateEstimatorArch(
        in_channels=pre.stacked_shape[0], size=pre.size, outputs=names, center=center,
        keypoints=cfg.keypoints, frame_channels=pre.channels))
    shift = (0 if cfg.keypoints else 2) if cfg.shift is None else cfg.shift
    model.set_label_stats(data.states[tr], data.valid[tr])
    model.set_input_stats(data.stacks[tr[:: max(1, len(tr) // 20_000)]])
    stacks = torch.from_numpy(data.stacks)
    states = torch.from_numpy(data.states)
    valid = torch.from_numpy(data.valid)
    optimiser = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = max(1, len(tr) // cfg.batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(
        optimiser, T_max=cfg.epochs * steps_per_epoch, eta_min=0.05 * cfg.lr)
    gen = torch.Generator().manual_seed(cfg.seed)
    log: dict[str, Any] = {"config": asdict(cfg), "names": list(names), "frames": len(data),
                           "train_frames": len(tr), "val_frames": len(va),
                           "behaviours": data.behaviour, "collect_s": collect_s, "epochs": []}
    bar = tqdm(range(cfg.epochs), desc="estimator epochs", disable=not progress)
    for epoch in bar:
        model.train()
        order = torch.from_numpy(rng.permutation(tr))
        losses = []
        for b in range(steps_per_epoch):
            idx = order[b * cfg.batch_size:(b + 1) * cfg.batch_size]
            losses.append(train_step(model, optimiser, stacks[idx], states[idx], valid[idx],
                                     shift=shift, generator=gen,
                                     keypoint_weight=cfg.keypoint_loss, weights=weights,
                                     augment=augment))
            sched.step()
        pred = model.encode(data.stacks[va])
        r2 = r2_per_variable(pred, data.states[va], data.valid[va])
        row = {"epoch": epoch + 1, "train_loss": float(np.mean(losses)),
               "val_r2_mean": float(np.nanmean(r2)),
               "val_r2": dict(zip(names, r2.tolist(), strict=True)),
               "elapsed_s": time.time() - t0}
        log["epochs"].append(row)
        bar.set_postfix(loss=f"{row['train_loss']:.4f}", val_r2=f"{row['val_r2_mean']:.3f}")
        save_state_estimator(cfg.out, model, game=spec.name, preprocess=pre,
                             meta={"epoch": epoch + 1, "val_r2_mean": row["val_r2_mean"]})
        Path(cfg.out).with_suffix(".log.json").write_text(json.dumps(log, indent=1))
    log["train_s"] = time.time() - t0
    Path(cfg.out).with_suffix(".log.json").write_text(json.dumps(log, indent=1))
    if cfg.ship:
        write_manifest_entry(Path(cfg.out))
    return log
