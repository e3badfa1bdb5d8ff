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
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.emulated_node.card import Card, Netdev, Resolver, disk_resolver
from tests.support.emulated_node.spec import (
    NS_DRACUT,
    NS_FIRMWARE,
    NS_HOOKS,
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
    "ip",
)
# sshd's process names: the listener and, per connection, its monitor and session (OpenSSH 9.8+
# calls the per-connection processes sshd-session).
SSHD_NAMES = ("sshd", "sshd-session")


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
            "ip": self.ip,
        }
        self.stalled: list[int] = []
        # The node's SSH address (sshd's listening socket): taken down with the PF when it
        # carries the SSH route, back when the address answers again (machine.py Node).
        self.listener_down: Callable[[], None] | None = None
        self.listener_up: Callable[[], None] | None = None
        self.address_down = False
        if not paths.initramfs.exists():
            self._write_initramfs({})

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
            state = self.card.tc_state(netdev)
            lines = [f"Features for {dev}:", "rx-checksumming: on", f"hw-tc-offload: {state}"]
            return Result(stdout="\n".join(lines) + "\n")
        if option == "-K":
            return self._set_features(netdev, argv[2:])
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

    def _set_features(self, netdev: Netdev, pairs: list[str]) -> Result:
        """ethtool's do_sfeatures: a feature outside hw_features ([fixed]) cannot change."""
        if len(pairs) != 2 or pairs[0] != "hw-tc-offload" or pairs[1] not in ("on", "off"):
            return fail(f"ethtool: features {pairs} not emulated")
        wanted = "on" if pairs[1] == "on" else "off"
        if self.card.tc_state(netdev) == wanted:
            return Result()
        if not self.card.set_tc_offload(netdev, wanted == "on"):
            return fail("Could not change any device features")
        return Result()

    # --- the driver ---

    def rmmod(self, argv: list[str], env: dict[str, str]) -> Result:
        if argv != ["nfp"]:
            return fail(f"rmmod: ERROR: Module {' '.join(argv)} is not emulated")
        if not self.card.module_loaded:
            return fail("rmmod: ERROR: Module nfp is not currently loaded")
        if self.spec.ssh_via_pf:
            self.link_down()
        else:
            self.log_sessions()
        self.card.rmmod()
        self.stopping.wait(self.spec.unload_seconds)
        return Result()

    def modprobe(self, argv: list[str], env: dict[str, str]) -> Result:
        if argv == ["-r", "nfp"]:
            return self.rmmod(["nfp"], env)
        if argv != ["nfp"]:
            return fail(f"modprobe: FATAL: Module {' '.join(argv)} not emulated")
        if self.card.module_loaded:
            return Result()
        if self.spec.modprobe_hangs:
            self.stopping.wait()
            return fail("modprobe: interrupted")
        self.stopping.wait(self.spec.load_seconds)
        if self._fails_once("modprobe"):
            return fail("modprobe: ERROR: could not insert 'nfp': Device or resource busy")
        # A failed probe does not fail modprobe (the module stays loaded, unbound).
        self.card.nfp_pci_probe(
            disk_resolver(self.paths.firmware), probe_fails=self.spec.probe_fails
        )
        if self.spec.ssh_via_pf and self.card.loaded:
            self.pf_back()
        return Result()

    def sshd_pids(self) -> list[int]:
        return [pid for name in SSHD_NAMES for pid in processes_named(name)]

    def busy_sessions(self) -> list[dict[str, object]]:
        """The SSH sessions running a command right now: OpenSSH `session.c` `do_exec_no_pty`
        forks the command as a child of the connection's session process (`sshd:
        <user>@notty`), which stays, idle, once the channel closed while the connection lives.
        An idle connection (pulumi-command's, never closed) carries no step's fate."""
        busy = []
        for pid in self.sshd_pids():
            if is_ssh_session(pid):
                commands = [command_line(child) for child in children_of(pid)]
                if commands:
                    busy.append({"pid": pid, "commands": commands})
        return busy

    def log_sessions(self) -> None:
        self.log(
            {
                "tool": "(sessions at rmmod)",
                "argv": [],
                "busy": self.busy_sessions(),
                "idle": [pid for pid in self.sshd_pids() if is_ssh_session(pid)],
                "unit": None,
                "rc": 0,
            }
        )

    def link_down(self) -> None:
        """The PF carried the SSH route and goes away, and with it the node's SSH address: no new
        connection (the listener is gone: a dial is refused; a real one would time out, which
        the dial loop treats alike). "reset": every established connection dies. "stall":
        every established session gets no packet until the address is back (SIGSTOP), then
        carries on."""
        self.log_sessions()
        if self.listener_down is not None:
            self.listener_down()
        with self.lock:
            self.address_down = True
        if self.spec.ssh_link_drop == "reset":
            pids = [pid for pid in self.sshd_pids() if pid != self.ssh_listener]
            signal_to = signal.SIGKILL
        else:
            # Only sessions past authentication carry data ("sshd: root@notty", OpenSSH's
            # proctitle of the session process): one still in its handshake is a new
            # connection (served over loopback, see above), and stopping its pre-auth
            # processes mid-exchange breaks the handshake, which no delayed packet would.
            pids = [pid for pid in self.sshd_pids() if is_ssh_session(pid)]
            signal_to = signal.SIGSTOP
            with self.lock:
                self.stalled = pids
        for pid in pids:
            kill(pid, signal_to)
        self.log(
            {
                "tool": "(link down)",
                "argv": [self.spec.ssh_link_drop, *map(str, pids)],
                "unit": None,
                "rc": 0,
            }
        )

    def pf_back(self) -> None:
        """The PF is back; the address answers after `address_back_seconds` (or never)."""
        delay = self.spec.address_back_seconds
        if delay is None:
            self.log({"tool": "(address stays down)", "argv": [], "unit": None, "rc": 0})
            return
        if delay <= 0:
            self.link_up()
            return

        def later() -> None:
            if not self.stopping.wait(delay):
                self.link_up()

        threading.Thread(target=later, daemon=True).start()

    def link_up(self) -> None:
        with self.lock:
            if not self.address_down:
                return
            self.address_down = False
            pids, self.stalled = self.stalled, []
        if self.listener_up is not None:
            self.listener_up()
        for pid in pids:
            kill(pid, signal.SIGCONT)
        self.log({"tool": "(link up)", "argv": [str(pid) for pid in pids], "unit": None, "rc": 0})

    def ip(self, argv: list[str], env: dict[str, str]) -> Result:
        """`ip [-o] route get ADDR`: the route to the SSH peer (loopback for the emulation) goes
        out of the PF when `ssh_via_pf`, else out of lo."""
        args = [arg for arg in argv if arg != "-o"]
        if args[:2] != ["route", "get"] or len(args) != 3:
            return fail(f"ip {' '.join(argv)}: not emulated")
        peer = args[2]
        if not self.spec.ssh_via_pf:
            return Result(
                stdout=f"local {peer} dev lo table local src 127.0.0.1 uid 0 \n    cache <local> \n"
            )
        if self.card.netdev(self.spec.pf) is None:
            return fail("RTNETLINK answers: Network is unreachable", 2)
        return Result(stdout=f"{peer} dev {self.spec.pf} src 192.0.2.11 uid 0 \n    cache \n")

    def devlink(self, argv: list[str], env: dict[str, str]) -> Result:
        """`dev eswitch show` (nfp_devlink.c nfp_devlink_eswitch_mode_get: the app's mode) and
        `dev param show ... name NAME` (devlink_param.c: fw_load_policy and
        reset_dev_on_drv_probe, read from the card's hwinfo)."""
        handle = f"pci/{self.spec.pci}"
        if len(argv) < 4 or argv[3] != handle or not self.card.loaded:
            if argv[:2] == ["dev", "eswitch"] or argv[:2] == ["dev", "param"]:
                return fail("kernel answers: No such device")
            return fail(f"devlink: {' '.join(argv)} not emulated")
        if argv[:3] == ["dev", "eswitch", "show"] and len(argv) == 4:
            if not self.card.switchdev:  # the core NIC app: nfp_app_eswitch_mode_get EOPNOTSUPP
                return fail("kernel answers: Operation not supported")
            return Result(stdout=f"{handle}: mode switchdev inline-mode none encap-mode basic\n")
        if argv[:3] == ["dev", "param", "show"] and argv[4:5] == ["name"] and len(argv) == 6:
            values = {
                "fw_load_policy": self.spec.fw_load_policy,
                "reset_dev_on_drv_probe": self.spec.reset_dev_on_drv_probe,
            }
            if argv[5] not in values:
                return fail("kernel answers: Invalid argument")
            lines = [
                f"{handle}:",
                f"  name {argv[5]} type generic",
                "    values:",
                f"      cmode permanent value {values[argv[5]]}",
            ]
            return Result(stdout="\n".join(lines) + "\n")
        return fail(f"devlink: {' '.join(argv)} not emulated")

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

    def _build_initramfs(self) -> Result:
        with tempfile.TemporaryDirectory(prefix="agilio-emu-initramfs-") as destdir:
            if self.spec.initramfs == "dracut":
                error = self._dracut_install_items(Path(destdir))
            else:
                error = self._run_initramfs_hooks(Path(destdir))
            if error:
                return fail(error)
            self._write_initramfs(firmware_in(Path(destdir)))
        return Result()

    def _dracut_install_items(self, destdir: Path) -> str | None:
        """dracut.sh sources every /etc/dracut.conf.d/*.conf in its own bash, then installs
        `install_items` (dracut-install: a link and the file it resolves to). Executed, not
        parsed: a conf that is not valid shell fails here as it fails dracut."""
        source = (
            'install_items=""; for f in "$1"/*.conf; do [ -e "$f" ] || continue;'
            ' . "$f" || exit 1; done; printf "%s\\n" $install_items'
        )
        done = subprocess.run(
            ["bash", "-c", source, "dracut", NS_DRACUT],
            env=ns_env(),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if done.returncode:
            return f"dracut: reading {NS_DRACUT} failed: {done.stderr.strip()}"
        for item in done.stdout.split():
            if not install_item(item, destdir):
                return f"dracut-install: ERROR: installing '{item}'"
        return None

    def _run_initramfs_hooks(self, destdir: Path) -> str | None:
        """mkinitramfs runs every executable hook in /etc/initramfs-tools/hooks (first with
        `prereqs`) with DESTDIR set, and stops at the first non-zero exit ("E: <hook> failed
        with return N."). The hooks source the node's hook-functions (machine.py)."""
        env = {**ns_env(), "DESTDIR": str(destdir), "verbose": "n", "MODULESDIR": "/lib/modules"}
        if os.path.islink("/lib"):  # usr-merged: mkinitramfs makes the same /lib -> usr/lib
            (destdir / "usr" / "lib").mkdir(parents=True)
            (destdir / "lib").symlink_to("usr/lib")
        for hook in sorted(self.paths.hooks.iterdir()):
            if not (hook.is_file() and os.access(hook, os.X_OK)):
                continue
            path = f"{NS_HOOKS}/{hook.name}"
            for argv in ([path, "prereqs"], [path]):
                done = subprocess.run(
                    argv, env=env, capture_output=True, text=True, timeout=30, check=False
                )
                if done.returncode:
                    return f"E: {path} failed with return {done.returncode}."
        return None

    def _write_initramfs(self, files: dict[str, str]) -> None:
        partial = self.paths.initramfs.with_suffix(".partial")
        partial.write_text(json.dumps({"files": files}, sort_keys=True))
        os.replace(partial, self.paths.initramfs)

    def boot_resolver(self) -> Resolver:
        """Where nfp finds firmware at boot: the initramfs where the distro has one."""
        if self.spec.initramfs == "none":
            return disk_resolver(self.paths.firmware)
        files = json.loads(self.paths.initramfs.read_text())["files"]

        def resolve(name: str) -> str | None:
            path, seen = f"{NS_FIRMWARE}/{name}", 0
            while files.get(path, "").startswith("-> ") and seen < 8:
                target = files[path].removeprefix("-> ")
                path = os.path.normpath(os.path.join(os.path.dirname(path), target))
                seen += 1
            if files.get(path) == "file":
                return path.removeprefix(NS_FIRMWARE + "/")
            return None

        return resolve

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
        self.card.power_off()
        self.card.nfp_pci_probe(self.boot_resolver(), probe_fails=False)
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


def is_ssh_session(pid: int) -> bool:
    """An sshd process serving an authenticated session: its title is `sshd: <user>@<tty>`
    (OpenSSH `session.c` `session_proctitle`: `setproctitle("%s@%s", user, tty list)`)."""
    try:
        title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return False
    return title.startswith("sshd: ") and "@" in title


def children_of(pid: int) -> list[int]:
    """The processes whose parent is `pid` (/proc/<pid>/task/<pid>/children, CONFIG_PROC_CHILDREN
    on Debian kernels; else a scan of /proc/*/stat)."""
    try:
        listed = Path(f"/proc/{pid}/task/{pid}/children").read_text()
        return [int(child) for child in listed.split()]
    except OSError:
        pass
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:200]
    except OSError:
        return ""


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


def firmware_in(destdir: Path) -> dict[str, str]:
    """The initramfs's /lib/firmware/netronome: each path -> "file" or "-> <link target>"."""
    files: dict[str, str] = {}
    root = destdir / NS_FIRMWARE.lstrip("/")
    if not root.exists():
        return files
    for path in sorted(root.rglob("*")):
        name = f"{NS_FIRMWARE}/{path.relative_to(root)}"
        if path.is_symlink():
            files[name] = "-> " + os.readlink(path)
        elif path.is_file():
            files[name] = "file"
    return files


def install_item(item: str, destdir: Path) -> bool:
    """dracut-install of one path: a link is installed as a link, then what it resolves to."""
    source = Path(item)
    if not source.is_absolute() or not (source.is_symlink() or source.exists()):
        return False
    target = destdir / item.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.is_symlink():
        if not target.is_symlink():
            target.symlink_to(os.readlink(source))
        resolved = os.path.realpath(source)
        return os.path.exists(resolved) and install_item(resolved, destdir)
    if not target.exists():
        target.write_bytes(source.read_bytes())
    return True
