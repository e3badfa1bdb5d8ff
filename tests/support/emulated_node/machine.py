"""The emulated node's own process: run as `unshare --mount --propagation private python -m
tests.support.emulated_node.machine <root>`, it builds the node's view of the filesystem, serves
/sys over FUSE and the stand-ins over a control socket, and runs sshd until it gets SIGTERM.

Inside the namespace (nothing of it is seen outside):
- /run: a fresh tmpfs (sshd's /run/sshd), with <root>/run bound on /run/agilio-emu;
- /etc, /var and /usr/lib/firmware: overlays whose upper dirs are temp dirs, so whatever a script
  writes there lands in <root>/overlay and the host's files stay untouched;
- /lib/firmware/netronome, /etc/systemd/system, /etc/dracut.conf.d or
  /etc/initramfs-tools/hooks: temp dirs bound over them; /usr/local/sbin: the stand-ins;
- /proc/sys/kernel/osrelease: the spec's kernel release;
- /usr/share/initramfs-tools (initramfs-tools nodes): a minimal hook-functions with copy_file;
- the spec's `disk_full` directories: a full tmpfs (a write there fails with ENOSPC);
- /sys: the FUSE filesystem of `sysfs.py`.
"""

from __future__ import annotations

import ctypes
import errno
import faulthandler
import json
import os
import queue
import shutil
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from tests.support.emulated_node.spec import (
    NS_BIN,
    NS_DRACUT,
    NS_FIRMWARE,
    NS_HOOK_FUNCTIONS,
    NS_HOOKS,
    NS_RUN,
    NS_SOCKET,
    NS_STATE,
    NS_SYSTEMD,
    NS_TOOLS_SOCKET,
    NodePaths,
    NodeSpec,
    firmware_root,
)
from tests.support.emulated_node.sysfs import serve
from tests.support.emulated_node.tools import Emulator

# Real tools that must look absent inside (a stand-in takes their place only where configured).
HIDDEN_TOOLS = ("dracut", "update-initramfs")


def die_with_parent(sig: int) -> None:
    """PR_SET_PDEATHSIG: this process gets `sig` when its parent dies (no leaked nodes when
    pytest is killed)."""
    ctypes.CDLL(None, use_errno=True).prctl(1, sig)


def mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True)


def bind(source: Path, target: str) -> None:
    if source.is_dir():
        os.makedirs(target, exist_ok=True)
    mount("--bind", str(source), target)


def overlay(lower: str, paths: NodePaths, name: str) -> None:
    upper, work = paths.overlays / name / "upper", paths.overlays / name / "work"
    upper.mkdir(parents=True)
    work.mkdir(parents=True)
    mount(
        "-t",
        "overlay",
        f"agilio-emu-{name}",
        "-o",
        f"lowerdir={lower},upperdir={upper},workdir={work}",
        lower,
    )


def hide_real_tools(paths: NodePaths, missing: tuple[str, ...] = ()) -> None:
    """Unlink real dracut/update-initramfs, and the tools the node lacks, inside the namespace
    (an overlay's whiteout)."""
    hidden = (*HIDDEN_TOOLS, *missing)
    for directory in ("/usr/sbin", "/usr/bin", "/usr/local/bin"):
        present = [tool for tool in hidden if os.path.lexists(f"{directory}/{tool}")]
        if present:
            overlay(directory, paths, directory.strip("/").replace("/", "-"))
            for tool in present:
                os.unlink(f"{directory}/{tool}")


def hide_host_state() -> None:
    """A fresh node has no /var/lib/agilio-offload: the host's (a host that ran the scripts, or
    an earlier killed run) is removed from the /var overlay, which whites it out in the upper dir
    and leaves the host's own directory untouched."""
    if os.path.lexists(NS_STATE):
        shutil.rmtree(NS_STATE)


def setup_mounts(spec: NodeSpec, paths: NodePaths) -> None:
    mount("--make-rprivate", "/")
    mount("-t", "tmpfs", "-o", "mode=755", "agilio-emu-run", "/run")
    os.makedirs("/run/sshd", mode=0o755)
    bind(paths.run, NS_RUN)
    overlay("/etc", paths, "etc")
    overlay("/var", paths, "var")
    hide_host_state()
    overlay(firmware_root(), paths, "firmware")
    hide_real_tools(paths, spec.missing_tools)
    if spec.os_release is not None:
        write_os_release(spec.os_release)
    bind(paths.firmware, NS_FIRMWARE)
    bind(paths.systemd, NS_SYSTEMD)
    if spec.initramfs == "dracut":
        bind(paths.dracut, NS_DRACUT)
    if spec.initramfs == "initramfs-tools":
        bind(paths.hooks, NS_HOOKS)
    bind(paths.bin, NS_BIN)
    mount("--bind", str(paths.osrelease), "/proc/sys/kernel/osrelease")
    if spec.initramfs == "initramfs-tools":
        provide_hook_functions(paths)
    for directory in spec.disk_full:
        fill_up(directory, paths)


def write_os_release(text: str) -> None:
    """/etc/os-release (in the /etc overlay); often a link to ../usr/lib/os-release: replaced."""
    if os.path.lexists("/etc/os-release"):
        os.unlink("/etc/os-release")
    with open("/etc/os-release", "w") as file:
        file.write(text)


# initramfs-tools' copy_file (hook-functions), the part a firmware hook uses: 2 when the source
# is not a file, 1 when the target was already copied, a link copied as a relative link to its
# final target, then that target. Written for the emulation, not taken from initramfs-tools.
HOOK_FUNCTIONS = """\
# agilio-emu: minimal hook-functions (copy_file only)
copy_file() {
\ttype=$1
\tsrc=$2
\ttarget=${3:-$2}
\t[ -f "$src" ] || return 2
\t[ -d "$DESTDIR/$target" ] && target=$target/${src##*/}
\t[ -e "$DESTDIR/$target" ] && return 1
\tmkdir -p "$DESTDIR/${target%/*}"
\tif [ -h "$src" ]; then
\t\tlink_target=$(readlink -f "$src") || return $(($? + 10))
\t\tln -rs "$DESTDIR$link_target" "$DESTDIR$target"
\t\tsrc=$link_target
\t\ttarget=$link_target
\t\t[ -e "$DESTDIR/$target" ] && return 1
\t\tmkdir -p "$DESTDIR/${target%/*}"
\tfi
\tcp -pP "$src" "$DESTDIR/$target" || return $(($? + 10))
}
"""


def provide_hook_functions(paths: NodePaths) -> None:
    directory = os.path.dirname(NS_HOOK_FUNCTIONS)
    if not os.path.isdir(directory):
        overlay("/usr/share", paths, "usr-share")
    source = paths.root / "initramfs-tools"
    source.mkdir()
    (source / "hook-functions").write_text(HOOK_FUNCTIONS)
    bind(source, directory)


def fill_up(directory: str, paths: NodePaths) -> None:
    """A tmpfs over `directory` with its files copied in, then filled to the last block."""
    name = directory.strip("/").replace("/", "-")
    keep = paths.root / "full" / name
    if os.path.isdir(directory):
        shutil.copytree(directory, keep, symlinks=True)
    else:
        os.makedirs(directory)
        keep.mkdir(parents=True)
    mount("-t", "tmpfs", "-o", "size=64k,mode=755", f"agilio-emu-full-{name}", directory)
    shutil.copytree(keep, directory, symlinks=True, dirs_exist_ok=True)
    with open(os.path.join(directory, ".agilio-emu-filler"), "wb", buffering=0) as filler:
        try:
            while True:
                filler.write(b"\0" * 4096)
        except OSError as err:
            if err.errno != errno.ENOSPC:
                raise


class ControlHandler(socketserver.StreamRequestHandler):
    """One JSON request line in, one JSON answer line out."""

    server: ControlServer

    def handle(self) -> None:
        request = json.loads(self.rfile.readline())
        try:
            answer = self.server.answer(request)
        except Exception as err:  # noqa: BLE001 - reported to the caller, never swallowed
            answer = {"error": f"{type(err).__name__}: {err}", "trace": traceback.format_exc()}
        self.wfile.write(json.dumps(answer).encode() + b"\n")


class ToolHandler(socketserver.StreamRequestHandler):
    """A stand-in's call: NUL-terminated fields (tool, unit, argv...) up to EOF."""

    server: ToolServer

    def handle(self) -> None:
        tool, unit, *argv = self.rfile.read().decode().split("\0")[:-1]
        env = {"AGILIO_EMU_UNIT": unit} if unit else {}
        self.wfile.write(self.server.emulator.call(tool, argv, env).encode())


class ToolServer(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True

    def __init__(self, path: str, emulator: Emulator) -> None:
        self.emulator = emulator
        super().__init__(path, ToolHandler)


class ControlServer(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True

    def __init__(self, path: str, emulator: Emulator) -> None:
        self.emulator = emulator
        super().__init__(path, ControlHandler)

    def answer(self, request: dict[str, object]) -> dict[str, object]:
        emulator = self.emulator
        op = request["op"]
        if op == "state":
            return emulator.state()
        if op == "wait_idle":
            return {"idle": emulator.wait_idle(float(request["timeout"]))}  # type: ignore[arg-type]
        if op == "reboot":
            return {"units": emulator.reboot()}
        if op == "address_up":
            emulator.link_up()
            return {"up": True}
        if op == "sessions":
            return {"busy": emulator.busy_sessions(), "addressDown": emulator.address_down}
        if op == "ping":
            return {"pong": True}
        raise ValueError(f"unknown op {op!r}")


def write_ready(paths: NodePaths, ready: dict[str, object]) -> None:
    """Atomically: the harness reads the file as soon as it exists."""
    partial = paths.ready.with_suffix(".partial")
    partial.write_text(json.dumps(ready))
    os.replace(partial, paths.ready)


def sysfs_mounted() -> bool:
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields, _, rest = line.partition(" - ")
        if fields.split()[4] == "/sys" and rest.startswith("fuse"):
            return True
    return False


def wait_for(predicate: object, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not ready after {seconds} s")
        time.sleep(0.02)


def port_open(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


class Node:
    """The node's services around the FUSE main loop."""

    def __init__(self, paths: NodePaths) -> None:
        self.paths = paths
        self.spec = NodeSpec.from_json(paths.spec.read_text())
        self.sshd: subprocess.Popen[bytes] | None = None
        self.emulator: Emulator | None = None
        self.servers: list[socketserver.ThreadingUnixStreamServer] = []
        self.stopped = threading.Event()
        self.listener_work: queue.Queue[tuple[Callable[[], None], threading.Event]] = queue.Queue()

    def start_services(self) -> None:
        """After /sys is mounted: sshd, then the ready file the harness waits for. Stays until
        the node stops: sshd's parent-death signal fires when this thread ends."""
        try:
            wait_for(sysfs_mounted, 10, "FUSE /sys")
            self.start_sshd()
            assert self.emulator is not None and self.sshd is not None
            self.emulator.listener_down = lambda: self.ask_listener(self.stop_sshd)
            self.emulator.listener_up = lambda: self.ask_listener(self.start_sshd)
            ready = {"pid": os.getpid(), "sshd": self.sshd.pid}
        except Exception as err:  # noqa: BLE001 - handed to the harness, then the node stops
            ready = {"error": f"{type(err).__name__}: {err}"}
            os.kill(os.getpid(), signal.SIGTERM)
        write_ready(self.paths, ready)
        # sshd (re)starts here: its parent-death signal fires when the thread that forked it
        # ends (PR_SET_PDEATHSIG follows the thread), so only this thread may start it.
        while not self.stopped.is_set():
            try:
                work, done = self.listener_work.get(timeout=0.1)
            except queue.Empty:
                continue
            try:
                work()
            finally:
                done.set()

    def ask_listener(self, work: Callable[[], None]) -> None:
        done = threading.Event()
        self.listener_work.put((work, done))
        while not done.wait(0.1):
            if self.stopped.is_set():
                return

    def start_sshd(self) -> None:
        """The sshd listener (again, when the node's address is back)."""
        port = int((self.paths.ssh / "port").read_text())
        log = (self.paths.run / "sshd.log").open("ab")
        config = str(self.paths.ssh / "sshd_config")
        self.sshd = subprocess.Popen(
            ["/usr/sbin/sshd", "-D", "-e", "-f", config],
            stdout=log,
            stderr=log,
            preexec_fn=lambda: die_with_parent(signal.SIGTERM),
        )
        log.close()
        assert self.emulator is not None
        self.emulator.ssh_listener = self.sshd.pid
        wait_for(lambda: port_open(port), 10, f"sshd on 127.0.0.1:{port}")

    def stop_sshd(self) -> None:
        """The listener only: OpenSSH sshd.c `server_accept_loop` on SIGTERM closes its listen
        sockets and exits; the per-connection processes it forked stay."""
        if self.sshd is not None and self.sshd.poll() is None:
            self.sshd.terminate()
            self.sshd.wait(timeout=10)

    def run(self) -> None:
        setup_mounts(self.spec, self.paths)
        self.emulator = Emulator(self.spec, self.paths)
        self.servers = [
            ControlServer(NS_SOCKET, self.emulator),
            ToolServer(NS_TOOLS_SOCKET, self.emulator),
        ]
        for server in self.servers:
            threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        threading.Thread(target=self.start_services, daemon=True).start()
        try:
            serve(self.emulator.card, "/sys")
        finally:
            self.stop()

    def stop(self) -> None:
        self.stopped.set()
        if self.sshd is not None:
            self.sshd.terminate()
            self.sshd.wait(timeout=10)
        if self.emulator is not None:
            self.emulator.shutdown()
        for server in self.servers:
            server.shutdown()


def main(argv: list[str]) -> int:
    paths = NodePaths(Path(argv[1]))
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # a stack dump into node.log
    die_with_parent(signal.SIGKILL)  # SIGKILL: a wedged FUSE loop would ignore SIGTERM
    try:
        Node(paths).run()
    except Exception as err:
        if not paths.ready.exists():
            write_ready(paths, {"error": f"{type(err).__name__}: {err}"})
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
