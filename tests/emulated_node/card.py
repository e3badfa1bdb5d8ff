"""The emulated Agilio card with the nfp driver: the state behind /sys and the stand-ins.

Kernel behaviour modelled (drivers/pci/iov.c, drivers/net/ethernet/netronome/nfp/):
- `sriov_numvfs`: a value above `sriov_totalvfs` -> ERANGE; non-zero while VFs exist -> EBUSY;
  the same value -> no-op; no driver bound -> ENOENT; not a number -> EINVAL.
- VF PCI functions (`virtfnN`) appear with the write; their netdevs (nfp_netvf) and, when the
  flower firmware runs (switchdev), the VF representors (`phys_port_name` pf0vfN) a moment later.
- `rmmod nfp` removes VFs, representors and the PF netdev; `modprobe nfp` brings the PF back with
  the firmware the lookup finds (`pci-<addr>.nffw` in /lib/firmware/netronome, else the flash).
- hw-tc-offload starts off on every netdev after a (re)load, so only a step can turn it on.
"""

from __future__ import annotations

import errno
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.emulated_node.spec import FLASH_FIRMWARE, NodeSpec

CallLogger = Callable[[dict[str, object]], None]


@dataclass(frozen=True)
class Netdev:
    name: str
    pci: str  # the PCI function whose device/ link it has
    port_name: str | None  # phys_port_name; None: reading it fails (EOPNOTSUPP)
    switch_id: str | None


def vf_address(pf: str, index: int) -> str:
    """The PCI address of VF `index` (routing ID offset 8 functions past the PF)."""
    domain_bus, _, _ = pf.rpartition(":")
    slot = 0x08 + index // 8
    return f"{domain_bus}:{slot:02x}.{index % 8}"


class Card:
    """One Agilio PF and its driver. Every method takes the lock; all reads are snapshots."""

    def __init__(self, spec: NodeSpec, firmware_dir: Path, log: CallLogger) -> None:
        self.spec = spec
        self.firmware_dir = firmware_dir
        self.lock = threading.RLock()
        self._log = log
        self.loaded = spec.pf_present
        self.firmware: str | None = self.firmware_from_disk() if spec.pf_present else None
        self.numvfs = 0
        self.vfs_ready = 0  # VF netdevs (and representors) that have appeared
        self.tc_offload: set[str] = set()  # netdevs with hw-tc-offload on
        self.dump_level = 0
        self._generation = 0  # bumps on every VF change, so stale timers do nothing
        self.version = 0  # bumps on every change of what /sys shows
        self._timers: list[threading.Timer] = []
        self._fail_numvfs = "numvfs" in spec.fail_once
        self._ifindex: dict[str, int] = {}
        self._next_ifindex = 2

    # --- what the kernel shows ---

    @property
    def present(self) -> bool:
        return self.spec.pf_present

    @property
    def switchdev(self) -> bool:
        firmware = self.firmware or ""
        return self.loaded and firmware.startswith(("flower/", "flower-next/"))

    @property
    def vf_driver(self) -> str:
        return "nfp_netvf" if self.spec.driver == "nfp" else f"{self.spec.driver}vf"

    def _base(self) -> str:
        pf = self.spec.pf
        return pf[:-3] if pf.endswith("np0") else pf

    def netdevs(self) -> list[Netdev]:
        with self.lock:
            if not (self.present and self.loaded):
                return []
            switch_id = "00154d1303a0" if self.switchdev else None
            devs = [Netdev(self.spec.pf, self.spec.pci, "p0", switch_id)]
            if self.switchdev:
                devs.append(Netdev(f"{self._base()}npf0", self.spec.pci, "pf0", switch_id))
            for index in range(self.vfs_ready):
                devs.append(
                    Netdev(f"{self._base()}v{index}", vf_address(self.spec.pci, index), None, None)
                )
                if self.switchdev:
                    devs.append(
                        Netdev(
                            f"{self._base()}npf0vf{index}",
                            self.spec.pci,
                            f"pf0vf{index}",
                            switch_id,
                        )
                    )
            return devs

    def netdev(self, name: str) -> Netdev | None:
        return next((dev for dev in self.netdevs() if dev.name == name), None)

    def ifindex(self, name: str) -> int:
        with self.lock:
            if name not in self._ifindex:
                self._ifindex[name] = self._next_ifindex
                self._next_ifindex += 1
            return self._ifindex[name]

    def vf_addresses(self) -> list[str]:
        with self.lock:
            if not (self.present and self.loaded):
                return []
            return [vf_address(self.spec.pci, index) for index in range(self.numvfs)]

    def pending(self) -> bool:
        """Uevents still to come: VF netdevs that will appear."""
        with self.lock:
            return self.loaded and self.vfs_ready < self.numvfs

    # --- sriov_numvfs ---

    def write_numvfs(self, text: str) -> None:
        """The kernel's sriov_numvfs_store; raises OSError like the write(2) would fail."""
        with self.lock:
            error = self._numvfs_error(text)
            self._log(
                {"tool": "sysfs-write", "argv": ["sriov_numvfs", text.strip()], "error": error}
            )
            if error:
                raise OSError(getattr(errno, error), os.strerror(getattr(errno, error)))
            count = int(text.strip())
            if count != self.numvfs:
                self._set_vfs(count)

    def _numvfs_error(self, text: str) -> str | None:
        try:
            count = int(text.strip())
        except ValueError:
            return "EINVAL"
        if count < 0:
            return "EINVAL"
        if not self.loaded:
            return "ENOENT"
        if count > self.spec.total_vfs:
            return "ERANGE"
        if count == self.numvfs:
            return None
        if count and self.numvfs:
            return "EBUSY"
        if count and self._fail_numvfs:
            self._fail_numvfs = False
            return "ENOMEM"
        return None

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
        self.tc_offload &= names

    # --- ethtool ---

    def set_tc_offload(self, name: str, on: bool) -> None:
        with self.lock:
            if on:
                self.tc_offload.add(name)
            else:
                self.tc_offload.discard(name)

    def debug_dump(self) -> bytes:
        serial = f"SN:{self.spec.assembly}-0001:21S0213\x00" if self.spec.assembly else ""
        return (
            b"\x00\x00\x10\x00NFP debug dump\x00\x07\x13"
            + b"\x00hwinfo\x00assembly.vendor=Corigine\x00"
            + serial.encode()
            + b"\xff\xfe\x00nffw.version=22.07\x00"
        )

    # --- the driver ---

    def unload(self) -> None:
        with self.lock:
            self._generation += 1
            self.version += 1
            self.loaded = False
            self.firmware = None
            self.numvfs = 0
            self.vfs_ready = 0
            self.tc_offload.clear()

    def load(self, firmware: str) -> None:
        with self.lock:
            self._generation += 1
            self.version += 1
            self.loaded = self.present
            self.firmware = firmware if self.present else None
            self.numvfs = 0
            self.vfs_ready = 0
            self.tc_offload.clear()

    def firmware_from_disk(self) -> str:
        """What nfp loads now: the pci-<addr>.nffw image if it resolves, else the flash."""
        link = self.firmware_dir / f"pci-{self.spec.pci}.nffw"
        target = Path(os.path.realpath(link))
        base = Path(os.path.realpath(self.firmware_dir))
        if target.is_file() and target.is_relative_to(base):
            return str(target.relative_to(base))
        return FLASH_FIRMWARE

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
                "netdevs": {
                    dev.name: {
                        "portName": dev.port_name,
                        "hwTcOffload": dev.name in self.tc_offload,
                    }
                    for dev in self.netdevs()
                },
            }
