"""Ray for sweeps and for encoding clip folders (lfo.scaling): the same numbers as the local
executor, resumption, a real two-node cluster started with `ray start`, the feature cache
filled ahead of a run, and one line when Ray is not installed."""

from __future__ import annotations

import csv
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lfo.cli import benchmark as benchmark_cli
from lfo.cli import encode_videos as encode_cli

ROOT = Path(__file__).resolve().parents[1]
RAY = shutil.which("ray", path=str(Path(sys.executable).parent))


def _tiny_benchmark_argv(videos: Path, out: Path, *extra: str) -> list[str]:
    """Two seeds of a short gaifo run on the tiny CarRacing clips."""
    return ["--env", "carracing", "--videos", str(videos), "--methods", "gaifo",
            "--seeds", "0", "1", "--steps", "100", "--out", str(out), "--no-progress",
            "--run.eval-every", "50", "--run.learning-starts", "50", "--run.batch-size", "16",
            "--run.learner.hidden", "16", "--run.eval-episodes", "1",
            "--run.final-eval-episodes", "1", "--run.random-episodes", "1",
            "--run.max-episode-steps", "25", "--run.checkpoint-every", "50",
            "--run.log-every", "25", "--run.encoder", "pixels-carracing",
            "--run.num-envs", "1", *extra]


def _numbers(run: Path) -> dict:
    """What a run computed: its final evaluation and every logged loss and evaluation."""
    final = json.loads((run / "final.json").read_text())
    with open(run / "metrics.csv", newline="") as f:
        metrics = [{k: v for k, v in row.items() if k != "steps_per_s"}  # all but the speed
                   for row in csv.DictReader(f)]
    evals = (run / "eval.csv").read_text().splitlines()
    return {"final": {k: final[k] for k in ("greedy_mean", "sampled_mean", "episodes")},
            "metrics": metrics, "evals": evals}


# ----------------------------------------------------------------------------- no Ray
def test_executor_ray_without_ray_installed_is_one_line(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now fails
    argv = ["--env", "carracing", "--methods", "bco", "--seeds", "0", "--out",
            str(tmp_path / "b"), "--executor", "ray", "--no-progress"]
    assert benchmark_cli.main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "pip install 'lfo[ray]'" in err, err
    assert encode_cli.main(["--videos", str(ROOT / "videos" / "pong"), "--executor", "ray",
                            "--cache", str(tmp_path / "cache"), "--no-progress"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert "pip install 'lfo[ray]'" in err[-1] and err[-1].startswith("error: ")
    assert not (tmp_path / "cache").exists()


# ----------------------------------------------------------------------------- sweeps
@pytest.mark.slow
def test_ray_sweep_gives_the_local_numbers_and_resumes(tiny_clips, tmp_path):
    local, ray_out = tmp_path / "local", tmp_path / "ray"
    assert benchmark_cli.main(_tiny_benchmark_argv(tiny_clips, local)) == 0
    assert benchmark_cli.main(_tiny_benchmark_argv(tiny_clips, ray_out, "--executor",
                                                   "ray")) == 0
    for seed in (0, 1):
        a, b = _numbers(local / f"gaifo-s{seed}"), _numbers(ray_out / f"gaifo-s{seed}")
        assert a == b, f"seed {seed}: the executors disagree"
        assert len(a["metrics"]) >= 2 and len(a["evals"]) == 3  # header + 2 evaluations
    # the two seeds learned different things (so equality above is not vacuous)
    assert _numbers(local / "gaifo-s0")["metrics"] != _numbers(local / "gaifo-s1")["metrics"]
    rows = json.loads((ray_out / "results.json").read_text())["runs"]
    assert [r["seed"] for r in rows] == [0, 1] and all(r["node"] for r in rows)
    # a finished run is reused; a killed one (checkpoint, no final.json) resumes
    finished = (ray_out / "gaifo-s0" / "final.json").stat().st_mtime_ns
    (ray_out / "gaifo-s1" / "final.json").unlink()
    assert benchmark_cli.main(_tiny_benchmark_argv(tiny_clips, ray_out, "--executor",
                                                   "ray")) == 0
    assert (ray_out / "gaifo-s0" / "final.json").stat().st_mtime_ns == finished
    assert (ray_out / "gaifo-s1" / "final.json").is_file()
    assert _numbers(ray_out / "gaifo-s1")["final"] == _numbers(local / "gaifo-s1")["final"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_sweep_joins_a_two_node_cluster_started_with_ray_start(tiny_clips, tmp_path):
    """A head and a worker node (one CPU each) started with `ray start`, token
    authentication on; the sweep joins with --ray-address and its two runs land on both
    nodes; `ray stop` ends the cluster."""
    port = _free_port()
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token",
           "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    address = f"127.0.0.1:{port}"

    def ray_cli(*args: str) -> None:
        subprocess.run([RAY, *args], env=env, check=True, capture_output=True, timeout=180)

    try:
        ray_cli("start", "--head", "--port", str(port), "--num-cpus", "1",
                "--include-dashboard", "false", "--disable-usage-stats")
        ray_cli("start", "--address", address, "--num-cpus", "1")
        out = tmp_path / "cluster"
        result = subprocess.run(
            [sys.executable, "-m", "lfo.cli.benchmark",
             *_tiny_benchmark_argv(tiny_clips, out, "--executor", "ray",
                                   "--ray-address", address)],
            env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path)
        assert result.returncode == 0, result.stderr[-2000:]
        assert "2 node(s)" in result.stdout + result.stderr
        rows = json.loads((out / "results.json").read_text())["runs"]
        assert len({r["node"] for r in rows}) == 2  # one run on each node
    finally:
        subprocess.run([RAY, "stop", "--force"], env=env, capture_output=True, timeout=120)


# ----------------------------------------------------------------------------- encoding
def _folder_with_a_broken_file(tiny_clips: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "clips"
    shutil.copytree(tiny_clips, folder)
    (folder / "broken.mp4").write_bytes(np.random.default_rng(0).bytes(4000))
    return folder


@pytest.mark.slow
def test_encoded_folder_starts_a_run_without_encoding(tiny_clips, tmp_path, monkeypatch,
                                                      capsys):
    from test_train import tiny_config

    import encoders.clip_features as clip_features_module
    from lfo.loop.trainer import Trainer

    folder = _folder_with_a_broken_file(tiny_clips, tmp_path)
    monkeypatch.chdir(tmp_path)  # the trainer's cache is .cache/features under the cwd
    argv = ["--videos", str(folder), "--encoder", "pixels-carracing", "--no-progress"]
    with pytest.warns(UserWarning, match="broken.mp4"):  # reported, not fatal
        assert encode_cli.main(argv) == 0
    assert "2 clip(s) encoded, 0 already cached" in capsys.readouterr().out
    assert len(list((tmp_path / ".cache" / "features").glob("*.npz"))) == 2
    assert encode_cli.main(argv) == 0
    assert "0 clip(s) encoded, 2 already cached" in capsys.readouterr().out

    def no_encoding(*args, **kwargs):
        raise AssertionError("the run encoded a clip the cache already held")

    monkeypatch.setattr(clip_features_module, "compute_clip_features", no_encoding)
    trainer = Trainer(tiny_config(folder, tmp_path / "run"))
    assert len(trainer.expert) > 0


@pytest.mark.slow
def test_ray_workers_write_the_local_cache(tiny_clips, tmp_path, capsys):
    folder = _folder_with_a_broken_file(tiny_clips, tmp_path)
    caches = {}
    for executor in ("local", "ray"):
        cache = tmp_path / f"cache_{executor}"
        assert encode_cli.main(["--videos", str(folder), "--encoder", "pixels-carracing",
                                "--cache", str(cache), "--executor", executor,
                                "--no-progress"]) == 0
        assert "2 clip(s) encoded" in capsys.readouterr().out
        caches[executor] = {p.name: np.load(p)["features"] for p in cache.glob("*.npz")}
    assert sorted(caches["local"]) == sorted(caches["ray"]) and len(caches["ray"]) == 2
    for name, feats in caches["local"].items():  # equal up to float32 rounding (the two
        # executors may run the CNN on different thread counts)
        np.testing.assert_allclose(feats, caches["ray"][name], rtol=1e-4, atol=1e-5)
