"""What the tests stand on; nothing here is a test, and no test module imports another.

The emulated node and the stand-ins:
- `emulated_node/`: an emulated Agilio CX node (FUSE /sys, stand-in tools, a real sshd) in a
  private mount namespace; its fixtures (`emulated_node.plugin`: `start_node`, `node`) are
  registered for the suite by tests/conftest.py;
- `node_steps`: the program's exact node commands run over SSH on an emulated node
  (`run_step`, `apply_all`, `undo_all`) and readers of what the node recorded;
- `kubectl_fixture`: the stand-in `kubectl` first on PATH (`StandIn`, the `kubectl` fixture of
  tests/conftest.py) over a simulated cluster (tools/rehearsal/cluster) seeded from a scenario,
  and builders for it (`pod`, `node`, `advertised`, ...); `kubectl_standin` is the stand-in
  itself (the simulated cluster's kubectl with a scripted kubelet), run as a plain file;
- `cluster_standin`: the simulated cluster the cluster preflight script runs against (`StandIn`),
  and builders for a fresh, an install.sh and a chart-installed cluster.

The program, its config and its tools:
- `stack_config`: the dev stack's raw config (`dev_config`), a value set at a path (`set_path`),
  the problems a config is refused with (`problems_of`), OpenSSH public keys (`ssh_public_key`);
- `kubernetes_program`: the program under Pulumi mocks for the Kubernetes-layer tests, runs
  cached by config;
- `plan_runs`: the plan tool run in-process (`run_plan`) on a changed stack file (`write_stack`);
- `engine_scenarios`: resources as resources.json has them and the stack changes the engine
  tests plan;
- `programs/`: small Pulumi programs the mock-engine and SDK-correction tests run;
- `json_values`: every string in a JSON-like value (`all_strings`);
- `shellcheck`: shellcheck with the suite's options (`run_shellcheck`).

Each module is imported by its own name (`from tests.support.kubectl_fixture import StandIn`);
this package imports none of them, so a test pays only for what it uses.
"""
