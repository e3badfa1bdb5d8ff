"""What the tests stand on; nothing here is a test, and no test module imports another.

- `emulated_node/`: an emulated Agilio CX node (FUSE /sys, stand-in tools, a real sshd) in a
  private mount namespace, with its pytest fixtures (`emulated_node.plugin`: `start_node`, `node`);
- `kubectl_fixture`: the stand-in `kubectl` first on PATH (`StandIn`) and builders for the
  cluster it answers as (`pod`, `node`, `advertised`, ...); `kubectl_standin` is the stand-in
  itself, run as a plain file;
- `cluster_standin`: the stand-in `kubectl` the cluster preflight script runs against, and
  builders for a fresh, an install.sh and a chart-installed cluster;
- `kubernetes_program`: the program under Pulumi mocks for the Kubernetes-layer tests, runs
  cached by config;
- `engine_scenarios`: resources as resources.json has them and the stack changes the engine
  tests plan;
- `programs/`: small Pulumi programs the mock-engine and SDK-correction tests run.

Each module is imported by its own name (`from tests.support.kubectl_fixture import StandIn`);
this package imports none of them, so a test pays only for what it uses.
"""
