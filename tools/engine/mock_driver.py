"""Run the real Pulumi program in-process under the SDK's mock engine and record what it registers.

Shared by `tools.plan`, the tests and the benchmarks. No Pulumi CLI, provider plugin, cluster or
SSH is involved: every resource registration reaches `RecordingMonitor`, which keeps its type,
name, parent, dependencies, options and inputs (secrets shown as "[secret]", values not known
before apply as "[unknown]"), and the stack's exports.
"""

from __future__ import annotations

import asyncio
import json
import runpy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from google.protobuf import json_format
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc, settings
from pulumi.runtime.stack import run_in_stack
from pulumi.runtime.sync_await import _sync_await

import tools.engine.sdk_speedups as sdk_speedups
from components.config.errors import ConfigError
from components.config.keys import namespace_problems
from components.config.stack_file import parse_key_problem, read_stack_file
from tools.engine.graph import program_order
from tools.engine.resources import Options, Resource

REPO_ROOT = Path(__file__).resolve().parents[2]
PROGRAM = REPO_ROOT / "__main__.py"
SECRET = "[secret]"
UNKNOWN = "[unknown]"
STACK_TYPE = "pulumi:pulumi:Stack"


@dataclass
class Registration:
    """One resource as the engine would see it in `pulumi preview`."""

    urn: str
    type: str
    name: str
    parent: str | None
    depends_on: list[str]
    inputs: dict[str, Any]
    custom: bool
    provider: str | None
    options: dict[str, Any]
    # The inputs with secrets in clear text: for tests only, never written by the plan tool.
    revealed_inputs: dict[str, Any] = field(default_factory=dict, repr=False)
    # Where the program created it, as the SDK reports it (file URI, line), innermost first: for
    # tests only (it names paths of this machine).
    stack_trace: list[tuple[str, int]] = field(default_factory=list, repr=False)

    def as_resource(self) -> Resource:
        """The resource as the engine model and the plan's resources.json have it."""
        return Resource(
            urn=self.urn,
            type=self.type,
            name=self.name,
            parent=self.parent,
            depends_on=tuple(self.depends_on),
            inputs=self.inputs,
            custom=self.custom,
            provider=self.provider,
            options=Options.from_json(self.options),
        )

    def as_json(self) -> dict[str, Any]:
        return self.as_resource().as_json()


@dataclass
class ProgramRun:
    """What one run of the program registered, exported and raised."""

    resources: list[Registration]
    outputs: dict[str, Any]
    component_outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    error: BaseException | None = None

    def by_type(self, type_: str) -> list[Registration]:
        return [r for r in self.resources if r.type == type_]

    def by_name(self, name: str) -> Registration:
        matches = [r for r in self.resources if r.name == name]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} resources named {name!r}")
        return matches[0]

    def by_urn(self) -> dict[str, Registration]:
        return {r.urn: r for r in self.resources}


# --- wire values to plain data ---------------------------------------------------------------


def _plain(value: Any, reveal: bool = False) -> Any:
    """A value from `MessageToDict` with secrets, unknowns and references made readable.

    Secrets become "[secret]" unless `reveal` (for tests that check what a secret carries).
    """
    if isinstance(value, dict):
        sig = value.get(rpc._special_sig_key)
        if sig == rpc._special_secret_sig:
            return _plain(value.get("value"), reveal) if reveal else SECRET
        if sig == rpc._special_resource_sig:
            return value.get("urn")
        if sig == rpc._special_output_value_sig:
            if value.get("secret") and not reveal:
                return SECRET
            return _plain(value.get("value", UNKNOWN), reveal)
        # Sorted: protobuf maps come out in a per-process order, and a plan must read the same
        # from run to run (reviewers diff the files).
        return {key: _plain(value[key], reveal) for key in sorted(value)}
    if isinstance(value, list):
        return [_plain(item, reveal) for item in value]
    if value == rpc.UNKNOWN:
        return UNKNOWN
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


STACK_REFERENCE_TYPE = "pulumi:pulumi:StackReference"
# The organization of a DIY (file or cloud-storage) backend, whose stack names read
# `organization/<project>/<stack>`.
ORGANIZATION = "organization"


class EchoMocks(pulumi_mocks.Mocks):
    """The provider answers with the inputs, as a preview does; nothing else is known yet.

    A StackReference reads `stack_outputs` (by the referenced stack's name; a stack not listed
    has exported nothing yet, as a stack before its first update).
    """

    def __init__(self, stack_outputs: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self.stack_outputs = dict(stack_outputs or {})

    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str, dict]:
        if args.typ == STACK_REFERENCE_TYPE:
            name = args.inputs["name"]
            outputs = dict(self.stack_outputs.get(name, {}))
            return name, {"name": name, "outputs": outputs, "secretOutputNames": []}
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi_mocks.MockCallArgs) -> tuple[dict, list | None]:
        return {}, None


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """A mock monitor that keeps every registration with its parent, dependencies and options."""

    def __init__(self, mocks: pulumi_mocks.Mocks) -> None:
        super().__init__(mocks)
        self.registrations: list[Registration] = []
        self.outputs_by_urn: dict[str, dict[str, Any]] = {}

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        response = super().RegisterResource(request)
        self.registrations.append(_registration(request, response.urn))
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:  # noqa: N802
        self.outputs_by_urn[request.urn] = _plain(json_format.MessageToDict(request.outputs))
        return super().RegisterResourceOutputs(request)


def _registration(request: Any, urn: str) -> Registration:
    inputs = json_format.MessageToDict(request.object)
    return Registration(
        urn=urn,
        type=request.type,
        name=request.name,
        parent=request.parent or None,
        depends_on=sorted(request.dependencies),
        inputs=_plain(inputs),
        revealed_inputs=_plain(inputs, reveal=True),
        custom=bool(request.custom),
        provider=request.provider.rsplit("::", 1)[0] if request.provider else None,
        stack_trace=[(frame.pc.uri, frame.pc.line) for frame in request.stackTrace.frames],
        options=_options(request),
    )


def _options(request: Any) -> dict[str, Any]:
    """The resource options the engine decides with (the engine model reads them).

    `deleteBeforeReplaceDefined` says whether the program set `delete_before_replace` at all
    (the engine lets the provider decide otherwise: step_generator.go continueStepsFromDiff);
    `deletedWith`, `replaceWith` and `propertyDependencies` are edges of the engine's
    dependency graph besides `dependsOn` (pkg/resource/state.go GetAllDependencies).
    """
    return {
        "deleteBeforeReplace": request.deleteBeforeReplace,
        "deleteBeforeReplaceDefined": request.deleteBeforeReplaceDefined,
        "replaceOnChanges": list(request.replaceOnChanges),
        "ignoreChanges": list(request.ignoreChanges),
        "additionalSecretOutputs": list(request.additionalSecretOutputs),
        "protect": bool(request.protect),
        "retainOnDelete": bool(request.retainOnDelete),
        "deletedWith": request.deletedWith or None,
        "replaceWith": sorted(request.replace_with),
        "propertyDependencies": {
            key: sorted(deps.urns)
            for key, deps in sorted(request.propertyDependencies.items())
            if deps.urns
        },
    }


# --- running the program ------------------------------------------------------------------------


def project_name(project_dir: Path = REPO_ROOT) -> str:
    return yaml.safe_load((project_dir / "Pulumi.yaml").read_text())["name"]


def _project_dir(program: Path) -> Path:
    """The Pulumi project a program belongs to: its own directory's, else this repository's."""
    return program.parent if (program.parent / "Pulumi.yaml").is_file() else REPO_ROOT


def run_program(
    config: Mapping[str, str],
    *,
    stack: str,
    secret_keys: Iterable[str] = (),
    preview: bool = True,
    mocks: pulumi_mocks.Mocks | None = None,
    program: Path = PROGRAM,
    speedups: bool = True,
) -> ProgramRun:
    """Run `program` once under mocks with `config` (full keys, JSON text for objects).

    `speedups=False` runs the SDK as shipped instead of `tools.engine.sdk_speedups`, as `pulumi up`
    does (the program still installs its own corrections, `components/sdk_corrections.py`).
    """
    if speedups:
        sdk_speedups.install()
    else:
        sdk_speedups.uninstall()
    monitor = RecordingMonitor(mocks or EchoMocks())
    # Nothing of an earlier run (pending outputs, a failure it left) may leak into this one.
    settings.SETTINGS.rpc_manager.clear()
    settings.SETTINGS.outputs.clear()
    pulumi.runtime.set_all_config(dict(config), list(secret_keys))
    # set_mocks creates a root Stack unless one exists; run_in_stack must create it instead so
    # the program's exports are registered, so hold the slot while set_mocks runs.
    settings.ROOT.set(monitor)
    pulumi.runtime.set_mocks(
        monitor.mocks,
        project=project_name(_project_dir(program)),
        stack=stack,
        preview=preview,
        monitor=monitor,
        organization=ORGANIZATION,
    )
    settings.ROOT.set(None)
    error: BaseException | None = None
    try:
        with sdk_speedups.cyclic_gc_paused(speedups):
            _sync_await(run_in_stack(lambda: runpy.run_path(str(program), run_name="__main__")))
    except Exception as exc:  # noqa: BLE001 reported to the caller with what was registered
        error = exc
    finally:
        settings.ROOT.set(None)
        _cancel_leftover_tasks()
    resources = program_order(monitor.registrations)
    stack_urns = [r.urn for r in resources if r.type == STACK_TYPE]
    outputs = monitor.outputs_by_urn.get(stack_urns[0], {}) if stack_urns else {}
    return ProgramRun(
        resources=resources,
        outputs=outputs,
        component_outputs=dict(monitor.outputs_by_urn),
        error=error,
    )


def _cancel_leftover_tasks() -> None:
    """A failed run leaves tasks behind (outputs nobody awaited); end them before the next run."""
    loop = asyncio.get_event_loop()
    leftovers = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in leftovers:
        task.cancel()
    if leftovers:
        loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))
    settings.SETTINGS.rpc_manager.clear()
    settings.SETTINGS.outputs.clear()


# --- stack files ----------------------------------------------------------------------------------


def stack_file(stack: str) -> Path:
    return REPO_ROOT / "stacks" / f"Pulumi.{stack}.yaml"


def _full_key(key: str, project: str) -> str:
    return key if ":" in key else f"{project}:{key}"


def _config_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


# The fields of a project-level config declaration (pulumi `sdk/go/common/workspace/project.go`
# `ProjectConfigType`: type, description, items, default, value, secret).
_DECLARATION_FIELDS = {"type", "description", "items", "default", "value", "secret"}


def project_config(project_dir: Path = REPO_ROOT) -> dict[str, Any]:
    """The config Pulumi.yaml's `config:` block hands every stack, as the CLI reads it.

    A bare key is the project's own (`vfs` -> `agilio-offload:vfs`); a declaration's `value:`
    applies to every stack and `default:` where the stack sets nothing (a stack file's value
    wins over both); a plain value is a `value:`. A key of a namespace this program does not
    read (a typo of it) is a ConfigError, as in the stack file."""
    document = yaml.safe_load((project_dir / "Pulumi.yaml").read_text()) or {}
    project = document["name"]
    declared = document.get("config") or {}
    if not isinstance(declared, dict):
        raise ConfigError(["Pulumi.yaml: config: must be a mapping of keys to declarations"])
    values: dict[str, Any] = {}
    problems: list[str] = []
    for key, spec in declared.items():
        full = str(key) if ":" in str(key) else f"{project}:{key}"
        problem = parse_key_problem(full, project)
        found = [problem] if problem else namespace_problems([full])
        problems += [f"Pulumi.yaml: config: {p}" for p in found]
        if isinstance(spec, dict) and set(spec) <= _DECLARATION_FIELDS:
            if "value" in spec:
                values[full] = spec["value"]
            elif "default" in spec:
                values[full] = spec["default"]
        else:
            values[full] = spec
    if problems:
        raise ConfigError(problems)
    return values


def project_config_defaults() -> dict[str, Any]:
    """Pulumi.yaml's config as the CLI would pass it (`project_config`; kept for callers)."""
    return project_config()


def stack_environments(stack: str, stack_path: Path | None = None) -> list[str]:
    """The Pulumi ESC environments a stack file imports (`environment:`): their values reach
    `pulumi up`, never the plan."""
    document = read_stack_file(stack_path or stack_file(stack), project_name())
    return list(document.get("environment") or [])


def stack_config(
    stack: str,
    overrides: Mapping[str, Any] | None = None,
    *,
    stack_path: Path | None = None,
) -> tuple[dict[str, str], list[str]]:
    """The config the CLI would hand the program for `stack`, plus `overrides`.

    Pulumi.yaml's project config first, then the stack file's, then `overrides` (keyed as in
    the stack file). Values stored as `secure:` ciphertext cannot be decrypted here; they stand
    in as "[secret]" and are marked secret, which is all a preview needs.
    """
    project = project_name()
    # Strict: duplicate keys, aliases, dates, bare keys and namespace typos are errors.
    document = read_stack_file(stack_path or stack_file(stack), project)
    values: dict[str, Any] = {}
    for layer in (project_config(), document.get("config") or {}, overrides or {}):
        values.update({_full_key(key, project): value for key, value in layer.items()})
    config: dict[str, str] = {}
    secret_keys: list[str] = []
    for full, value in values.items():
        if isinstance(value, dict) and set(value) == {"secure"}:
            config[full] = SECRET
            secret_keys.append(full)
        else:
            config[full] = _config_text(value)
    return config, secret_keys


def run_stack(
    stack: str,
    overrides: Mapping[str, Any] | None = None,
    *,
    preview: bool = True,
    mocks: pulumi_mocks.Mocks | None = None,
) -> ProgramRun:
    """Run the program with a stack file's config (and `overrides`, keyed as in the file)."""
    config, secret_keys = stack_config(stack, overrides)
    return run_program(config, stack=stack, secret_keys=secret_keys, preview=preview, mocks=mocks)
