"""The engine's rules, one table per rule, each row citing what it follows (tools/engine/).

Rows are (what changes, expected decision); the resources are built like resources.json.
"""

from __future__ import annotations

import itertools
import random
from typing import Any

import pytest

from components.names import LOCAL_COMMAND as LOCAL
from components.names import REMOTE_COMMAND as REMOTE
from tests.support.engine_scenarios import resource, urn
from tools import engine as er
from tools.engine import Op
from tools.engine.graph import max_antichain

DAEMONSET = "kubernetes:apps/v1:DaemonSet"
CONFIGMAP = "kubernetes:core/v1:ConfigMap"
NODE_PATCH = "kubernetes:core/v1:NodePatch"
RELEASE = "kubernetes:helm.sh/v3:Release"
BINDING = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding"
SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount"
K8S_PROVIDER = "pulumi:providers:kubernetes"
SDK_COMMAND_OPTIONS = {"replaceOnChanges": ["triggers[*]"]}

# --- replace or update: the provider's Diff, then replaceOnChanges (continueStepsFromDiff) --------

DBR_SET = {"deleteBeforeReplace": True, "deleteBeforeReplaceDefined": True}
META = {"name": "x", "namespace": "kube-system"}
REPLACE_OR_UPDATE = [
    # (id, type, old inputs, new inputs, options, op, delete-before-replace)
    ("command same", REMOTE, {"create": "a"}, {"create": "a"}, {}, Op.SAME, False),
    (
        "command create changed: update",
        REMOTE,
        {"create": "a"},
        {"create": "b"},
        {},
        Op.UPDATE,
        False,
    ),
    (
        "command delete changed: update",
        REMOTE,
        {"delete": "a"},
        {"delete": "b"},
        {},
        Op.UPDATE,
        False,
    ),
    (
        "command connection changed: update",
        REMOTE,
        {"connection": {"host": "a"}},
        {"connection": {"host": "b"}},
        {},
        Op.UPDATE,
        False,
    ),
    (
        "command triggers changed: replace, provider says create first",
        LOCAL,
        {"triggers": ["a"]},
        {"triggers": ["b"]},
        SDK_COMMAND_OPTIONS,
        Op.REPLACE,
        False,
    ),
    (
        "command triggers grew: replace",
        LOCAL,
        {"triggers": ["a"]},
        {"triggers": ["a", "b"]},
        SDK_COMMAND_OPTIONS,
        Op.REPLACE,
        False,
    ),
    (
        "program's deleteBeforeReplace wins",
        REMOTE,
        {"triggers": ["a"]},
        {"triggers": ["b"]},
        {**SDK_COMMAND_OPTIONS, **DBR_SET},
        Op.REPLACE,
        True,
    ),
    (
        "ignoreChanges hides a change",
        REMOTE,
        {"create": "a"},
        {"create": "b"},
        {"ignoreChanges": ["create"]},
        Op.SAME,
        False,
    ),
    (
        "replaceOnChanges forces a replace",
        REMOTE,
        {"create": "a"},
        {"create": "b"},
        {"replaceOnChanges": ["create"]},
        Op.REPLACE,
        False,
    ),
    (
        "daemonset image: update",
        DAEMONSET,
        {"metadata": META, "spec": {"image": "a"}},
        {"metadata": META, "spec": {"image": "b"}},
        {},
        Op.UPDATE,
        False,
    ),
    (
        "daemonset selector: replace, same name so delete first",
        DAEMONSET,
        {"metadata": META, "spec": {"selector": {"matchLabels": {"a": "1"}}}},
        {"metadata": META, "spec": {"selector": {"matchLabels": {"a": "2"}}}},
        {},
        Op.REPLACE,
        True,
    ),
    (
        "configmap data: replace (not enableConfigMapMutable)",
        CONFIGMAP,
        {"metadata": META, "data": {"k": "1"}},
        {"metadata": META, "data": {"k": "2"}},
        {},
        Op.REPLACE,
        True,
    ),
    (
        "configmap renamed: replace, create first",
        CONFIGMAP,
        {"metadata": META},
        {"metadata": {**META, "name": "y"}},
        {},
        Op.REPLACE,
        False,
    ),
    (
        "any object renamed: replace",
        SERVICE_ACCOUNT,
        {"metadata": META},
        {"metadata": {**META, "namespace": "other"}},
        {},
        Op.REPLACE,
        False,
    ),
    (
        "clusterrolebinding roleRef: replace",
        BINDING,
        {"metadata": META, "roleRef": {"name": "a"}},
        {"metadata": META, "roleRef": {"name": "b"}},
        {},
        Op.REPLACE,
        True,
    ),
    (
        "node patch labels: update",
        NODE_PATCH,
        {"metadata": {"name": "n", "labels": {"a": "1"}}},
        {"metadata": {"name": "n", "labels": {"a": "2"}}},
        {},
        Op.UPDATE,
        False,
    ),
    (
        "node patch of another node: replace",
        NODE_PATCH,
        {"metadata": {"name": "n"}},
        {"metadata": {"name": "m"}},
        {},
        Op.REPLACE,
        False,
    ),
    (
        "helm values: update",
        RELEASE,
        {"name": "r", "values": {"a": 1}},
        {"name": "r", "values": {"a": 2}},
        {},
        Op.UPDATE,
        False,
    ),
    (
        "helm namespace: replace, never delete first",
        RELEASE,
        {"name": "r", "namespace": "a"},
        {"name": "r", "namespace": "b"},
        {},
        Op.REPLACE,
        False,
    ),
    (
        "kubernetes provider context: replace",
        K8S_PROVIDER,
        {"context": "a"},
        {"context": "b"},
        {},
        Op.REPLACE,
        False,
    ),
    ("unknown type: update", "random:index:RandomId", {"a": 1}, {"a": 2}, {}, Op.UPDATE, False),
]


@pytest.mark.parametrize(
    ("type_", "old", "new", "opts", "op", "dbr"),
    [row[1:] for row in REPLACE_OR_UPDATE],
    ids=[row[0] for row in REPLACE_OR_UPDATE],
)
def test_replace_or_update(type_: str, old: dict, new: dict, opts: dict, op: Op, dbr: bool) -> None:
    before = resource("r", type_, inputs=old, **opts)
    after = resource("r", type_, inputs=new, **opts)
    decision = er.replace_or_update(before, after, set())
    assert decision.op is op, decision.because
    assert decision.delete_before_replace is dbr, decision.because
    assert decision.because.startswith(("decided to", "decided not to")), decision.because


def test_every_rule_names_its_source() -> None:
    for type_, rule in er.PROVIDER_RULES.items():
        assert ".go" in rule.source, f"{type_}: the rule does not say which source it follows"


COMPONENT_AND_PROVIDER = [
    # (id, old, new, replaced providers, op)
    (
        "component inputs equal: same",
        resource("c", "x:index:C", custom=False),
        resource("c", "x:index:C", custom=False),
        set(),
        Op.SAME,
    ),
    (
        "component inputs changed: update (no provider call)",
        resource("c", "x:index:C", custom=False, inputs={"a": 1}),
        resource("c", "x:index:C", custom=False, inputs={"a": 2}),
        set(),
        Op.UPDATE,
    ),
    (
        "another provider: replace (providerChanged)",
        resource("r", provider="urn:p1"),
        resource("r", provider="urn:p2"),
        set(),
        Op.REPLACE,
    ),
    (
        "its provider replaced: replace",
        resource("r", provider="urn:p1"),
        resource("r", provider="urn:p1"),
        {"urn:p1"},
        Op.REPLACE,
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "replaced", "op"),
    [row[1:] for row in COMPONENT_AND_PROVIDER],
    ids=[row[0] for row in COMPONENT_AND_PROVIDER],
)
def test_components_and_providers(old: dict, new: dict, replaced: set, op: Op) -> None:
    assert er.replace_or_update(old, new, replaced).op is op


PATHS = [
    ("triggers[*]", "triggers[0]", True),
    ("triggers[*]", "triggers[2].x", True),
    ("triggers[*]", "triggers", False),
    ("spec.selector", "spec.selector.matchLabels.a", True),
    ("spec.selector", "spec.selectorx", False),
    ("data", "data.config.json", True),
    ("metadata.name", "metadata.namespace", False),
]


@pytest.mark.parametrize(("outer", "inner", "contains"), PATHS)
def test_property_paths_contain_as_propertypath_contains(
    outer: str, inner: str, contains: bool
) -> None:
    assert er.path_contains(outer, inner) is contains


# --- the chain of a replace ----------------------------------------------------------------------


def _chain_ops(old: list[dict], new: list[dict], name: str) -> list[tuple[str, str]]:
    plan = er.plan_engine(old, new)
    chain = plan.chains[next(r["urn"] for r in new if r["name"] == name)]
    return [(str(step.op), step.name) for step in chain]


REPLACE_CHAINS = [
    # (id, dependent's options, its property dependency, expected chain of "b")
    (
        "create-before-replace: create now, delete at the end",
        {},
        None,
        [("create-replacement", "b")],
    ),
    (
        "delete-before-replace: delete, then create",
        DBR_SET,
        None,
        [("delete-replaced", "b"), ("create-replacement", "b")],
    ),
]


@pytest.mark.parametrize(
    ("opts", "prop", "chain"),
    [row[1:] for row in REPLACE_CHAINS],
    ids=[row[0] for row in REPLACE_CHAINS],
)
def test_replace_chains(opts: dict, prop: Any, chain: list) -> None:
    old = [resource("b", inputs={"triggers": ["1"]}, **SDK_COMMAND_OPTIONS, **opts)]
    new = [resource("b", inputs={"triggers": ["2"]}, **SDK_COMMAND_OPTIONS, **opts)]
    assert _chain_ops(old, new, "b") == chain
    plan = er.plan_engine(old, new)
    deletes_at_end = [(str(s.op), s.name) for wave in plan.delete_waves for s in wave]
    assert deletes_at_end == ([] if opts else [("delete-replaced", "b")])


DEPENDENTS = [
    # (id, how "c" depends on "b", is c deleted with b before b is re-created)
    (
        "depends_on only: not replaced (calculateDependentReplacements)",
        {"depends_on": ("b",)},
        False,
    ),
    (
        "property dependency on a replace-forcing input",
        {
            "inputs": {"triggers": ["x"]},
            "replaceOnChanges": ["triggers[*]"],
            "propertyDependencies": {"triggers": [urn(REMOTE, "b")]},
        },
        True,
    ),
    (
        "property dependency on an updatable input",
        {"inputs": {"create": "x"}, "propertyDependencies": {"create": [urn(REMOTE, "b")]}},
        False,
    ),
    ("its provider is replaced", {"provider": urn(REMOTE, "b")}, True),
    ("deletedWith it", {"deletedWith": urn(REMOTE, "b")}, True),
]


@pytest.mark.parametrize(
    ("link", "replaced"), [row[1:] for row in DEPENDENTS], ids=[row[0] for row in DEPENDENTS]
)
def test_dependent_replacements(link: dict, replaced: bool) -> None:
    b_old = resource("b", inputs={"triggers": ["1"]}, **SDK_COMMAND_OPTIONS, **DBR_SET)
    c = resource("c", **link)
    found = er.calculate_dependent_replacements(b_old, [b_old, c], set())
    assert [r["name"] for r in found] == (["c"] if replaced else [])


# --- deletes, in waves (ScheduleDeletes) ----------------------------------------------------------


def _waves(graph: list[dict], condemned: list[str]) -> list[list[str]]:
    steps = [er.Step(Op.DELETE, r) for r in graph if r["name"] in condemned]
    return [[s.name for s in wave] for wave in er.schedule_deletes(steps, graph)]


DELETE_WAVES = [
    # (id, graph, condemned, waves in the order they run)
    (
        "a chain: dependents first",
        [resource("a"), resource("b", depends_on=("a",)), resource("c", depends_on=("b",))],
        ["a", "b", "c"],
        [["c"], ["b"], ["a"]],
    ),
    (
        "an independent resource goes with the last wave (antichains from the bottom, reversed)",
        [resource("a"), resource("b", depends_on=("a",)), resource("d")],
        ["a", "b", "d"],
        [["b"], ["a", "d"]],
    ),
    (
        "order through a kept resource is lost: one wave",
        [
            resource("x1"),
            resource("gate", depends_on=("x1",)),
            resource("x2", depends_on=("gate",)),
        ],
        ["x1", "x2"],
        [["x1", "x2"]],
    ),
    (
        "children before their parent",
        [resource("p", custom=False), resource("c1", parent="p"), resource("c2", parent="p")],
        ["p", "c1", "c2"],
        [["c1", "c2"], ["p"]],
    ),
    (
        "resources before their provider",
        [
            resource("prov", "pulumi:providers:x"),
            resource("r", provider=urn("pulumi:providers:x", "prov")),
        ],
        ["prov", "r"],
        [["r"], ["prov"]],
    ),
    (
        "property dependencies count",
        [resource("a"), resource("b", propertyDependencies={"create": [urn(REMOTE, "a")]})],
        ["a", "b"],
        [["b"], ["a"]],
    ),
]


@pytest.mark.parametrize(
    ("graph", "condemned", "waves"),
    [row[1:] for row in DELETE_WAVES],
    ids=[row[0] for row in DELETE_WAVES],
)
def test_deletes_in_waves(graph: list[dict], condemned: list[str], waves: list) -> None:
    assert _waves(graph, condemned) == waves


DELETE_DECISIONS = [
    # (id, options, others deleted, retained)
    ("plain delete calls the provider", {}, set(), False),
    ("retainOnDelete: forgotten, left running", {"retainOnDelete": True}, set(), True),
    (
        "deletedWith a resource deleted too: no call",
        {"deletedWith": "urn:other"},
        {"urn:other"},
        True,
    ),
    ("deletedWith a resource that stays: deleted", {"deletedWith": "urn:other"}, set(), False),
]


@pytest.mark.parametrize(
    ("opts", "deleted", "retained"),
    [row[1:] for row in DELETE_DECISIONS],
    ids=[row[0] for row in DELETE_DECISIONS],
)
def test_delete_decisions(opts: dict, deleted: set, retained: bool) -> None:
    decision = er.decide_delete(resource("r", **opts), deleted)
    assert decision.op is Op.DELETE
    assert decision.retained is retained


# --- when a step starts (run_engine) --------------------------------------------------------------


def _diamond() -> tuple[list[dict], list[dict]]:
    new = [
        resource("a"),
        resource("b", depends_on=("a",)),
        resource("c", depends_on=("a",)),
        resource("d", depends_on=("b", "c")),
    ]
    return [], new


RUNS = [
    # (id, durations by name, parallel, expected (start, end) by name)
    (
        "a step starts when its dependencies are done",
        {"a": 1, "b": 5, "c": 2, "d": 1},
        None,
        {"a": (0, 1), "b": (1, 6), "c": (1, 3), "d": (6, 7)},
    ),
    (
        "parallel 1: one chain at a time, in the order they became ready",
        {"a": 1, "b": 5, "c": 2, "d": 1},
        1,
        {"a": (0, 1), "b": (1, 6), "c": (6, 8), "d": (8, 9)},
    ),
]


@pytest.mark.parametrize(
    ("durations", "parallel", "expected"),
    [row[1:] for row in RUNS],
    ids=[row[0] for row in RUNS],
)
def test_run_engine(durations: dict, parallel: int | None, expected: dict) -> None:
    old, new = _diamond()
    plan = er.plan_engine(old, new)
    timings = er.run_engine(plan, lambda step: durations[step.name], parallel)
    got = {s.name: (timings[s.id].start, timings[s.id].end) for s in er.all_steps(plan)}
    assert got == expected


def test_delete_waves_wait_for_the_slowest_of_the_wave_before() -> None:
    old = [resource("a"), resource("b", depends_on=("a",)), resource("c")]
    plan = er.plan_engine(old, [])
    durations = {"a": 1, "b": 10, "c": 2}
    timings = er.run_engine(plan, lambda step: durations[step.name])
    assert [[s.name for s in w] for w in plan.delete_waves] == [["b"], ["a", "c"]]
    assert timings["delete:" + urn(REMOTE, "a")].start == 10  # after b, the slowest before


# --- what a node command does, and how many nodes are out at once --------------------------------

DRAIN = "kubectl --context k drain w1 --ignore-daemonsets"
NODE_COMMANDS = [
    # (id, step op, type, step name, inputs, effect, what)
    (
        "kubectl drain",
        Op.CREATE,
        LOCAL,
        "drain",
        {"create": DRAIN},
        er.Effect.DRAIN,
        "kubectl drain",
    ),
    (
        "drain-before-undo's delete drains",
        Op.DELETE,
        LOCAL,
        "drain-before-undo",
        {"create": "echo x", "delete": DRAIN},
        er.Effect.DRAIN,
        "kubectl drain",
    ),
    (
        "drain-before-undo's create does nothing to the node",
        Op.CREATE,
        LOCAL,
        "drain-before-undo",
        {"create": "echo x", "delete": DRAIN},
        er.Effect.OTHER,
        "local no-op",
    ),
    (
        "uncordon",
        Op.UPDATE,
        LOCAL,
        "uncordon",
        {"create": "kubectl uncordon w1"},
        er.Effect.UNCORDON,
        "kubectl uncordon",
    ),
    (
        "a hardware step",
        Op.UPDATE,
        REMOTE,
        "vfs",
        {"create": "x"},
        er.Effect.HARDWARE,
        "VFs (after the reload)",
    ),
    (
        "a hardware step's undo",
        Op.DELETE_REPLACED,
        REMOTE,
        "firmware",
        {"delete": "x"},
        er.Effect.HARDWARE,
        "undo firmware (link back, nfp reload)",
    ),
    (
        "a delete with no delete command",
        Op.DELETE,
        LOCAL,
        "uncordon",
        {"create": "x"},
        er.Effect.OTHER,
        "nothing",
    ),
    (
        "ssh-return probes the SSH port",
        Op.CREATE,
        LOCAL,
        "ssh-return",
        {"create": "bash -c x"},
        er.Effect.OTHER,
        "wait for the SSH port to go and come back (TCP probe)",
    ),
    (
        "ssh-return-after-undo's delete probes after the firmware undo",
        Op.DELETE,
        LOCAL,
        "ssh-return-after-undo",
        {"create": "echo x", "delete": "bash -c x"},
        er.Effect.OTHER,
        "wait for the SSH port after the undo's reload",
    ),
    (
        "ssh-return-after-undo's create does nothing",
        Op.CREATE,
        LOCAL,
        "ssh-return-after-undo",
        {"create": "echo x", "delete": "bash -c x"},
        er.Effect.OTHER,
        "local no-op",
    ),
    (
        "preflight is read-only",
        Op.CREATE,
        REMOTE,
        "preflight",
        {"create": "x"},
        er.Effect.OTHER,
        "preflight",
    ),
]


@pytest.mark.parametrize(
    ("op", "type_", "step", "inputs", "effect", "what"),
    [row[1:] for row in NODE_COMMANDS],
    ids=[row[0] for row in NODE_COMMANDS],
)
def test_node_commands(op: Op, type_: str, step: str, inputs: dict, effect: Any, what: str) -> None:
    command = er.node_command(er.Step(op, resource(f"w1-{step}", type_, inputs=inputs)), "w1")
    assert (command.effect, command.what, command.step) == (effect, what, step)


def _node_chain(node: str, after: tuple[str, ...] = ()) -> list[dict]:
    return [
        resource(
            f"{node}-drain", LOCAL, inputs={"create": f"kubectl drain {node}"}, depends_on=after
        ),
        resource(f"{node}-vfs", inputs={"create": "x"}, depends_on=(urn(LOCAL, f"{node}-drain"),)),
        resource(
            f"{node}-uncordon",
            LOCAL,
            inputs={"create": f"kubectl uncordon {node}"},
            depends_on=(f"{node}-vfs",),
        ),
    ]


def _lanes(count: int, k: int) -> list[dict]:
    nodes = [f"n{i}" for i in range(count)]
    resources: list[dict] = []
    for i, node in enumerate(nodes):
        after = (urn(LOCAL, f"{nodes[i - k]}-uncordon"),) if i >= k else ()
        resources += _node_chain(node, after)
    for name in nodes:
        resources.append(resource(name, er.NODE_COMPONENT, custom=False))
    return resources


WORST_CASES = [
    # (id, resources, nodes out at once at most)
    ("lanes of 2: two at once", _lanes(6, 2), 2),
    ("lanes of 1: one at once", _lanes(4, 1), 1),
    ("unordered nodes: all at once", _lanes(3, 3), 3),
]


@pytest.mark.parametrize(
    ("resources", "worst"), [row[1:] for row in WORST_CASES], ids=[row[0] for row in WORST_CASES]
)
def test_worst_case_disruption(resources: list[dict], worst: int) -> None:
    rollout = er.analyse([], resources, 1)
    assert rollout.worst_case == worst
    assert len(rollout.worst_case_nodes) == worst


def test_a_drained_node_never_uncordoned_stays_out() -> None:
    old = _node_chain("n1")
    old[0] = resource(
        "n1-drain-before-undo", LOCAL, inputs={"create": "echo", "delete": "kubectl drain n1"}
    )
    old.append(resource("n1", er.NODE_COMPONENT, custom=False))
    rollout = er.analyse(old, [], 1)
    (out,) = rollout.disruptions
    assert out.end == er.NEVER


def test_max_antichain_is_the_width_of_random_orders() -> None:
    """Dilworth's width (matching) against brute force on small random transitive orders."""
    rng = random.Random(7)
    for _ in range(60):
        size = rng.randint(1, 7)
        less = {(a, b) for a in range(size) for b in range(a + 1, size) if rng.random() < 0.4}
        for a, b, c in itertools.product(range(size), repeat=3):  # transitive closure
            if (a, b) in less and (b, c) in less:
                less.add((a, c))
        successors = [sum(1 << b for b in range(size) if (a, b) in less) for a in range(size)]
        antichain = max_antichain(successors)
        assert all((a, b) not in less for a in antichain for b in antichain)
        brute = max(
            len(subset)
            for n in range(size + 1)
            for subset in itertools.combinations(range(size), n)
            if all((a, b) not in less for a in subset for b in subset)
        )
        assert len(antichain) == brute
