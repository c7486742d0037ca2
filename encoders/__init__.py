"""Visual encoders behind one interface and a registry by name (see issue 4)."""
