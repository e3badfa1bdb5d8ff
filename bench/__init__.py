"""Benchmarks: scripts that print figures (README "Scale and change cost"), never timed tests."""
