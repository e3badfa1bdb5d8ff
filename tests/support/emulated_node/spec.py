"""What a test can configure about an emulated node, and where its files live."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Literal

InitramfsTool = Literal["dracut", "initramfs-tools", "none"]

# Firmware files a node with Corigine's flower firmware package has (relative to
# /lib/firmware/netronome); values are the file contents.
DEFAULT_FIRMWARE_FILES: dict[str, str] = {
    "flower/nic_AMDA0096.nffw": "flower firmware, Agilio CX 2x10GbE\n",
    "flower/nic_AMDA0097.nffw": "flower firmware, Agilio CX 2x40GbE\n",
    "flower/nic_AMDA0099.nffw": "flower firmware, Agilio CX 2x25GbE\n",
    "nic/nic_AMDA0097-0001_2x40.nffw": "core NIC firmware, Agilio CX 2x40GbE\n",
}
# What the card runs when no file on disk is loaded: the firmware stored in its flash.
FLASH_FIRMWARE = "(flash) nic"
FwLoadPolicy = Literal["driver", "flash", "disk"]
ResetPolicy = Literal["disk", "always", "never"]
LinkDrop = Literal["reset", "stall"]


@dataclass(frozen=True)
class NodeSpec:
    """One emulated Agilio node. Every field is a knob a test may turn."""

    node: str = "worker-1"
    pf: str = "ens1np0"
    pci: str = "0000:03:00.0"
    vendor: str = "0x19ee"
    device: str = "0x4000"
    driver: str = "nfp"
    kernel: str = "5.15.0-91-generic"
    # TotalVFs of the PF's SR-IOV capability (the hardware's bound).
    total_vfs: int = 16
    # The firmware's VF limit (rtsym nfd_vf_cfg_max_vfs) per image, as nfp_pcie_sriov_read_nfd_limit
    # reads it; an image not listed has no symbol (no limit beyond total_vfs).
    firmware_vf_limits: dict[str, int] = field(default_factory=dict)
    # The card's serial (phys_switch_id, and the serial-<serial>-<ifc>.nffw name) and PCIe
    # interface (nfp_cpp_serial / nfp_cpp_interface).
    serial: str = "00:15:4d:13:03:a0"
    interface: int = 0x10FF
    # Physical ports of the card (flower: one representor pN each, under the PF).
    ports: int = 2
    # The device ID of the VFs (the PF's SR-IOV capability, sysfs sriov_vf_device).
    vf_device: str = "6003"
    # The assembly in the card's debug dump ("SN:" line); None: no such line.
    assembly: str | None = "AMDA0097"
    firmware_files: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_FIRMWARE_FILES))
    # A pci-<addr>.nffw link already on the node (an operator ran the runbook by hand).
    pci_link: str | None = None
    initramfs: InitramfsTool = "dracut"
    # The devlink parameters nfp keeps in the card's hwinfo (devlink_param.c): fw_load_policy
    # (app_fw_from_flash) and reset_dev_on_drv_probe (abi_drv_reset).
    fw_load_policy: FwLoadPolicy = "driver"
    reset_dev_on_drv_probe: ResetPolicy = "disk"
    # The PF's sriov_drivers_autoprobe at boot (an operator or udev rule may have set 0).
    sriov_drivers_autoprobe: int = 1
    # False: the card is not in the machine (no PCI function, no netdev).
    pf_present: bool = True
    # True: the PF carries the SSH route (`ip route get` to the SSH peer says dev <PF>).
    ssh_via_pf: bool = False
    # What an SSH session on the PF does while nfp is unloaded: "reset" (it dies) or "stall"
    # (its packets go nowhere until the PF and its address are back, then it carries on).
    ssh_link_drop: LinkDrop = "reset"
    # With ssh_via_pf: the node's SSH address answers again this long after the PF is back
    # (e.g. a bond or a slow DHCP), or never (None: only the `address_up` control op brings it
    # back, as an operator fixing the network would).
    address_back_seconds: float | None = 0.0
    # How long rmmod and modprobe take (the PF is gone meanwhile).
    unload_seconds: float = 0.1
    load_seconds: float = 0.3
    # VF netdevs and representors appear this long after sriov_numvfs was written.
    vf_seconds: float = 0.2
    # Stand-ins (or "numvfs") that fail their first call: a step that breaks midway.
    fail_once: tuple[str, ...] = ()
    # modprobe nfp never returns (a hung firmware load).
    modprobe_hangs: bool = False
    # nfp_pci_probe fails (e.g. the firmware does not start): modprobe exits 0, no driver bound.
    probe_fails: bool = False
    # Directories (inside the node) on a file system with no space left: a write there fails.
    disk_full: tuple[str, ...] = ()
    # --- faults apart from the card's interface (netdevsim style: knobs, not card behaviour) ---
    # Tools absent from the node: no stand-in, and the real one hidden (an overlay whiteout).
    missing_tools: tuple[str, ...] = ()
    # /etc/os-release of the node (os-release(5)); None: the host's, untouched.
    os_release: str | None = 'NAME="Ubuntu"\nID=ubuntu\nID_LIKE=debian\nVERSION_ID="24.04"\n'
    # PCI functions of another NFP card on the node (vendor 0x19ee, device 0x4000, bound to
    # nfp): only visible in /sys/bus/pci/devices; no netdev, no firmware, no VFs.
    other_nfp_functions: tuple[str, ...] = ()

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> NodeSpec:
        data = json.loads(text)
        data["fail_once"] = tuple(data["fail_once"])
        data["disk_full"] = tuple(data["disk_full"])
        for key in ("missing_tools", "other_nfp_functions"):
            data[key] = tuple(data.get(key, ()))
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})


@dataclass(frozen=True)
class NodePaths:
    """The host-side directories of one emulated node (all under one temp dir)."""

    root: Path

    @property
    def firmware(self) -> Path:  # /lib/firmware/netronome
        return self.root / "firmware"

    @property
    def systemd(self) -> Path:  # /etc/systemd/system
        return self.root / "systemd"

    @property
    def dracut(self) -> Path:  # /etc/dracut.conf.d
        return self.root / "dracut.conf.d"

    @property
    def hooks(self) -> Path:  # /etc/initramfs-tools/hooks
        return self.root / "initramfs-hooks"

    @property
    def bin(self) -> Path:  # /usr/local/sbin: the stand-ins
        return self.root / "bin"

    @property
    def run(self) -> Path:  # /run/agilio-emu: control socket, logs, state files
        return self.root / "run"

    @property
    def ssh(self) -> Path:  # keys and sshd_config (not visible as such inside)
        return self.root / "ssh"

    @property
    def overlays(self) -> Path:  # upper/work dirs of the overlays on /etc, /var, firmware
        return self.root / "overlay"

    @property
    def osrelease(self) -> Path:  # bind-mounted on /proc/sys/kernel/osrelease
        return self.root / "osrelease"

    @property
    def spec(self) -> Path:
        return self.root / "spec.json"

    @property
    def socket(self) -> Path:
        return self.run / "ctl.sock"

    @property
    def calls(self) -> Path:
        return self.run / "calls.jsonl"

    @property
    def initramfs(self) -> Path:
        return self.run / "initramfs.json"

    @property
    def ready(self) -> Path:
        return self.run / "ready.json"


# Where things are inside the namespace.
NS_FIRMWARE = "/lib/firmware/netronome"
NS_SYSTEMD = "/etc/systemd/system"
NS_DRACUT = "/etc/dracut.conf.d"
NS_HOOKS = "/etc/initramfs-tools/hooks"
NS_BIN = "/usr/local/sbin"
NS_RUN = "/run/agilio-emu"
NS_SOCKET = f"{NS_RUN}/ctl.sock"  # the harness's JSON requests
NS_TOOLS_SOCKET = f"{NS_RUN}/tools.sock"  # the stand-ins' calls
# PATH of an SSH session (sshd's default for root) and of the systemd services we run.
NS_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def firmware_root() -> str:
    """The nearest existing directory above /lib/firmware/netronome: the node overlays it."""
    return "/usr/lib/firmware" if os.path.isdir("/usr/lib/firmware") else "/usr/lib"


NS_STATE = "/var/lib/agilio-offload"
# initramfs-tools' shell library the hooks source; the node provides a minimal one.
NS_HOOK_FUNCTIONS = "/usr/share/initramfs-tools/hook-functions"
