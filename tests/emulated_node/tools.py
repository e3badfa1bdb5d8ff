"""What the stand-ins do: the node's tools, acting on the emulated card and the temp dirs.

Runs inside the node process (in the namespace); the stand-in executables only forward their
argv here (see `standin.py`) and print what comes back. Every call is appended to the call log.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.emulated_node.card import Card
from tests.emulated_node.spec import (
    FLASH_FIRMWARE,
    NS_FIRMWARE,
    NS_PATH,
    NS_SYSTEMD,
    NodePaths,
    NodeSpec,
)

STANDINS = (
    "ethtool",
    "modprobe",
    "rmmod",
    "dracut",
    "update-initramfs",
    "udevadm",
    "systemctl",
    "systemd-run",
    "devlink",
)


@dataclass
class Result:
    rc: int = 0
    stdout: str = ""
    stderr: str = ""
    files: dict[str, bytes] = field(default_factory=dict)

    def encode(self) -> bytes:
        """The answer as `standin.py` reads it."""
        out, err = self.stdout.encode(), self.stderr.encode()
        parts = [f"{self.rc} {len(out)} {len(err)} {len(self.files)}\n".encode()]
        for path, data in self.files.items():
            name = path.encode()
            parts += [f"{len(name)} {len(data)}\n".encode(), name, data]
        return b"".join([*parts, out, err])


def fail(message: str, rc: int = 1) -> Result:
    return Result(rc=rc, stderr=message + "\n")


@dataclass
class TransientUnit:
    name: str
    process: subprocess.Popen[bytes]
    state: str = "active"  # active -> (gone) | failed


class CallLog:
    """JSON lines, one per call, in the host-visible run dir."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()

    def __call__(self, entry: dict[str, object]) -> None:
        with self.lock, self.path.open("a") as out:
            out.write(json.dumps(entry) + "\n")


def unit_name(name: str) -> str:
    return name if "." in name else f"{name}.service"


def ns_env(unit: str | None = None) -> dict[str, str]:
    env = {"PATH": NS_PATH, "LANG": "C.UTF-8", "HOME": "/root"}
    if unit:
        env["AGILIO_EMU_UNIT"] = unit
    return env


class Emulator:
    """The node's tools and services, sharing one card."""

    def __init__(self, spec: NodeSpec, paths: NodePaths) -> None:
        self.spec = spec
        self.paths = paths
        self.log = CallLog(paths.calls)
        self.card = Card(spec, paths.firmware, self.log)
        self.units: dict[str, TransientUnit] = {}
        self.loaded_units: dict[str, str] = {}
        self.stopping = threading.Event()
        self.lock = threading.RLock()
        self._fail_once = set(spec.fail_once)
        self.ssh_listener: int | None = None
        self.tools: dict[str, Callable[[list[str], dict[str, str]], Result]] = {
            "ethtool": self.ethtool,
            "modprobe": self.modprobe,
            "rmmod": self.rmmod,
            "dracut": self.dracut,
            "update-initramfs": self.update_initramfs,
            "udevadm": self.udevadm,
            "systemctl": self.systemctl,
            "systemd-run": self.systemd_run,
            "devlink": self.devlink,
        }
        if not paths.initramfs.exists():
            self._write_initramfs(self._initramfs_files())

    # --- dispatch ---

    def call(self, tool: str, argv: list[str], env: dict[str, str]) -> Result:
        handler = self.tools.get(tool)
        result = handler(argv, env) if handler else fail(f"{tool}: not emulated", 127)
        self.log({"tool": tool, "argv": argv, "unit": env.get("AGILIO_EMU_UNIT"), "rc": result.rc})
        return result

    def _fails_once(self, tool: str) -> bool:
        with self.lock:
            if tool in self._fail_once:
                self._fail_once.discard(tool)
                return True
            return False

    # --- ethtool ---

    def ethtool(self, argv: list[str], env: dict[str, str]) -> Result:
        if len(argv) < 2:
            return fail("ethtool: bad command line argument(s)")
        option, dev = argv[0], argv[1]
        netdev = self.card.netdev(dev)
        if netdev is None:
            return fail(f"netlink error: no device matches name ({dev})", 1)
        if option == "-k":
            on = "on" if dev in self.card.tc_offload else "off"
            lines = [f"Features for {dev}:", "rx-checksumming: on", f"hw-tc-offload: {on}"]
            return Result(stdout="\n".join(lines) + "\n")
        if option == "-K":
            return self._set_features(dev, argv[2:])
        if option == "-W" and len(argv) == 3:
            self.card.dump_level = int(argv[2])
            return Result()
        if option == "-w" and len(argv) == 4 and argv[2] == "data":
            if netdev.pci != self.spec.pci:
                return fail("Can not get dump level: Operation not supported", 75)
            return Result(files={argv[3]: self.card.debug_dump()})
        if option == "-i":
            info = f"driver: {self.spec.driver}\nbus-info: {netdev.pci}\n"
            return Result(stdout=info)
        return fail(f"ethtool: option {option} not emulated")

    def _set_features(self, dev: str, pairs: list[str]) -> Result:
        if len(pairs) != 2 or pairs[0] != "hw-tc-offload" or pairs[1] not in ("on", "off"):
            return fail(f"ethtool: features {pairs} not emulated")
        self.card.set_tc_offload(dev, pairs[1] == "on")
        return Result()

    # --- the driver ---

    def rmmod(self, argv: list[str], env: dict[str, str]) -> Result:
        if argv != ["nfp"]:
            return fail(f"rmmod: ERROR: Module {' '.join(argv)} is not emulated")
        if not self.card.loaded:
            return fail("rmmod: ERROR: Module nfp is not currently loaded")
        if self.spec.ssh_via_pf:
            killed = self.kill_ssh_sessions()
            self.log(
                {"tool": "(link down)", "argv": [str(pid) for pid in killed], "unit": None, "rc": 0}
            )
        self.card.unload()
        self.stopping.wait(self.spec.unload_seconds)
        return Result()

    def modprobe(self, argv: list[str], env: dict[str, str]) -> Result:
        if argv == ["-r", "nfp"]:
            return self.rmmod(["nfp"], env)
        if argv != ["nfp"]:
            return fail(f"modprobe: FATAL: Module {' '.join(argv)} not emulated")
        if self.card.loaded:
            return Result()
        if self.spec.modprobe_hangs:
            self.stopping.wait()
            return fail("modprobe: interrupted")
        self.stopping.wait(self.spec.load_seconds)
        if self._fails_once("modprobe"):
            return fail("modprobe: ERROR: could not insert 'nfp': Device or resource busy")
        self.card.load(self.card.firmware_from_disk())
        return Result()

    def kill_ssh_sessions(self) -> list[int]:
        """The PF carried the SSH route: every established session dies with it."""
        killed = [pid for pid in processes_named("sshd") if pid != self.ssh_listener]
        for pid in killed:
            kill(pid, signal.SIGKILL)
        return killed

    def devlink(self, argv: list[str], env: dict[str, str]) -> Result:
        if argv[:3] != ["dev", "eswitch", "show"] or len(argv) != 4:
            return fail(f"devlink: {' '.join(argv)} not emulated")
        if argv[3] != f"pci/{self.spec.pci}" or not self.card.loaded:
            return fail("devlink answers: No such device")
        mode = "switchdev" if self.card.switchdev else "legacy"
        return Result(stdout=f"{argv[3]}: mode {mode} inline-mode none encap-mode basic\n")

    def udevadm(self, argv: list[str], env: dict[str, str]) -> Result:
        if argv[:1] == ["settle"]:
            deadline = time.monotonic() + 30
            while self.card.pending() and time.monotonic() < deadline:
                self.stopping.wait(0.05)
        return Result()

    # --- the initramfs ---

    def dracut(self, argv: list[str], env: dict[str, str]) -> Result:
        if self.spec.initramfs != "dracut":
            return fail("dracut: not installed", 127)
        if "-f" not in argv:
            return fail("dracut: Will not override existing initramfs without --force")
        if self._fails_once("dracut"):
            return fail("dracut: FAILED: /boot/initramfs is on a full file system")
        return self._build_initramfs()

    def update_initramfs(self, argv: list[str], env: dict[str, str]) -> Result:
        if self.spec.initramfs != "initramfs-tools":
            return fail("update-initramfs: not installed", 127)
        if "-u" not in argv:
            return fail("update-initramfs: only -u is emulated")
        if self._fails_once("update-initramfs"):
            return fail("update-initramfs: failed for /boot/initrd.img: No space left on device")
        return self._build_initramfs()

    def _initramfs_files(self) -> list[str]:
        """The /lib/firmware/netronome paths the distro's config asks the initramfs to carry."""
        paths: list[str] = []
        if self.spec.initramfs == "dracut":
            for conf in sorted(self.paths.dracut.glob("*.conf")):
                for match in re.finditer(r'install_items\+?="([^"]*)"', conf.read_text()):
                    paths += match.group(1).split()
        elif self.spec.initramfs == "initramfs-tools":
            for hook in sorted(self.paths.hooks.iterdir()):
                if hook.is_file() and os.access(hook, os.X_OK):
                    paths += re.findall(r"^copy_file \S+ (\S+)$", hook.read_text(), re.M)
        return paths

    def _build_initramfs(self) -> Result:
        try:
            self._write_initramfs(self._initramfs_files())
        except FileNotFoundError as err:
            return fail(f"initramfs: cannot install {err.filename}")
        return Result()

    def _write_initramfs(self, paths: list[str]) -> None:
        files: dict[str, str] = {}
        for path in paths:
            if not path.startswith(NS_FIRMWARE + "/"):
                raise FileNotFoundError(2, "outside the emulated firmware dir", path)
            host = self.paths.firmware / path.removeprefix(NS_FIRMWARE + "/")
            if host.is_symlink():
                files[path] = "-> " + os.readlink(host)
            elif host.is_file():
                files[path] = "file"
            else:
                raise FileNotFoundError(2, "missing", path)
        partial = self.paths.initramfs.with_suffix(".partial")
        partial.write_text(json.dumps({"files": files}, sort_keys=True))
        os.replace(partial, self.paths.initramfs)

    def boot_firmware(self) -> str:
        """What nfp loads at boot: from the initramfs where the distro has one."""
        if self.spec.initramfs == "none":
            return self.card.firmware_from_disk()
        files = json.loads(self.paths.initramfs.read_text())["files"]
        link = files.get(f"{NS_FIRMWARE}/pci-{self.spec.pci}.nffw", "")
        target = link.removeprefix("-> ")
        if link.startswith("-> ") and f"{NS_FIRMWARE}/{target}" in files:
            return target
        return FLASH_FIRMWARE

    # --- systemd ---

    def systemctl(self, argv: list[str], env: dict[str, str]) -> Result:
        quiet = "--quiet" in argv or "-q" in argv
        args = [arg for arg in argv if arg not in ("--quiet", "-q")]
        if not args:
            return fail("systemctl: no verb")
        verb, rest = args[0], args[1:]
        if verb == "daemon-reload":
            self.loaded_units = self.unit_files()
            return Result()
        if verb == "show" and rest[:3] == ["-p", "NeedDaemonReload", "--value"]:
            name = unit_name(rest[3])
            changed = self.unit_files().get(name) != self.loaded_units.get(name)
            return Result(stdout="yes\n" if changed else "no\n")
        if not rest:
            return fail(f"systemctl {verb}: too few arguments")
        name = unit_name(rest[0])
        verbs: dict[str, Callable[[str, bool], Result]] = {
            "is-active": self._is_active,
            "reset-failed": self._reset_failed,
            "is-enabled": self._is_enabled,
            "enable": self._enable,
            "disable": self._disable,
        }
        if verb not in verbs:
            return fail(f"systemctl {verb}: not emulated")
        return verbs[verb](name, quiet)

    def unit_files(self) -> dict[str, str]:
        return {
            path.name: path.read_text() for path in sorted(self.paths.systemd.glob("*.service"))
        }

    def _is_active(self, name: str, quiet: bool) -> Result:
        with self.lock:
            unit = self.units.get(name)
            state = unit.state if unit else "inactive"
        return Result(rc=0 if state == "active" else 3, stdout="" if quiet else state + "\n")

    def _reset_failed(self, name: str, quiet: bool) -> Result:
        with self.lock:
            unit = self.units.get(name)
            if unit and unit.state == "failed":
                del self.units[name]
        return Result()

    def _wants_links(self, name: str) -> list[Path]:
        return sorted(self.paths.systemd.glob(f"*.wants/{name}"))

    def _is_enabled(self, name: str, quiet: bool) -> Result:
        if self._wants_links(name):
            return Result(stdout="" if quiet else "enabled\n")
        if (self.paths.systemd / name).exists():
            return Result(rc=1, stdout="" if quiet else "disabled\n")
        return Result(rc=1, stderr=f"Failed to get unit file state for {name}: No such file\n")

    def _enable(self, name: str, quiet: bool) -> Result:
        unit = self.paths.systemd / name
        if not unit.exists():
            return fail(f"Failed to enable unit: Unit file {name} does not exist.")
        targets = re.findall(r"^WantedBy=(.+)$", unit.read_text(), re.M)
        messages = []
        for target in " ".join(targets).split():
            link = self.paths.systemd / f"{target}.wants" / name
            link.parent.mkdir(exist_ok=True)
            if not link.is_symlink():
                link.symlink_to(f"{NS_SYSTEMD}/{name}")
                messages.append(f"Created symlink {NS_SYSTEMD}/{target}.wants/{name}")
        return Result(stderr="" if quiet else "".join(m + "\n" for m in messages))

    def _disable(self, name: str, quiet: bool) -> Result:
        for link in self._wants_links(name):
            link.unlink()
        return Result()

    def systemd_run(self, argv: list[str], env: dict[str, str]) -> Result:
        try:
            split = argv.index("--")
        except ValueError:
            return fail("systemd-run: the emulation wants '--' before the command")
        options, command = argv[:split], argv[split + 1 :]
        name, limit = None, None
        for option in options:
            if option.startswith("--unit="):
                name = unit_name(option.removeprefix("--unit="))
            elif option.startswith("--property=RuntimeMaxSec="):
                limit = float(option.removeprefix("--property=RuntimeMaxSec="))
            elif option not in ("--no-block", "--quiet") and not option.startswith(
                "--description="
            ):
                return fail(f"systemd-run: option {option} not emulated")
        if not name or not command:
            return fail("systemd-run: the emulation wants --unit=NAME and a command")
        with self.lock:
            if name in self.units:
                return fail(
                    f"Failed to start transient service unit: Unit {name} was already loaded."
                )
            self.units[name] = self._spawn(name, command, limit)
        return Result(stderr=f"Running as unit: {name}\n")

    def _spawn(self, name: str, command: list[str], limit: float | None) -> TransientUnit:
        log = (self.paths.run / f"{name}.log").open("ab")
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=ns_env(name),
            cwd="/",
            start_new_session=True,
        )
        log.close()
        unit = TransientUnit(name, process)
        threading.Thread(target=self._watch, args=(unit, limit), daemon=True).start()
        return unit

    def _watch(self, unit: TransientUnit, limit: float | None) -> None:
        try:
            rc = unit.process.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            kill(-unit.process.pid, signal.SIGKILL)
            rc = unit.process.wait()
            rc = rc or 1
        with self.lock:
            if self.units.get(unit.name) is unit:
                if rc == 0:
                    del self.units[unit.name]
                else:
                    unit.state = "failed"

    # --- whole-node operations (asked by the harness) ---

    def idle(self) -> bool:
        with self.lock:
            running = any(unit.state == "active" for unit in self.units.values())
        return not running and not self.card.pending()

    def wait_idle(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self.idle():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        return True

    def reboot(self) -> list[dict[str, object]]:
        """Power-cycle: transient units gone, nfp loads the boot firmware, enabled units run."""
        self.stop_units()
        with self.lock:
            self.units.clear()
        self.card.unload()
        self.card.load(self.boot_firmware())
        self.loaded_units = self.unit_files()
        self.log({"tool": "(reboot)", "argv": [], "unit": None, "rc": 0})
        results = []
        for link in sorted(self.paths.systemd.glob("multi-user.target.wants/*.service")):
            if os.readlink(link).startswith(NS_SYSTEMD + "/"):  # the system's own: not emulated
                results.append(self._boot_unit(link.name))
        return results

    def _boot_unit(self, name: str) -> dict[str, object]:
        text = self.unit_files().get(name)
        if text is None:
            return {"unit": name, "state": "not-found"}
        for device in re.findall(r"^Requires=sys-subsystem-net-devices-(\S+)\.device$", text, re.M):
            if self.card.netdev(device.replace("\\x2d", "-")) is None:
                return {"unit": name, "state": "failed", "reason": f"device {device} missing"}
        self.udevadm(["settle"], {})
        for line in re.findall(r"^ExecStart=(.+)$", text, re.M):
            ignore = line.startswith("-")
            argv = shlex.split(line.removeprefix("-").replace("$$", "$").replace("%%", "%"))
            done = subprocess.run(
                argv, env=ns_env(name), capture_output=True, timeout=60, check=False
            )
            self.log({"tool": "(boot)", "argv": argv, "unit": name, "rc": done.returncode})
            if done.returncode and not ignore:
                return {"unit": name, "state": "failed", "stderr": done.stderr.decode()}
        return {"unit": name, "state": "active"}

    def stop_units(self) -> None:
        with self.lock:
            units = list(self.units.values())
        for unit in units:
            if unit.process.poll() is None:
                kill(-unit.process.pid, signal.SIGKILL)

    def shutdown(self) -> None:
        self.stopping.set()
        self.stop_units()
        self.card.stop()

    def state(self) -> dict[str, object]:
        with self.lock:
            units = {name: unit.state for name, unit in self.units.items()}
        return {
            "card": self.card.state(),
            "transientUnits": units,
            "loadedUnits": dict(self.loaded_units),
            "initramfs": json.loads(self.paths.initramfs.read_text())["files"],
            "dumpLevel": self.card.dump_level,
        }


def processes_named(name: str) -> list[int]:
    """Processes called `name` in this mount namespace (the node), not elsewhere on the host."""
    mine = os.readlink("/proc/self/ns/mnt")
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == name and (
                    os.readlink(entry / "ns" / "mnt") == mine
                ):
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def kill(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
