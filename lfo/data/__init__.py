"""Data in, at the bottom of the flow: clip folders and decoding, one preprocessing for
video and env, sidecars (without the recorded actions), file digests, and the transitions
learners train on (the expert's (s, s') pairs and the agent's replay buffer)."""
