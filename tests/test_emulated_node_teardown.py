"""Stopping an emulated node kills only its own processes (a CI run failed on this).

A node is known by its mount namespace. The kernel numbers namespaces from a pool that hands a
freed number to the next namespace made (`proc_alloc_inum`, an IDA: lowest free id first). A node
whose processes have all ended has freed its namespace; if the harness then knew it by number
alone, a namespace made meanwhile by another test's node could carry the same number, and the
first node's teardown would kill that other node's sshd mid-step ("Connection to 127.0.0.1
closed by remote host"). The harness must hold the namespace itself until it is done with it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time

from tests.support.emulated_node.harness import namespace_pids
from tests.support.emulated_node.plugin import StartNode


def _kill_all(namespace: str) -> None:
    deadline = time.monotonic() + 20
    while namespace_pids(namespace):
        assert time.monotonic() < deadline, f"the node's processes do not end: {namespace}"
        for pid in namespace_pids(namespace):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)


def test_stopping_a_node_whose_processes_ended_spares_newer_namespaces(
    start_node: StartNode,
) -> None:
    node = start_node()
    assert node.namespace is not None
    _kill_all(node.namespace)  # the node is gone on its own, as a crashed node would be
    strangers = [
        subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sleep", "60"])
        for _ in range(8)
    ]
    try:
        time.sleep(0.3)  # each stranger has its namespace once unshare has exec'd sleep
        node.stop()
        killed = [s.args for s in strangers if s.poll() is not None]
        assert not killed, "the node's teardown killed processes of other namespaces"
    finally:
        for stranger in strangers:
            stranger.kill()
            stranger.wait()
