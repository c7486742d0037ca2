"""Running lfo's work on more than one core or machine: Ray for benchmark sweeps and for
encoding large clip folders (an optional extra: ``pip install 'lfo[ray]'``)."""
