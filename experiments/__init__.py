"""Measurement scripts behind the figures in notes/ (run from the repository root;
see each script's docstring for its command)."""
