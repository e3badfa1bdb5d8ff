"""What the plan tool prints for people: the rollout order on every run (first rollout, change,
destroy), steps named by what they do, changed inputs as values, no Python reprs."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from components.names import ON_NODE_STEPS
from tests.support.plan_runs import run_plan, write_stack
from tools import access_summary, plan_text
from tools.engine import Rollout, Wave
from tools.engine.mock_driver import run_program, stack_config, stack_file

DEV_NODES = ("lab-worker-1", "lab-worker-2")
PYTHON_REPRS = re.compile(r"\bNone\b|\bTrue\b|\bFalse\b|\[\s*'|\{'|\bdict\(|\bPosixPath\(")


def dev_value(key: str) -> Any:
    return yaml.safe_load(stack_file("dev").read_text())["config"][f"agilio-offload:{key}"]


@pytest.fixture(scope="module")
def first(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The dev stack's plan with no baseline (a first rollout) and what it printed."""
    out = tmp_path_factory.mktemp("plan") / "dev"
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert run_plan(out) == 0
    return out, buffer.getvalue()


def rollout_section(printed: str) -> str:
    assert "Rollout order" in printed, printed[-3000:]
    return printed[printed.index("Rollout order") :]


def test_a_first_rollout_prints_its_order_with_every_node(first: tuple[Path, str]) -> None:
    _, printed = first
    order = rollout_section(printed)
    for node in DEV_NODES:
        for label in (
            f"{node}: drain (cordon, evict its pods)",
            f"{node}: firmware link",
            f"{node}: nfp reload (if due)",
            f"{node}: VFs (after the reload)",
            f"{node}: restart the device plugin pod",
            f"{node}: wait for VF registration (up to 300 s; fails the update)",
            f"{node}: uncordon",
        ):
            assert label in order, label
    assert "no-op" not in order
    assert (first[0] / "engine.json").is_file()


def test_nodes_out_at_once_names_every_node_that_goes_out(first: tuple[Path, str]) -> None:
    _, printed = first
    line = next(x for x in printed.splitlines() if x.startswith("Nodes out at once"))
    assert line.startswith("Nodes out at once: 1 at most"), line
    for node in DEV_NODES:
        assert node in line, line


def test_the_first_rollout_prints_no_python_repr(first: tuple[Path, str]) -> None:
    _, printed = first
    assert not PYTHON_REPRS.search(printed), PYTHON_REPRS.search(printed)


def changed_plan(
    first: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str], changes: dict
) -> str:
    capsys.readouterr()
    out = tmp_path / "changed"
    stack = write_stack(tmp_path, changes)
    assert run_plan(out, "--stack-file", str(stack), "--baseline", str(first[0])) == 0
    return capsys.readouterr().out


def test_a_vf_change_shows_the_value_and_that_vfs_go_to_zero_first(
    first: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nodes = dev_value("nodes")
    nodes[1]["vfs"] = 12
    printed = changed_plan(first, tmp_path, capsys, {"nodes": nodes})
    assert "VFS 8 -> 12 on lab-worker-2: VFs are set to 0 first" in printed
    assert "triggers[" not in printed
    order = rollout_section(printed)
    assert "lab-worker-2: VF count set (0 first, then 12)" in order
    assert "after the reload" not in order, "nothing reloads on a VF count change"
    assert "lab-worker-2: uncordon: the replaced step is deleted (nothing runs)" in order
    assert not PYTHON_REPRS.search(printed), PYTHON_REPRS.search(printed)


def test_a_firmware_change_shows_app_values(
    first: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    printed = changed_plan(first, tmp_path, capsys, {"firmware": {"app": "flower-next"}})
    for node in DEV_NODES:
        assert f"APP flower -> flower-next on {node}" in printed
    assert "VFs (after the reload)" in rollout_section(printed)


def test_a_trust_change_shows_none_for_people() -> None:
    old = {"n1": {"host": None, "port": 22}}
    new = {"n1": {"host": "10.20.0.24", "port": 22}}
    printed = access_summary.render_trust_changes(access_summary.trust_changes(old, new))
    assert "host: (none) -> 10.20.0.24" in printed
    assert "None" not in printed


def test_unpinned_nodes_are_one_line_with_the_list_in_access_json(first: tuple[Path, str]) -> None:
    out, printed = first
    lines = [x for x in printed.splitlines() if "UNPINNED (ssh" in x]
    assert len(lines) == 1, lines
    assert "2 nodes UNPINNED" in lines[0] and "access.json" in lines[0]
    access = json.loads((out / access_summary.ACCESS_FILE).read_text())
    assert [n for n, a in access.items() if a["hostKey"] == "UNPINNED"] == list(DEV_NODES)


def test_a_thousand_unpinned_nodes_print_one_short_line() -> None:
    summary = {f"n{i}": {**_access(), "hostKey": "UNPINNED"} for i in range(1000)}
    printed = access_summary.render_summary(summary)
    (line,) = [x for x in printed.splitlines() if "UNPINNED (ssh" in x]
    assert len(line) < 300, line


def _access() -> dict[str, Any]:
    return {"host": "h", "port": 22, "user": "root", "sudo": False, "keySource": "agent"}


def test_the_program_warns_once_for_every_unpinned_node(caplog: pytest.LogCaptureFixture) -> None:
    config, secret_keys = stack_config("dev")
    with caplog.at_level(logging.WARNING):
        run = run_program(config, stack="dev", secret_keys=secret_keys, preview=True)
    assert run.error is None, run.error
    warnings = [r.getMessage() for r in caplog.records if "UNPINNED" in r.getMessage()]
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith("SSH to 2 node(s) is UNPINNED"), warnings[0]
    assert "lab-worker-1 (192.0.2.11:22) and 1 more" in warnings[0]


def test_destroy_prints_its_order(
    first: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert run_plan(tmp_path / "d", "--destroy", "--baseline", str(first[0])) == 0
    order = rollout_section(capsys.readouterr().out)
    assert order.startswith("Rollout order: the waves `pulumi destroy` runs")
    for node in DEV_NODES:
        for label in ("drain (cordon, evict its pods) before the undo", "undo vfs (VFs to 0)"):
            assert f"{node}: {label}" in order


APPLY = re.compile(
    r"^#   (kubectl apply --server-side --force-conflicts --field-manager=(\S+) -f \S+)$"
)


def test_each_node_patch_says_how_to_apply_it_with_its_own_field_manager(
    first: tuple[Path, str],
) -> None:
    managers: dict[str, list[str]] = {}
    for path in sorted((first[0] / "kubernetes").glob("*-patch.yaml")):
        text = path.read_text()
        node = yaml.safe_load(text)["metadata"]["name"]
        (match,) = [m for line in text.splitlines() if (m := APPLY.match(line))]
        assert match.group(1).endswith(f"-f {path.name}"), match.group(1)
        managers.setdefault(node, []).append(match.group(2))
        assert "(kubectl apply --server-side)" not in text
        # Issue 17: no patch of a Node is ever deleted (a relinquish re-creates a deleted Node).
        assert "On destroy: pulumi forgets the patch (retainOnDelete" in text, path.name
    assert managers["lab-worker-1"] == [
        "agilio-offload-lab-worker-1-agilio-label",
        "agilio-offload-tunnel-interface",
    ]
    assert all(len(set(m)) == len(m) for m in managers.values()), managers


def commands_from_files(out: Path, node: str) -> dict[str, str]:
    """`<NN>-<step>[.delete]` -> the command, put together from nodes/params/<node>.sh and the
    shared nodes/scripts/ files as the params file's header says."""
    text = (out / "nodes" / "params" / f"{node}.sh").read_text()
    runner = re.search(r"^# Runs as: (.*) -c ", text, re.MULTILINE)
    assert runner, text[:400]
    commands = {}
    for section in text.split("\n## ")[1:]:
        head, *params = section.rstrip("\n").split("\n")
        stem, script = re.match(r"(\S+): nodes/scripts/(\S+)", head).groups()
        shebang, _, *rest = (out / "nodes" / "scripts" / script).read_text().split("\n")
        inner = "\n".join([shebang, *params, *rest]).rstrip("\n")
        commands[stem] = (
            f"{runner.group(1)} -c \"$(cat <<'AGILIO_OFFLOAD_SCRIPT'\n{inner}\n"
            'AGILIO_OFFLOAD_SCRIPT\n)"'
        )
    return commands


def test_node_scripts_are_one_library_and_one_short_file_per_node(
    first: tuple[Path, str],
) -> None:
    out = first[0]
    resources = json.loads((out / "resources.json").read_text())
    assert sorted(p.name for p in (out / "nodes").iterdir()) == ["params", "scripts"]
    for node in DEV_NODES:
        rebuilt = commands_from_files(out, node)
        steps = [
            r
            for r in resources
            if r["type"] == "command:remote:Command" and r["name"].startswith(f"{node}-")
        ]
        expected = {}
        for number, resource in enumerate(steps, start=1):
            stem = f"{number:02d}-{resource['name'].removeprefix(node + '-')}"
            expected[stem] = resource["inputs"]["create"]
            if resource["inputs"].get("delete"):
                expected[f"{stem}.delete"] = resource["inputs"]["delete"]
        assert rebuilt == expected
        assert len((out / "nodes" / "params" / f"{node}.sh").read_text().splitlines()) < 120
    scripts = sorted(p.name for p in (out / "nodes" / "scripts").iterdir())
    assert scripts == [f"{i:02d}-{s}.sh" for i, s in enumerate(ON_NODE_STEPS, start=1)], scripts


def test_a_host_change_says_why_the_node_re_runs(
    first: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nodes = dev_value("nodes")
    nodes[0]["host"] = "10.20.0.24"
    printed = changed_plan(first, tmp_path, capsys, {"nodes": nodes})
    values = printed[printed.index("Changed values") : printed.index("SSH access: ")]
    # The ssh-return probe carries the host in its parameters, so the change shows as a value.
    assert "HOST 192.0.2.11 -> 10.20.0.24 on lab-worker-1" in values
    assert "re-runs for the node's values above" in values
    assert "host: 192.0.2.11 -> 10.20.0.24" in printed


def test_a_json_config_change_shows_the_value_inside(
    first: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    printed = changed_plan(first, tmp_path, capsys, {"sriov": {"resourceName": "agilio_vf"}})
    assert "data.config.json.resourceList[0].resourceName agilio_sriov -> agilio_vf" in printed
    assert "(none) -> (none)" not in printed
    assert (
        "metadata.annotations.k8s.v1.cni.cncf.io/resourceName corigine.com/agilio_sriov" in printed
    )


def test_nodes_out_at_once_stays_one_readable_line_at_scale() -> None:
    step = SimpleNamespace(calls_provider=True)
    waves = tuple(
        Wave(f"R{i}", (step,), (), tuple(f"w{10 * (i // 9) + k}" for k in range(10)))  # type: ignore[arg-type]
        for i in range(270)
    )
    rollout = Rollout(None, waves, (), 10, (), 10)  # type: ignore[arg-type]
    line = plan_text.out_at_once(rollout)
    assert line.startswith("Nodes out at once: 10 at most"), line
    assert "w0, w1" in line and "and 25 more groups (engine.json lists every wave)" in line, line
    assert len(line) < 700, len(line)


def test_a_first_rollout_names_no_step_as_an_update(first: tuple[Path, str]) -> None:
    # A first rollout creates every step: none of them is "an update", and the marker steps
    # that act only on destroy (uncordon-after-undo, drain-before-undo, ssh-return-after-undo)
    # say what they do then.
    _, printed = first
    assert "an update of a step" not in printed
    assert "ssh-return-after-undo: nothing runs now (it waits for the SSH port" in printed
