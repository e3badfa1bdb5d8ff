"""The emulated /sys: a FUSE filesystem built from the card's state on every request.

Only what the kernel shows for the PF, its VFs and their netdevs is there (plus `lo`), laid out
as in sysfs, with the same relative symlinks, so `readlink -f /sys/class/net/<pf>/device` ends
in the PF's PCI address. Files read like sysfs attributes (one line, size 4096); the only
writable one is `sriov_numvfs`, whose errors are the kernel's.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field

import mfusepy

from tests.emulated_node.card import Card, Netdev, vf_address

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
        "device": Link(f"../../../{dev.pci}"),
        "phys_port_name": text(dev.port_name) if dev.port_name else unsupported(),
        "phys_switch_id": text(dev.switch_id) if dev.switch_id else unsupported(),
    }
    return Dir(entries)


def pf_dir(card: Card, devs: list[Netdev]) -> Dir:
    spec = card.spec
    entries: dict[str, Entry] = {
        "vendor": text(spec.vendor),
        "device": text(spec.device),
        "class": text("0x020000"),
        "subsystem_vendor": text(spec.vendor),
        "sriov_totalvfs": text(spec.total_vfs),
        "sriov_numvfs": File(lambda: f"{card.numvfs}\n".encode(), card_writer(card)),
        "sriov_offset": text(8),
        "sriov_stride": text(1),
        "sriov_vf_device": text("6003"),
        "uevent": text(f"PCI_SLOT_NAME={spec.pci}"),
    }
    if card.loaded:
        entries["driver"] = Link(f"../../../../bus/pci/drivers/{spec.driver}")
    for index, vf in enumerate(card.vf_addresses()):
        entries[f"virtfn{index}"] = Link(f"../{vf}")
    mine = {dev.name: netdev_dir(card, dev) for dev in devs if dev.pci == spec.pci}
    if mine:
        entries["net"] = Dir(dict(mine))
    return Dir(entries)


def card_writer(card: Card) -> Callable[[bytes], None]:
    def write(data: bytes) -> None:
        card.write_numvfs(data.decode(errors="replace"))

    return write


def vf_dir(card: Card, address: str, devs: list[Netdev]) -> Dir:
    entries: dict[str, Entry] = {
        "vendor": text(card.spec.vendor),
        "device": text("0x6003"),
        "class": text("0x020000"),
        "physfn": Link(f"../{card.spec.pci}"),
        "uevent": text(f"PCI_SLOT_NAME={address}"),
    }
    mine = {dev.name: netdev_dir(card, dev) for dev in devs if dev.pci == address}
    if mine:
        entries["driver"] = Link(f"../../../../bus/pci/drivers/{card.vf_driver}")
        entries["net"] = Dir(dict(mine))
    return Dir(entries)


def driver_dir(functions: list[str]) -> Dir:
    return Dir({pci: Link(f"../../../../{BRIDGE}/{pci}") for pci in functions})


def build_tree(card: Card) -> Dir:
    """The whole emulated /sys, from one consistent view of the card."""
    with card.lock:
        devs = card.netdevs()
        vfs = card.vf_addresses()
        functions: dict[str, Entry] = {}
        if card.present:
            functions[card.spec.pci] = pf_dir(card, devs)
        for address in vfs:
            functions[address] = vf_dir(card, address, devs)
        class_net: dict[str, Entry] = {"lo": Link("../../devices/virtual/net/lo")}
        for dev in devs:
            class_net[dev.name] = Link(f"../../{BRIDGE}/{dev.pci}/net/{dev.name}")
        drivers: dict[str, Entry] = {}
        if card.present and card.loaded:
            drivers[card.spec.driver] = driver_dir([card.spec.pci])
            ready = [vf_address(card.spec.pci, i) for i in range(card.vfs_ready)]
            drivers[card.vf_driver] = driver_dir(ready)
    lo = Dir({"ifindex": text(1), "operstate": text("unknown"), "type": text(772)})
    cpus = text(CPUS)
    modules = Dir({"nfp": Dir({"refcnt": text(0)})} if card.loaded else {})
    return Dir(
        {
            "module": modules,
            "class": Dir({"net": Dir(class_net)}),
            "devices": Dir(
                {
                    "pci0000:00": Dir({"0000:00:02.0": Dir(functions)}),
                    "virtual": Dir({"net": Dir({"lo": lo})}),
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
