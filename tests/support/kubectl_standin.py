"""The stand-in `kubectl` of the verify and registration-wait tests: the simulated cluster's own
kubectl (tools/rehearsal/cluster/kubectl_cli.py, one flag table, one store) with a scripted kubelet
in front.

Run as `python -S kubectl_standin.py STATE_DIR ARGS...` by the `kubectl` wrapper that
`kubectl_fixture.StandIn` puts first on PATH; the cluster in STATE_DIR was seeded by the test
(`kubectl_fixture.seed`) with its controllers stopped, so it answers as the objects were at one
instant. What is the stand-in's own, kept under `state.data["standin"]` and applied in the store's
lock before kubectl_cli answers the call:

- a node's `status` after so many reads of that node (`get node NAME`), standing for kubelet's
  periodic node status updates (`status_after_reads`);
- a sequence of datapath flow dumps per node (`tools.verify --watch`): the N-th read of each half
  (`type=offloaded`, `type=non-offloaded`) answers sample N, the last one from then on.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

# Run as a script (`python -S`): the repository root on the path for the simulated cluster.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tools.rehearsal.cluster import kubectl_cli
from tools.rehearsal.cluster.store import State


def count(counts: dict[str, int], key: str) -> int:
    """How many times `key` was read before, counting this read."""
    counts[key] = counts.get(key, 0) + 1
    return counts[key] - 1


def node_status(state: State, standin: dict[str, Any], name: str) -> None:
    timeline = standin.get("status_after_reads", {}).get(name)
    node = state.get("nodes", "", name)
    if not timeline or node is None:
        return
    reads = count(standin.setdefault("reads", {}), name)
    status = next((status for after, status in reversed(timeline) if reads >= after), None)
    if status is not None and node.get("status") != status:
        state.write({**node, "status": status}, "kubelet", subresource="status")


def flow_sample(state: State, call: kubectl_cli.Call, standin: dict[str, Any]) -> None:
    pod = state.get("pods", call.namespace(), call.words[1])
    node = pod["spec"].get("nodeName", "") if pod else ""
    samples = standin.get("flow_samples", {}).get(node)
    if not samples:
        return
    kind = call.command[-1].removeprefix("type=")
    reads = count(standin.setdefault("dump_reads", {}), f"{node} {kind}")
    ovs = state.data["settings"]["ovs"][node]
    ovs.setdefault("flows", {})[kind] = samples[min(reads, len(samples) - 1)][kind]


def kubelet(state: State, call: kubectl_cli.Call) -> None:
    """The scripted kubelet and OVS, moved one read on before the cluster answers `call`."""
    standin = state.data.get("standin") or {}
    words = call.words
    kind = kubectl_cli.KINDS.get(words[1], ("",))[0] if len(words) > 1 else ""
    if words[:1] == ["get"] and len(words) == 3 and kind == "nodes":
        node_status(state, standin, words[2])
    elif words[:1] == ["exec"] and len(words) == 2 and call.command[:-1] == kubectl_cli.DUMP_FLOWS:
        flow_sample(state, call, standin)


def main(argv: list[str]) -> int:
    stdout, stderr, code = kubectl_cli.run(Path(argv[0]), argv[1:], before=kubelet)
    sys.stdout.write(stdout)
    sys.stderr.write(stderr)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
