"""An SSH client that connects to a node the way pulumi-command v1.2.1 does.

What it follows (pulumi-command `provider/pkg/provider/remote/`, golang.org/x/crypto v0.48.0
`ssh/`, the pulumi SDK v3.224.0 `go/common/util/retry/until.go`):

- One NEW connection per command: `commandOutputs.go` `(*CommandOutputs).run` calls
  `c.Connection.Dial(ctx)` for every Create/Update/Delete, opens one session on it, defers only
  `session.Close()` and never closes the `*ssh.Client`. So the connection stays open until the
  provider exits (`close_all` here); x/crypto `client.go` `NewClient` keeps reading it meanwhile.
- The dial: `connection.go` `dialWithRetry` over `retry.Until`: `dialErrorLimit + 1` tries
  (`reachedDialingErrorLimit`: stop when `try + 1 > limit`; -1 unlimited), waits
  `min(0.1 s * 1.5**try, 5 s)` between them, the error `after <limit> failed attempts: <last>`.
  Each try is the whole `ssh.Dial`: TCP connect bounded by `perDialTimeout`
  (x/crypto `Dial`: `net.DialTimeout(network, addr, config.Timeout)`), then the handshake and
  authentication with NO deadline (`NewClientConn` sets none).
- TCP keepalive as Go's `net.Dialer` sets it (`dial.go` defaults: idle 15 s, interval 15 s,
  9 probes), so a vanished peer ends an idle connection after 150 s, as it ends the provider's.
- Host key: `(*connectionBase).SSHConfig`: with `hostKey`, `ssh.FixedHostKey` (the key's wire
  bytes must be equal) and `HostKeyAlgorithms = [publicKey.Type()]`; without, no check at all
  (`ssh.InsecureIgnoreHostKey`).
- Auth: x/crypto `client_auth.go` `clientAuthenticate` tries `none`, then the methods in
  `SSHConfig`'s order (private key, password + keyboard-interactive, agent), skipping a method
  name already tried: with a private key, agent keys are never offered.
- The command: `session.Run(cmd)` in an exec channel, no PTY (`RequestPty` is never called);
  stdout and stderr kept apart and combined; on failure the error is
  `<err>: running "<cmd>":\n<combined output>`; on success each output loses one trailing "\n".

Implemented with paramiko (pinned in requirements-dev.txt); paramiko's own handshake, banner and
auth deadlines are lifted to match x/crypto, which has none.
"""

from __future__ import annotations

import base64
import io
import json
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import paramiko
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

# connection.go `Annotate` defaults.
DEFAULT_DIAL_ERROR_LIMIT = 10
DEFAULT_PER_DIAL_TIMEOUT = 15
DIAL_ERROR_UNLIMITED = -1
# Go's net.Dialer keepalive defaults (dial.go defaultTCPKeepAlive{Idle,Interval,Count}).
KEEPALIVE_IDLE_SECONDS = 15
KEEPALIVE_INTERVAL_SECONDS = 15
KEEPALIVE_COUNT = 9
# "No deadline" for paramiko's handshake and banner timers (x/crypto sets none; paramiko's timer
# wants a finite number): about 115 days.
NO_DEADLINE_SECONDS = 1e7
# How often the command loop looks at the channel when nothing arrived.
POLL_SECONDS = 0.01


@dataclass(frozen=True)
class Connection:
    """The remote.Command `connection` input, as recorded in the plan."""

    host: str
    port: int = 22
    user: str = "root"
    private_key: str | None = None
    host_key: str | None = None
    dial_error_limit: int = DEFAULT_DIAL_ERROR_LIMIT
    per_dial_timeout: float = DEFAULT_PER_DIAL_TIMEOUT
    password: str | None = None
    private_key_password: str | None = None
    agent_socket_path: str | None = None


@dataclass(frozen=True)
class DialPolicy:
    """retry.Until's defaults (until.go DefaultDelay, DefaultBackoff, DefaultMaxDelay), which
    dialWithRetry does not override; tests may shorten them."""

    first_delay: float = 0.1
    backoff: float = 1.5
    max_delay: float = 5.0

    def waits(self, limit: int) -> list[float]:
        """The waits between the `limit + 1` tries (retry.Until: the delay is capped before the
        try, multiplied after the wait)."""
        waits, delay = [], self.first_delay
        for _ in range(limit):
            waits.append(min(delay, self.max_delay))
            delay *= self.backoff
        return waits


@dataclass(frozen=True)
class CommandResult:
    """What the step got: outputs (one trailing newline trimmed, as the provider stores them),
    the exit status (None: the connection never came up, or no exit status arrived) and, on
    failure, the provider's error text."""

    stdout: str
    stderr: str
    exit_code: int | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class DialError(RuntimeError):
    """dialWithRetry gave up: `after N failed attempts: <last error>`."""


@dataclass
class _Open:
    connection: Connection
    transport: paramiko.Transport
    command: str


@dataclass
class PulumiCommandSSH:
    """Runs commands as pulumi-command's remote.Command does; see the module docstring."""

    policy: DialPolicy = field(default_factory=DialPolicy)
    # Where dialWithRetry's `InfoStatusf("Dial %d/%s failed: retrying")` lines go.
    status: Callable[[str], None] | None = None
    sleep: Callable[[float], None] = time.sleep
    _open: list[_Open] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # --- the provider's run ---

    def run(
        self, connection: Connection, command: str, *, timeout: float | None = None
    ) -> CommandResult:
        """commandOutputs.go `(*CommandOutputs).run`: dial, one session, `session.Run(cmd)`.
        `timeout` is for tests only (the provider has none): past it the result is an error."""
        try:
            transport = self.dial(connection)
        except DialError as err:
            return CommandResult("", "", None, str(err))
        with self._lock:
            self._open.append(_Open(connection, transport, command))
        return run_session(transport, command, timeout)

    def dial(self, connection: Connection) -> paramiko.Transport:
        """connection.go `dialWithRetry("Dial", limit, ssh.Dial(...))`, retried as
        retry.Until does."""
        limit = connection.dial_error_limit
        waits = self.policy.waits(max(limit, 0))
        tries = 0
        while True:
            try:
                return ssh_dial(connection)
            except (OSError, paramiko.SSHException, EOFError) as err:
                last = describe(err)
            dials = tries + 1
            if limit > DIAL_ERROR_UNLIMITED and dials > limit:
                raise DialError(f"after {tries} failed attempts: {last}")
            shown = "inf" if limit == DIAL_ERROR_UNLIMITED else str(limit)
            if self.status is not None:
                self.status(f"Dial {dials}/{shown} failed: retrying")
            delay = waits[tries] if tries < len(waits) else self.policy.max_delay
            self.sleep(delay)
            tries += 1

    # --- what stays open ---

    def open_connections(self) -> int:
        """Connections still up (the provider never closes them; a peer may have)."""
        with self._lock:
            return sum(1 for item in self._open if item.transport.is_active())

    def open_commands(self) -> list[str]:
        with self._lock:
            return [item.command for item in self._open if item.transport.is_active()]

    def local_ports(self) -> list[int]:
        """The client-side TCP ports of the connections still up (what the node's sshd sees
        as the peer port of each)."""
        with self._lock:
            active = [item.transport for item in self._open if item.transport.is_active()]
        ports = []
        for transport in active:
            try:
                ports.append(int(transport.sock.getsockname()[1]))  # type: ignore[union-attr]
            except OSError:
                continue
        return ports

    def close_all(self) -> None:
        """The provider process exiting at the end of `pulumi up`."""
        with self._lock:
            items, self._open = self._open, []
        for item in items:
            item.transport.close()


# --- one try: x/crypto ssh.Dial ------------------------------------------------------------------


def tcp_connect(connection: Connection) -> socket.socket:
    """net.DialTimeout with Go's keepalive defaults (tcpsock.go newTCPConn)."""
    sock = socket.create_connection(
        (connection.host, connection.port), timeout=connection.per_dial_timeout or None
    )
    sock.settimeout(None)  # the timeout bounds the connect only
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, KEEPALIVE_IDLE_SECONDS)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, KEEPALIVE_INTERVAL_SECONDS)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, KEEPALIVE_COUNT)
    return sock


def ssh_dial(connection: Connection) -> paramiko.Transport:
    """x/crypto `Dial`: TCP connect, then `NewClientConn` (version exchange, key exchange, host
    key check, authentication); on a handshake error the connection is closed."""
    sock = tcp_connect(connection)
    transport = paramiko.Transport(sock)
    transport.banner_timeout = NO_DEADLINE_SECONDS
    transport.handshake_timeout = NO_DEADLINE_SECONDS
    transport.auth_timeout = None
    try:
        pinned = parse_authorized_key(connection.host_key) if connection.host_key else None
        if pinned is not None:
            transport.get_security_options().key_types = (pinned.get_name(),)
        transport.start_client()
        check_host_key(transport, pinned)
        authenticate(transport, connection)
    except BaseException:
        transport.close()
        raise
    return transport


def parse_authorized_key(line: str) -> paramiko.PKey:
    """ssh.ParseAuthorizedKey: `<type> <base64> [comment]`."""
    parts = line.split()
    if len(parts) < 2:
        raise paramiko.SSHException(f"ssh: no key found in host key {line!r}")
    try:
        blob = base64.b64decode(parts[1], validate=True)
    except ValueError as err:
        raise paramiko.SSHException(f"ssh: no key found in host key {line!r}") from err
    return paramiko.PKey.from_type_string(parts[0], blob)


def check_host_key(transport: paramiko.Transport, pinned: paramiko.PKey | None) -> None:
    """fixedHostKey.check: `bytes.Equal(key.Marshal(), f.key.Marshal())`; none when not pinned
    (InsecureIgnoreHostKey)."""
    if pinned is None:
        return
    if transport.get_remote_server_key().asbytes() != pinned.asbytes():
        raise paramiko.SSHException("ssh: handshake failed: ssh: host key mismatch")


def load_private_key(text: str, password: str | None) -> paramiko.PKey:
    """ssh.ParsePrivateKey(WithPassphrase): OpenSSH or PEM."""
    data = text.encode()
    secret = password.encode() if password else None
    try:
        loaded = serialization.load_ssh_private_key(data, password=secret)
    except ValueError:
        loaded = serialization.load_pem_private_key(data, password=secret)
    classes: list[tuple[type, type[paramiko.PKey]]] = [
        (rsa.RSAPrivateKey, paramiko.RSAKey),
        (ed25519.Ed25519PrivateKey, paramiko.Ed25519Key),
        (ec.EllipticCurvePrivateKey, paramiko.ECDSAKey),
    ]
    for kind, key_class in classes:
        if isinstance(loaded, kind):
            return key_class.from_private_key(io.StringIO(text), password=password)
    raise paramiko.SSHException(f"ssh: unsupported key type {type(loaded).__name__}")


def authenticate(transport: paramiko.Transport, connection: Connection) -> None:
    """clientAuthenticate: `none` first, then each method of SSHConfig once, in its order."""
    user = connection.user
    try:
        transport.auth_none(user)
        return
    except paramiko.BadAuthenticationType:
        pass
    if connection.private_key is not None:
        key = load_private_key(connection.private_key, connection.private_key_password)
        if try_auth(lambda: transport.auth_publickey(user, key)):
            return
    if connection.password is not None:
        password = connection.password
        if try_auth(lambda: transport.auth_password(user, password, fallback=False)):
            return

        def answer(_title: str, _instructions: str, prompts: list[object]) -> list[str]:
            return [password] * len(prompts)

        if try_auth(lambda: transport.auth_interactive(user, answer)):
            return
    if connection.private_key is None:
        for key in agent_keys(connection):
            if try_auth(lambda key=key: transport.auth_publickey(user, key)):
                return
    raise paramiko.AuthenticationException(
        "ssh: handshake failed: ssh: unable to authenticate, attempted methods [none"
        + (" publickey" if connection.private_key or agent_socket(connection) else "")
        + (" password keyboard-interactive" if connection.password else "")
        + "], no supported methods remain"
    )


def try_auth(attempt: Callable[[], object]) -> bool:
    try:
        attempt()
    except paramiko.AuthenticationException:
        return False
    return True


def agent_socket(connection: Connection) -> str | None:
    """agentSocketPath, else tryGetDefaultAgentSocket (`$SSH_AUTH_SOCK`)."""
    return connection.agent_socket_path or os.environ.get("SSH_AUTH_SOCK") or None


def agent_keys(connection: Connection) -> list[paramiko.AgentKey]:
    path = agent_socket(connection)
    if path is None:
        return []
    # dialAgent: net.Dial("unix", path); a failing agent dial fails SSHConfig.
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    sock.close()
    previous = os.environ.get("SSH_AUTH_SOCK")
    os.environ["SSH_AUTH_SOCK"] = path
    try:
        return list(paramiko.Agent().get_keys())
    finally:
        if previous is None:
            os.environ.pop("SSH_AUTH_SOCK", None)
        else:
            os.environ["SSH_AUTH_SOCK"] = previous


# --- the session: x/crypto Session.Run ---------------------------------------------------------


def run_session(
    transport: paramiko.Transport, command: str, timeout: float | None
) -> CommandResult:
    """NewSession, `Run(cmd)` (exec request, no PTY), read stdout and stderr to the end, then
    `session.Close()` (the channel only)."""
    try:
        channel = transport.open_session()
    except (paramiko.SSHException, EOFError, OSError) as err:
        return CommandResult("", "", None, f"{describe(err)}: running {go_quote(command)}:\n")
    stdout, stderr, combined = bytearray(), bytearray(), bytearray()
    deadline = None if timeout is None else time.monotonic() + timeout
    timed_out = False
    try:
        channel.exec_command(command)
        while True:
            got = drain(channel, stdout, stderr, combined)
            if finished(channel):
                break
            if deadline is not None and time.monotonic() > deadline:
                timed_out = True
                break
            if not got:
                time.sleep(POLL_SECONDS)
        drain(channel, stdout, stderr, combined)
    except (paramiko.SSHException, EOFError, OSError) as err:
        return finish(command, stdout, stderr, combined, None, describe(err))
    finally:
        channel.close()
    if timed_out:
        return finish(command, stdout, stderr, combined, None, f"no exit after {timeout} s")
    # Session.wait: a channel that ended without exit-status is ExitMissingError.
    code = channel.exit_status if channel.status_event.is_set() else -1
    if code == -1:
        missing = "wait: remote command exited without exit status or exit signal"
        return finish(command, stdout, stderr, combined, None, missing)
    problem = None if code == 0 else f"Process exited with status {code}"
    return finish(command, stdout, stderr, combined, code, problem)


def finished(channel: paramiko.Channel) -> bool:
    """Exit status (or the close) seen, and nothing left to read."""
    quiet = not channel.recv_ready() and not channel.recv_stderr_ready()
    return channel.exit_status_ready() and quiet and (channel.closed or channel.eof_received)


def drain(
    channel: paramiko.Channel, stdout: bytearray, stderr: bytearray, combined: bytearray
) -> bool:
    got = False
    while channel.recv_ready():
        data = channel.recv(65536)
        if not data:
            break
        stdout += data
        combined += data
        got = True
    while channel.recv_stderr_ready():
        data = channel.recv_stderr(65536)
        if not data:
            break
        stderr += data
        combined += data
        got = True
    return got


def finish(
    command: str,
    stdout: bytearray,
    stderr: bytearray,
    combined: bytearray,
    code: int | None,
    problem: str | None,
) -> CommandResult:
    out = stdout.decode(errors="replace").removesuffix("\n")
    err = stderr.decode(errors="replace").removesuffix("\n")
    if problem is None:
        return CommandResult(out, err, code)
    text = f"{problem}: running {go_quote(command)}:\n{combined.decode(errors='replace')}"
    return CommandResult(out, err, code, text)


def go_quote(text: str) -> str:
    """Go's %q (strconv.Quote) for the command text; JSON's escapes agree for ASCII."""
    return json.dumps(text, ensure_ascii=False)


def describe(err: BaseException) -> str:
    """The last dial error, roughly as Go words it."""
    if isinstance(err, ConnectionRefusedError):
        return "dial tcp: connect: connection refused"
    if isinstance(err, TimeoutError | socket.timeout):
        return "dial tcp: i/o timeout"
    return f"{type(err).__name__}: {err}"
