"""The rehearsal: the stack's steps run for real against emulated nodes and a simulated cluster.

Modules: `ssh` (an SSH client that connects as pulumi-command does), `cluster` (the simulated
cluster), `executor`, `fleet`, `report` (the rehearsal driver; CLI `python -m tools.rehearse`).
"""
