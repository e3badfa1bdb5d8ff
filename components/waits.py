"""How long the program's steps wait for a node and for the cluster: one typed value.

`pulumi up` runs with the defaults. The rehearsal (`tools/rehearsal/driver.py`), whose emulated
nodes and simulated cluster answer within a second, runs the program with shorter bounds through
`waits_for_run`; the program reads them once (`current_waits`, in `__main__.py`) and hands them
down to the components that render the waits into their commands.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class Waits:
    # The PF back after an nfp reload: the reload unit's RuntimeMaxSec, the steps' wait for the
    # PF, and how long ssh-return waits for the SSH port to come back.
    pf_seconds: int = 300
    # ssh-return: how long the SSH port may take to go away once a detached reload was armed
    # (the unit starts rmmod 2 s later).
    ssh_gone_seconds: int = 30
    # The node advertising its VFs: a restarted plugin registers within seconds and kubelet
    # reports it in its next node status (every 10 s by default); 5 minutes leaves room for a
    # slow image pull.
    vfs_advertised_seconds: int = 300
    vfs_advertised_interval: float = 5.0

    def __post_init__(self) -> None:
        for name in ("pf_seconds", "ssh_gone_seconds", "vfs_advertised_seconds"):
            if getattr(self, name) < 1:
                raise ValueError(f"Waits.{name} must be at least 1, not {getattr(self, name)}")
        if self.vfs_advertised_interval <= 0:
            raise ValueError(
                f"Waits.vfs_advertised_interval must be more than 0, not "
                f"{self.vfs_advertised_interval}"
            )


DEFAULT_WAITS = Waits()
_current = DEFAULT_WAITS


def current_waits() -> Waits:
    """The bounds of this run of the program (the defaults, unless a tool set others)."""
    return _current


@contextmanager
def waits_for_run(waits: Waits) -> Iterator[None]:
    """Run the program (under the mock driver) with `waits`; the defaults again afterwards."""
    global _current
    before, _current = _current, waits
    try:
        yield
    finally:
        _current = before
