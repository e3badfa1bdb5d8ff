"""The emulated /sys: a FUSE filesystem built from the card's state on every request.

Only what the kernel shows for the PF, its VFs and their netdevs is there (plus `lo`), laid out
as in sysfs, with the same relative symlinks, so `readlink -f /sys/class/net/<pf>/device` ends
in the PF's PCI address. A netdev registered without SET_NETDEV_DEV (the PF and VF
representors, nfp_flower_spawn_vnic_reprs) lives under /sys/devices/virtual/net and has no
`device` link, as in net-sysfs.c / core.c device_add (a parentless device goes to "virtual").
Files read like sysfs attributes (one line, size 4096); the writable ones are `sriov_numvfs`
and `sriov_drivers_autoprobe`, whose errors are the kernel's.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field

import mfusepy

from tests.support.emulated_node.card import Card, Netdev

BRIDGE = "devices/pci0000:00/0000:00:02.0"
# From a syscall, never from /sys: this process serves /sys and must not read it (os.cpu_count()
# would, through glibc).
CPUS = f"0-{len(os.sched_getaffinity(0)) - 1}"


@dataclass
class File:
    read: Callable[[], bytes]
    write: Callable[[bytes], None] | None = None


@dataclass
class Link:
    target: str


@dataclass
class Dir:
    children: dict[str, Entry] = field(default_factory=dict)


Entry = File | Link | Dir


def text(value: object) -> File:
    return File(lambda: f"{value}\n".encode())


def unsupported() -> File:
    def fail() -> bytes:
        raise OSError(errno.EOPNOTSUPP, "Operation not supported")

    return File(fail)


def netdev_dir(card: Card, dev: Netdev) -> Dir:
    index = card.ifindex(dev.name)
    entries: dict[str, Entry] = {
        "ifindex": text(index),
        "address": text(f"00:15:4d:13:{index // 256:02x}:{index % 256:02x}"),
        "operstate": text("up"),
        "mtu": text(1500),
        "type": text(1),
        "uevent": File(lambda: f"INTERFACE={dev.name}\nIFINDEX={index}\n".encode()),
        "phys_port_name": text(dev.port_name) if dev.port_name else unsupported(),
        "phys_switch_id": text(dev.switch_id) if dev.switch_id else unsupported(),
    }
    if dev.pci is not None:
        entries["device"] = Link(f"../../../{dev.pci}")
    return Dir(entries)


def pf_dir(card: Card, devs: list[Netdev]) -> Dir:
    spec = card.spec
    entries: dict[str, Entry] = {
        "vendor": text(spec.vendor),
        "device": text(spec.device),
        "class": text("0x020000"),
        "subsystem_vendor": text(spec.vendor),
        "sriov_totalvfs": File(lambda: f"{card.sriov_totalvfs_show()}\n".encode()),
        "sriov_numvfs": File(lambda: f"{card.numvfs}\n".encode(), writer(card.sriov_numvfs_store)),
        "sriov_drivers_autoprobe": File(
            lambda: f"{card.drivers_autoprobe}\n".encode(),
            writer(card.sriov_drivers_autoprobe_store),
        ),
        "sriov_offset": text(8),
        "sriov_stride": text(1),
        "sriov_vf_device": text(spec.vf_device),
        "uevent": text(f"PCI_SLOT_NAME={spec.pci}"),
    }
    if card.bound:
        entries["driver"] = Link(f"../../../../bus/pci/drivers/{spec.driver}")
    for index, vf in enumerate(card.vf_addresses()):
        entries[f"virtfn{index}"] = Link(f"../{vf}")
    mine = {dev.name: netdev_dir(card, dev) for dev in devs if dev.pci == spec.pci}
    if mine:
        entries["net"] = Dir(dict(mine))
    return Dir(entries)


def writer(store: Callable[[str], None]) -> Callable[[bytes], None]:
    def write(data: bytes) -> None:
        store(data.decode(errors="replace"))

    return write


def vf_dir(card: Card, address: str, devs: list[Netdev], bound: list[str]) -> Dir:
    """iov.c pci_iov_add_virtfn: the VF's vendor is the PF's, its device the capability's VF
    device ID (sriov_vf_device)."""
    entries: dict[str, Entry] = {
        "vendor": text(card.spec.vendor),
        "device": text(f"0x{card.spec.vf_device}"),
        "class": text("0x020000"),
        "physfn": Link(f"../{card.spec.pci}"),
        "uevent": text(f"PCI_SLOT_NAME={address}"),
    }
    if address in bound:
        entries["driver"] = Link(f"../../../../bus/pci/drivers/{card.vf_driver}")
    mine = {dev.name: netdev_dir(card, dev) for dev in devs if dev.pci == address}
    if mine:
        entries["net"] = Dir(dict(mine))
    return Dir(entries)


def driver_dir(functions: list[str]) -> Dir:
    return Dir({pci: Link(f"../../../../{BRIDGE}/{pci}") for pci in functions})


def other_card_dir(address: str) -> Dir:
    """A function of another NFP card (the `other_nfp_functions` fault): vendor, device,
    class and uevent, as pci-sysfs.c shows any PCI function."""
    return Dir(
        {
            "vendor": text("0x19ee"),
            "device": text("0x4000"),
            "class": text("0x020000"),
            "uevent": text(f"PCI_SLOT_NAME={address}"),
        }
    )


def build_tree(card: Card) -> Dir:
    """The whole emulated /sys, from one consistent view of the card."""
    with card.lock:
        devs = card.netdevs()
        vfs = card.vf_addresses()
        bound = card.bound_vfs()
        functions: dict[str, Entry] = {}
        if card.present:
            functions[card.spec.pci] = pf_dir(card, devs)
        for address in vfs:
            functions[address] = vf_dir(card, address, devs, bound)
        for address in card.spec.other_nfp_functions:
            functions[address] = other_card_dir(address)
        class_net: dict[str, Entry] = {"lo": Link("../../devices/virtual/net/lo")}
        virtual: dict[str, Entry] = {
            "lo": Dir({"ifindex": text(1), "operstate": text("unknown"), "type": text(772)})
        }
        for dev in devs:
            if dev.pci is None:
                class_net[dev.name] = Link(f"../../devices/virtual/net/{dev.name}")
                virtual[dev.name] = netdev_dir(card, dev)
            else:
                class_net[dev.name] = Link(f"../../{BRIDGE}/{dev.pci}/net/{dev.name}")
        drivers: dict[str, Entry] = {}
        if card.module_loaded:  # nfp.ko registers both PCI drivers (nfp_main.c nfp_main_init)
            drivers[card.spec.driver] = driver_dir([card.spec.pci] if card.bound else [])
            drivers[card.vf_driver] = driver_dir(bound)
    cpus = text(CPUS)
    modules = Dir({"nfp": Dir({"refcnt": text(0)})} if card.module_loaded else {})
    return Dir(
        {
            "module": modules,
            "class": Dir({"net": Dir(class_net)}),
            "devices": Dir(
                {
                    "pci0000:00": Dir({"0000:00:02.0": Dir(functions)}),
                    "virtual": Dir({"net": Dir(virtual)}),
                    "system": Dir({"cpu": Dir({"online": cpus, "possible": cpus})}),
                }
            ),
            "bus": Dir(
                {
                    "pci": Dir(
                        {
                            "devices": Dir(
                                {pci: Link(f"../../../{BRIDGE}/{pci}") for pci in functions}
                            ),
                            "drivers": Dir(drivers),
                        }
                    )
                }
            ),
        }
    )


def lookup(root: Dir, path: str) -> Entry:
    entry: Entry = root
    for part in (p for p in path.split("/") if p):
        if not isinstance(entry, Dir) or part not in entry.children:
            raise mfusepy.FuseOSError(errno.ENOENT)
        entry = entry.children[part]
    return entry


class SysfsOperations(mfusepy.Operations):
    """Read-mostly FUSE operations over `build_tree`; no caching anywhere (mount options)."""

    use_ns = True

    def __init__(self, card: Card) -> None:
        self.card = card
        self._tree: tuple[int, Dir] | None = None

    def _entry(self, path: str) -> Entry:
        """The entry at `path` in the tree of the card's current state (rebuilt on change)."""
        with self.card.lock:
            if self._tree is None or self._tree[0] != self.card.version:
                self._tree = (self.card.version, build_tree(self.card))
            root = self._tree[1]
        return lookup(root, path)

    def getattr(self, path: str, fh: int | None = None) -> dict[str, int]:
        entry = self._entry(path)
        base = {"st_uid": 0, "st_gid": 0, "st_nlink": 1, "st_mtime": 0, "st_ctime": 0}
        if isinstance(entry, Dir):
            return {**base, "st_mode": stat.S_IFDIR | 0o755, "st_nlink": 2, "st_size": 0}
        if isinstance(entry, Link):
            return {**base, "st_mode": stat.S_IFLNK | 0o777, "st_size": len(entry.target)}
        mode = 0o644 if entry.write else 0o444
        return {**base, "st_mode": stat.S_IFREG | mode, "st_size": 4096}

    def readdir(self, path: str, fh: int) -> list[str]:
        entry = self._entry(path)
        if not isinstance(entry, Dir):
            raise mfusepy.FuseOSError(errno.ENOTDIR)
        return [".", "..", *entry.children]

    def readlink(self, path: str) -> str:
        entry = self._entry(path)
        if not isinstance(entry, Link):
            raise mfusepy.FuseOSError(errno.EINVAL)
        return entry.target

    def open(self, path: str, flags: int) -> int:
        entry = self._entry(path)
        if not isinstance(entry, File):
            raise mfusepy.FuseOSError(errno.EISDIR)
        if flags & (0o1 | 0o2) and entry.write is None:  # O_WRONLY | O_RDWR
            raise mfusepy.FuseOSError(errno.EACCES)
        return 0

    def read(self, path: str, size: int, offset: int, fh: int) -> bytes:
        entry = self._entry(path)
        if not isinstance(entry, File):
            raise mfusepy.FuseOSError(errno.EISDIR)
        try:
            data = entry.read()
        except OSError as err:
            raise mfusepy.FuseOSError(err.errno or errno.EIO) from err
        return data[offset : offset + size]

    def write(self, path: str, data: bytes, offset: int, fh: int) -> int:
        entry = self._entry(path)
        if not isinstance(entry, File) or entry.write is None:
            raise mfusepy.FuseOSError(errno.EACCES)
        try:
            entry.write(data)
        except OSError as err:
            raise mfusepy.FuseOSError(err.errno or errno.EIO) from err
        return len(data)

    def truncate(self, path: str, length: int, fh: int | None = None) -> int:
        entry = self._entry(path)
        if not isinstance(entry, File) or entry.write is None:
            raise mfusepy.FuseOSError(errno.EACCES)
        return 0


def serve(card: Card, mountpoint: str) -> None:
    """Mount and serve until unmounted or signalled (blocks; call from the main thread)."""
    mfusepy.FUSE(
        SysfsOperations(card),
        mountpoint,
        foreground=True,
        nonempty=True,
        direct_io=True,
        attr_timeout=0,
        entry_timeout=0,
        negative_timeout=0,
        fsname="agilio-emu-sysfs",
    )
