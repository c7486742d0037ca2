"""The online loop: run settings, the trainer that alternates acting and learning,
checkpoints and metrics logs, and loading a trained policy from a run folder."""
