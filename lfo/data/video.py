"""Find, probe and decode gameplay clips.

Clips are decoded with decord, resized while decoding to the env's native observation
size, and resampled in time to the env's control rate, so that consecutive decoded
frames are consecutive env steps whatever the clip's own frame rate.

decord misbehaves on some bad files (a text file can open as a "video", some errors are
not ``RuntimeError``s, and a decoder could in principle abort the process), so every
file is first *probed* in a child process: a file that crashes or hangs the child is
reported as bad and the caller's process survives any input.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import subprocess
import sys
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

#: extensions (lower case) recognised as video files
VIDEO_EXTENSIONS: tuple[str, ...] = (".mp4", ".webm", ".avi", ".mkv", ".mov")
#: a (s, s') pair needs two frames
MIN_FRAMES = 2
#: seconds the probe child may spend on one file before it is declared hung
PROBE_TIMEOUT_S = 30.0
#: what the probe child runs (a module constant so tests can make it crash for real)
PROBE_CHILD_CODE = (
    "import sys; from lfo.data.video import _probe_child_main; _probe_child_main(sys.argv[1:])"
)


class NoUsableClipError(RuntimeError):
    """A folder holds no clip that can be decoded; the message lists every skipped file."""


@dataclass(frozen=True)
class ClipInfo:
    """Metadata of one decodable clip."""

    path: Path
    n_frames: int
    fps: float
    width: int
    height: int

    @property
    def duration_s(self) -> float:
        """Length in seconds at the clip's own frame rate."""
        return self.n_frames / self.fps


@dataclass(frozen=True)
class SkippedFile:
    """A file with a video extension that cannot be used, and why."""

    path: Path
    reason: str


@dataclass
class ClipFolder:
    """The result of scanning a folder: usable clips and skipped files."""

    root: Path
    clips: list[ClipInfo] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.clips)

    def __iter__(self) -> Iterator[ClipInfo]:
        return iter(self.clips)


# ----------------------------------------------------------------------------- discovery
def find_video_files(root: str | Path) -> list[Path]:
    """All files under ``root`` (recursively) whose extension is a video extension.

    Matching is case-insensitive (``CLIP.MP4`` counts); hidden files are ignored; the
    result is sorted so runs are reproducible.
    """
    root = Path(root)
    if not root.exists():
        raise FileNotFoundError(f"video folder {root} does not exist")
    if root.is_file():
        return [root] if root.suffix.lower() in VIDEO_EXTENSIONS else []
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS and not p.name.startswith(".")
    )


# ----------------------------------------------------------------------------- probing
def _probe_one(path: str) -> dict:
    """Read a file's stream size (PyAV), then open it with decord and read its first and
    last frame (runs in the child)."""
    try:
        height, width = native_size(Path(path))
    except Exception as exc:  # PyAV raises its own error classes
        return {"ok": False, "reason": f"not a decodable video ({_first_line(exc)})"}
    try:
        reader, _ = _open_reader(Path(path), (height, width))
    except Exception as exc:  # decord.DECORDError is not a RuntimeError subclass
        return {"ok": False, "reason": f"not a decodable video ({_first_line(exc)})"}
    try:
        n_frames = len(reader)
        fps = float(reader.get_avg_fps())
        if n_frames < MIN_FRAMES:
            return {
                "ok": False,
                "reason": f"has {n_frames} frame(s); a clip needs at least {MIN_FRAMES}",
            }
        if not math.isfinite(fps) or fps <= 0:
            return {"ok": False, "reason": f"invalid frame rate {fps}"}
        # A file can open and report frames yet fail to decode them: read before trusting.
        reader.get_batch([n_frames - 1]).asnumpy()
    except Exception as exc:
        return {"ok": False, "reason": f"frames cannot be decoded ({_first_line(exc)})"}
    return {"ok": True, "n_frames": n_frames, "fps": fps, "width": width, "height": height}


def native_size(path: Path) -> tuple[int, int]:
    """``(height, width)`` of a file's first video stream, read from its header with PyAV."""
    import av

    with av.open(str(path)) as container:
        if not container.streams.video:
            raise ValueError("no video stream")
        stream = container.streams.video[0]
        height, width = int(stream.codec_context.height), int(stream.codec_context.width)
    if height < 1 or width < 1:
        raise ValueError(f"invalid frame size {height}x{width}")
    return height, width


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]


def _probe_child_main(paths: Sequence[str]) -> None:
    """Child-process entry: one JSON line per path, flushed, in order."""
    for path in paths:
        print(json.dumps(_probe_one(path)), flush=True)


def probe_files(paths: Sequence[Path]) -> list[ClipInfo | SkippedFile]:
    """Probe files in a child process; a file that kills or hangs the child is skipped.

    Returns one entry per path, in order: a :class:`ClipInfo` or a :class:`SkippedFile`.
    """
    results: dict[int, ClipInfo | SkippedFile] = {}
    todo = []
    for i, path in enumerate(paths):
        try:
            size = path.stat().st_size
        except OSError as exc:
            results[i] = SkippedFile(path, f"unreadable ({exc.strerror})")
            continue
        if size == 0:
            results[i] = SkippedFile(path, "empty file (0 bytes)")
        else:
            todo.append(i)
    while todo:
        lines, failure = _run_probe_child([str(paths[i]) for i in todo])
        for i, line in zip(todo, lines, strict=False):
            info = json.loads(line)
            if info["ok"]:
                results[i] = ClipInfo(
                    paths[i], info["n_frames"], info["fps"], info["width"], info["height"]
                )
            else:
                results[i] = SkippedFile(paths[i], info["reason"])
        done = len(lines)
        if done < len(todo):
            # The child died or hung on todo[done]: blame that file, go on with the rest.
            results[todo[done]] = SkippedFile(paths[todo[done]], failure)
            done += 1
        todo = todo[done:]
    return [results[i] for i in range(len(paths))]


def _child_env() -> dict[str, str]:
    """The parent's environment, with this package importable in the child."""
    package_parent = str(Path(__file__).resolve().parents[1])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_parent, env.get("PYTHONPATH")) if p)
    return env


def _run_probe_child(paths: list[str]) -> tuple[list[str], str]:
    """Run the probe child; return its complete JSON lines and, if it failed, why."""
    timeout = 10.0 + PROBE_TIMEOUT_S * len(paths)
    try:
        proc = subprocess.run(
            [sys.executable, "-c", PROBE_CHILD_CODE, *paths],
            capture_output=True,  # decord logs to stderr: keep it off the user's terminal
            text=True,
            timeout=timeout,
            env=_child_env(),
        )
        out, rc = proc.stdout, proc.returncode
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        rc = None
    lines = [ln for ln in out.splitlines() if ln.startswith("{") and ln.endswith("}")]
    if rc is None:
        return lines, "decoder hung while probing this file"
    if len(lines) < len(paths):
        return lines, f"decoder crashed on this file (exit code {rc})"
    return lines, ""


def scan_folder(root: str | Path, *, warn: bool = True) -> ClipFolder:
    """Find and probe every clip under ``root``.

    Each bad file is skipped with a warning naming it and the reason. Raises
    :class:`NoUsableClipError` (listing what was skipped) if no clip is usable.
    """
    root = Path(root)
    paths = find_video_files(root)
    folder = ClipFolder(root)
    for entry in probe_files(paths):
        if isinstance(entry, ClipInfo):
            folder.clips.append(entry)
        else:
            folder.skipped.append(entry)
    if not folder.clips:  # one error that lists every skipped file says it all
        raise NoUsableClipError(describe_no_usable_clip(root, folder.skipped))
    if warn:
        for entry in folder.skipped:
            warnings.warn(f"skipping {entry.path}: {entry.reason}", stacklevel=2)
    return folder


def describe_no_usable_clip(root: Path, skipped: Sequence[SkippedFile]) -> str:
    """One line: why a folder has no usable clip (what was skipped, and why)."""
    if not skipped:
        exts = ", ".join(VIDEO_EXTENSIONS)
        return f"no video files in {root} (looked recursively for {exts})"
    details = "; ".join(f"{_rel(s.path, root)}: {s.reason}" for s in skipped)
    return f"no decodable video in {root}: {len(skipped)} file(s) skipped ({details})"


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


# ----------------------------------------------------------------------------- decoding
def resample_indices(n_frames: int, source_fps: float, target_fps: float) -> np.ndarray:
    """Source frame index for each output frame when resampling ``source_fps -> target_fps``.

    Output frame k stands for game frame k, on screen from time k / target_fps until the
    next one. Upsampling (``source_fps < target_fps``) repeats the source frame on screen
    at that time (``floor``). Downsampling takes the first source frame at or after it
    (``ceil``): a capture faster than the game then shows every game frame, and this picks
    frame k itself (``floor`` would often pick the capture of frame k - 1, e.g. 4 of 5
    frames of a 50 Hz game captured at 60 fps). No frame is invented; a small tolerance
    absorbs float error.
    """
    if n_frames <= 0:
        return np.zeros(0, dtype=np.int64)
    if source_fps <= 0 or target_fps <= 0:
        raise ValueError(f"frame rates must be positive, got {source_fps} -> {target_fps}")
    duration = n_frames / source_fps
    n_out = max(1, int(math.floor(duration * target_fps + 1e-6)))
    times = np.arange(n_out) / target_fps
    pos = times * source_fps
    if source_fps > target_fps:
        idx = np.ceil(pos - 1e-6).astype(np.int64)
    else:
        idx = np.floor(pos + 1e-6).astype(np.int64)
    return np.minimum(idx, n_frames - 1)


def _open_reader(path: Path, size: tuple[int, int]):
    """A decord reader that yields frames of ``size`` ``(height, width)``.

    decord 0.6.0 mis-strides some output widths (seen here: 8, 16, 24, 48, 72): it
    raises in ``get_batch`` and silently returns a wrong shape from ``reader[i]``. Such a
    width is decoded at the next multiple of 32 instead and resized by
    :func:`_fit` afterwards. Returns ``(reader, resize_to or None)``.
    """
    import decord

    decord.logging.set_level(decord.logging.QUIET)
    height, width = size
    for decode_width in dict.fromkeys((width, 32 * math.ceil(width / 32))):
        reader = decord.VideoReader(str(path), width=decode_width, height=height)
        try:
            shape = reader.get_batch([0]).shape
        except Exception:
            continue
        if tuple(shape) == (1, height, decode_width, 3):
            return reader, (None if decode_width == width else size)
    raise RuntimeError(f"{path}: decord cannot decode frames at {height}x{width}")


def _fit(frames: np.ndarray, resize_to: tuple[int, int] | None) -> np.ndarray:
    """Resize decoded frames when the decoder had to use another width."""
    if resize_to is None:
        return frames
    height, width = resize_to
    return np.stack([cv2.resize(f, (width, height), interpolation=cv2.INTER_AREA) for f in frames])


def iter_frame_chunks(
    clip: ClipInfo,
    *,
    fps: float | None = None,
    size: tuple[int, int] | None = None,
    chunk_frames: int = 256,
) -> Iterator[np.ndarray]:
    """Decode a clip lazily in chunks of at most ``chunk_frames`` frames.

    Args:
        clip: a probed clip.
        fps: resample to this rate (the env's control rate); ``None`` keeps every frame.
        size: ``(height, width)`` to resize to while decoding; ``None`` keeps the clip's.
        chunk_frames: frames per chunk; bounds memory for arbitrarily long clips.

    Yields:
        uint8 arrays ``(t, height, width, 3)``, RGB, in time order.
    """
    if chunk_frames < 1:
        raise ValueError("chunk_frames must be >= 1")
    if fps is None:
        indices = np.arange(clip.n_frames)
    else:
        indices = resample_indices(clip.n_frames, clip.fps, fps)
    reader, resize_to = _open_reader(clip.path, size or (clip.height, clip.width))
    for start in range(0, len(indices), chunk_frames):
        wanted = indices[start : start + chunk_frames]
        # decord is fast on sorted, unique indices; repeats are expanded afterwards.
        unique, inverse = np.unique(wanted, return_inverse=True)
        batch = reader.get_batch(unique.tolist()).asnumpy()
        yield _fit(batch, resize_to)[inverse]
    del reader


def spread_indices(n_frames: int, n: int) -> np.ndarray:
    """Up to ``n`` sorted, distinct frame indices at the centres of ``n`` equal spans of a clip
    (never its first frame unless the clip is short: a game's first frame is often a title
    or a zoomed-out view)."""
    if n_frames <= 0 or n <= 0:
        return np.zeros(0, dtype=np.int64)
    idx = ((np.arange(n) + 0.5) * n_frames / n).astype(np.int64)
    return np.unique(np.minimum(idx, n_frames - 1))


def sample_frames(
    clip: ClipInfo, n: int, *, size: tuple[int, int] | None = None
) -> np.ndarray:
    """A handful of frames spread over a clip (:func:`spread_indices`), decoded in order.

    Cheap on any clip length: only those frames are decoded (sorted indices). Returns uint8
    ``(k, height, width, 3)``, ``k <= n``, resized while decoding to ``size``.
    """
    indices = spread_indices(clip.n_frames, n)
    reader, resize_to = _open_reader(clip.path, size or (clip.height, clip.width))
    try:
        return _fit(reader.get_batch(indices.tolist()).asnumpy(), resize_to)
    finally:
        del reader


def read_clip(
    clip: ClipInfo,
    *,
    fps: float | None = None,
    size: tuple[int, int] | None = None,
) -> np.ndarray:
    """Decode a whole clip into memory: uint8 ``(T, height, width, 3)``."""
    chunks = list(iter_frame_chunks(clip, fps=fps, size=size))
    if not chunks:
        h, w = size if size is not None else (clip.height, clip.width)
        return np.zeros((0, h, w, 3), dtype=np.uint8)
    return np.concatenate(chunks)


# ----------------------------------------------------------------------------- writing
def write_clip(
    path: str | Path,
    frames: np.ndarray | Iterable[np.ndarray],
    fps: float,
    *,
    crf: int = 18,
) -> Path:
    """Write RGB uint8 frames ``(T, H, W, 3)`` to a video file (codec from the extension).

    ``.mp4``/``.mkv``/``.mov``: H.264 (yuv420p, needs even sizes); ``.webm``: VP9;
    ``.avi``: MPEG-4 part 2. ``crf`` sets H.264/VP9 quality (lower is better).
    ``frames`` may be any iterable of frames (e.g. a generator): it is written as it is
    consumed, so a long clip never needs to sit in memory whole.
    """
    import imageio.v2 as imageio

    path = Path(path)
    ext = path.suffix.lower()
    if ext not in VIDEO_EXTENSIONS:
        raise ValueError(f"{path}: unsupported extension {ext!r}; use one of {VIDEO_EXTENSIONS}")
    frame_iter = iter(frames)
    first = next(frame_iter, None)
    if first is None:
        raise ValueError(f"{path}: no frames to write")
    frames = itertools.chain([first], frame_iter)
    h, w = first.shape[:2]
    if h % 2 or w % 2:
        raise ValueError(f"{path}: frame size {h}x{w} must be even for yuv420p video")
    if ext == ".webm":
        codec, params = "libvpx-vp9", ["-crf", str(crf + 12), "-b:v", "0"]
    elif ext == ".avi":
        codec, params = "mpeg4", ["-q:v", "2"]
    else:
        codec, params = "libx264", ["-crf", str(crf), "-preset", "medium"]
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = imageio.get_writer(
        str(path),
        fps=fps,
        codec=codec,
        macro_block_size=1,
        pixelformat="yuv420p",
        output_params=params,
        ffmpeg_log_level="error",
    )
    try:
        for frame in frames:
            writer.append_data(np.ascontiguousarray(frame, dtype=np.uint8))
    finally:
        writer.close()
    return path


def clip_table(folder: ClipFolder) -> list[dict]:
    """Rows (dicts) describing every clip and skipped file, for printing or JSON."""
    rows = []
    for clip in folder.clips:
        row = asdict(clip)
        row.update(path=_rel(clip.path, folder.root), duration_s=round(clip.duration_s, 2))
        row["status"] = "ok"
        rows.append(row)
    for skipped in folder.skipped:
        status = f"skipped: {skipped.reason}"
        rows.append({"path": _rel(skipped.path, folder.root), "status": status})
    return sorted(rows, key=lambda r: r["path"])
