"""The blast-radius targets of bench/blast_radius.py, as structural tests on the dev stack."""

from __future__ import annotations

import pytest

from bench.blast_radius import CHANGES, BlastRadius, blast_radius

KUBERNETES_ONLY = [
    "Kube-OVN chart version (v1.16.2 -> v1.16.1)",
    "NAD name (default -> offload)",
]


def radius(prefix: str) -> BlastRadius:
    (name,) = [name for name in CHANGES if name.startswith(prefix)]
    return blast_radius(name)


def test_one_nodes_vf_change_touches_that_nodes_vfs_step_only() -> None:
    result = radius("one node's VF count")
    assert result.hardware_steps == [("lab-worker-2", "vfs")]
    assert result.nodes_touched == ["lab-worker-2"]
    # Besides the vfs step, only read-only or kubectl steps of that node re-run: its preflight
    # (checks the new count before anything changes), the drain and uncordon that bracket the
    # change and the restart of its device plugin (so kubelet sees the new count), and both
    # registration checks of that node (read-only: wait for the new count).
    assert sorted(c.name for c in result.changes) == [
        "lab-worker-2-device-plugin-restart",
        "lab-worker-2-drain",
        "lab-worker-2-preflight",
        "lab-worker-2-uncordon",
        "lab-worker-2-vfs",
        "lab-worker-2-vfs-advertised",
        "vfs-advertised-lab-worker-2",
    ]
    assert {c.kind for c in result.changes} == {"change"}


@pytest.mark.parametrize("name", KUBERNETES_ONLY)
def test_a_kubernetes_only_change_touches_no_hardware_step(name: str) -> None:
    result = blast_radius(name)
    assert result.changes, "the change should change something in the cluster"
    assert result.hardware_steps == []
    assert result.nodes_touched == []
    # Kubernetes objects, the Multus restart that follows a Kube-OVN change (install.sh's), and
    # the read-only cluster preflight re-run for what it checks (the NAD's name and namespace).
    assert all(
        c.type.startswith("kubernetes:")
        or c.name in ("kube-ovn-multus-restart", "cluster-preflight-checks")
        for c in result.changes
    )


def test_adding_a_node_touches_no_existing_node() -> None:
    result = radius("add a node")
    assert result.nodes_touched == ["lab-worker-3"]
    assert {c.kind for c in result.changes if c.step} == {"add"}
    assert {step for _, step in result.hardware_steps} == {"firmware", "driver", "vfs"}


def test_removing_a_node_undoes_that_node_only() -> None:
    result = radius("remove a node")
    assert result.nodes_touched == ["lab-worker-2"]
    assert {c.kind for c in result.changes if c.step} == {"remove"}


def test_a_new_firmware_app_re_runs_firmware_driver_and_vfs_on_every_node() -> None:
    result = radius("firmware app")
    assert sorted(result.hardware_steps) == [
        (node, step)
        for node in ("lab-worker-1", "lab-worker-2")
        for step in ("driver", "firmware", "vfs")
    ]


def test_a_new_lane_count_changes_only_the_drains_bound() -> None:
    # maxUnavailable rewires which node waits for which, and is the bound each drain checks
    # against the nodes already cordoned (drain-within-bound.sh): the drains are updated, and a
    # drain's update drains nothing (it prints its lease again); no other step changes.
    result = radius("rollout.maxUnavailable")
    assert result.hardware_steps == []
    assert sorted(c.name for c in result.changes) == ["lab-worker-1-drain", "lab-worker-2-drain"]
    assert {c.kind for c in result.changes} == {"change"}
