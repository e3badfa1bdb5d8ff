"""The host side of an emulated node: prepare its temp dirs and keys, start it in its own mount
namespace, talk to it over real SSH and its control socket, read its state, stop it cleanly.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.support.emulated_node.spec import NS_FIRMWARE, NodePaths, NodeSpec, firmware_root
from tests.support.emulated_node.tools import STANDINS
from tools.rehearsal.ssh import Connection

REPO = Path(__file__).resolve().parents[3]
SSHD = Path("/usr/sbin/sshd")
INSTALL_HINT = (
    "apt-get install -y openssh-server openssh-client fuse3 libfuse2 util-linux; "
    "pip install mfusepy==3.1.1 (or ./dev.sh test, which installs them)"
)
# A bound, not a figure: a node starts in about a second, but a loaded 2-core CI machine running
# the suite's workers in parallel has been seen to need more than 20 s.
START_SECONDS = 60


class NodeError(RuntimeError):
    """The emulated node could not start, answer or stop cleanly."""


def check_prerequisites() -> None:
    """Fail loudly (never skip) when the machine cannot host an emulated node."""
    problems = []
    if os.geteuid() != 0:
        problems.append("must run as root (mount namespace, FUSE on /sys, sshd)")
    if not Path("/dev/fuse").exists():
        problems.append("/dev/fuse is missing")
    for tool in ("unshare", "mount", "ssh", "ssh-keygen"):
        if shutil.which(tool) is None:
            problems.append(f"{tool} is not installed")
    if not SSHD.exists():
        problems.append(f"{SSHD} is missing (Debian openssh-server)")
    try:
        importlib.import_module("mfusepy")
    except (ImportError, OSError) as err:
        problems.append(f"the FUSE binding does not load: {err}")
    if problems:
        raise NodeError(
            "emulated Agilio node unavailable: "
            + "; ".join(problems)
            + f". Install: {INSTALL_HINT}"
        )


def node_env() -> dict[str, str]:
    """The node process's environment. The FUSE daemon must never touch /sys itself (its own
    mount: a deadlock). glibc's malloc reads /sys/devices/system/cpu/online when a new thread
    makes its arena unless the arena count is fixed, so it is."""
    return {**os.environ, "MALLOC_ARENA_MAX": "1", "GLIBC_TUNABLES": "glibc.malloc.arena_max=1"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def tree(root: Path) -> dict[str, str]:
    """Every entry under `root`: a dir, a link with its target, or a file's mode and digest."""
    entries: dict[str, str] = {}
    if not root.exists():
        return entries
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_symlink():
            entries[rel] = "-> " + os.readlink(path)
        elif path.is_dir():
            entries[rel] = "dir"
        elif path.is_file():
            digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
            entries[rel] = f"{path.stat().st_mode & 0o7777:o} {digest}"
        else:
            entries[rel] = "special"
    return entries


class EmulatedNode:
    """One emulated Agilio node. `start()` it, use it, `stop()` it (the fixtures do both)."""

    def __init__(self, spec: NodeSpec) -> None:
        self.spec = spec
        self.paths = NodePaths(Path(tempfile.mkdtemp(prefix="agilio-emu-")))
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.namespace: str | None = None
        # An open handle on the namespace keeps it, and so its number, from being freed and
        # handed to a namespace made later (by another test's node) while we still kill by it.
        self._namespace_handle: int | None = None

    # --- start and stop ---

    def start(self) -> EmulatedNode:
        check_prerequisites()
        self._prepare()
        log = (self.paths.root / "node.log").open("ab")
        self.process = subprocess.Popen(
            [
                "unshare",
                "--mount",
                "--propagation",
                "private",
                sys.executable,
                "-m",
                "tests.support.emulated_node.machine",
                str(self.paths.root),
            ],
            cwd=REPO,
            env=node_env(),
            stdout=log,
            stderr=log,
        )
        log.close()
        self._wait_ready()
        self._hold_namespace(self.process.pid)
        return self

    def _hold_namespace(self, pid: int) -> None:
        self._namespace_handle = os.open(f"/proc/{pid}/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
        self.namespace = os.readlink(f"/proc/{pid}/ns/mnt")

    def _wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + START_SECONDS
        while not self.paths.ready.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                log = self.node_log()  # before stop(), which removes the node's files
                self.stop()
                raise NodeError(f"emulated node did not start within {START_SECONDS} s:\n{log}")
            time.sleep(0.02)
        ready = json.loads(self.paths.ready.read_text())
        if "error" in ready:
            log = self.node_log()
            self.stop()
            raise NodeError(f"emulated node did not start: {ready['error']}\n{log}")

    def node_log(self) -> str:
        parts = []
        for name in ("node.log", "run/sshd.log"):
            path = self.paths.root / name
            if path.exists():
                parts.append(f"--- {name}\n{path.read_text(errors='replace')[-4000:]}")
        return "\n".join(parts)

    def stop(self) -> None:
        """SIGTERM the node, then kill whatever is left in its namespace; remove its files."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._let_sessions_end()
        leftovers = self._kill_namespace()
        self._release_namespace()
        shutil.rmtree(self.paths.root, ignore_errors=True)
        if leftovers:
            raise NodeError(f"processes left in the node's namespace (killed): {leftovers}")

    def _let_sessions_end(self, seconds: float = 10) -> None:
        """sshd's per-connection processes of connections the client closed just now end on
        their own once the close reaches them (OpenSSH: the monitor exits on the session's
        EOF); give them that moment before counting leftovers."""
        if self.namespace is None:
            return
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and any(
            name in ("sshd", "sshd-session") for name in namespace_pids(self.namespace).values()
        ):
            time.sleep(0.05)
        # The node's own helpers (the FUSE server's threads, a stand-in tool answering its last
        # call) end with the node process; on a loaded machine that takes a moment. Only what is
        # still there after it counts as left behind.
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and namespace_pids(self.namespace):
            time.sleep(0.05)

    def _release_namespace(self) -> None:
        if self._namespace_handle is not None:
            os.close(self._namespace_handle)
            self._namespace_handle = None
        self.namespace = None

    def _kill_namespace(self) -> list[str]:
        if self.namespace is None:
            return []
        left = []
        for _ in range(50):
            pids = namespace_pids(self.namespace)
            if not pids:
                return left
            for pid, name in pids.items():
                left.append(f"{pid} {name}")
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.05)
        raise NodeError(f"cannot kill processes in the node's namespace: {left}")

    # --- preparing the node's files ---

    def _prepare(self) -> None:
        paths, spec = self.paths, self.spec
        for directory in (paths.firmware, paths.systemd, paths.dracut, paths.hooks, paths.bin):
            directory.mkdir(parents=True)
        paths.run.mkdir()
        paths.ssh.mkdir(mode=0o700)
        paths.overlays.mkdir()
        for rel, content in spec.firmware_files.items():
            (paths.firmware / rel).parent.mkdir(parents=True, exist_ok=True)
            (paths.firmware / rel).write_text(content)
        if spec.pci_link:
            (paths.firmware / f"pci-{spec.pci}.nffw").symlink_to(spec.pci_link)
        # A real node already has enabled units (and so the wants directory).
        wants = paths.systemd / "multi-user.target.wants"
        wants.mkdir()
        (wants / "ssh.service").symlink_to("/lib/systemd/system/ssh.service")
        paths.osrelease.write_text(spec.kernel + "\n")
        paths.spec.write_text(spec.to_json())
        self._write_standins()
        self._write_ssh()

    def _write_standins(self) -> None:
        standin = Path(__file__).with_name("standin.py")
        tools = [tool for tool in STANDINS if tool not in ("dracut", "update-initramfs")]
        tools = [tool for tool in tools if tool not in self.spec.missing_tools]
        if self.spec.initramfs != "none":
            tools.append("dracut" if self.spec.initramfs == "dracut" else "update-initramfs")
        for tool in tools:
            wrapper = self.paths.bin / tool
            wrapper.write_text(f'#!/bin/sh\nexec {sys.executable} -S {standin} {tool} "$@"\n')
            wrapper.chmod(0o755)

    def _write_ssh(self) -> None:
        ssh = self.paths.ssh
        for key in ("host_key", "client_key"):
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", key, "-f", str(ssh / key)],
                check=True,
            )
        (ssh / "authorized_keys").write_text((ssh / "client_key.pub").read_text())
        self.port = free_port()
        (ssh / "port").write_text(str(self.port))
        host_key = (ssh / "host_key.pub").read_text().split()
        (ssh / "known_hosts").write_text(f"[127.0.0.1]:{self.port} {host_key[0]} {host_key[1]}\n")
        config = [
            f"Port {self.port}",
            "ListenAddress 127.0.0.1",
            f"HostKey {ssh / 'host_key'}",
            f"AuthorizedKeysFile {ssh / 'authorized_keys'}",
            "PidFile none",
            "PermitRootLogin prohibit-password",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UsePAM no",
            "PrintMotd no",
            "PrintLastLog no",
            "UseDNS no",
            "StrictModes no",  # the keys live under /tmp (mode 1777)
            "MaxStartups 50",
        ]
        (ssh / "sshd_config").write_text("\n".join(config) + "\n")

    # --- using the node ---

    def ssh_argv(self, command: str) -> list[str]:
        ssh = self.paths.ssh
        options = {
            "BatchMode": "yes",
            "IdentitiesOnly": "yes",
            "StrictHostKeyChecking": "yes",
            "UserKnownHostsFile": str(ssh / "known_hosts"),
            "LogLevel": "ERROR",
            "ConnectTimeout": "10",
            "ConnectionAttempts": "5",
            # What pulumi-command's Go SSH client negotiates (and cheaper than the default).
            "KexAlgorithms": "curve25519-sha256",
        }
        argv = ["ssh", "-F", "/dev/null", "-i", str(ssh / "client_key"), "-p", str(self.port)]
        for key, value in options.items():
            argv += ["-o", f"{key}={value}"]
        return [*argv, "root@127.0.0.1", command]

    def connection(self, **overrides: Any) -> Connection:
        """The node as a remote.Command `connection` (its client key, its host key pinned)."""
        ssh = self.paths.ssh
        host_key = " ".join((ssh / "host_key.pub").read_text().split()[:2])
        fields: dict[str, Any] = {
            "host": "127.0.0.1",
            "port": self.port,
            "user": "root",
            "private_key": (ssh / "client_key").read_text(),
            "host_key": host_key,
            **overrides,
        }
        return Connection(**fields)

    def run(self, command: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        """`command` through the node's login shell over SSH, as pulumi-command sends it."""
        return subprocess.run(
            self.ssh_argv(command), capture_output=True, text=True, timeout=timeout, check=False
        )

    def request(self, op: str, **fields: Any) -> dict[str, Any]:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(120)
            conn.connect(str(self.paths.socket))
            conn.sendall(json.dumps({"op": op, **fields}).encode() + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
        answer = json.loads(data)
        if "error" in answer:
            raise NodeError(
                f"control request {op} failed: {answer['error']}\n{answer.get('trace')}"
            )
        return answer

    def state(self) -> dict[str, Any]:
        return self.request("state")

    def wait_idle(self, timeout: float = 60) -> None:
        """Until no transient unit runs and no VF is still appearing (bounded; raises)."""
        if not self.request("wait_idle", timeout=timeout)["idle"]:
            raise NodeError(f"node not idle after {timeout} s: {self.state()}")

    def address_up(self) -> None:
        """The operator brings the node's SSH address back (the `address_back_seconds=None`
        case)."""
        self.request("address_up")

    def busy_sessions(self) -> list[dict[str, Any]]:
        """The SSH sessions running a command right now (tools.py `busy_sessions`)."""
        return list(self.request("sessions")["busy"])

    def reboot(self) -> list[dict[str, Any]]:
        return self.request("reboot")["units"]

    def calls(self, tool: str | None = None) -> list[dict[str, Any]]:
        """The stand-ins' call log (and `sysfs-write` entries), oldest first."""
        if not self.paths.calls.exists():
            return []
        text = self.paths.calls.read_text()
        complete = text[: text.rfind("\n") + 1]  # a line being appended right now is not yet
        entries = [json.loads(line) for line in complete.splitlines()]
        return [entry for entry in entries if tool is None or entry["tool"] == tool]

    @property
    def numvfs(self) -> int:
        return int(self.state()["card"]["numvfs"])

    @property
    def pci_link(self) -> Path:
        return self.paths.firmware / f"pci-{self.spec.pci}.nffw"

    def unit_files(self) -> dict[str, str]:
        return {
            path.name: path.read_text() for path in sorted(self.paths.systemd.glob("*.service"))
        }

    def state_dir(self) -> Path:
        """/var/lib/agilio-offload as the node sees it (in the /var overlay)."""
        return self.paths.overlays / "var" / "upper" / "lib" / "agilio-offload"

    def written(self) -> dict[str, str]:
        """What was written under /etc, /var and the firmware root outside the temp dirs: files,
        links and new directories (not the directories overlayfs merely copied up)."""
        entries: dict[str, str] = {}
        for name, lower in (("etc", "/etc"), ("var", "/var"), ("firmware", firmware_root())):
            for rel, what in tree(self.paths.overlays / name / "upper").items():
                if name == "var" and rel.startswith("log"):
                    continue  # sshd's login records
                if what == "dir" and Path(lower, rel).is_dir():
                    continue
                entries[f"{name}/{rel}"] = what
        return entries

    def snapshot(self) -> dict[str, Any]:
        """Everything a step may change, comparable with ==."""
        state = self.state()
        return {
            "card": state["card"],
            "transientUnits": state["transientUnits"],
            "loadedUnits": state["loadedUnits"],
            "initramfs": state["initramfs"],
            "firmware": tree(self.paths.firmware),
            "systemd": tree(self.paths.systemd),
            "dracut": tree(self.paths.dracut),
            "hooks": tree(self.paths.hooks),
            "written": self.written(),
        }

    def firmware_path(self, rel: str) -> str:
        return f"{NS_FIRMWARE}/{rel}"


def namespace_pids(namespace: str) -> dict[int, str]:
    """Processes whose mount namespace is `namespace`."""
    pids: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.readlink(entry / "ns" / "mnt") == namespace:
                pids[int(entry.name)] = (entry / "comm").read_text().strip()
        except OSError:
            continue
    return pids
