"""The strict stack-file reader (issue 12): YAML that cannot mean what it says is an error."""

from __future__ import annotations

import shutil
import textwrap
import time
from pathlib import Path

import pytest

from components.config import ConfigError, stack_file
from components.config.stack_file import StackFileError, read_stack_file
from tools import plan
from tools.engine.mock_driver import REPO_ROOT, STACK_TYPE, run_program, stack_config

DEV = (REPO_ROOT / "stacks" / "Pulumi.dev.yaml").read_text()


def problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "Pulumi.test.yaml"
    path.write_text(textwrap.dedent(text))
    with pytest.raises(StackFileError) as caught:
        read_stack_file(path)
    return [problem.replace(f"{tmp_path}/", "") for problem in caught.value.problems]


def test_the_repository_stack_files_read_strictly() -> None:
    for name in ("dev", "prod"):
        document = read_stack_file(REPO_ROOT / "stacks" / f"Pulumi.{name}.yaml")
        assert document["config"]["agilio-offload:nodes"]


def test_a_duplicate_key_is_an_error_with_both_lines(tmp_path: Path) -> None:
    (problem,) = problems(
        tmp_path,
        """\
        config:
          agilio-offload:vfs: 4
          agilio-offload:vfs: 8
        """,
    )
    assert problem == (
        "Pulumi.test.yaml:3: config.agilio-offload:vfs: duplicate key (first at line 2); YAML "
        "would silently keep only the last one: remove one of them"
    )


def test_a_nested_duplicate_key_is_an_error(tmp_path: Path) -> None:
    (problem,) = problems(
        tmp_path,
        """\
        config:
          agilio-offload:nodes:
            - name: a
              host: 192.0.2.1
              host: 192.0.2.2
        """,
    )
    assert "Pulumi.test.yaml:5: config.agilio-offload:nodes[0].host: duplicate key" in problem


def test_an_alias_bomb_is_refused_at_its_first_anchor_without_expanding_it(
    tmp_path: Path,
) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 7)]
    text = "config:\n" + "".join(f"  agilio-offload:{line}\n" for line in lines)
    started = time.perf_counter()
    (problem,) = problems(tmp_path, text)
    assert time.perf_counter() - started < 5  # 10^7 leaves if it were expanded
    assert problem.startswith("Pulumi.test.yaml:2: YAML anchors and aliases")


def test_an_alias_to_a_node_list_is_refused(tmp_path: Path) -> None:
    (problem,) = problems(
        tmp_path,
        """\
        config:
          agilio-offload:nodes: &nodes
            - {name: a, host: 192.0.2.1, pf: ens1np0}
          agilio-offload:extra: *nodes
        """,
    )
    assert problem.startswith("Pulumi.test.yaml:2: YAML anchors and aliases")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-01-01", "'2024-01-01' is a YAML timestamp (date/time), not a JSON value"),
        ("2024-01-01T10:00:00Z", "is a YAML timestamp"),
        ("!!binary aGVsbG8=", "is YAML binary data"),
        ("yes", "'yes' is read as a bool by YAML 1.1"),
        ("off", "'off' is read as a bool by YAML 1.1"),
        ("0o17", "'0o17' is read as a string by YAML 1.1 (the plan tool's reader) but as a number"),
        ("017", "'017' is read as a int by YAML 1.1"),
        ("0x1F", "is read as a int by YAML 1.1"),
        ("1_000", "is read as a int by YAML 1.1"),
        ("12:30", "is read as a int by YAML 1.1"),
        (".inf", "is read as a float by YAML 1.1"),
        ("1e3", "'1e3' is read as a string by YAML 1.1 (the plan tool's reader) but as a number"),
        ("!custom x", "has the tag '!custom'"),
    ],
)
def test_scalars_that_are_not_json_are_errors_naming_the_path(
    tmp_path: Path, value: str, expected: str
) -> None:
    (problem,) = problems(
        tmp_path,
        f"""\
        config:
          agilio-offload:nodes:
            - name: {value}
        """,
    )
    assert problem.startswith("Pulumi.test.yaml:3: config.agilio-offload:nodes[0].name: ")
    assert expected in problem
    assert problem.endswith("quote it if a string is meant")


def test_quoted_and_plain_json_scalars_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.ok.yaml"
    path.write_text(
        "config:\n"
        "  agilio-offload:a: '2024-01-01'\n"
        "  agilio-offload:b: 8\n"
        "  agilio-offload:c: -1.5e+3\n"
        "  agilio-offload:d: true\n"
        "  agilio-offload:e: null\n"
        '  agilio-offload:f: "yes"\n'
        "  sshPrivateKey:\n"
        "    secure: AAABAHg\n"
    )
    config = read_stack_file(path)["config"]
    assert config == {
        "agilio-offload:a": "2024-01-01",
        "agilio-offload:b": 8,
        "agilio-offload:c": -1500.0,
        "agilio-offload:d": True,
        "agilio-offload:e": None,
        "agilio-offload:f": "yes",
        "sshPrivateKey": {"secure": "AAABAHg"},
    }


def test_a_merge_key_and_a_non_string_key_are_errors(tmp_path: Path) -> None:
    (merge,) = problems(tmp_path, "config:\n  agilio-offload:ssh:\n    <<: {user: root}\n")
    assert "a YAML merge key ('<<') is not allowed" in merge
    (number,) = problems(tmp_path, "config:\n  1: x\n")
    assert "a key must be a string (JSON)" in number


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("agilio-ofload:vfs", "a misspelling of 'agilio-offload'? (1 character apart)"),
        ("Agilio-Offload:vfs", "a misspelling of 'agilio-offload'? (2 characters apart)"),
        ("agilio_offload:vfs", "a misspelling of 'agilio-offload'? (1 character apart)"),
        ("kubernetes:context", "this program reads only agilio-offload:* (and pulumi:*)"),
    ],
)
def test_a_namespace_close_to_ours_or_unknown_is_an_error(
    tmp_path: Path, key: str, expected: str
) -> None:
    (problem,) = problems(tmp_path, f"config:\n  agilio-offload:vfs: 4\n  {key}: 8\n")
    assert problem.startswith(f"Pulumi.test.yaml:3: {key}: unknown namespace")
    assert expected in problem


def test_unknown_top_level_keys_and_syntax_errors_have_their_line(tmp_path: Path) -> None:
    (unknown,) = problems(tmp_path, "confg:\n  agilio-offload:vfs: 4\n")
    assert "Pulumi.test.yaml: confg: not a stack file key (allowed: config," in unknown
    (syntax,) = problems(tmp_path, "config:\n  agilio-offload:vfs: [4\n")
    assert syntax.startswith("Pulumi.test.yaml:3: ")


def test_the_plan_refuses_a_bad_stack_file_with_exit_2_and_no_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "Pulumi.dev.yaml"
    bad.write_text(DEV + "  agilio-offload:vfs: 9\n")
    out = tmp_path / "out"
    assert plan.main(["--stack-file", str(bad), "--out", str(out)]) == 2
    assert "config.agilio-offload:vfs: duplicate key (first at line" in capsys.readouterr().err
    assert not out.exists()


# --- the program itself: what `pulumi up` runs after the CLI parsed the file leniently ----------


def project_with_stack(tmp_path: Path, text: str) -> Path:
    shutil.copy(REPO_ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    (tmp_path / "stacks").mkdir()
    (tmp_path / "stacks" / "Pulumi.lab.yaml").write_text(text)
    return tmp_path


def test_the_program_rereads_its_own_stack_file_and_registers_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config, secret_keys = stack_config("dev")  # what a lenient CLI would have passed
    project = project_with_stack(tmp_path, DEV + "  agilio-offload:vfs: 9\n")
    monkeypatch.setattr(stack_file, "PROJECT_DIR", project)
    run = run_program(config, stack="lab", secret_keys=secret_keys)
    assert isinstance(run.error, ConfigError), run.error
    assert "Pulumi.lab.yaml:" in str(run.error) and "duplicate key" in str(run.error)
    assert [r.type for r in run.resources] in ([], [STACK_TYPE])


def test_the_program_refuses_a_namespace_typo_the_cli_passes_on() -> None:
    config, secret_keys = stack_config("dev")
    config["agilio-ofload:vfs"] = "9"
    run = run_program(config, stack="dev", secret_keys=secret_keys)
    assert isinstance(run.error, ConfigError), run.error
    assert "agilio-ofload:vfs: unknown namespace 'agilio-ofload'" in str(run.error)
    assert [r.type for r in run.resources] in ([], [STACK_TYPE])
