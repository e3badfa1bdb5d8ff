"""The rehearsal of `pulumi up` / `pulumi destroy` (issue 17): the engine model's steps executed
for real, remote commands on emulated Agilio nodes over SSH, kubectl and Kubernetes resources
against a simulated cluster.

- `cluster/`: the simulated cluster (`SimCluster`);
- `ssh`: the pulumi-command-like SSH client;
- `executor`: runs an engine plan's steps with real concurrency, samples disruption;
- `fleet`: one emulated Agilio node per stack node (needs root, FUSE, sshd);
- `remote`: a step's connection re-pointed at its emulated node;
- `state`: the stack state between rehearsals;
- `driver`: a whole rehearsal (program, fleet, cluster, end state);
- `report`: summary, figures, JSON.
The CLI is `python -m tools.rehearse`.
"""
