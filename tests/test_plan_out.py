"""`python -m tools.plan --out DIR` deletes only what it wrote there (issue 12)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tools import plan


def run_plan(out: Path) -> int:
    return plan.main(["--stack", "dev", "--out", str(out), "--quiet"])


def test_a_non_empty_directory_without_the_marker_is_refused_and_untouched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "kubernetes").mkdir()
    precious = tmp_path / "kubernetes" / "my-notes.yaml"
    precious.write_text("mine\n")
    (tmp_path / "nodes").mkdir()
    assert run_plan(tmp_path) == 2
    assert "is not empty and has no .agilio-offload-plan file" in capsys.readouterr().err
    assert precious.read_text() == "mine\n"
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["kubernetes", "my-notes.yaml", "nodes"]


def test_a_file_as_out_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "plan.txt"
    target.write_text("x")
    assert run_plan(target) == 2
    assert target.read_text() == "x"


def test_a_second_plan_deletes_only_what_the_first_wrote(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run_plan(out) == 0
    marker = json.loads((out / plan.MARKER).read_text())
    assert "resources.json" in marker["files"] and "access.json" in marker["files"]
    assert all(not Path(name).is_absolute() for name in marker["files"])
    mine = out / "nodes" / "params" / "my-review-notes.txt"
    mine.write_text("keep me\n")
    (out / "README.txt").write_text("also mine\n")
    assert run_plan(out) == 0
    assert mine.read_text() == "keep me\n"
    assert (out / "README.txt").read_text() == "also mine\n"
    assert (out / "resources.json").is_file()


def test_a_tampered_marker_cannot_delete_outside_the_directory(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run_plan(out) == 0
    outside = tmp_path / "outside.txt"
    outside.write_text("not the plan's\n")
    marker = json.loads((out / plan.MARKER).read_text())
    marker["files"] += ["../outside.txt", str(outside)]
    (out / plan.MARKER).write_text(json.dumps(marker))
    assert run_plan(out) == 0
    assert outside.read_text() == "not the plan's\n"
