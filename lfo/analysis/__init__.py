"""Analysis: benchmarks over methods and seeds, probes of encoders, the IDM label audit,
distribution-shift evaluation and clip inspection."""
