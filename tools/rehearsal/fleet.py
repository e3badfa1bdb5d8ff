"""One emulated Agilio node per Agilio node of the stack (`tests/support/emulated_node`).

The rehearsal runs each node's real remote commands over SSH on its emulated node. An emulated
node needs what the tests need: root, FUSE (`/dev/fuse`, mfusepy) and OpenSSH's sshd
(`harness.check_prerequisites` says what is missing, and fails loudly).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from tests.support.emulated_node.harness import EmulatedNode, NodeError, check_prerequisites
from tests.support.emulated_node.spec import NodeSpec

# The vendor the nfp VFs show in sysfs (`vendor` of a VF function), without 0x as the device
# plugin's selectors write it.
VF_VENDOR = "19ee"


def _start(spec: NodeSpec, tries: int = 2) -> EmulatedNode:
    """Start a node; once more if it did not come up in time (a loaded machine)."""
    for attempt in range(tries):
        try:
            return EmulatedNode(spec).start()
        except NodeError:
            if attempt == tries - 1:
                raise
    raise AssertionError("unreachable")


class Fleet:
    """Emulated nodes by stack node name; started on demand, reset between rehearsals."""

    def __init__(self, specs: Mapping[str, NodeSpec] | None = None) -> None:
        self.specs = dict(specs or {})
        self.nodes: dict[str, EmulatedNode] = {}

    def ensure(self, nodes: Iterable[tuple[str, str]]) -> None:
        """Start an emulated node for every (name, pf) not running yet."""
        check_prerequisites()
        for name, pf in nodes:
            if name not in self.nodes:
                spec = self.specs.get(name) or NodeSpec(node=name, pf=pf)
                self.nodes[name] = _start(spec)

    def reset(self) -> None:
        """Every node back to a fresh machine (stopped; `ensure` starts it again)."""
        self.stop()

    def reset_node(self, name: str) -> None:
        """One node back to a fresh machine (its spec from `specs` when it starts again)."""
        node = self.nodes.pop(name, None)
        if node is not None:
            node.stop()

    def stop(self) -> None:
        errors = []
        for node in self.nodes.values():
            try:
                node.stop()
            except Exception as err:  # noqa: BLE001 stop every node, then report
                errors.append(str(err))
        self.nodes.clear()
        if errors:
            raise RuntimeError("; ".join(errors))

    def vfs(self, name: str) -> list[dict[str, str]]:
        """The node's VF functions as the device plugin would find them: bound to nfp_netvf
        once the driver is loaded (card.py `bound_vfs` follows iov.c/nfp_netvf probing)."""
        node = self.nodes[name]
        card: dict[str, Any] = node.state()["card"]
        if not card.get("present") or not card.get("loaded"):
            return []
        driver = "nfp_netvf" if node.spec.driver == "nfp" else f"{node.spec.driver}vf"
        vf = {"vendor": VF_VENDOR, "device": node.spec.vf_device, "driver": driver}
        return [{**vf, "pf": node.spec.pf} for _ in range(int(card["numvfs"]))]

    def numvfs(self, name: str) -> int:
        return int(self.nodes[name].state()["card"]["numvfs"])

    def __enter__(self) -> Fleet:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()
