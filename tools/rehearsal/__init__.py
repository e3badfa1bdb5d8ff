"""The rehearsal of `pulumi up` / `pulumi destroy` (issue 17): the stack's steps run for real,
in the engine's order, against emulated nodes and a simulated cluster.

Modules: `ssh` (an SSH client that connects as pulumi-command does), `cluster` (the simulated
cluster), and the rehearsal driver: `executor` (runs an engine plan's steps with real threads,
samples disruption), `fleet` (one emulated Agilio node per stack node; needs root, FUSE, sshd),
`remote` (a step's connection re-pointed at its emulated node), `state` (the stack state between
rehearsals), `driver` (a whole rehearsal: program, fleet, cluster, end state), `report`
(summary, figures, JSON). CLI: `python -m tools.rehearse`.
"""
