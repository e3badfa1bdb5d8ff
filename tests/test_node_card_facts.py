"""The node scripts against what a real Agilio card and the nfp driver do (issues 9 and 14).

Each test reproduces one fact of the kernel (named beside it) on the emulated node and runs the
program's exact commands (`tests/support/node_steps.py`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from components.node.agilio_node import SshReturnBounds
from tests.support.node_steps import (
    FLOWER_0097,
    NODE,
    PF,
    apply_all,
    must,
    run_step,
    ssh_return,
)
from tools.rehearsal.ssh import PulumiCommandSSH

# Bounds, not figures: the normal case must not fail on a loaded machine.
QUICK_PROBE = SshReturnBounds(gone=30, back=60, poll=0.05, probe=0.5)

if TYPE_CHECKING:
    from tests.support.emulated_node.harness import EmulatedNode
    from tests.support.emulated_node.plugin import StartNode

SERIAL_FILE = "serial-00-15-4d-13-03-a0-10-ff.nffw"  # nfp_net_fw_find's name for this card
PREFIX = f"agilio-offload: node {NODE}: "


def firmware_steps(node: EmulatedNode) -> None:
    """The firmware step, without preflight (to reach the reload a preflight would refuse)."""
    must(run_step(node, "firmware"))


# --- representors (flower/main.c nfp_flower_spawn_vnic_reprs; sriovnet GetVfRepresentor) -------


def test_vf_representors_are_virtual_and_found_by_switch_id(node: EmulatedNode) -> None:
    facts = apply_all(node)

    netdevs = node.state()["card"]["netdevs"]
    assert all(netdevs[f"ens1npf0vf{i}"]["virtual"] for i in range(4))
    assert not netdevs[PF]["virtual"]  # a physical-port representor: SET_NETDEV_DEV
    assert facts["vfs"]["representors"] == 4


# --- the reload proves what it loaded (nfp_fw_load, nfp_net_fw_find) ---------------------------


@pytest.mark.parametrize(
    "spec",
    [
        # nfp_net_fw_find: serial-<serial>-<ifc>.nffw comes before pci-<addr>.nffw.
        {"firmware_files_extra": {SERIAL_FILE: "core NIC firmware\n"}},
        # nfp_fw_load: reset_dev_on_drv_probe=never keeps the (flash) firmware that runs.
        {"reset_dev_on_drv_probe": "never"},
    ],
    ids=["serial-file", "reset-never"],
)
def test_reload_that_comes_up_legacy_fails_and_stays_pending(
    start_node: StartNode, spec: dict[str, object]
) -> None:
    extra = spec.pop("firmware_files_extra", None)
    if extra:
        from tests.support.emulated_node.spec import DEFAULT_FIRMWARE_FILES

        spec["firmware_files"] = {**DEFAULT_FIRMWARE_FILES, **extra}  # type: ignore[dict-item]
    node = start_node(**spec)
    firmware_steps(node)

    run = run_step(node, "driver")

    assert run.result.returncode == 1
    assert run.error.startswith(PREFIX + "driver: nfp reload failed (")
    assert (
        "runs eswitch mode none (core NIC firmware) after the reload, need switchdev" in run.error
    )
    assert (node.state_dir() / "nfp-reload-pending").exists()
    assert node.state()["card"]["switchdev"] is False


def test_reload_whose_probe_fails_names_the_missing_driver(start_node: StartNode) -> None:
    node = start_node(probe_fails=True)
    firmware_steps(node)

    run = run_step(node, "driver")

    assert "has no nfp driver after modprobe nfp (driver: none)" in run.error
    assert (node.state_dir() / "nfp-reload-pending").exists()


def test_preflight_refuses_fw_load_policy_flash(start_node: StartNode) -> None:
    node = start_node(fw_load_policy="flash")
    before = node.snapshot()

    run = run_step(node, "preflight")

    assert run.error == (
        PREFIX + "preflight: devlink fw_load_policy of pci/0000:03:00.0 is flash, need driver"
        " or disk: with flash nfp ignores /lib/firmware/netronome (devlink dev param set"
        " pci/0000:03:00.0 name fw_load_policy value driver cmode permanent)"
    )
    assert node.snapshot() == before


def test_preflight_refuses_a_serial_file_for_this_card(start_node: StartNode) -> None:
    from tests.support.emulated_node.spec import DEFAULT_FIRMWARE_FILES

    node = start_node(firmware_files={**DEFAULT_FIRMWARE_FILES, SERIAL_FILE: "nic\n"})

    run = run_step(node, "preflight")

    assert run.error.startswith(
        PREFIX + f"preflight: /lib/firmware/netronome/{SERIAL_FILE} is there, need it removed"
    )


def test_preflight_only_names_another_cards_serial_file(start_node: StartNode) -> None:
    from tests.support.emulated_node.spec import DEFAULT_FIRMWARE_FILES

    other = "serial-00-15-4d-99-99-99-10-ff.nffw"
    node = start_node(firmware_files={**DEFAULT_FIRMWARE_FILES, other: "nic\n"})

    run = must(run_step(node, "preflight"))

    assert f"warning: /lib/firmware/netronome/{other} is for another card" in run.result.stdout


# --- no hidden write failure --------------------------------------------------------------------


def test_a_full_file_system_fails_the_firmware_step(start_node: StartNode) -> None:
    node = start_node(disk_full=("/etc/dracut.conf.d",))
    must(run_step(node, "preflight"))

    run = run_step(node, "firmware")

    assert run.error.startswith(
        PREFIX + "firmware: writing /etc/dracut.conf.d/90-agilio-offload.conf failed (No space"
        " left on device)"
    )
    assert node.calls("dracut") == [], "no initramfs built from a conf that was not written"


def test_a_full_file_system_fails_the_vfs_step(start_node: StartNode) -> None:
    node = start_node(disk_full=("/etc/systemd/system",))
    for step in ("preflight", "firmware", "driver"):
        must(run_step(node, step))

    run = run_step(node, "vfs")

    assert run.error.startswith(
        PREFIX + "vfs: writing /etc/systemd/system/agilio-offload-vfs-ens1np0.service failed"
    )


def test_an_absolute_link_to_the_same_image_changes_nothing(start_node: StartNode) -> None:
    node = start_node(pci_link=f"/lib/firmware/netronome/{FLOWER_0097}")

    facts = must(run_step(node, "firmware")).facts

    assert facts["reloadPending"] is False
    assert not (node.state_dir() / "nfp-reload-pending").exists()


# --- the VF limit is the loaded firmware's (nfp_pcie_sriov_read_nfd_limit) ----------------------


def test_totalvfs_rises_with_the_new_firmware(start_node: StartNode) -> None:
    node = start_node(firmware_vf_limits={"(flash) nic": 2})

    preflight = must(run_step(node, "preflight"))
    assert "warning: PF ens1np0 sriov_totalvfs is 2 under the running firmware" in (
        preflight.result.stdout
    )
    facts = apply_all(node)

    assert facts["vfs"]["totalVfs"] == 16 and facts["vfs"]["vfs"] == 4


def test_totalvfs_that_falls_with_the_new_firmware_fails_the_vfs_step(
    start_node: StartNode,
) -> None:
    node = start_node(firmware_vf_limits={FLOWER_0097: 2})
    for step in ("preflight", "firmware", "driver"):
        must(run_step(node, step))

    run = run_step(node, "vfs")

    assert run.error == (
        PREFIX + "vfs: PF ens1np0 sriov_totalvfs is 2, need >= 4 (the VF count asked for)"
    )
    assert node.calls("sysfs-write") == []


# --- sriov_drivers_autoprobe (pci-driver.c pci_device_can_probe) --------------------------------


def test_autoprobe_off_is_a_preflight_error(start_node: StartNode) -> None:
    node = start_node(sriov_drivers_autoprobe=0)

    run = run_step(node, "preflight")

    file = "/sys/class/net/ens1np0/device/sriov_drivers_autoprobe"
    assert run.error.startswith(PREFIX + f"preflight: {file} is 0, need 1: no driver binds new VFs")


# --- the SSH path across the reload ---------------------------------------------------------------


def test_reload_is_synchronous_when_ssh_does_not_cross_the_card(node: EmulatedNode) -> None:
    must(run_step(node, "preflight"))
    must(run_step(node, "firmware"))

    driver = must(run_step(node, "driver"))

    assert driver.facts["reloadMode"] == "sync" and driver.facts["sshEgress"] == "lo"
    assert driver.facts["reloadPending"] is False
    assert node.state()["card"]["switchdev"] is True  # proved before the step returned


@pytest.mark.parametrize("drop", ["reset", "stall"])
def test_ssh_over_the_pf_reloads_detached(start_node: StartNode, drop: str) -> None:
    """As pulumi-command runs the steps: each over a new connection it never closes, the next
    step dialled as soon as the one before returned (tests/test_ssh_reload.py has the cases)."""
    node = start_node(ssh_via_pf=True, ssh_link_drop=drop)
    ssh = PulumiCommandSSH()
    try:
        preflight = must(run_step(node, "preflight", client=ssh))
        must(run_step(node, "firmware", client=ssh))
        driver = must(run_step(node, "driver", client=ssh))
        # The operator's ssh-return step: no session while the address is away.
        probe = ssh_return(node, "apply", driver.result.stdout, QUICK_PROBE)
        vfs = run_step(node, "vfs", client=ssh)
        at_rmmod = node.calls("(sessions at rmmod)")
    finally:
        ssh.close_all()

    assert preflight.facts["reloadMode"] == "detached" and preflight.facts["sshEgress"] == PF
    assert driver.facts["reloadMode"] == "detached" and driver.facts["reloadPending"] is True
    assert probe.result.returncode == 0 and probe.facts["back"] is True, probe.result.stderr
    must(vfs)
    assert at_rmmod[0]["busy"] == [], "a step's session was open when nfp was unloaded"
    assert vfs.facts["vfs"] == 4 and node.state()["card"]["switchdev"] is True


# --- the device plugin's selectors against the card (issue 14) ---------------------------------


@pytest.mark.parametrize(
    ("spec", "params", "message"),
    [
        (
            {"vendor": "0x1da8"},
            {},
            "the card's VFs will have vendor 1da8, which agilio-offload:sriov.vendors [19ee]"
            " does not list, need 1da8 in agilio-offload:sriov.vendors",
        ),
        (
            {"vf_device": "3803"},
            {},
            "the card's VFs will have device ID 3803, which agilio-offload:sriov.devices [6003]"
            " does not list, need 3803 in agilio-offload:sriov.devices",
        ),
        ({"vendor": "0x1da8"}, {"VENDORS": ("19ee", "1da8")}, None),
        ({"vf_device": "3803"}, {"DEVICES": ("3803",)}, None),
    ],
    ids=["vendor-1da8", "vf-device-3803", "vendor-listed", "vf-device-listed"],
)
def test_preflight_checks_what_the_card_creates_against_the_selectors(
    start_node: StartNode, spec: dict[str, str], params: dict[str, object], message: str | None
) -> None:
    node = start_node(**spec)
    before = node.snapshot()

    run = run_step(node, "preflight", **params)

    if message is None:
        assert run.ok, run.result.stderr
        return
    assert run.error.startswith(PREFIX + "preflight: " + message)
    assert node.snapshot() == before


# --- the kernel's sriov_numvfs answers (iov.c sriov_numvfs_store), one per branch ---------------

NUMVFS = "/sys/bus/pci/devices/0000:03:00.0/sriov_numvfs"


@pytest.mark.parametrize(
    ("setup", "value", "error"),
    [
        ((), "abc", "Invalid argument"),  # kstrtou16
        ((), "17", "Numerical result out of range"),  # > pci_sriov_get_totalvfs
        (("rmmod nfp",), "4", "No such file or directory"),  # no driver: ENOENT
        ((f"echo 2 > {NUMVFS}",), "4", "Device or resource busy"),  # non-zero to non-zero
    ],
    ids=["EINVAL", "ERANGE", "ENOENT", "EBUSY"],
)
def test_sriov_numvfs_store_errors(
    node: EmulatedNode, setup: tuple[str, ...], value: str, error: str
) -> None:
    for command in setup:
        assert node.run(command).returncode == 0
    result = node.run(f"echo {value} > {NUMVFS}")
    assert result.returncode != 0 and error in result.stderr, result.stderr


def test_sriov_numvfs_same_count_is_a_no_op(node: EmulatedNode) -> None:
    assert node.run(f"echo 0 > {NUMVFS}").returncode == 0
    assert node.numvfs == 0
