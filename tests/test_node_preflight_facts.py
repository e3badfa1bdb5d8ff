"""The node preflight refuses what the later steps cannot survive (issue 20 item 3), on the
emulated node: a tool the steps call is missing (named, with the package of the node's distro,
read from /etc/os-release), and a second NFP card (`rmmod nfp` unloads every card's driver).
Fault injection is a NodeSpec field apart from the card's real interface (netdevsim style)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.support.node_steps import NODE, PF, run_step

if TYPE_CHECKING:
    from tests.support.emulated_node.plugin import StartNode

PREFIX = f"agilio-offload: node {NODE}: preflight: "
UBUNTU = 'NAME="Ubuntu"\nID=ubuntu\nID_LIKE=debian\nVERSION_ID="24.04"\n'
ROCKY = 'NAME="Rocky Linux"\nID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.5"\n'


@pytest.mark.parametrize(
    ("os_release", "missing", "packages"),
    [
        (UBUNTU, ("devlink",), ["devlink (package iproute2)"]),
        (ROCKY, ("devlink", "ethtool"), ["devlink (package iproute)", "ethtool (package ethtool)"]),
    ],
    ids=["ubuntu-devlink", "rocky-devlink-ethtool"],
)
def test_a_missing_tool_is_refused_with_its_package(
    start_node: StartNode, os_release: str, missing: tuple[str, ...], packages: list[str]
) -> None:
    node = start_node(os_release=os_release, missing_tools=missing)
    run = run_step(node, "preflight")
    assert run.result.returncode == 1, run.result.stderr
    assert run.error.startswith(PREFIX + "missing tool(s) the steps run: "), run.error
    for package in packages:
        assert package in run.error
    assert not node.calls("rmmod") and not node.calls("modprobe")


def test_a_second_nfp_card_is_refused(start_node: StartNode) -> None:
    node = start_node(other_nfp_functions=("0000:81:00.0",))
    run = run_step(node, "preflight")
    assert run.result.returncode == 1, run.result.stderr
    assert "0000:81:00.0" in run.error
    assert "rmmod nfp" in run.error
    assert "one Agilio card per node" in run.error


def test_one_card_with_its_vfs_passes_and_records_the_pf_under_the_running_firmware(
    start_node: StartNode,
) -> None:
    node = start_node()
    run = run_step(node, "preflight")
    assert run.ok, run.result.stderr
    assert run.facts["pfNames"] == {"nic": PF}
    assert run.facts["otherNfpFunctions"] == []
