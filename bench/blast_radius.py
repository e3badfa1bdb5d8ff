"""The blast radius of typical config changes: `python -m bench.blast_radius`.

Each change is applied to the dev stack's config; the program runs under mocks before and after,
and the plan tool's diff says what `pulumi up` would add, change or remove: how many resources,
how many of them hardware steps, which nodes. A dependency-only difference (e.g. the rollout
batch size) is not a change: Pulumi does not update a resource for it.
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml

from tools.engine.mock_driver import run_stack, stack_file
from tools.plan import Change, diff_resources

Config = dict[str, Any]


def dev_config() -> Config:
    document = yaml.safe_load(stack_file("dev").read_text())
    return {key.split(":", 1)[1]: value for key, value in document["config"].items()}


def _one_node_vfs(config: Config) -> None:
    config["nodes"][1]["vfs"] = 6


def _add_node(config: Config) -> None:
    config["nodes"].append({"name": "lab-worker-3", "host": "192.0.2.13", "pf": "ens1np0"})


def _remove_node(config: Config) -> None:
    config["nodes"].pop()


def _firmware_app(config: Config) -> None:
    config["firmware"]["app"] = "flower-next"


def _chart_version(config: Config) -> None:
    config["kubeOvn"]["chartVersion"] = "v1.16.1"


def _nad_name(config: Config) -> None:
    config["nad"]["name"] = "offload"


def _max_unavailable(config: Config) -> None:
    config["rollout"]["maxUnavailable"] = 2


CHANGES: dict[str, Callable[[Config], None]] = {
    "one node's VF count (lab-worker-2: 8 -> 6)": _one_node_vfs,
    "add a node (lab-worker-3)": _add_node,
    "remove a node (lab-worker-2)": _remove_node,
    "firmware app (flower -> flower-next)": _firmware_app,
    "Kube-OVN chart version (v1.16.2 -> v1.16.1)": _chart_version,
    "NAD name (default -> offload)": _nad_name,
    "rollout.maxUnavailable (1 -> 2)": _max_unavailable,
}


@dataclass(frozen=True)
class BlastRadius:
    change: str
    changes: tuple[Change, ...]

    @property
    def hardware_steps(self) -> list[tuple[str, str]]:
        return [(c.step.node, c.step.step) for c in self.changes if c.step and c.step.hardware]

    @property
    def nodes_touched(self) -> list[str]:
        return sorted({c.step.node for c in self.changes if c.step})

    def count(self, kind: str) -> int:
        return sum(c.kind == kind for c in self.changes)


def _resources(config: Config) -> list[dict[str, Any]]:
    run = run_stack("dev", {f"agilio-offload:{key}": value for key, value in config.items()})
    if run.error is not None:
        raise RuntimeError(f"the program failed: {run.error}")
    return [r.as_json() for r in run.resources]


def blast_radius(name: str) -> BlastRadius:
    """What `pulumi up` would do for the named change of the dev stack."""
    before = dev_config()
    after = copy.deepcopy(before)
    CHANGES[name](after)
    return BlastRadius(name, tuple(diff_resources(_resources(before), _resources(after))))


def main() -> int:
    print(f"{'change':<46} {'add':>4} {'change':>6} {'remove':>6} {'hardware':>8}  nodes touched")
    for name in CHANGES:
        radius = blast_radius(name)
        hardware = ", ".join(f"{node}/{step}" for node, step in radius.hardware_steps)
        print(
            f"{name:<46} {radius.count('add'):>4} {radius.count('change'):>6} "
            f"{radius.count('remove'):>6} {len(radius.hardware_steps):>8}  "
            f"{', '.join(radius.nodes_touched) or '-'}"
        )
        if hardware:
            print(f"{'':<46} hardware steps: {hardware}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
