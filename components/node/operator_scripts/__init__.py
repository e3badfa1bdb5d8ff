"""Scripts a node step runs on the operator's machine (local.Command), rendered like the node
scripts (components/scripts.py)."""
