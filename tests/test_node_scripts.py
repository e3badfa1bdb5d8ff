"""The node scripts over real SSH against an emulated Agilio node (tests/support/emulated_node).

Every command a test sends is the exact `create` or `delete` text the program gives
pulumi-command for the node, taken from the program run under Pulumi mocks (`program_commands` in
tests/support/node_steps.py).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest

from tests.support.emulated_node.harness import EmulatedNode
from tests.support.node_steps import (
    FLOWER_0097,
    NODE,
    PERSIST_UNIT,
    PF,
    RELOAD_UNIT,
    STEPS,
    UNDO_ORDER,
    apply_all,
    must,
    numvfs_writes,
    offload,
    offloading,
    reloads,
    run_step,
    snapshot,
    undo_all,
)

if TYPE_CHECKING:
    from tests.support.emulated_node.plugin import StartNode

# --- a fresh node, all steps ----------------------------------------------------------------


def test_fresh_node_all_steps(node: EmulatedNode) -> None:
    facts = apply_all(node)

    assert facts["preflight"] == {
        "step": "preflight",
        "node": NODE,
        "pf": PF,
        "pciAddress": "0000:03:00.0",
        "changed": False,
        "vendor": "0x19ee",
        "device": "0x4000",
        "driver": "nfp",
        "kernel": "5.15.0-91-generic",
        "totalVfs": 16,
        "assembly": "AMDA0097",
        "firmware": FLOWER_0097,
        "vfDevice": "6003",
        "vfDriver": "nfp_netvf",
        "fwLoadPolicy": "driver",
        "reloadMode": "sync",
        "sshEgress": "lo",
        "pfNames": {"nic": PF},
        "otherNfpFunctions": [],
    }
    assert facts["firmware"]["changed"] is True
    assert facts["firmware"]["firmware"] == FLOWER_0097
    assert facts["driver"]["reloadStarted"] is True
    assert facts["driver"]["reloadMode"] == "sync" and facts["driver"]["reloadPending"] is False
    assert facts["vfs"] | {"unit": None} == {
        "step": "vfs",
        "node": NODE,
        "pf": PF,
        "pciAddress": "0000:03:00.0",
        "changed": True,
        "totalVfs": 16,
        "vfs": 4,
        "representors": 4,
        "hwTcOffload": True,
        "unit": None,
        "firmware": FLOWER_0097,
    }

    assert os.readlink(node.pci_link) == FLOWER_0097
    assert [(c["tool"], c["argv"], c["unit"]) for c in reloads(node)] == [
        ("rmmod", ["nfp"], RELOAD_UNIT),
        ("modprobe", ["nfp"], RELOAD_UNIT),
    ]
    card = node.state()["card"]
    assert card["firmware"] == FLOWER_0097 and card["switchdev"] and card["numvfs"] == 4
    assert {name for name, on in offload(node).items() if on} == offloading(4)
    assert numvfs_writes(node) == [("4", None)]
    unit = node.unit_files()[PERSIST_UNIT]
    assert "Before=kubelet.service" in unit and "echo 4 >" in unit
    assert (node.paths.systemd / "multi-user.target.wants" / PERSIST_UNIT).is_symlink()
    assert node.state()["loadedUnits"][PERSIST_UNIT] == unit  # daemon-reload after writing
    initramfs = node.state()["initramfs"]
    assert initramfs["/lib/firmware/netronome/pci-0000:03:00.0.nffw"] == f"-> {FLOWER_0097}"
    assert not (node.state_dir() / "nfp-reload-pending").exists()


def test_second_run_changes_nothing(node: EmulatedNode) -> None:
    apply_all(node)
    before, calls_before = snapshot(node), len(node.calls())

    again = apply_all(node)

    assert {step: facts["changed"] for step, facts in again.items()} == dict.fromkeys(STEPS, False)
    assert again["driver"]["reloadStarted"] is False
    assert snapshot(node) == before
    new_calls = node.calls()[calls_before:]
    assert {c["tool"] for c in new_calls} <= {"ethtool", "systemctl", "udevadm", "devlink", "ip"}
    assert {c["argv"][0] for c in new_calls if c["tool"] == "ethtool"} == {"-W", "-w", "-k"}
    assert {c["argv"][0] for c in new_calls if c["tool"] == "systemctl"} == {
        "is-active",
        "show",
        "is-enabled",
    }


def test_vf_count_change_4_to_8_has_no_ebusy(node: EmulatedNode) -> None:
    apply_all(node, VFS=4)

    run = must(run_step(node, "vfs", VFS=8))
    node.wait_idle()

    assert numvfs_writes(node) == [("4", None), ("0", None), ("8", None)]
    assert run.facts["vfs"] == 8 and run.facts["representors"] == 8 and run.facts["changed"]
    assert node.numvfs == 8
    assert {name for name, on in offload(node).items() if on} == offloading(8)
    assert "echo 8 >" in node.unit_files()[PERSIST_UNIT]
    assert len(node.calls("rmmod")) == 1


def test_reload_wait_applies_without_waiting_when_no_reload_runs(node: EmulatedNode) -> None:
    before = node.snapshot()
    run = must(run_step(node, "reload-wait"))
    assert run.facts["waited"] is False and run.facts["changed"] is False
    assert node.snapshot() == before


def test_vfs_step_waits_for_the_reload(start_node: StartNode) -> None:
    # SSH over the PF, a session that stalls while nfp is unloaded: the driver step leaves the
    # reload detached and the vfs step, sent right after it, waits for it (its session stalls
    # and carries on when the PF and its address are back, or it starts after the reload).
    node = start_node(load_seconds=1.0, ssh_via_pf=True, ssh_link_drop="stall")
    for step in ("preflight", "firmware"):
        must(run_step(node, step))
    driver = must(run_step(node, "driver"))

    run = must(run_step(node, "vfs"))  # right after the driver step: the reload is under way

    assert driver.facts["reloadMode"] == "detached" and driver.facts["reloadPending"] is True
    assert node.calls("(link down)")[0]["argv"][0] == "stall"
    assert run.facts["vfs"] == 4 and node.state()["card"]["firmware"] == FLOWER_0097


# --- clear errors, nothing changed --------------------------------------------------------------

FAILURES = {
    "missing PF": (
        {"pf_present": False},
        "preflight: PF ens1np0 not found (no /sys/class/net/ens1np0), need the Agilio PF netdev",
    ),
    "wrong vendor": (
        {"vendor": "0x8086"},
        "preflight: PF ens1np0 vendor is 0x8086, need 0x19ee or 0x1da8",
    ),
    "wrong driver": ({"driver": "vfio-pci"}, "preflight: PF ens1np0 driver is vfio-pci, need nfp"),
    "old kernel": (
        {"kernel": "5.4.0-150-generic"},
        "preflight: kernel is 5.4.0-150-generic, need >= 5.7",
    ),
    # The firmware stays (the link is already there): sriov_totalvfs is final.
    "no SR-IOV": (
        {"total_vfs": 0, "pci_link": FLOWER_0097},
        "preflight: PF ens1np0 sriov_totalvfs is 0, need >= 4 (the VF count asked for; 0 means"
        " SR-IOV is off in the BIOS or the card's firmware)",
    ),
    "more VFs than the PF has": (
        {"total_vfs": 2, "pci_link": FLOWER_0097},
        "preflight: PF ens1np0 sriov_totalvfs is 2, need >= 4 (the VF count asked for; 0 means"
        " SR-IOV is off in the BIOS or the card's firmware)",
    ),
    "missing firmware": (
        {"firmware_files": {"flower/nic_AMDA0099.nffw": "x\n"}},
        "preflight: firmware image /lib/firmware/netronome/flower/nic_AMDA0097.nffw is missing,"
        " need the Agilio flower firmware for assembly AMDA0097 (linux-firmware or Corigine's"
        " agilio-flower firmware package)",
    ),
    "unreadable assembly": (
        {"assembly": None},
        "preflight: assembly of PF ens1np0 is unreadable (no 'SN:' line with AMDAnnnn in"
        " 'ethtool -w ens1np0 data'), need firmware.assy set to the card's AMDAnnnn",
    ),
}


@pytest.mark.parametrize("case", FAILURES, ids=list(FAILURES))
def test_preflight_failure_is_clear_and_changes_nothing(start_node: StartNode, case: str) -> None:
    spec, message = FAILURES[case]
    node = start_node(**spec)
    before = snapshot(node)

    run = run_step(node, "preflight")

    assert run.result.returncode == 1
    assert run.error == f"agilio-offload: node {NODE}: {message}"
    assert snapshot(node) == before
    if case in ("missing PF", "missing firmware", "unreadable assembly"):
        firmware = run_step(node, "firmware")
        assert firmware.error == f"agilio-offload: node {NODE}: " + message.replace(
            "preflight:", "firmware:"
        )
        assert snapshot(node) == before


def test_vfs_above_totalvfs_is_clear_and_changes_nothing(start_node: StartNode) -> None:
    node = start_node(total_vfs=8)
    apply_all(node, VFS=4)
    before, writes = snapshot(node), numvfs_writes(node)

    run = run_step(node, "vfs", VFS=9)

    assert run.error == (
        f"agilio-offload: node {NODE}: vfs: PF ens1np0 sriov_totalvfs is 8, need >= 9"
        " (the VF count asked for)"
    )
    assert snapshot(node) == before
    assert numvfs_writes(node) == writes


def test_sync_reload_wait_times_out_with_a_clear_error(start_node: StartNode) -> None:
    node = start_node(modprobe_hangs=True)
    for step in ("preflight", "firmware"):
        must(run_step(node, step, PF_WAIT_SECONDS=3))

    run = run_step(node, "driver", PF_WAIT_SECONDS=3)

    assert run.error == (
        f"agilio-offload: node {NODE}: driver: nfp reload failed ({RELOAD_UNIT} is failed: it"
        " ended without a result, e.g. stopped at its RuntimeMaxSec (PF_WAIT_SECONDS)), need a"
        " successful reload:"
        f" fix the cause, then re-run (see journalctl -u {RELOAD_UNIT.removesuffix('.service')})"
    )
    assert node.calls("sysfs-write") == []


# --- firmware choice --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("assy", "image"),
    [("AMDA0081", FLOWER_0097), ("AMDA0099", "flower/nic_AMDA0099.nffw")],
)
def test_assembly_from_config(start_node: StartNode, assy: str, image: str) -> None:
    node = start_node(assembly=None)  # a scan would fail: the config must be used

    facts = must(run_step(node, "firmware", ASSY=assy)).facts

    assert facts["assembly"] == assy and facts["firmware"] == image
    assert os.readlink(node.pci_link) == image
    assert node.calls("ethtool") == []
    assert sorted(p.name for p in node.paths.firmware.joinpath("flower").iterdir()) == sorted(
        ["nic_AMDA0096.nffw", "nic_AMDA0097.nffw", "nic_AMDA0099.nffw"]
    ), "nothing written into the vendor's firmware directory"


def test_firmware_change_reloads_and_brings_the_vfs_back(node: EmulatedNode) -> None:
    apply_all(node)

    changed = apply_all(node, ASSY="AMDA0099")  # what an update of firmware.assy runs

    assert changed["firmware"]["changed"] and changed["driver"]["reloadStarted"]
    assert changed["vfs"]["changed"] and changed["vfs"]["vfs"] == 4
    assert node.state()["card"]["firmware"] == "flower/nic_AMDA0099.nffw"
    assert len(node.calls("rmmod")) == 2
    assert {name for name, on in offload(node).items() if on} == offloading(4)


# --- undo ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("initramfs", "pci_link"),
    [
        ("dracut", None),
        ("initramfs-tools", "nic/nic_AMDA0097-0001_2x40.nffw"),
        ("none", None),
    ],
)
def test_undo_restores_the_starting_state(
    start_node: StartNode, initramfs: str, pci_link: str | None
) -> None:
    node = start_node(initramfs=initramfs, pci_link=pci_link)
    before = node.snapshot()

    applied = apply_all(node)
    assert applied["firmware"]["initramfs"] == initramfs
    undone = undo_all(node)

    assert undone["firmware"]["reloadStarted"] is True
    # SSH does not cross the card: the firmware undo waited for its reload itself.
    assert undone["firmware"]["reloadMode"] == "sync"
    assert undone["firmware"]["reloadPending"] is False
    assert undone["reload-wait"]["reload"] == "idle"
    assert undone["reload-wait"]["pciAddress"]
    assert node.snapshot() == before
    assert [c["argv"] for c in node.calls("rmmod")] == [["nfp"], ["nfp"]]
    again = undo_all(node)
    assert {step: facts["changed"] for step, facts in again.items()} == dict.fromkeys(
        UNDO_ORDER, False
    )
    assert node.snapshot() == before


# --- re-running after a failure midway ----------------------------------------------------------


def test_rerun_after_initramfs_failure(start_node: StartNode) -> None:
    node = start_node(fail_once=("dracut",))
    must(run_step(node, "preflight"))

    failed = run_step(node, "firmware")
    assert failed.error.startswith(
        f"agilio-offload: node {NODE}: firmware: dracut -f --regenerate-all failed: dracut: FAILED"
    )
    assert os.readlink(node.pci_link) == FLOWER_0097  # the link changed before the failure

    rerun = must(run_step(node, "firmware"))
    assert rerun.facts["changed"] is True and rerun.facts["reloadPending"] is True
    apply_all(node)
    assert len(node.calls("dracut")) == 2 and len(node.calls("rmmod")) == 1
    assert node.state()["initramfs"]["/lib/firmware/netronome/pci-0000:03:00.0.nffw"] == (
        f"-> {FLOWER_0097}"
    )
    assert node.state()["card"]["firmware"] == FLOWER_0097 and node.numvfs == 4


def test_rerun_after_failed_vf_creation(start_node: StartNode) -> None:
    node = start_node(fail_once=("numvfs",))
    for step in ("preflight", "firmware", "driver"):
        must(run_step(node, step))

    failed = run_step(node, "vfs")
    assert failed.error == (
        f"agilio-offload: node {NODE}: vfs: writing 4 to /sys/class/net/ens1np0/device/sriov_numvfs"
        " failed (Cannot allocate memory), need the kernel to accept 4 VFs"
    )

    rerun = must(run_step(node, "vfs"))
    assert rerun.facts["vfs"] == 4 and rerun.facts["changed"] is True
    assert numvfs_writes(node) == [("4", "ENOMEM"), ("4", None)]


def test_rerun_after_failed_driver_reload(start_node: StartNode) -> None:
    node = start_node(fail_once=("modprobe",))
    for step in ("preflight", "firmware"):
        must(run_step(node, step))

    failed = run_step(node, "driver")
    assert failed.error.startswith(
        f"agilio-offload: node {NODE}: driver: nfp reload failed ({RELOAD_UNIT} is failed:"
        " modprobe nfp failed (exit 1), need nfp loaded)"
    )
    assert node.state()["transientUnits"] == {RELOAD_UNIT: "failed"}

    assert must(run_step(node, "driver")).facts["reloadStarted"] is True
    assert must(run_step(node, "vfs")).facts["vfs"] == 4
    node.wait_idle()
    assert [c["tool"] for c in reloads(node)] == ["rmmod", "modprobe", "modprobe"]
    assert node.state()["card"]["firmware"] == FLOWER_0097


def test_driver_step_returns_before_the_link_drops(start_node: StartNode) -> None:
    node = start_node(ssh_via_pf=True)
    for step in ("preflight", "firmware"):
        must(run_step(node, step))

    driver = must(run_step(node, "driver"))  # arms the reload (rmmod 2 s later) and returns
    node.wait_idle()  # what the program's ssh-return probe stands for (tests/test_ssh_reload.py)

    assert driver.facts["reloadStarted"] is True
    assert driver.facts["reloadMode"] == "detached" and driver.facts["sshEgress"] == PF
    assert node.calls("(link down)"), "the reload did not drop the (emulated) SSH route"
    assert must(run_step(node, "vfs")).facts["vfs"] == 4


# --- reboot -------------------------------------------------------------------------------------


@pytest.mark.parametrize("initramfs", ["dracut", "initramfs-tools"])
def test_reboot_keeps_firmware_vfs_and_offload(start_node: StartNode, initramfs: str) -> None:
    node = start_node(initramfs=initramfs)
    apply_all(node)

    booted = node.reboot()
    node.wait_idle()

    assert {unit["unit"]: unit["state"] for unit in booted} == {PERSIST_UNIT: "active"}
    card = node.state()["card"]
    assert card["firmware"] == FLOWER_0097 and card["numvfs"] == 4
    assert {name for name, on in offload(node).items() if on} == offloading(4)
