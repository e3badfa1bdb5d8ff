"""`--target` in the engine model (tools/engine/step_generator.py `Targets`), as pulumi's
step_generator.go decides it: untargeted existing resources keep their old state
(`NewUntargetedSameStep`), untargeted new ones are skipped (`NewSkippedCreateStep`) and a
targeted step depending on one fails (`validateSteps`), targeted deletes take the targets'
dependents (`getTargetDependents`) and need them targeted or `--target-dependents`."""

from __future__ import annotations

from tests.support.engine_scenarios import resource, urn
from tools.engine import Op, Targets, as_resources, plan_engine, targets_by_name

REMOTE = "command:remote:Command"


def chain() -> list[dict[str, object]]:
    return [
        resource("drain", inputs={"create": "drain v1"}),
        resource("vfs", inputs={"create": "vfs 4"}, depends_on=("drain",)),
        resource("uncordon", inputs={"create": "uncordon"}, depends_on=("vfs",)),
    ]


def changed() -> list[dict[str, object]]:
    new = chain()
    new[0]["inputs"] = {"create": "drain v2"}
    new[1]["inputs"] = {"create": "vfs 8"}
    return new


def targets(*names: str, dependents: bool = False) -> Targets:
    return Targets(frozenset(urn(REMOTE, n) for n in names), dependents)


def test_untargeted_existing_resource_is_same_with_its_old_state() -> None:
    plan = plan_engine(chain(), changed(), targets("vfs"))
    assert plan.decision("drain").op is Op.SAME
    assert "not in the --target list" in plan.decision("drain").because
    [step] = plan.chains[urn(REMOTE, "drain")]
    assert step.op is Op.SAME and step.resource.inputs == {"create": "drain v1"}
    assert plan.decision("vfs").op is Op.UPDATE
    assert plan.errors == []


def test_without_targets_everything_changed_runs() -> None:
    plan = plan_engine(chain(), changed())
    assert [plan.decision(n).op for n in ("drain", "vfs", "uncordon")] == [
        Op.UPDATE,
        Op.UPDATE,
        Op.SAME,
    ]


def test_target_dependents_takes_what_depends_on_a_target() -> None:
    plan = plan_engine(chain(), changed(), targets("drain", dependents=True))
    assert plan.decision("vfs").op is Op.UPDATE


def test_untargeted_new_resource_is_skipped_and_a_targeted_dependent_fails() -> None:
    new = [*chain(), resource("drained", inputs={"create": "lease"}, depends_on=("drain",))]
    new.append(resource("firmware", inputs={"create": "fw"}, depends_on=("drained",)))
    plan = plan_engine(chain(), new, targets("firmware"))
    assert plan.chains[urn(REMOTE, "drained")] == []
    assert plan.errors == [
        f"Resource {urn(REMOTE, 'firmware')!r} depends on {urn(REMOTE, 'drained')!r} which was "
        "not specified in --target list (untargeted create)"
    ]


def test_targeted_destroy_takes_dependents_and_needs_them_targeted() -> None:
    refused = plan_engine(chain(), [], targets("vfs"))
    assert len(refused.errors) == 1
    assert "uncordon" in refused.errors[0] and "--target-dependents" in refused.errors[0]
    plan = plan_engine(chain(), [], targets("vfs", dependents=True))
    deleted = [s.name for wave in plan.delete_waves for s in wave]
    assert deleted == ["uncordon", "vfs"]


def test_targets_by_name_takes_names_and_urns() -> None:
    resources = as_resources(chain())
    found = targets_by_name(["vfs", urn(REMOTE, "drain")], resources, False)
    assert found == targets("vfs", "drain")
    assert targets_by_name([], resources, False) is None
