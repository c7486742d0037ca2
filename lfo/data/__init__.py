"""Data in: clip folders and their sidecars, decoding, one preprocessing for video and env,
encoded feature sequences (cached), the expert's (s, s') pairs and the agent's replay
buffer, and the named distribution shifts of videos and demonstrators."""
