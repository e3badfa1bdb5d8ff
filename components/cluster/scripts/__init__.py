"""Scripts the program runs on the operator's machine with kubectl (cluster/preflight.py)."""
