"""Which game a clip shows, told from its pictures alone.

A sidecar may name a clip's game; when none does, or when ``--env`` or a sidecar should be
checked against the clips, the pictures decide. The detector compares a few frames of a
clip with reference frames of each supported game, shipped with the library
(``game_references.npz``, built from the shipped clip folders by
``lfo-build-game-references``; its SHA-256 is checked against ``game_references.json``).

Why this design (a nearest-reference rule, not a trained classifier). Each supported game
draws a fixed scene with a fixed palette (CarRacing: green grass, grey road, black
dashboard; Pong: an orange court between white bars; Breakout: grey walls around rainbow
bricks on black), so a coarse colour layout identifies it, and the distance to the nearest
reference says how sure that is: a clip far from every reference shows another game,
which a classifier trained only on the known games could not say. The nuisances of real
captures are handled explicitly, each by construction rather than by training:

* resolution, aspect ratio, codec and frame rate: frames are decoded at one small size
  (the aspect squeezed) and compared on a 16x16 grid of cell mean colours; only
  :data:`SAMPLE_FRAMES` frames are decoded per clip (sorted indices spread over the clip);
* letterbox and pillarbox bars: uniform dark rows (columns) along both opposite edges of
  every sampled frame are cut, the same amount on both sides;
* brightness and contrast: each comparison fits the reference's colours to the frame with
  a gain and an offset (least squares, gain within :data:`GAIN_RANGE`), and the residual is
  measured relative to the reference's own contrast (a flat frame is 0.55 away or more);
* colour and hue: each frame is also compared with its hue turned by :data:`HUE_TURNS`;
* off-centre crops and zoom: every reference is also stored as nine crops of
  :data:`CROP_WINDOW` of its size (corners, edge centres, centre);
* a hidden strip (a blacked-out dashboard, a cropped score line): the comparison may leave
  out up to :data:`EDGE_BAND` grid rows or columns along one edge.

The distance of a clip to a game is the median over its sampled frames of the smallest
distance to that game's references; the nearest game is the answer when its distance is
at most :data:`UNKNOWN_DISTANCE`, else the clip shows none of the supported games. The
threshold sits between the largest distance measured on the shipped clips under every
video shift of :mod:`lfo.shifts.registry` (each clip compared with references from the
other clips of its game) and the smallest measured on clips of 25 other Atari games and
synthetic pictures (``python -m experiments.game_detector_accuracy``; the numbers are in
``results/game_detector_accuracy.json``).

Cost: decoding 8 frames and comparing them takes about 0.1-0.3 s per clip on one core.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from lfo.data.files import file_digest
from lfo.data.video import ClipFolder, ClipInfo, sample_frames, scan_folder
from lfo.envs.games import GAMES

#: frames decoded per clip (at the centres of equal spans of the clip, decoded in order)
SAMPLE_FRAMES = 8
#: ``(height, width)`` frames are decoded at (any clip's aspect ratio is squeezed into it)
DECODE_SIZE = (128, 128)
#: ``(height, width)`` reference frames are stored at
REFERENCE_SIZE = (48, 48)
#: a reference frame is stored only if it is farther than this from every one kept before
#: it (near-repeats add size and time, not coverage)
DISTINCT_DISTANCE = 0.05
#: cells per side of the colour grid that frames are compared on
GRID = 16
#: size of the crops of each reference (a fraction of its height and width)
CROP_WINDOW = 0.92
#: hue turns (degrees) each sampled frame is compared under
HUE_TURNS = (-15.0, -7.5, 0.0, 7.5, 15.0)
#: grid rows (or columns) along one edge that a comparison may leave out
EDGE_BAND = 2
#: range of the contrast gain fitted between a frame and a reference
GAIN_RANGE = (0.55, 1.7)
#: a clip farther than this from every game's references shows none of them
UNKNOWN_DISTANCE = 0.36
#: rows (columns) whose luminance spans less than this and stays this close to the darkest
#: level of the clip are border bars
BAR_TOLERANCE = 24.0

REFERENCES = Path(__file__).with_name("game_references.npz")
MANIFEST = REFERENCES.with_suffix(".json")


@dataclass(frozen=True)
class GameGuess:
    """What the pictures of one clip show.

    Attributes:
        path: the clip.
        game: the supported game it shows, or ``None`` when it shows none of them.
        distances: its distance to each supported game (smaller is closer; ``inf`` when
            the clip has no picture to compare, e.g. all black).
    """

    path: Path
    game: str | None
    distances: dict[str, float]

    @property
    def nearest(self) -> str:
        """The closest supported game (even when too far to count)."""
        return min(self.distances, key=self.distances.get)

    def describe(self) -> str:
        """``pong (0.02; carracing 0.85, breakout 0.93)``-style summary for reports."""
        ranked = sorted(self.distances.items(), key=lambda kv: kv[1])
        head = self.game or f"unknown (nearest {ranked[0][0]}"
        rest = ", ".join(f"{g} {d:.2f}" for g, d in ranked[1:])
        if self.game is None:
            return f"{head} {ranked[0][1]:.2f}; {rest})"
        return f"{head} ({ranked[0][1]:.2f}; {rest})"


# ----------------------------------------------------------------------------- pictures
def trim_bars(frames: np.ndarray) -> np.ndarray | None:
    """Frames ``(K, H, W, 3)`` with letterbox/pillarbox bars cut; ``None`` if nothing else.

    A row is part of a bar when, in every frame, its luminance is uniform and as dark as
    the clip's darkest level; bars are cut by the same amount from opposite edges (the
    smaller of the two runs), so a dark strip along one edge only (a blacked-out
    dashboard) stays, and so does the dark background of a game.
    """
    lum = frames.astype(np.float32).mean(-1)
    darkest = float(np.percentile(lum, 1))

    def bars(hi: np.ndarray, lo: np.ndarray) -> tuple[int, int] | None:
        is_bar = (hi - lo < BAR_TOLERANCE) & (hi < darkest + BAR_TOLERANCE)
        if is_bar.all():
            return None
        first = int(np.argmin(is_bar))
        last = int(np.argmin(is_bar[::-1]))
        cut = min(first, last)
        return cut, len(is_bar) - cut

    rows = bars(lum.max(axis=(0, 2)), lum.min(axis=(0, 2)))
    cols = bars(lum.max(axis=(0, 1)), lum.min(axis=(0, 1)))
    if rows is None or cols is None or rows[1] - rows[0] < 8 or cols[1] - cols[0] < 8:
        return None
    return frames[:, rows[0] : rows[1], cols[0] : cols[1]]


def turn_hue(frame: np.ndarray, degrees: float) -> np.ndarray:
    """An RGB uint8 frame with its hue turned (OpenCV's 8-bit hue is in half degrees)."""
    if degrees == 0:
        return frame
    hsv = cv2.cvtColor(frame, cv2.COLOR_RGB2HSV)
    hsv[..., 0] = ((hsv[..., 0].astype(np.float32) + degrees / 2.0) % 180).astype(np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


def colour_grid(frame: np.ndarray) -> np.ndarray:
    """Mean colour of each cell of a ``GRID x GRID`` grid over the frame: ``(GRID, GRID, 3)``."""
    return cv2.resize(frame.astype(np.float32), (GRID, GRID), interpolation=cv2.INTER_AREA)


def crops(frame: np.ndarray) -> list[np.ndarray]:
    """The frame and its nine crops of :data:`CROP_WINDOW` (corners, edge centres, centre)."""
    h, w = frame.shape[:2]
    ch, cw = int(round(h * CROP_WINDOW)), int(round(w * CROP_WINDOW))
    out = [frame]
    for y in (0, (h - ch) // 2, h - ch):
        for x in (0, (w - cw) // 2, w - cw):
            out.append(frame[y : y + ch, x : x + cw])
    return out


def reference_frames(frames: np.ndarray) -> np.ndarray:
    """A clip's sampled frames as stored references: bars cut, resized to
    :data:`REFERENCE_SIZE`; ``(0, h, w, 3)`` when nothing is left."""
    h, w = REFERENCE_SIZE
    trimmed = trim_bars(frames)
    if trimmed is None:
        return np.zeros((0, h, w, 3), dtype=np.uint8)
    return np.stack([cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) for f in trimmed])


def distinct(frames: np.ndarray, min_distance: float = DISTINCT_DISTANCE) -> np.ndarray:
    """The frames (in order) that are farther than ``min_distance`` from every earlier kept
    one, by the detector's own distance on whole frames."""
    grids = np.stack([colour_grid(f) for f in frames]) if len(frames) else frames
    kept: list[int] = []
    for i in range(len(frames)):
        if not kept or nearest_distance(grids[i : i + 1], grids[kept])[0] > min_distance:
            kept.append(i)
    return frames[kept]


def reference_grids(frames: np.ndarray) -> np.ndarray:
    """Colour grids of stored reference frames and their crops: ``(10 * N, GRID, GRID, 3)``."""
    return np.stack([colour_grid(c) for f in frames for c in crops(f)])


# ----------------------------------------------------------------------------- distance
def _bands() -> list[np.ndarray]:
    """Masks of the grid rows kept: all, or all but 1..EDGE_BAND rows at the top or bottom."""
    masks = [np.ones(GRID, bool)]
    for k in range(1, EDGE_BAND + 1):
        for band in (slice(0, k), slice(GRID - k, GRID)):
            keep = np.ones(GRID, bool)
            keep[band] = False
            masks.append(keep)
    return masks


def nearest_distance(frames: np.ndarray, refs: np.ndarray) -> np.ndarray:
    """Distance of each frame grid to its nearest reference grid.

    Args:
        frames: ``(M, GRID, GRID, 3)`` colour grids of frames.
        refs: ``(N, GRID, GRID, 3)`` colour grids of references.

    Returns:
        ``(M,)``: for each frame, the smallest over references and edge masks of
        ``sqrt(|q - (a r + b)|^2 / |r - mean r|^2)`` over the kept cells, where the gain ``a``
        (within :data:`GAIN_RANGE`) and offset ``b`` are fitted by least squares.
    """
    best = np.full((len(frames), len(refs)), np.inf)
    for axis in (1, 2):  # leave out rows, then columns
        # per grid line (row or column): sums of q*r, q, r, q^2, r^2 over its cells and channels
        q = np.moveaxis(frames.astype(np.float64), axis, 1).reshape(len(frames), GRID, -1)
        r = np.moveaxis(refs.astype(np.float64), axis, 1).reshape(len(refs), GRID, -1)
        qr = np.matmul(q.transpose(1, 0, 2), r.transpose(1, 2, 0))  # (GRID, M, N)
        sq, sr, sqq, srr = q.sum(-1), r.sum(-1), (q * q).sum(-1), (r * r).sum(-1)
        cells = q.shape[-1]
        for keep in _bands()[(axis == 2):]:  # the unmasked comparison once
            n = keep.sum() * cells
            mq, mr = sq[:, keep].sum(-1)[:, None] / n, sr[:, keep].sum(-1)[None] / n
            cov = qr[keep].sum(0) - n * mq * mr
            var_r = srr[:, keep].sum(-1)[None] - n * mr * mr
            var_q = sqq[:, keep].sum(-1)[:, None] - n * mq * mq
            gain = np.clip(cov / np.maximum(var_r, 1e-6), *GAIN_RANGE)
            resid = np.maximum(var_q - 2 * gain * cov + gain * gain * var_r, 0.0)
            best = np.minimum(best, resid / np.maximum(var_r, float(n)))
    return np.sqrt(best.min(axis=1))


def frame_grids(frames: np.ndarray) -> np.ndarray | None:
    """Colour grids of a clip's sampled frames under every hue turn: ``(K, len(HUE_TURNS),
    GRID, GRID, 3)``; ``None`` if the frames hold no picture (all bar)."""
    trimmed = trim_bars(frames)
    if trimmed is None:
        return None
    return np.stack([[colour_grid(turn_hue(f, h)) for h in HUE_TURNS] for f in trimmed])


def game_distances(frames: np.ndarray, references: Mapping[str, np.ndarray]) -> dict[str, float]:
    """Distance of a clip's sampled frames (uint8 ``(K, H, W, 3)``) to each game: the median
    over frames of the distance to the nearest reference (best hue turn)."""
    grids = frame_grids(frames)
    if grids is None:
        return {game: float("inf") for game in references}
    k, v = grids.shape[:2]
    flat = grids.reshape(k * v, GRID, GRID, 3)
    return {
        game: float(np.median(nearest_distance(flat, refs).reshape(k, v).min(axis=1)))
        for game, refs in references.items()
    }


def guess_from_distances(path: Path, distances: dict[str, float]) -> GameGuess:
    """The nearest game if it is within :data:`UNKNOWN_DISTANCE`, else none."""
    nearest = min(distances, key=distances.get)
    game = nearest if distances[nearest] <= UNKNOWN_DISTANCE else None
    return GameGuess(Path(path), game, distances)


# ----------------------------------------------------------------------------- references
class ReferencesError(RuntimeError):
    """The shipped reference file is missing or corrupt."""


def load_reference_frames(path: Path = REFERENCES) -> dict[str, np.ndarray]:
    """The stored reference frames per game, checked against the manifest's SHA-256."""
    manifest_path = path.with_suffix(".json")
    try:
        expected = json.loads(manifest_path.read_text())["sha256"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ReferencesError(f"cannot read {manifest_path} ({exc}): reinstall lfo, or rebuild "
                              "with lfo-build-game-references") from exc
    if not path.is_file() or file_digest(path) != expected:
        raise ReferencesError(f"{path} is missing or corrupt (SHA-256 differs from "
                              f"{manifest_path.name}): reinstall lfo, or rebuild with "
                              "lfo-build-game-references")
    with np.load(path, allow_pickle=False) as data:
        return {game: data[game] for game in data.files}


@functools.lru_cache(maxsize=1)
def shipped_references() -> dict[str, np.ndarray]:
    """The shipped references as colour grids per game (loaded once)."""
    return {game: reference_grids(frames) for game, frames in load_reference_frames().items()}


def build_reference_frames(
    folders: Mapping[str, str | Path], frames_per_clip: int = 8
) -> dict[str, np.ndarray]:
    """Reference frames per game from folders of its clips (``{"pong": "videos/pong"}``)."""
    unknown = sorted(set(folders) - set(GAMES))
    if unknown:
        raise ValueError(f"unknown game(s) {unknown}; known: {', '.join(GAMES)}")
    out = {}
    for game, folder in folders.items():
        clips = scan_folder(folder, warn=False)
        out[game] = distinct(np.concatenate(
            [reference_frames(sample_frames(c, frames_per_clip, size=DECODE_SIZE))
             for c in clips]
        ))
    return out


# ----------------------------------------------------------------------------- clips
def detect_frames(path: Path, frames: np.ndarray,
                  references: Mapping[str, np.ndarray] | None = None) -> GameGuess:
    """The game shown by sampled frames (uint8 ``(K, H, W, 3)``) of the clip at ``path``."""
    refs = shipped_references() if references is None else references
    return guess_from_distances(path, game_distances(frames, refs))


def detect_clip(clip: ClipInfo, references: Mapping[str, np.ndarray] | None = None) -> GameGuess:
    """The game a probed clip shows (decodes :data:`SAMPLE_FRAMES` frames)."""
    frames = sample_frames(clip, SAMPLE_FRAMES, size=DECODE_SIZE)
    return detect_frames(clip.path, frames, references)


def detect_folder(
    folder: ClipFolder | Sequence[ClipInfo],
    references: Mapping[str, np.ndarray] | None = None,
    *,
    progress: bool = False,
) -> list[GameGuess]:
    """The game each clip of a folder shows, in the folder's order."""
    clips = list(folder)
    return [detect_clip(c, references)
            for c in tqdm(clips, desc="checking which game the clips show", disable=not progress)]
