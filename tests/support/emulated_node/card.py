"""The emulated Agilio card with the nfp driver: the state behind /sys and the stand-ins.

Each method names the kernel function it follows (Linux `drivers/pci/iov.c`,
`drivers/net/ethernet/netronome/nfp/`) and makes its checks in that function's order. Where the
emulation stops: no NSP, no control messages, no real queues; a netdev is a name with the sysfs
attributes the scripts read; firmware images are files whose path says what they are (a path
under `flower/` or `flower-next/` is the flower app, anything else the core NIC app).

Fault knobs (the `NodeSpec` fields such as `probe_fails`, `fail_once`, `modprobe_hangs`) are
applied by the callers in `tools.py`, apart from these functions.
"""

from __future__ import annotations

import errno
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from tests.support.emulated_node.spec import FLASH_FIRMWARE, NodeSpec

CallLogger = Callable[[dict[str, object]], None]
# A firmware lookup: the file name under /lib/firmware/netronome -> the image it resolves to
# (its path relative to that directory), or None when there is no such file.
Resolver = Callable[[str], str | None]
TcOffload = Literal["on", "off", "fixed"]
FLOWER_APPS = ("flower/", "flower-next/")


@dataclass(frozen=True)
class Netdev:
    name: str
    # The PCI function its `device` link points to; None: a virtual netdev (no SET_NETDEV_DEV),
    # listed under /sys/devices/virtual/net.
    pci: str | None
    port_name: str | None  # phys_port_name; None: reading it fails (EOPNOTSUPP)
    switch_id: str | None  # phys_switch_id; None: reading it fails (EOPNOTSUPP)
    # hw-tc-offload when the netdev is created: "fixed" is `off [fixed]` (not in hw_features).
    tc: TcOffload


def vf_address(pf: str, index: int) -> str:
    """The PCI address of VF `index` (routing ID offset 8 functions past the PF)."""
    domain_bus, _, _ = pf.rpartition(":")
    slot = 0x08 + index // 8
    return f"{domain_bus}:{slot:02x}.{index % 8}"


def disk_resolver(firmware_dir: Path) -> Resolver:
    """request_firmware_direct on the node's disk: follows links, stays in the directory."""
    base = Path(os.path.realpath(firmware_dir))

    def resolve(name: str) -> str | None:
        target = Path(os.path.realpath(firmware_dir / name))
        if target.is_file() and target.is_relative_to(base):
            return str(target.relative_to(base))
        return None

    return resolve


class Card:
    """One Agilio PF and its driver. Every method takes the lock; all reads are snapshots."""

    def __init__(self, spec: NodeSpec, firmware_dir: Path, log: CallLogger) -> None:
        self.spec = spec
        self.firmware_dir = firmware_dir
        self.lock = threading.RLock()
        self._log = log
        self.module_loaded = False  # /sys/module/nfp
        self.bound = False  # the PF's PCI driver is nfp (nfp_pci_probe succeeded)
        self.card_firmware: str | None = None  # what the NFP runs
        self.unload_fw_on_remove = False
        self.limit_vfs: int | None = None  # nfp's pf->limit_vfs; None: no firmware limit
        self.driver_max_vfs = spec.total_vfs  # what sriov_totalvfs shows
        self.drivers_autoprobe = spec.sriov_drivers_autoprobe
        self.numvfs = 0
        self.vfs_ready = 0  # VF PCI functions whose netdevs (and representors) have appeared
        self.tc_offload: dict[str, bool] = {}  # switchable netdevs: hw-tc-offload on?
        self.dump_level = 0
        self._generation = 0  # bumps on every VF change, so stale timers do nothing
        self.version = 0  # bumps on every change of what /sys shows
        self._timers: list[threading.Timer] = []
        self._fail_numvfs = "numvfs" in spec.fail_once
        self._ifindex: dict[str, int] = {}
        self._next_ifindex = 2
        if spec.pf_present:
            self.nfp_pci_probe(disk_resolver(firmware_dir), probe_fails=False)

    # --- what the kernel shows ---

    @property
    def present(self) -> bool:
        return self.spec.pf_present

    @property
    def loaded(self) -> bool:
        """The PF has its driver and netdevs (the card is usable)."""
        return self.present and self.bound

    @property
    def firmware(self) -> str | None:
        return self.card_firmware if self.loaded else None

    @property
    def switchdev(self) -> bool:
        """flower/main.c eswitch_mode_get: the flower app is always switchdev. The core NIC app
        (nic/main.c app_nic) has no eswitch_mode_get: nfp_app_eswitch_mode_get answers
        EOPNOTSUPP, so devlink shows no mode at all."""
        return self.loaded and (self.card_firmware or "").startswith(FLOWER_APPS)

    @property
    def switch_id(self) -> str:
        """nfp_port_get_port_parent_id: the card's serial, the same for every port."""
        return self.spec.serial.replace(":", "")

    @property
    def vf_driver(self) -> str:
        return "nfp_netvf" if self.spec.driver == "nfp" else f"{self.spec.driver}vf"

    def _base(self) -> str:
        pf = self.spec.pf
        return pf[:-3] if pf.endswith("np0") else pf

    def netdevs(self) -> list[Netdev]:
        with self.lock:
            if not self.loaded:
                return []
            return self._flower_netdevs() if self.switchdev else self._nic_netdevs()

    def _nic_netdevs(self) -> list[Netdev]:
        """The core NIC app (nfp_net_main.c): one nfp_net vNIC per port, each with its port
        (phys_port_name pN, parent ID); no NETIF_F_HW_TC (nfp_app_has_tc is false)."""
        base = self._base()
        devs = [
            Netdev(
                self.spec.pf if port == 0 else f"{base}np{port}",
                self.spec.pci,
                f"p{port}",
                self.switch_id,
                "fixed",
            )
            for port in range(self.spec.ports)
        ]
        return devs + self._vf_netdevs()

    def _flower_netdevs(self) -> list[Netdev]:
        """flower/main.c nfp_flower_vnic_init: the PF vNIC (vnic_no_name: no port name, no
        port), nfp_flower_spawn_phy_reprs (SET_NETDEV_DEV: a `device` link to the PF's
        function), nfp_flower_spawn_vnic_reprs for the PF and, with VFs, each VF (virtual
        netdevs). nfp_repr_init turns NETIF_F_HW_TC on for every representor."""
        base, pci, switch_id = self._base(), self.spec.pci, self.switch_id
        devs = [Netdev(base, pci, None, None, "fixed")]
        for port in range(self.spec.ports):
            name = self.spec.pf if port == 0 else f"{base}np{port}"
            devs.append(Netdev(name, pci, f"p{port}", switch_id, "on"))
        devs.append(Netdev(f"{base}npf0", None, "pf0", switch_id, "on"))
        devs += self._vf_netdevs()
        for index in range(self.vfs_ready):
            devs.append(Netdev(f"{base}npf0vf{index}", None, f"pf0vf{index}", switch_id, "on"))
        return devs

    def _vf_netdevs(self) -> list[Netdev]:
        """nfp_netvf_main.c: a VF netdev has no port (no phys_port_name, no parent ID) and no
        NETIF_F_HW_TC. pci-driver.c pci_device_can_probe: with sriov_drivers_autoprobe 0 no
        driver binds a new VF, so no VF netdev appears."""
        if not self.drivers_autoprobe:
            return []
        base, pci = self._base(), self.spec.pci
        return [
            Netdev(f"{base}v{index}", vf_address(pci, index), None, None, "fixed")
            for index in range(self.vfs_ready)
        ]

    def netdev(self, name: str) -> Netdev | None:
        return next((dev for dev in self.netdevs() if dev.name == name), None)

    def tc_state(self, dev: Netdev) -> str:
        """What `ethtool -k` prints for hw-tc-offload."""
        if dev.tc == "fixed":
            return "off [fixed]"
        with self.lock:
            return "on" if self.tc_offload.get(dev.name, dev.tc == "on") else "off"

    def ifindex(self, name: str) -> int:
        with self.lock:
            if name not in self._ifindex:
                self._ifindex[name] = self._next_ifindex
                self._next_ifindex += 1
            return self._ifindex[name]

    def vf_addresses(self) -> list[str]:
        with self.lock:
            if not self.present:
                return []
            return [vf_address(self.spec.pci, index) for index in range(self.numvfs)]

    def bound_vfs(self) -> list[str]:
        """VF functions bound to nfp_netvf (appeared, and autoprobe on)."""
        with self.lock:
            if not (self.loaded and self.drivers_autoprobe):
                return []
            return [vf_address(self.spec.pci, index) for index in range(self.vfs_ready)]

    def pending(self) -> bool:
        """Uevents still to come: VF netdevs that will appear."""
        with self.lock:
            return self.loaded and self.vfs_ready < self.numvfs

    # --- sriov_numvfs, sriov_totalvfs, sriov_drivers_autoprobe ---

    def sriov_totalvfs_show(self) -> int:
        """iov.c sriov_totalvfs_show -> pci_sriov_get_totalvfs: driver_max_VFs."""
        with self.lock:
            return self.driver_max_vfs

    def sriov_numvfs_store(self, text: str) -> None:
        """iov.c sriov_numvfs_store; raises OSError as the write(2) would fail."""
        with self.lock:
            error = self._numvfs_error(text)
            self._log(
                {"tool": "sysfs-write", "argv": ["sriov_numvfs", text.strip()], "error": error}
            )
            if error:
                raise OSError(getattr(errno, error), os.strerror(getattr(errno, error)))
            count = int(text.strip(), 0)
            if count != self.numvfs:
                self._set_vfs(count)

    def _numvfs_error(self, text: str) -> str | None:
        # kstrtou16(buf, 0, &num_vfs) < 0: not a number, negative or above 65535
        try:
            count = int(text.strip(), 0)
        except ValueError:
            return "EINVAL"
        if not 0 <= count <= 0xFFFF:
            return "EINVAL"
        if count > self.driver_max_vfs:  # pci_sriov_get_totalvfs
            return "ERANGE"
        if count == self.numvfs:
            return None
        if not self.bound:  # !pdev->driver || !pdev->driver->sriov_configure
            return "ENOENT"
        if count == 0:
            return None  # nfp_pcie_sriov_disable
        if self.numvfs:
            return "EBUSY"
        return self._nfp_pcie_sriov_enable_error(count)

    def _nfp_pcie_sriov_enable_error(self, count: int) -> str | None:
        """nfp_main.c nfp_pcie_sriov_enable: EINVAL above the firmware's limit, then
        pci_enable_sriov (the `numvfs` fail-once knob: its ENOMEM)."""
        if self.limit_vfs is not None and count > self.limit_vfs:
            return "EINVAL"
        if self._fail_numvfs:
            self._fail_numvfs = False
            return "ENOMEM"
        return None

    def sriov_drivers_autoprobe_store(self, text: str) -> None:
        """iov.c sriov_drivers_autoprobe_store: kstrtobool; affects VFs probed from now on."""
        with self.lock:
            value = text.strip().lower()
            if value not in ("0", "1", "y", "n", "yes", "no", "on", "off"):
                raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
            self.drivers_autoprobe = int(value in ("1", "y", "yes", "on"))
            self.version += 1

    def _set_vfs(self, count: int) -> None:
        self._generation += 1
        self.version += 1
        self.numvfs = count
        if count == 0:
            self.vfs_ready = 0
            self._forget_gone_netdevs()
            return
        generation = self._generation
        timer = threading.Timer(self.spec.vf_seconds, self._vfs_appear, args=(generation,))
        timer.daemon = True
        self._timers.append(timer)
        timer.start()

    def _vfs_appear(self, generation: int) -> None:
        with self.lock:
            if generation == self._generation:
                self.vfs_ready = self.numvfs
                self.version += 1

    def _forget_gone_netdevs(self) -> None:
        names = {dev.name for dev in self.netdevs()}
        self.tc_offload = {name: on for name, on in self.tc_offload.items() if name in names}

    # --- ethtool ---

    def set_tc_offload(self, dev: Netdev, on: bool) -> bool:
        """ethtool -K: False when the feature is fixed (not in hw_features)."""
        if dev.tc == "fixed":
            return False
        with self.lock:
            self.tc_offload[dev.name] = on
        return True

    def debug_dump(self) -> bytes:
        serial = f"SN:{self.spec.assembly}-0001:21S0213\x00" if self.spec.assembly else ""
        return (
            b"\x00\x00\x10\x00NFP debug dump\x00\x07\x13"
            + b"\x00hwinfo\x00assembly.vendor=Corigine\x00"
            + serial.encode()
            + b"\xff\xfe\x00nffw.version=22.07\x00"
        )

    # --- the driver ---

    def nfp_pci_remove(self) -> None:
        """nfp_main.c nfp_pci_remove: VFs, representors and netdevs go; nfp_fw_unload resets the
        card only when this driver loaded its firmware (unload_fw_on_remove); pci_iov_remove
        sets sriov_totalvfs back to the capability's TotalVFs."""
        with self.lock:
            self._generation += 1
            self.version += 1
            if self.unload_fw_on_remove:
                self.card_firmware = None
            self.bound = False
            self.unload_fw_on_remove = False
            self.limit_vfs = None
            self.driver_max_vfs = self.spec.total_vfs
            self.numvfs = 0
            self.vfs_ready = 0
            self.tc_offload.clear()

    def nfp_pci_probe(self, resolve: Resolver, *, probe_fails: bool) -> None:
        """nfp_main.c nfp_pci_probe: nfp_fw_load, then (when firmware runs) the app's netdevs
        and nfp_pcie_sriov_read_nfd_limit. `probe_fails` is the fault knob of that name."""
        with self.lock:
            self._generation += 1
            self.version += 1
            self.module_loaded = True
            if not self.present:
                return
            self.nfp_fw_load(resolve)
            self.numvfs = 0
            self.vfs_ready = 0
            self.tc_offload.clear()
            self.bound = self.card_firmware is not None and not probe_fails
            if self.bound:
                self.nfp_pcie_sriov_read_nfd_limit()

    def nfp_fw_load(self, resolve: Resolver) -> None:
        """nfp_main.c nfp_fw_load: abi_drv_reset (reset_dev_on_drv_probe) and app_fw_from_flash
        (fw_load_policy) decide between the file nfp_net_fw_find found, the flash, or what
        already runs."""
        fw = self.nfp_net_fw_find(resolve)
        reset, policy = self.spec.reset_dev_on_drv_probe, self.spec.fw_load_policy
        if reset == "always" or (fw is not None and reset == "disk"):
            self.card_firmware = None  # nfp_nsp_device_soft_reset
        loaded = False
        if fw is not None and policy != "flash":
            if self.card_firmware is None:  # nfp_nsp_fw_loaded: skip when firmware runs
                self.card_firmware = fw
                loaded = True
        elif policy != "disk":
            self.card_firmware = FLASH_FIRMWARE  # nfp_nsp_load_stored_fw
        self.unload_fw_on_remove = loaded
        self._log({"tool": "(nfp_fw_load)", "argv": [fw or "", self.card_firmware or ""]})

    def nfp_net_fw_find(self, resolve: Resolver) -> str | None:
        """nfp_main.c nfp_net_fw_find: serial-<serial>-<ifc>.nffw, then pci-<addr>.nffw, then
        nic_<partno>_<media>.nffw (the emulated card: 2x40)."""
        serial = self.spec.serial.replace(":", "-")
        interface = self.spec.interface
        names = [
            f"serial-{serial}-{interface >> 8:02x}-{interface & 0xFF:02x}.nffw",
            f"pci-{self.spec.pci}.nffw",
        ]
        if self.spec.assembly:
            names.append(f"nic_{self.spec.assembly}-0001_2x40.nffw")
        for name in names:
            found = resolve(name)
            if found is not None:
                return found
        return None

    def nfp_pcie_sriov_read_nfd_limit(self) -> None:
        """nfp_main.c nfp_pcie_sriov_read_nfd_limit: the loaded firmware's nfd_vf_cfg_max_vfs
        becomes pf->limit_vfs and, through pci_sriov_set_totalvfs (which refuses a value above
        TotalVFs), sriov_totalvfs."""
        limit = self.spec.firmware_vf_limits.get(self.card_firmware or "")
        self.limit_vfs = limit
        if limit is not None and limit <= self.spec.total_vfs:
            self.driver_max_vfs = limit

    def power_off(self) -> None:
        """A power cycle: nothing runs on the card, no driver."""
        self.nfp_pci_remove()
        with self.lock:
            self.card_firmware = None
            self.module_loaded = False
            self.drivers_autoprobe = self.spec.sriov_drivers_autoprobe

    def rmmod(self) -> None:
        self.nfp_pci_remove()
        with self.lock:
            self.module_loaded = False
            self.version += 1

    def stop(self) -> None:
        with self.lock:
            self._generation += 1
            for timer in self._timers:
                timer.cancel()

    def state(self) -> dict[str, object]:
        with self.lock:
            return {
                "present": self.present,
                "loaded": self.loaded,
                "firmware": self.firmware,
                "switchdev": self.switchdev,
                "numvfs": self.numvfs,
                "totalVfs": self.driver_max_vfs,
                "netdevs": {
                    dev.name: {
                        "portName": dev.port_name,
                        "virtual": dev.pci is None,
                        "hwTcOffload": self.tc_state(dev) == "on",
                    }
                    for dev in self.netdevs()
                },
            }
