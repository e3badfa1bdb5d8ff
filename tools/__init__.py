"""Operator commands that are not resources: plan (offline preview) and verify (offload proof)."""
