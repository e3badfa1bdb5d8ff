"""The engine model: what `pulumi up` (or `pulumi destroy`) does with what the program registers.

The mock driver records the program's registrations; the rest says what the engine then does,
going from an earlier plan's `resources.json` to a new one, split where pulumi's engine splits
(`pkg/resource/deploy`, read at pulumi v3.259.0; the SDK here is 3.272.0):

- `resources`: a resource as the engine sees it, a typed record (`Resource`, `Options`) that
  reads and writes one entry of the plan's `resources.json`;
- `step`: the step kinds, steps and decisions, as `step.go` names them;
- `graph`: the dependency graph (`GetAllDependencies`), the program's stable order, and the
  order algorithms on them;
- `step_generator`: replace or update, dependent replacements, deletes (`step_generator.go`);
- `step_executor`: when each step starts, the delete waves (`step_executor.go`,
  `ScheduleDeletes`);
- `rollout_analysis`: what each step does to a node, the waves, the nodes out at once;
- `datapath_restarts`: which Kube-OVN release steps restart ovs-ovn (the datapath) on every
  node, and how many nodes at once by the chart's update strategy;
- `mock_driver`: runs the real program in-process under the Pulumi SDK's mocks and records every
  registration (`sdk_speedups`: its cheaper SDK bookkeeping, for it alone).

Shared by the plan tool (`tools/plan.py`), the tests and the benchmarks; nothing here imports the
plan tool.
"""

from tools.engine.graph import dependencies, program_order, register_waits_for, start_order
from tools.engine.mock_driver import (
    EchoMocks,
    ProgramRun,
    Registration,
    run_program,
    run_stack,
    stack_config,
)
from tools.engine.resources import Options, Resource, ResourceJSON, as_resource, as_resources
from tools.engine.rollout_analysis import (
    HARDWARE_STEPS,
    LOCAL_COMMAND,
    NEVER,
    NODE_COMPONENT,
    REMOTE_COMMAND,
    Disruption,
    Effect,
    NodeCommand,
    Rollout,
    Wave,
    analyse,
    command_text,
    disruptions,
    node_command,
    node_commands,
    node_names,
    node_of,
    peak_disrupted,
    worst_case_disrupted,
)
from tools.engine.step import Decision, EnginePlan, Op, Step
from tools.engine.step_executor import (
    Timing,
    all_steps,
    run_engine,
    schedule_deletes,
    step_predecessors,
    unit_duration,
)
from tools.engine.step_generator import (
    PROVIDER_RULES,
    Diff,
    ProviderRule,
    TargetError,
    Targets,
    calculate_dependent_replacements,
    changed_fields,
    decide_delete,
    diff_resource,
    path_contains,
    plan_engine,
    provider_rule,
    replace_or_update,
    target_dependents,
    targets_by_name,
)

__all__ = [
    "HARDWARE_STEPS",
    "LOCAL_COMMAND",
    "NEVER",
    "NODE_COMPONENT",
    "PROVIDER_RULES",
    "REMOTE_COMMAND",
    "Decision",
    "Diff",
    "Disruption",
    "EchoMocks",
    "Effect",
    "EnginePlan",
    "NodeCommand",
    "Op",
    "Options",
    "ProgramRun",
    "ProviderRule",
    "Registration",
    "Resource",
    "ResourceJSON",
    "Rollout",
    "Step",
    "TargetError",
    "Targets",
    "Timing",
    "Wave",
    "all_steps",
    "analyse",
    "as_resource",
    "as_resources",
    "calculate_dependent_replacements",
    "changed_fields",
    "command_text",
    "decide_delete",
    "dependencies",
    "diff_resource",
    "disruptions",
    "node_command",
    "node_commands",
    "node_names",
    "node_of",
    "path_contains",
    "peak_disrupted",
    "plan_engine",
    "program_order",
    "provider_rule",
    "register_waits_for",
    "replace_or_update",
    "run_engine",
    "run_program",
    "run_stack",
    "schedule_deletes",
    "stack_config",
    "start_order",
    "step_predecessors",
    "target_dependents",
    "targets_by_name",
    "unit_duration",
    "worst_case_disrupted",
]
