"""EVALUATION ONLY: compare a run's IDM labels and greedy actions on the expert pairs with the
expert's recorded actions (which the run itself never saw).

    lfo-audit-labels --run runs/carracing-idm-s0 [--json results/x.json]

`python scripts/audit_labels.py` (from a checkout) is the same command.
"""

from __future__ import annotations

import json
import sys

import tyro

from lfo.analysis.label_audit import LabelAuditConfig, audit_run


def main(argv: list[str] | None = None) -> int:
    cfg = tyro.cli(LabelAuditConfig, args=argv, description=__doc__)
    try:
        result = audit_run(cfg.run)
    except (RuntimeError, ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for name in ("idm", "idm_label_shift", "policy_greedy"):
        if name in result:
            a = result[name]
            print(f"{name:15s} accuracy {a['accuracy']:.3f} (most frequent action: "
                  f"{a['prior_accuracy']:.3f}); recall per action "
                  + " ".join(f"{r:.2f}" for r in a["recall"]))
            expert = " ".join(f"{f:.2f}" for f in a["expert_frequency"])
            guessed = " ".join(f"{f:.2f}" for f in a["guessed_frequency"])
            print(f"{'':15s} expert frequency {expert} | guessed {guessed}")
    if cfg.json:
        cfg.json.parent.mkdir(parents=True, exist_ok=True)
        cfg.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
