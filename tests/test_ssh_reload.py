"""The nfp reload when the node's SSH crosses the card, run as pulumi-command runs the steps
(issue 18): each remote step over a NEW connection that stays open until the end of the run
(tools/rehearsal/ssh.py), the operator's ssh-return probe (components/node/operator_scripts/
ssh-return.sh) run as local.Command runs it (`/bin/sh -c`), the next step dialled as soon as
the one before returned.

Each case checks, from the emulated node's record (tools.py `busy_sessions`, logged at every
`rmmod nfp`), that no step's session was running a command when nfp went away; that the run
finishes or fails as stated; and that a re-run converges. The address comes back with the PF
(normal), late within and past the probe's bound, or never (until the operator brings it back).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from components.node.agilio_node import SshReturnBounds
from tests.support.node_steps import (
    FLOWER_0097,
    NODE,
    PERSIST_UNIT,
    Probe,
    StepRun,
    must,
    run_step,
    ssh_return,
)
from tools.rehearsal.ssh import PulumiCommandSSH

if TYPE_CHECKING:
    from tests.support.emulated_node.harness import EmulatedNode
    from tests.support.emulated_node.plugin import StartNode

# Short bounds (the program's are 30 s to go, 300 s to come back), with margins a loaded machine
# keeps: back after 1.5 s is well inside `back`, after 12 s well past it.
BOUNDS = SshReturnBounds(gone=4, back=8, poll=0.05, probe=0.5)
PREFIX = f"agilio-offload: node {NODE}: ssh-return: "


@pytest.fixture
def ssh() -> Iterator[PulumiCommandSSH]:
    client = PulumiCommandSSH()
    yield client
    client.close_all()  # the provider exits at the end of `pulumi up`


def busy_at_rmmod(node: EmulatedNode) -> list[list[dict[str, Any]]]:
    return [entry["busy"] for entry in node.calls("(sessions at rmmod)")]


def roll(
    node: EmulatedNode, ssh: PulumiCommandSSH, *, driver_stdout: str | None = None
) -> tuple[StepRun | None, Probe, StepRun | None]:
    """firmware -> driver -> ssh-return -> vfs, stopping at the first failure (the preflight
    and reload-wait steps before them change nothing). `driver_stdout`: a re-run after a failed
    ssh-return, where the engine runs only the steps not yet done: ssh-return (handed the
    driver's stored stdout) and vfs."""
    driver = None
    if driver_stdout is None:
        must(run_step(node, "firmware", client=ssh))
        driver = must(run_step(node, "driver", client=ssh))
        driver_stdout = driver.result.stdout
    probe = ssh_return(node, "apply", driver_stdout, BOUNDS)
    if probe.result.returncode != 0:
        return driver, probe, None
    return driver, probe, run_step(node, "vfs", client=ssh)


def converged(node: EmulatedNode) -> None:
    node.wait_idle()
    card = node.state()["card"]
    assert card["firmware"] == FLOWER_0097 and card["switchdev"] is True
    assert card["numvfs"] == 4 and PERSIST_UNIT in node.unit_files()


@pytest.mark.parametrize(
    ("drop", "back_seconds"),
    [("reset", 0.0), ("stall", 0.0), ("stall", 1.5)],
    ids=["with-the-pf-reset", "with-the-pf-stall", "late-within-the-bound"],
)
def test_the_address_comes_back(
    start_node: StartNode, ssh: PulumiCommandSSH, drop: str, back_seconds: float
) -> None:
    node = start_node(ssh_via_pf=True, ssh_link_drop=drop, address_back_seconds=back_seconds)

    driver, probe, vfs = roll(node, ssh)

    assert driver is not None and driver.facts["reloadMode"] == "detached"
    assert driver.facts["reloadArmed"] is True
    assert probe.result.returncode == 0, probe.result.stderr
    assert probe.facts == {**probe.facts, "waited": True, "gone": True, "back": True}
    assert vfs is not None and must(vfs).facts["vfs"] == 4
    assert busy_at_rmmod(node) == [[]], "a step's session was open when nfp was unloaded"
    converged(node)
    if drop != "reset" or back_seconds:
        return  # one re-run of every step is enough to show it converges
    _, again, vfs_again = roll(node, ssh)  # every step again: nothing to reload or wait for
    assert again.facts["waited"] is False and vfs_again is not None
    assert must(vfs_again).facts["changed"] is False
    assert len(busy_at_rmmod(node)) == 1


def not_back_error(action_by: str, state: str) -> str:
    return (
        PREFIX + f"the SSH port 127.0.0.1:{{port}} is not back {BOUNDS.back} s after the nfp"
        f" reload {action_by} armed took it away, need it answering: the node is {state}."
        " On the node's console: systemctl status agilio-offload-nfp-reload, ip addr; bring"
        " the address back (or reboot the node: the firmware choice survives it), then run"
        " pulumi up again"
    )


APPLY_STATE = "drained (cordoned), its firmware selected, the nfp reload armed or done, no VFs yet"


def assert_stopped_before_vfs(node: EmulatedNode, probe: Probe) -> None:
    """The run failed at ssh-return: one line naming the node, its state and the way back;
    nothing after the driver step touched the node (no VFs, no persistence unit)."""
    assert probe.result.returncode == 1
    lines = probe.result.stderr.strip().splitlines()
    assert lines == [not_back_error("the driver step", APPLY_STATE).format(port=node.port)]
    node.wait_idle()
    state = node.state()
    assert state["card"]["numvfs"] == 0 and PERSIST_UNIT not in node.unit_files()
    assert state["card"]["firmware"] == FLOWER_0097  # the reload itself finished
    assert busy_at_rmmod(node) == [[]]


def test_the_address_comes_back_past_the_bound(
    start_node: StartNode, ssh: PulumiCommandSSH
) -> None:
    node = start_node(ssh_via_pf=True, ssh_link_drop="reset", address_back_seconds=12.0)

    driver, probe, vfs = roll(node, ssh)

    assert vfs is None
    assert_stopped_before_vfs(node, probe)
    # The address comes back on its own; the re-run: the driver step is done (the engine
    # keeps its stdout, which still says it armed a reload), ssh-return runs again and waits
    # for the port (still gone, or up: then it stays up its GONE_SECONDS and passes).
    assert driver is not None
    _, again, vfs_again = roll(node, ssh, driver_stdout=driver.result.stdout)
    assert again.result.returncode == 0, again.result.stderr
    assert again.facts["back"] is True
    assert vfs_again is not None and must(vfs_again).facts["vfs"] == 4
    converged(node)


def test_the_address_never_comes_back(start_node: StartNode, ssh: PulumiCommandSSH) -> None:
    node = start_node(ssh_via_pf=True, ssh_link_drop="stall", address_back_seconds=None)

    driver, probe, vfs = roll(node, ssh)

    assert vfs is None
    assert_stopped_before_vfs(node, probe)
    assert node.calls("(address stays down)")
    node.address_up()  # the operator brings the address back, as the message says
    assert driver is not None
    _, again, vfs_again = roll(node, ssh, driver_stdout=driver.result.stdout)
    assert again.result.returncode == 0, again.result.stderr
    assert vfs_again is not None and must(vfs_again).facts["vfs"] == 4
    converged(node)


def test_destroy_across_the_card_waits_for_the_address_without_a_session(
    start_node: StartNode, ssh: PulumiCommandSSH
) -> None:
    """A destroy's order (dependents first): vfs, ssh-return (nothing), driver, firmware (arms
    the reload back to the old firmware), ssh-return-after-undo (waits), reload-wait."""
    node = start_node(ssh_via_pf=True, ssh_link_drop="reset")
    _, _, vfs = roll(node, ssh)
    assert vfs is not None and must(vfs).ok
    node.wait_idle()

    must(run_step(node, "vfs", "undo", client=ssh))
    driver = must(run_step(node, "driver", "undo", client=ssh))
    firmware = must(run_step(node, "firmware", "undo", client=ssh))
    probe = ssh_return(node, "undo", "", BOUNDS)
    reload_wait = must(run_step(node, "reload-wait", "undo", client=ssh))

    assert driver.facts["reloadArmed"] is False
    assert firmware.facts["reloadStarted"] is True and firmware.facts["reloadMode"] == "detached"
    assert probe.result.returncode == 0, probe.result.stderr
    assert probe.facts["gone"] is True and probe.facts["back"] is True
    assert reload_wait.facts["reload"] == "idle"
    assert busy_at_rmmod(node) == [[], []]
    node.wait_idle()
    card = node.state()["card"]
    assert card["firmware"] != FLOWER_0097 and card["numvfs"] == 0
