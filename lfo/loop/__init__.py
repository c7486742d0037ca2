"""The online loop: run settings, the trainer that alternates acting and learning,
checkpoints, metrics logs and plots, and loading a trained policy from a run folder."""
