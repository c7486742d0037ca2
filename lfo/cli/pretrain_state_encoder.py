"""Pretrain the state estimator: a CNN from the game's view to its simulator state.

    lfo-pretrain-state-encoder --env carracing --episodes 240 --randomize-every 3 \\
        --intensity-jitter 0.2 --epochs 15 \\
        --out encoders/weights/carracing_state_v3.pt --ship  # CarRacing's default, ~40 min

An estimator may see the game through its own view (the checkpoint records it; clips and
the agent's frames are then made with it), e.g. Breakout at native column resolution:

    lfo-pretrain-state-encoder --env breakout --episodes 32 \
        --max-episode-steps 3000 --epochs 12 --view-crop 0 200 6 154 --view-size 100 148

An estimator may also locate objects at full resolution (keypoints: a small unstrided
detector per frame of the stack, its spatial soft-argmax beside the strided features),
for small objects such as Breakout's ball:

    lfo-pretrain-state-encoder --env breakout --episodes 32 \
        --max-episode-steps 3000 --epochs 8 --keypoints 4

Rollouts of the game itself (expert with lapses, recoveries, held random play; seeds
5,000,000+), labelled by lfo.envs.privileged, most of them through a real video codec round
trip. Never reads the shipped clips or their sidecars. Every option is a field of
encoders.state_estimator.EstimatorTrainConfig (see --help).

`python scripts/pretrain_state_encoder.py` (from a checkout) is the same command.
"""

from __future__ import annotations

import sys

import tyro

from encoders.state_estimator import EstimatorTrainConfig, train_estimator


def main(argv: list[str] | None = None) -> int:
    cfg = tyro.cli(EstimatorTrainConfig, args=argv, description=__doc__)
    try:
        log = train_estimator(cfg)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    last = log["epochs"][-1]
    print(f"done: {cfg.out} after {last['epoch']} epochs, {log['train_s'] / 60:.1f} min; "
          f"held-out rollout R^2 mean {last['val_r2_mean']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
