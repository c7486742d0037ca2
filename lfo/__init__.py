"""lfo: learning to play from gameplay videos without action labels (state-only IQ-Learn)."""

__version__ = "0.1.0"
