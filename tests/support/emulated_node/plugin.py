"""pytest fixtures for the emulated Agilio node (registered for the whole suite by
tests/conftest.py's `pytest_plugins`).

- `start_node(**spec_fields) -> EmulatedNode`: a started node with a `NodeSpec` built from the
  given fields; every node started through it is stopped after the test, and a node that leaves
  processes behind fails the test.
- `node`: one started node with the default spec.

Nothing here skips: a machine that cannot host the node fails the test with what to install.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.support.emulated_node.harness import EmulatedNode, NodeError
from tests.support.emulated_node.spec import NodeSpec

StartNode = Callable[..., EmulatedNode]


@pytest.fixture
def start_node() -> Iterator[StartNode]:
    started: list[EmulatedNode] = []

    def start(**fields: object) -> EmulatedNode:
        node = EmulatedNode(NodeSpec(**fields))  # type: ignore[arg-type]
        started.append(node)
        return node.start()

    yield start
    problems = []
    for node in started:
        try:
            node.stop()
        except NodeError as err:
            problems.append(str(err))
    if problems:
        pytest.fail("; ".join(problems))


@pytest.fixture
def node(start_node: StartNode) -> EmulatedNode:
    return start_node()
