"""Measurement scripts behind the figures in notes/ and the documentation's results page.

Run each from the repository root as ``python -m experiments.NAME`` (the package lfo is
installed by ``make install``); each script's docstring has its command.
"""
