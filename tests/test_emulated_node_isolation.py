"""The emulated node does not see the host's /var/lib/agilio-offload (issue 17, item 5): a host
that ran the node scripts itself (or an earlier, killed test run) keeps state files there, and a
node that read them would start with a pending reload or a saved link that is not its own.

The host here is a private mount namespace whose /var is a tmpfs holding such a file, so the
real host is never touched."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HOST = """
set -euo pipefail
mount -t tmpfs host-var /var
mkdir -p /var/lib/agilio-offload
echo stale > /var/lib/agilio-offload/nfp-reload-pending
exec "$0" -c "$1"
"""
NODE = """
from tests.support.emulated_node.harness import EmulatedNode, check_prerequisites
from tests.support.emulated_node.spec import NodeSpec
check_prerequisites()
node = EmulatedNode(NodeSpec()).start()
try:
    seen = node.run("ls -A /var/lib/agilio-offload 2>/dev/null; true").stdout
    node.run("mkdir -p /var/lib/agilio-offload && echo mine > /var/lib/agilio-offload/own")
    kept = sorted(p.name for p in node.state_dir().iterdir())
finally:
    node.stop()
print("seen=" + ",".join(seen.split()))
print("kept=" + ",".join(kept))
"""


def test_the_node_does_not_see_the_hosts_state_directory() -> None:
    done = subprocess.run(
        [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "bash",
            "-c",
            HOST,
            sys.executable,
            NODE,
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = dict(line.split("=", 1) for line in done.stdout.split())
    assert lines["seen"] == ""
    assert lines["kept"] == "own"
