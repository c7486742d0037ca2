"""Scripted privileged experts that play the games to record demonstration videos."""
