"""`python -m tools.plan` end to end on the dev stack: tree, files, errors and baseline diffs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.names import ON_NODE_STEPS, REMOTE_COMMAND
from tests.support.plan_runs import run_plan, write_stack
from tools import plan
from tools.engine.mock_driver import REPO_ROOT, STACK_TYPE, run_program, stack_config, stack_file

DEV_NODES = ("lab-worker-1", "lab-worker-2")


def dev_value(key: str) -> Any:
    return yaml.safe_load(stack_file("dev").read_text())["config"][f"agilio-offload:{key}"]


@pytest.fixture(scope="module")
def dev_plan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("plan") / "dev"
    assert run_plan(out) == 0
    return out


def test_plan_writes_every_file(dev_plan: Path) -> None:
    resources = json.loads((dev_plan / "resources.json").read_text())
    outputs = json.loads((dev_plan / "outputs.json").read_text())
    assert {"urn", "type", "name", "parent", "dependsOn", "inputs"} <= set(resources[0])
    assert outputs["sriovResource"] == "corigine.com/agilio_sriov"
    manifests = sorted((dev_plan / "kubernetes").glob("*.yaml"))
    assert manifests, "no Kubernetes manifest written"
    for manifest in manifests:
        document = yaml.safe_load(manifest.read_text())
        assert document["apiVersion"] and document["kind"], manifest.name
    scripts = sorted(p.name for p in (dev_plan / "nodes" / "scripts").glob("*.sh"))
    assert scripts == [f"{i:02d}-{step}.sh" for i, step in enumerate(ON_NODE_STEPS, start=1)]
    for node in DEV_NODES:
        text = (dev_plan / "nodes" / "params" / f"{node}.sh").read_text()
        for number, step in enumerate(ON_NODE_STEPS, start=1):
            assert f"## {number:02d}-{step}: nodes/scripts/{number:02d}-{step}.sh" in text
        assert f"NODE={node}\n" in text


def test_every_resource_has_a_parent_chain_to_the_stack(dev_plan: Path) -> None:
    resources = json.loads((dev_plan / "resources.json").read_text())
    by_urn = {r["urn"]: r for r in resources}
    (stack,) = [r for r in resources if r["type"] == STACK_TYPE]
    for resource in resources:
        seen, current = set(), resource
        while current["parent"] is not None:
            assert current["parent"] in by_urn, f"{resource['name']}: parent not registered"
            assert current["urn"] not in seen, "parent cycle"
            seen.add(current["urn"])
            current = by_urn[current["parent"]]
        assert current["urn"] == stack["urn"], resource["name"]


def test_tree_marks_hardware_steps(dev_plan: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_plan(dev_plan) == 0
    printed = capsys.readouterr().out
    for node in DEV_NODES:
        for step in ("firmware", "driver", "vfs"):
            assert f"{node}-{step}" in printed
            assert f"[hardware step {node}/{step}]" in printed
        assert f"[on node {node}, read-only]" in printed
    assert "6 of them hardware steps" in printed


def test_plan_is_deterministic(dev_plan: Path, tmp_path: Path) -> None:
    assert run_plan(tmp_path / "again") == 0
    assert (tmp_path / "again" / "resources.json").read_text() == (
        dev_plan / "resources.json"
    ).read_text()


def test_invalid_config_exits_2_with_the_error_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nodes = dev_value("nodes")
    nodes[0]["pf"] = "eth0;reboot"
    out = tmp_path / "out"
    code = run_plan(out, "--stack-file", str(write_stack(tmp_path, {"nodes": nodes})))
    assert code == 2
    error = capsys.readouterr().err
    assert "agilio-offload:nodes[0].pf: 'eth0;reboot' is not a network interface name" in error
    assert not out.exists()


def test_stale_files_of_an_earlier_plan_are_removed(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run_plan(out) == 0
    one_node = write_stack(tmp_path, {"nodes": dev_value("nodes")[:1]})
    assert run_plan(out, "--stack-file", str(one_node)) == 0
    assert (out / "nodes" / "params" / "lab-worker-1.sh").is_file()
    assert not (out / "nodes" / "params" / "lab-worker-2.sh").exists()


def diff_against_dev(dev_plan: Path, tmp_path: Path, changes: dict[str, Any]) -> list[dict]:
    out = tmp_path / "changed"
    assert (
        run_plan(
            out, "--stack-file", str(write_stack(tmp_path, changes)), "--baseline", str(dev_plan)
        )
        == 0
    )
    return json.loads((out / "diff.json").read_text())


def test_baseline_diff_of_one_nodes_vf_count(dev_plan: Path, tmp_path: Path) -> None:
    nodes = dev_value("nodes")
    nodes[1]["vfs"] = 6
    changes = diff_against_dev(dev_plan, tmp_path, {"nodes": nodes})
    by_name = {c["name"]: c for c in changes}
    assert set(by_name) == {
        "lab-worker-2-preflight",
        "lab-worker-2-drain",
        "lab-worker-2-drained",  # the lease names the new vfs command's digest
        "lab-worker-2-vfs",
        "lab-worker-2-device-plugin-restart",
        "lab-worker-2-uncordon",
        "lab-worker-2-vfs-advertised",  # both registration checks wait for the new count
        "vfs-advertised-lab-worker-2",
    }
    assert all(c["kind"] == "change" for c in changes)
    assert by_name["lab-worker-2-vfs"]["hardwareStep"] == "vfs"
    assert "create" in by_name["lab-worker-2-vfs"]["fields"]
    # The VF count, and the digest of the hardware steps' commands that it changes.
    assert by_name["lab-worker-2-drain"]["fields"] == ["triggers[3]", "triggers[4]"]
    assert [c["hardwareStep"] for c in changes if c["hardwareStep"]] == ["vfs"]


def test_a_targeted_hardware_step_is_flagged_as_refused_on_the_node(
    dev_plan: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nodes = dev_value("nodes")
    nodes[1]["vfs"] = 6
    stack = str(write_stack(tmp_path, {"nodes": nodes}))
    baseline = ["--stack-file", stack, "--baseline", str(dev_plan)]
    assert run_plan(tmp_path / "t", *baseline, "--target", "lab-worker-2-vfs") == 0
    printed = capsys.readouterr()
    assert "0 create, 1 update, 0 replace" in printed.out
    assert "plan: REFUSED ON THE NODE: lab-worker-2-vfs runs but lab-worker-2-drain does not" in (
        printed.err
    )
    assert run_plan(tmp_path / "u", *baseline) == 0
    assert "REFUSED ON THE NODE" not in capsys.readouterr().err
    assert run_plan(tmp_path / "v", *baseline, "--target", "no-such-step") == 2
    assert "--target 'no-such-step': no resource" in capsys.readouterr().err


def test_baseline_diff_of_the_firmware_app(dev_plan: Path, tmp_path: Path) -> None:
    changes = diff_against_dev(dev_plan, tmp_path, {"firmware": {"app": "flower-next"}})
    hardware = {(c["node"], c["hardwareStep"]) for c in changes if c["hardwareStep"]}
    assert hardware == {(n, s) for n in DEV_NODES for s in ("firmware", "driver", "vfs")}
    assert not [c for c in changes if c["node"] is None], "a firmware change touched the cluster"


def test_baseline_diff_lists_added_and_removed(dev_plan: Path, tmp_path: Path) -> None:
    # A node leaves the config once decommissioned (the change guard): that plan is the baseline.
    first, second = dev_value("nodes")[:2]
    decommissioned = tmp_path / "decommissioned"
    stack = write_stack(tmp_path, {"nodes": [first, {**second, "decommission": True}]})
    assert run_plan(decommissioned, "--stack-file", str(stack), "--baseline", str(dev_plan)) == 0
    nodes = [first, {"name": "lab-worker-3", "host": "192.0.2.13", "pf": "ens1np0"}]
    changes = diff_against_dev(decommissioned, tmp_path, {"nodes": nodes})
    kinds = {(c["kind"], c["node"]) for c in changes if c["node"]}
    assert ("add", "lab-worker-3") in kinds
    assert ("remove", "lab-worker-2") in kinds
    assert not [c for c in changes if c["node"] == "lab-worker-1"]


def test_secrets_never_reach_the_plan_files(tmp_path: Path) -> None:
    key = "-----BEGIN OPENSSH PRIVATE KEY-----\nnot-a-real-key-but-secret\n"
    config, secret_keys = stack_config("dev")
    config["agilio-offload:sshPrivateKey"] = key
    run = run_program(
        config, stack="dev", secret_keys=[*secret_keys, "agilio-offload:sshPrivateKey"]
    )
    assert run.error is None
    commands = [r for r in run.resources if r.type == REMOTE_COMMAND]
    assert commands and all(r.revealed_inputs["connection"]["privateKey"] == key for r in commands)
    plan.write_plan(tmp_path, [r.as_json() for r in run.resources], run.outputs)
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert "not-a-real-key-but-secret" not in path.read_text(), path


def test_the_prod_stack_plans(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert plan.main(["--stack", "prod", "--out", str(tmp_path)]) == 0
    resources = json.loads((tmp_path / "resources.json").read_text())
    by_name = {r["name"]: r for r in resources}
    # 6 nodes in 2 lanes: agilio-03 starts once agilio-01 is done, agilio-04 after agilio-02.
    lane_waits = {
        name: sorted(
            urn.rsplit("::", 1)[-1] for urn in by_name[f"{name}-uncordon-after-undo"]["dependsOn"]
        )
        for name in ("agilio-01", "agilio-02", "agilio-03", "agilio-04")
    }
    assert lane_waits == {
        "agilio-01": ["preflight-gate"],
        "agilio-02": ["preflight-gate"],
        "agilio-03": ["agilio-01-uncordon", "preflight-gate"],
        "agilio-04": ["agilio-02-uncordon", "preflight-gate"],
    }
    (release,) = [r for r in resources if r["type"] == "kubernetes:helm.sh/v3:Release"]
    # No cluster-wide IFACE: the control-plane nodes keep their node-IP NIC.
    assert release["inputs"]["values"]["agent"]["interface"] == ""
    tunnels = {
        r["inputs"]["metadata"]["name"]: r["inputs"]["metadata"]["annotations"]
        for r in resources
        if r["name"].endswith("-kube-ovn-tunnel-interface")
    }
    assert tunnels["agilio-05"]["ovn.kubernetes.io/tunnel_interface"] == "ens3np0"
    assert tunnels["agilio-01"]["ovn.kubernetes.io/tunnel_interface"] == "ens1np0"
    outputs = json.loads((tmp_path / "outputs.json").read_text())
    assert outputs["networkAttachment"] == "kube-system/offload"
    params = sorted((tmp_path / "nodes" / "params").glob("*.sh"))
    assert len(params) == 6 and all("## 06-vfs: " in p.read_text() for p in params)
    assert "6 nodes" in capsys.readouterr().out


def test_plan_files_are_byte_identical_from_another_process(dev_plan: Path, tmp_path: Path) -> None:
    # Protobuf maps iterate in a per-process order: a second process must still write the
    # same bytes, so that `diff -r` of two plans shows only real changes.
    out = tmp_path / "other-process"
    subprocess.run(
        [sys.executable, "-m", "tools.plan", "--out", str(out)],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
    )
    files = sorted(p.relative_to(dev_plan) for p in dev_plan.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    for name in files:
        assert (out / name).read_bytes() == (dev_plan / name).read_bytes(), name
