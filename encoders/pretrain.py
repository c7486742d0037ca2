"""Self-supervised pretraining of the default encoders.

Data (no action labels from the experts, no privileged state):

* **video frames**: every clip under the shipped ``videos/<game>`` folder, decoded at the
  control rate and preprocessed exactly as the learner will see them;
* **the agent's own play**: episodes in the env (:func:`lfo.envs.games.make_raw_env`) under a
  persistent random policy (each sampled action is held for a random number of steps;
  CarRacing's draws favour gas, so the car actually moves). The agent knows its own
  actions, so they may be used.

Objectives (each weighted in :class:`PretrainConfig`, all on frame stacks ``z_t = f(o_t)``):

* ``idm``: inverse dynamics on the agent's play, ``p(a_t | z_t, z_t+1)``: features must
  carry what the agent's action changes (speed, yaw rate, paddle motion);
* ``tcl``: temporal contrast (InfoNCE) on video and play: ``z_t`` must pick out
  ``z_t+d`` (``d`` in 1..max_gap) among the other samples of the batch; features must
  carry where the car is on the track / where the objects are;
* ``tdist``: temporal distance: classify ``d`` from ``(z_t, z_t+d)``; telling 1 step at
  speed 2v from 2 steps at speed v needs the speed read from each stack;
* ``fwd``: latent forward model on play, ``z_t+1 ~ g(z_t, a_t)`` (cosine, target
  detached);
* ``recon``: a small deconvolution decoder rebuilds the last ``recon_frames`` frames of
  each stack, background subtracted (``center`` encoders), from ``z`` alone; pixels that
  differ from the background weigh ``1 + recon_fg_weight``. In Pong everything the
  policy needs (ball, paddles) is a few such pixels, so ``z`` must say where they are.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from encoders.nets import ConvEncoder
from encoders.registry import build_conv
from lfo.data.preprocess import Preprocess
from lfo.data.video import iter_frame_chunks, scan_folder
from lfo.envs.games import get_game, make_raw_env


# ----------------------------------------------------------------------------- views
def view(game: str, name: str = "default") -> Preprocess:
    """The game's Preprocess (``default``) or an experimental variant (CarRacing).

    ``speedbar``: keep the HUD rows but black out everything in them except the
    true-speed bar (native columns 0-15; the bar spans 12-14); the ABS, steering and
    gyro bars (columns 16+) are masked. The self-supervised ``ssl-carracing`` encoder was
    trained on this view (its checkpoint records it); the default view now shows the
    whole HUD, whose bars are car state, not keys (``lfo.envs.games``).
    ``nohud``: the whole HUD cropped (rows 84-95).
    ``objects``: any game, grey levels replaced by the object mask of
    :attr:`lfo.data.preprocess.Preprocess.objects` (threshold 16).
    """
    pre = get_game(game).preprocess
    if name == "default":
        return pre
    if get_game(game).name == "carracing" and name in ("speedbar", "nohud"):
        if name == "speedbar":
            return Preprocess(crop=None, mask=((84, 96, 16, 96),), size=pre.size,
                              grayscale=pre.grayscale, stack=pre.stack)
        return Preprocess(crop=(0, 84, 0, 96), size=pre.size, grayscale=pre.grayscale,
                          stack=pre.stack)
    if name == "objects":
        # codec-robust object mask (Preprocess.objects): for Atari's near-static screens
        return replace(pre, objects=16)
    raise ValueError(f"unknown view {name!r} for {game}")


# ----------------------------------------------------------------------------- data
@dataclass
class Episodes:
    """Preprocessed single frames of many episodes, concatenated, with optional actions.

    ``frames[starts[i]:ends[i]]`` is episode i; ``actions[g]`` is the action taken at
    global frame g (moving to g + 1); -1 where unknown (video frames, last frames).
    """

    frames: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    actions: np.ndarray

    @staticmethod
    def from_lists(frames: list[np.ndarray], actions: list[np.ndarray] | None) -> Episodes:
        lengths = np.array([len(f) for f in frames])
        ends = np.cumsum(lengths)
        starts = ends - lengths
        acts = np.full(int(lengths.sum()), -1, dtype=np.int64)
        if actions is not None:
            for s, a in zip(starts, actions, strict=True):
                acts[s : s + len(a)] = a
        return Episodes(np.concatenate(frames), starts, ends, acts)

    def episode_of(self, g: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.ends, g, side="right")

    def stacks(self, g: np.ndarray, stack: int) -> np.ndarray:
        """Stacks ending at global frames ``g``: ``(n, stack * c, h, w)`` (start repeats)."""
        start = self.starts[self.episode_of(g)]
        idx = np.maximum(g[:, None] + np.arange(-stack + 1, 1)[None, :], start[:, None])
        out = self.frames[idx]  # (n, k, c, h, w)
        return out.reshape(len(g), -1, *out.shape[-2:])


def load_video_episodes(videos: Path, game: str, pre: Preprocess) -> list[np.ndarray]:
    """Every clip under ``videos`` as preprocessed single frames ``(T, c, h, w)``."""
    spec = get_game(game)
    out = []
    for clip in scan_folder(videos):
        chunks = iter_frame_chunks(clip, fps=spec.control_hz(), size=spec.native_size)
        out.append(np.concatenate([pre.frames(c) for c in chunks]))
    return out


@dataclass(frozen=True)
class PlayConfig:
    """The agent's exploratory play (no expert involved)."""

    steps: int = 30_000
    """Total env steps of own play."""
    episode_steps: int = 300
    """Episodes are cut after this many steps (CarRacing: keeps much of the play near the
    road, where the car starts)."""
    seed: int = 100_000
    """Env seed of the first episode (episode i uses seed + i); keep it away from the
    evaluation (0-9999) and video (10000+) seeds."""
    max_hold: int = 8
    """Each sampled action is held for 1..max_hold steps."""
    probs: tuple[float, ...] | None = None
    """Action probabilities (None: uniform)."""


#: CarRacing: noop, right, left, gas, brake; gas-heavy so the car gets going
CARRACING_PLAY_PROBS = (0.1, 0.2, 0.2, 0.42, 0.08)


def collect_play(game: str, cfg: PlayConfig, pre: Preprocess) -> tuple[list, list]:
    """Roll the persistent random policy; returns per-episode frames and actions."""
    env = make_raw_env(game)
    n_actions = int(env.action_space.n)
    probs = np.asarray(cfg.probs or np.full(n_actions, 1.0 / n_actions))
    rng = np.random.default_rng(cfg.seed)
    frames_out, actions_out, done_steps, ep = [], [], 0, 0
    while done_steps < cfg.steps:
        obs, _ = env.reset(seed=cfg.seed + ep)
        frames, actions, hold, action = [pre.frame(obs)], [], 0, 0
        for _ in range(min(cfg.episode_steps, cfg.steps - done_steps)):
            if hold == 0:
                action = int(rng.choice(n_actions, p=probs))
                hold = int(rng.integers(1, cfg.max_hold + 1))
            hold -= 1
            obs, _, terminated, truncated, _ = env.step(action)
            frames.append(pre.frame(obs))
            actions.append(action)
            if terminated or truncated:
                break
        done_steps += len(actions)
        ep += 1
        frames_out.append(np.stack(frames))
        actions_out.append(np.array(actions, dtype=np.int64))
    env.close()
    return frames_out, actions_out


# ----------------------------------------------------------------------------- training
@dataclass(frozen=True)
class PretrainConfig:
    """A pretraining run; the defaults are the shipped CarRacing recipe (game_recipe gives
    Pong's)."""

    env: Literal["carracing", "pong"] = "carracing"
    """The game."""
    videos: Path | None = None
    """Folder of unlabelled clips, frames only used (default videos/<env>)."""
    view: str = "default"
    """default (the game's Preprocess) or an experimental view (nohud: the whole CarRacing
    HUD cropped)."""
    play: PlayConfig = field(
        default_factory=lambda: PlayConfig(steps=12_000, probs=CARRACING_PLAY_PROBS))
    """The agent's exploratory play."""
    steps: int = 1000
    """Optimiser steps (updates, not env steps)."""
    batch: int = 32
    """Samples per objective per step (play pairs and video pairs each)."""
    lr: float = 3e-4
    """Adam learning rate."""
    max_gap: int = 4
    """Temporal gaps d are drawn from 1..max_gap."""
    w_idm: float = 1.0
    """Inverse dynamics loss weight (0 disables it)."""
    w_tcl: float = 1.0
    """Temporal contrast loss weight (0 disables it)."""
    w_tdist: float = 1.0
    """Temporal distance loss weight (0 disables it)."""
    w_fwd: float = 0.0
    """Latent forward model loss weight (0 disables it)."""
    w_recon: float = 0.0
    """Foreground reconstruction loss weight (0 disables it)."""
    recon_frames: int = 2
    """Frames at the end of each stack the decoder rebuilds."""
    recon_fg_weight: float = 10.0
    """Extra weight of pixels that differ from the background."""
    temperature: float = 0.1
    """InfoNCE temperature."""
    seed: int = 0
    """Seeds torch, numpy and the play."""
    threads: int = 1
    """torch CPU threads (1 was faster than 2 on the shared 2-core machine)."""
    feature_dim: int | None = None
    """Feature size D (None: the game family's default architecture, 128)."""
    head: Literal["flatten", "spatial_softmax"] | None = None
    """flatten or spatial_softmax (each channel's expected x, y) (None: the family's
    default: flatten for carracing, spatial_softmax for pong)."""
    center: bool | None = None
    """Subtract the median background frame in the encoder (None: the family's default:
    no for carracing, yes for pong)."""

    @property
    def arch(self) -> dict[str, Any]:
        """The architecture overrides given to build_conv (those set)."""
        return {k: v for k, v in (("feature_dim", self.feature_dim), ("head", self.head),
                                  ("center", self.center)) if v is not None}

    @property
    def videos_dir(self) -> Path:
        return Path(self.videos) if self.videos is not None else Path("videos") / self.env


@dataclass(frozen=True, kw_only=True)
class PretrainRun(PretrainConfig):
    """A pretraining run and where its checkpoint goes (scripts/pretrain_encoder.py)."""

    out: Path
    """Checkpoint to write (.pt); the log is written beside it as .log.json."""
    video: bool = True
    """Use the clips' frames (--no-video: own play only)."""
    data_cache: Path = Path(".cache/pretrain")
    """Where collected play is cached between runs."""
    checkpoint_every: int = 0
    """Also write <out>.step<N>.pt every N steps (to probe learning curves; 0: never)."""
    ship: bool = False
    """Record the file's SHA-256 in encoders/weights/MANIFEST.json."""

    def config(self) -> PretrainConfig:
        """The training settings alone (what the checkpoint's metadata records)."""
        return PretrainConfig(**{f.name: getattr(self, f.name) for f in fields(PretrainConfig)})


def game_recipe(env: str) -> dict[str, Any]:
    """The settings of the shipped weights that differ from PretrainConfig's defaults (the
    CarRacing recipe): Pong's encoder subtracts the median background frame, a decoder
    rebuilds the background-subtracted frames, a spatial-softmax head (its family default)
    makes object positions linear in the features, longer play episodes, gaps up to 3."""
    if env == "pong":
        return {"play": PlayConfig(steps=30_000, episode_steps=2000, max_hold=4), "max_gap": 3,
                "steps": 2000, "w_recon": 50.0}
    return {}


class Heads(nn.Module):
    """The small heads the objectives train on top of the encoder (thrown away after)."""

    def __init__(self, dim: int, n_actions: int, max_gap: int, hidden: int = 256) -> None:
        super().__init__()

        def mlp(i: int, o: int) -> nn.Module:
            return nn.Sequential(nn.Linear(i, hidden), nn.ReLU(), nn.Linear(hidden, o))

        self.n_actions = n_actions
        self.idm = mlp(3 * dim, n_actions)
        self.proj = mlp(dim, 128)
        self.pred = nn.Sequential(
            nn.Linear(dim + max_gap, hidden), nn.ReLU(), nn.Linear(hidden, 128)
        )
        self.tdist = mlp(3 * dim, max_gap)
        self.fwd = mlp(dim + n_actions, dim)


class Decoder(nn.Module):
    """``z`` -> ``out_channels`` frames of ``size`` (7x7 map, three upsamplings)."""

    def __init__(self, dim: int, out_channels: int, size: tuple[int, int]) -> None:
        super().__init__()
        self.size = size
        self.fc = nn.Linear(dim, 64 * 7 * 7)
        self.up = nn.Sequential(
            nn.ReLU(),
            nn.ConvTranspose2d(64, 64, 4, stride=2, padding=1),  # 14x14
            nn.ReLU(),
            nn.ConvTranspose2d(64, 32, 4, stride=2, padding=1),  # 28x28
            nn.ReLU(),
            nn.ConvTranspose2d(32, out_channels, 3, stride=3),  # 84x84
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        out = self.up(self.fc(z).view(len(z), 64, 7, 7))
        if tuple(out.shape[-2:]) != tuple(self.size):
            out = F.interpolate(out, size=self.size, mode="bilinear", align_corners=False)
        return out


def recon_loss(pred: torch.Tensor, target: torch.Tensor, fg_weight: float) -> torch.Tensor:
    """Weighted MSE; pixels of the target further than 10/255 from 0 weigh ``1 + fg_weight``."""
    weight = 1.0 + fg_weight * (target.abs() > 10 / 255).float()
    return (weight * (pred - target) ** 2).mean()


def background_frames(sources: list[Episodes], n: int, seed: int) -> np.ndarray:
    """A fixed subsample of single frames of all sources (for the median background)."""
    rng = np.random.default_rng(seed)
    frames = [src.frames[rng.choice(len(src.frames), size=min(n, len(src.frames)), replace=False)]
              for src in sources]
    return np.concatenate(frames)


def pair_features(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Input of pairwise heads: both features and their difference."""
    return torch.cat([a, b, b - a], dim=1)


def info_nce(query: torch.Tensor, key: torch.Tensor, temperature: float) -> tuple:
    """InfoNCE with the batch's other keys as negatives; returns (loss, top-1 accuracy)."""
    q = F.normalize(query, dim=1)
    k = F.normalize(key, dim=1)
    logits = q @ k.T / temperature
    labels = torch.arange(len(q))
    return F.cross_entropy(logits, labels), (logits.argmax(1) == labels).float().mean()


def sample_starts(eps: Episodes, n: int, gap: int, rng: np.random.Generator, need_action: bool):
    """Global frame indices g with g + gap inside the same episode (and an action at g)."""
    ok = np.concatenate([np.arange(s, e - gap) for s, e in zip(eps.starts, eps.ends, strict=True)])
    if need_action:
        ok = ok[eps.actions[ok] >= 0]
    return rng.choice(ok, size=n)


def pretrain(
    cfg: PretrainConfig,
    video_eps: Episodes | None,
    play_eps: Episodes,
    *,
    log=print,
    valid_play: Episodes | None = None,
    on_checkpoint=None,
    checkpoint_every: int = 0,
) -> tuple[ConvEncoder, list[dict]]:
    """Train an encoder with the configured objectives; returns it and the log rows.

    ``on_checkpoint(step, encoder)`` is called every ``checkpoint_every`` steps (if > 0).
    """
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    pre = view(cfg.env, cfg.view)
    encoder = build_conv(cfg.env, seed=cfg.seed, preprocess=pre, **cfg.arch)
    n_actions = int(play_eps.actions.max()) + 1
    heads = Heads(encoder.cfg.feature_dim, n_actions, cfg.max_gap)
    params = list(encoder.parameters()) + list(heads.parameters())
    sources = [play_eps] + ([video_eps] if video_eps is not None else [])
    k = pre.stack
    n_rec = cfg.recon_frames * pre.channels
    if cfg.w_recon:  # built only when used, so other recipes draw the same initial weights
        decoder = Decoder(encoder.cfg.feature_dim, n_rec, pre.size)
        params += list(decoder.parameters())
    if encoder.cfg.center:
        encoder.set_background(background_frames(sources, 2000, cfg.seed + 1))
    opt = torch.optim.Adam(params, lr=cfg.lr)
    rows, t0 = [], time.time()
    encoder.train()
    for step in range(1, cfg.steps + 1):
        # Play pairs (t, t+1) with the agent's action, for idm / fwd.
        g = sample_starts(play_eps, cfg.batch, 1, rng, need_action=True)
        # Temporal pairs (t, t+d) from video and play, for tcl / tdist.
        d = rng.integers(1, cfg.max_gap + 1, size=cfg.batch)
        src_batches = []
        for i, src in enumerate(sources):
            sel = d[i :: len(sources)]
            s = sample_starts(src, len(sel), cfg.max_gap, rng, need_action=False)
            src_batches.append((src, s, sel))
        stacks = [play_eps.stacks(g, k), play_eps.stacks(g + 1, k)]
        for src, s, sel in src_batches:
            stacks += [src.stacks(s, k), src.stacks(s + sel, k)]
        x = torch.from_numpy(np.concatenate(stacks))
        z = encoder(x)
        b = cfg.batch
        z0, z1, rest = z[:b], z[b : 2 * b], z[2 * b :]
        za, zb, gaps = [], [], []
        off = 0
        for _, _, sel in src_batches:
            n = len(sel)
            za.append(rest[off : off + n])
            zb.append(rest[off + n : off + 2 * n])
            gaps.append(sel)
            off += 2 * n
        za, zb = torch.cat(za), torch.cat(zb)
        gap = torch.from_numpy(np.concatenate(gaps) - 1)
        actions = torch.from_numpy(play_eps.actions[g])

        losses, stats = {}, {}
        if cfg.w_idm:
            logits = heads.idm(pair_features(z0, z1))
            losses["idm"] = F.cross_entropy(logits, actions)
            stats["idm_acc"] = (logits.argmax(1) == actions).float().mean().item()
        if cfg.w_tcl:
            q = heads.pred(torch.cat([za, F.one_hot(gap, cfg.max_gap).float()], 1))
            losses["tcl"], acc = info_nce(q, heads.proj(zb), cfg.temperature)
            stats["tcl_acc"] = acc.item()
        if cfg.w_tdist:
            logits = heads.tdist(pair_features(za, zb))
            losses["tdist"] = F.cross_entropy(logits, gap)
            stats["tdist_acc"] = (logits.argmax(1) == gap).float().mean().item()
        if cfg.w_fwd:
            pred = heads.fwd(torch.cat([z0, F.one_hot(actions, n_actions).float()], 1))
            losses["fwd"] = 1 - F.cosine_similarity(pred, z1.detach(), dim=1).mean()
        if cfg.w_recon:
            target = x[:, -n_rec:].float() / 255.0
            if encoder.cfg.center:
                target = target - encoder.background[:, -n_rec:]
            losses["recon"] = recon_loss(decoder(z), target, cfg.recon_fg_weight)
        weights = {"idm": cfg.w_idm, "tcl": cfg.w_tcl, "tdist": cfg.w_tdist, "fwd": cfg.w_fwd,
                   "recon": cfg.w_recon}
        loss = sum(weights[n] * v for n, v in losses.items())
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 50 == 0 or step == cfg.steps:
            row = {"step": step, "loss": loss.item(), "s": round(time.time() - t0, 1)}
            row.update({n: round(v.item(), 4) for n, v in losses.items()})
            row.update({n: round(v, 3) for n, v in stats.items()})
            if valid_play is not None and cfg.w_idm and step % 500 == 0:
                row["val_idm_acc"] = idm_accuracy(encoder, heads, valid_play, k)
                encoder.train()
            rows.append(row)
            log(json.dumps(row))
        if on_checkpoint is not None and checkpoint_every and step % checkpoint_every == 0:
            on_checkpoint(step, encoder.eval())
            encoder.train()
    encoder.eval()
    return encoder, rows


@torch.no_grad()
def idm_accuracy(encoder, heads: Heads, eps: Episodes, stack: int, n: int = 1024) -> float:
    """Inverse-dynamics accuracy on held-out play (a sanity check of what was learnt)."""
    encoder.eval()
    rng = np.random.default_rng(0)
    g = sample_starts(eps, n, 1, rng, need_action=True)
    z0 = encoder(torch.from_numpy(eps.stacks(g, stack)))
    z1 = encoder(torch.from_numpy(eps.stacks(g + 1, stack)))
    pred = heads.idm(pair_features(z0, z1)).argmax(1).numpy()
    return round(float((pred == eps.actions[g]).mean()), 3)


def config_dict(cfg: PretrainConfig) -> dict:
    """JSON-able config (stored in the checkpoint's metadata)."""
    return json.loads(json.dumps(asdict(cfg), default=str))
