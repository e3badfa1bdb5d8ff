"""No traceback for any stack file (issue 19, item 3): whatever shape a stack file has, the plan
either succeeds or stops with a ConfigError naming the config path, and then nothing was
registered (a property over generated YAML shapes, run under the mock driver)."""

from __future__ import annotations

import copy
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components.config import ConfigError
from tools.engine.mock_driver import STACK_TYPE, run_program, stack_config, stack_file

DEV = yaml.safe_load(stack_file("dev").read_text())
NS = "agilio-offload"

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(["", "0", "yes", "~", "10.0.0.1", "ens1np0", "w1", "\x85", "\u2028"]),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.text(max_size=8), inner, max_size=3),
    ),
    max_leaves=8,
)
# Where a generated value goes: (config key, path below it).
PLACES = [
    ("nodes", ()),
    ("nodes", (0,)),
    ("nodes", (0, "name")),
    ("nodes", (0, "host")),
    ("nodes", (0, "hostKey")),
    ("nodes", (0, "port")),
    ("vfs", ()),
    ("ssh", ()),
    ("ssh", ("user",)),
    ("ssh", ("privateKeyPath",)),
    ("kubeOvn", ()),
    ("kubeOvn", ("masterNodes",)),
    ("kubeOvn", ("masterNodes", 0, "name")),
    ("kubeOvn", ("values",)),
    ("kubeOvn", ("values", "networking")),
    ("kubeOvn", ("allowedRegistries",)),
    ("kubernetes", ()),
    ("kubernetes", ("context",)),
    ("rollout", ("maxUnavailable",)),
    ("sriov", ()),
    ("firmware", ("assy",)),
    ("nad", ("name",)),
]


def deep(levels: int, leaf: Any = 1) -> Any:
    value = leaf
    for i in range(levels):
        value = [value] if i % 2 else {"a": value}
    return value


def _place(document: dict[str, Any], key: str, path: tuple[Any, ...], value: Any) -> None:
    config = document["config"]
    full = f"{NS}:{key}"
    if not path:
        config[full] = value
        return
    target = config.get(full)
    for step in path[:-1]:
        if isinstance(target, dict) and isinstance(step, str):
            target = target.setdefault(step, {})
        elif isinstance(target, list) and isinstance(step, int) and step < len(target):
            target = target[step]
        else:
            return
    last = path[-1]
    if (isinstance(target, dict) and isinstance(last, str)) or (
        isinstance(target, list) and isinstance(last, int) and last < len(target)
    ):
        target[last] = value


def outcome(path: Path) -> tuple[str, BaseException | None, list[str]]:
    """('ok' | 'refused', error, registered types) of planning the stack file at `path`."""
    try:
        config, secret_keys = stack_config("shape", stack_path=path)
    except ConfigError as error:
        return "refused", error, []
    run = run_program(config, stack="shape", secret_keys=secret_keys)
    types = [r.type for r in run.resources]
    if run.error is None:
        return "ok", None, types
    return "refused", run.error, types


def assert_clean(path: Path) -> str:
    kind, error, types = outcome(path)
    if kind == "refused":
        assert isinstance(error, ConfigError), f"{type(error).__name__}: {error}"
        assert set(types) <= {STACK_TYPE}, f"registered before validation ended: {types}"
        assert "Traceback" not in str(error)
    return kind


COUNTS: dict[str, int] = {"ok": 0, "refused": 0}


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(place=st.sampled_from(PLACES), value=VALUES)
def test_any_value_anywhere_plans_or_is_refused_cleanly(
    tmp_path: Path, place: tuple[str, tuple[Any, ...]], value: Any
) -> None:
    document = copy.deepcopy(DEV)
    _place(document, place[0], place[1], value)
    path = tmp_path / "Pulumi.shape.yaml"
    path.write_text(yaml.safe_dump(document))
    COUNTS[assert_clean(path)] += 1


@pytest.mark.parametrize(
    "text",
    [
        "config: []\n",
        "config: a string\n",
        "config: 42\n",
        "- a\n- b\n",
        "just text\n",
        "config:\n  agilio-offload:nodes: [[w1]]\n",
        "config:\n  agilio-offload:nodes:\n  - name: [w1]\n    host: [1]\n    pf: {a: 1}\n",
        "config:\n  agilio-offload:kubeOvn:\n    masterNodes:\n    - name: [m]\n      ip: {x: 1}\n",
        "config:\n  agilio-offload:kubeOvn: [1]\n",
        "config:\n  agilio-offload:ssh: {privateKeyPath: [a]}\n",
        "environment: 3\nconfig: {}\n",
    ],
)
def test_odd_documents_are_refused_cleanly(tmp_path: Path, text: str) -> None:
    path = tmp_path / "Pulumi.shape.yaml"
    path.write_text(text)
    assert assert_clean(path) == "refused"


def deep_flow(levels: int) -> str:
    """`levels` of alternating `{a: ...}` and `[...]` in YAML flow form, built iteratively."""
    opening = "".join("[" if i % 2 else "{a: " for i in range(levels))
    closing = "".join("]" if i % 2 else "}" for i in reversed(range(levels)))
    return opening + "1" + closing


@pytest.mark.parametrize("levels", [40, 200, 3000])
@pytest.mark.parametrize("key", ["kubeOvn", "nodes", "sriov"])
def test_deeply_nested_values_are_refused_with_the_path(
    tmp_path: Path, levels: int, key: str
) -> None:
    document = copy.deepcopy(DEV)
    if key == "kubeOvn":
        document["config"][f"{NS}:kubeOvn"]["values"] = {"a": "DEEP"}
    elif key == "nodes":
        document["config"][f"{NS}:nodes"] = ["DEEP"]
    else:
        document["config"][f"{NS}:sriov"] = {"vendors": "DEEP"}
    path = tmp_path / "Pulumi.shape.yaml"
    path.write_text(yaml.safe_dump(document, width=10**6).replace("DEEP", deep_flow(levels)))
    assert assert_clean(path) == "refused"
    _, error, _ = outcome(path)
    assert key in str(error) and "nested deeper than 32 levels" in str(error)


def test_deep_json_config_under_pulumi_up_is_refused_with_the_path() -> None:
    # Under `pulumi up` the CLI hands structured config as JSON text: the program's reader.
    config, secret_keys = stack_config("dev")
    config[f"{NS}:sriov"] = "[" * 5000 + "]" * 5000
    run = run_program(config, stack="dev", secret_keys=secret_keys)
    assert isinstance(run.error, ConfigError), run.error
    assert "agilio-offload:sriov" in str(run.error)
    assert {r.type for r in run.resources} <= {STACK_TYPE}


def test_a_stack_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.shape.yaml"
    path.write_bytes(b"config:\n  agilio-offload:vfs: \xff\xfe4\n")
    assert assert_clean(path) == "refused"


@pytest.mark.parametrize("content", [b"\x00\x01\xff\xfe binary", b"\xc3\x28 not utf-8"])
def test_a_binary_key_file_is_refused_before_anything_registers(
    tmp_path: Path, content: bytes
) -> None:
    key = tmp_path / "id_bad"
    key.write_bytes(content)
    document = copy.deepcopy(DEV)
    document["config"][f"{NS}:ssh"] = {
        **document["config"].get(f"{NS}:ssh", {}),
        "privateKeyPath": str(key),
    }
    path = tmp_path / "Pulumi.shape.yaml"
    path.write_text(yaml.safe_dump(document))
    assert assert_clean(path) == "refused"
    _, error, _ = outcome(path)
    assert "ssh.privateKeyPath" in str(error)


def test_a_real_key_file_plans(tmp_path: Path) -> None:
    key = tmp_path / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    document = copy.deepcopy(DEV)
    document["config"][f"{NS}:ssh"] = {
        **document["config"].get(f"{NS}:ssh", {}),
        "privateKeyPath": str(key),
    }
    path = tmp_path / "Pulumi.shape.yaml"
    path.write_text(yaml.safe_dump(document))
    assert assert_clean(path) == "ok"
