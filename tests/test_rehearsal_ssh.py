"""The pulumi-command-like SSH client (tools/rehearsal/ssh.py) against an emulated node's sshd
and against plain sockets: one connection per command held open, dialWithRetry's tries and
waits, the host-key check, the provider's error text, no handshake deadline."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tools.rehearsal.ssh import CommandResult, Connection, DialPolicy, PulumiCommandSSH

if TYPE_CHECKING:
    from tests.support.emulated_node.harness import EmulatedNode


@pytest.fixture
def client() -> Iterator[PulumiCommandSSH]:
    ssh = PulumiCommandSSH()
    yield ssh
    ssh.close_all()


def recording_client(statuses: list[str], waits: list[float]) -> PulumiCommandSSH:
    return PulumiCommandSSH(status=statuses.append, sleep=waits.append)


def test_waits_are_retry_until_defaults() -> None:
    waits = DialPolicy().waits(10)  # limit 10: 11 tries, 10 waits
    assert len(waits) == 10 and round(sum(waits), 2) == 11.33
    assert DialPolicy().waits(30)[-1] == 5.0 and round(sum(DialPolicy().waits(30)), 2) == 111.33


def test_each_command_leaves_its_connection_open(
    node: EmulatedNode, client: PulumiCommandSSH
) -> None:
    first = client.run(node.connection(), "echo out; echo err >&2")
    second = client.run(node.connection(), "exit 0")

    assert first == CommandResult("out", "err", 0)
    assert second.ok and client.open_connections() == 2
    client.close_all()
    assert client.open_connections() == 0


def test_no_pty_and_the_login_shell_runs_the_command(
    node: EmulatedNode, client: PulumiCommandSSH
) -> None:
    result = client.run(node.connection(), 'tty || echo no-pty; echo "$SSH_CONNECTION"')

    assert result.exit_code == 0
    assert "no-pty" in result.stdout  # `tty` fails: no PTY was asked for
    assert result.stdout.splitlines()[-1].split()[0] == "127.0.0.1"


def test_a_failing_command_has_the_providers_error_text(
    node: EmulatedNode, client: PulumiCommandSSH
) -> None:
    result = client.run(node.connection(), "echo a; echo b >&2; exit 3")

    assert result.exit_code == 3 and not result.ok
    assert result.error == (
        'Process exited with status 3: running "echo a; echo b >&2; exit 3":\na\nb\n'
    )


def test_a_wrong_pinned_host_key_is_retried_limit_plus_one_times(node: EmulatedNode) -> None:
    statuses: list[str] = []
    waits: list[float] = []
    client = recording_client(statuses, waits)
    other = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBk7XWvlhhJ0G3mXxJG5g8ZmTdw6Lc4a8u7rKZzsXiU4"

    result = client.run(node.connection(host_key=other, dial_error_limit=2), "true")

    assert statuses == ["Dial 1/2 failed: retrying", "Dial 2/2 failed: retrying"]
    assert waits == pytest.approx([0.1, 0.15])
    assert result.error is not None
    assert result.error.startswith("after 2 failed attempts: ") and "host key mismatch" in (
        result.error
    )
    assert client.open_connections() == 0


def test_an_unpinned_host_key_is_not_checked(node: EmulatedNode, client: PulumiCommandSSH) -> None:
    assert client.run(node.connection(host_key=None), "true").ok


def test_a_wrong_private_key_fails_authentication(node: EmulatedNode) -> None:
    client = recording_client([], [])
    wrong = node.connection().private_key
    assert wrong is not None
    (node.paths.ssh / "authorized_keys").write_text("")  # the node no longer knows the key

    result = client.run(node.connection(dial_error_limit=0), "true")

    assert result.error is not None
    assert result.error.startswith("after 0 failed attempts: ")  # 0 means one try
    assert "unable to authenticate" in result.error


def test_a_refused_port_gives_up_after_limit_plus_one_tries() -> None:
    statuses: list[str] = []
    waits: list[float] = []
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, not listening: refused
        result = recording_client(statuses, waits).run(
            Connection("127.0.0.1", port, dial_error_limit=3), "true"
        )

    assert len(statuses) == 3 and waits == pytest.approx([0.1, 0.15, 0.225])
    assert result.error == "after 3 failed attempts: dial tcp: connect: connection refused"


def test_the_handshake_has_no_deadline() -> None:
    """x/crypto NewClientConn sets no deadline: a peer that accepts TCP and never speaks holds
    the dial past the per-dial timeout, until it goes away."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    outcome: list[CommandResult] = []
    connection = Connection("127.0.0.1", port, dial_error_limit=0, per_dial_timeout=0.2)
    thread = threading.Thread(
        target=lambda: outcome.append(PulumiCommandSSH().run(connection, "true"))
    )
    thread.start()
    peer, _ = listener.accept()
    thread.join(1.0)  # five per-dial timeouts
    still_dialling = thread.is_alive()
    peer.close()
    listener.close()
    thread.join(10)

    assert still_dialling
    assert outcome and outcome[0].error is not None
    assert outcome[0].error.startswith("after 0 failed attempts: ")
