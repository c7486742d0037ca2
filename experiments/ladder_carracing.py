"""The CarRacing ladder table from the committed benchmark and audit results.

    python -m experiments.ladder_carracing            # writes results/ladder_carracing.md

Reads ``results/bench_carracing_*.json`` (written by ``scripts/benchmark.py --json``) and
``results/label_audit_carracing_*.json`` (``scripts/audit_labels.py --json``); prints one
row per (rung, method) with the score at the end of each run and, for runs longer than a
baseline's budget, the score at that budget from the runs' own evaluation curves.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results"

#: (rung label, benchmark JSON, label-audit file pattern)
RUNGS = (
    ("(1) simulator state [PRIVILEGED]", "bench_carracing_privileged_60k.json",
     "label_audit_carracing_privileged_s*_60k.json"),
    ("(2) state estimator (default-carracing)", "bench_carracing_estimator_60k.json",
     "label_audit_carracing_estimator_s*_60k.json"),
    ("(2) state estimator (default-carracing)", "bench_carracing_estimator_baselines_30k.json",
     None),
)


def _ms(values) -> str:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    return "n/a" if len(v) == 0 else f"{v.mean():.2f} +- {v.std():.2f}"


def curve_at(run: dict, step: int, key: str) -> float:
    """A run's evaluation score at ``step`` (nan if it has no such point)."""
    for row in run.get("curve", []):
        if int(row["step"]) == step:
            return float(row[key])
    return float("nan")


def rows() -> list[str]:
    out = ["| rung | method | seeds | env steps | score sampled | score greedy "
           "| at 30k: sampled / greedy | IDM right on expert pairs |",
           "|---|---|---|---|---|---|---|---|"]
    for rung, bench, audits in RUNGS:
        path = RESULTS / bench
        if not path.is_file():
            continue
        data = json.loads(path.read_text())
        idm = "-"
        if audits:
            acc = [json.loads(p.read_text())["idm"]["accuracy"]
                   for p in sorted(RESULTS.glob(audits))]
            idm = f"{np.mean(acc):.3f} ({len(acc)} runs)" if acc else "-"
        methods = dict.fromkeys(r["method"] for r in data["runs"])
        for method in methods:
            runs = [r for r in data["runs"] if r["method"] == method]
            at30 = (f"{_ms([curve_at(r, 30_000, 'sampled_score') for r in runs])} / "
                    f"{_ms([curve_at(r, 30_000, 'greedy_score') for r in runs])}")
            steps = int(runs[0].get("env_steps", runs[0]["steps"]))
            budget = f"{steps:,}" if steps else f"0 ({int(runs[0]['steps']):,} updates)"
            out.append(f"| {rung} | {runs[0]['label']} | {len(runs)} | {budget} "
                       f"| {_ms([r['sampled_score'] for r in runs])} "
                       f"| {_ms([r['greedy_score'] for r in runs])} | {at30} "
                       f"| {idm if method == 'iq-idm' else '-'} |")
    return out


def main() -> int:
    text = "\n".join(rows()) + "\n"
    (RESULTS / "ladder_carracing.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
