"""The tests' own layout: test modules import support, never each other, and whatever is not a
test sits under tests/support/ (README "Tests")."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
SUPPORT = "support"
# Besides test_*.py, the files pytest or Python itself looks for directly in tests/.
ALLOWED_FILES = {"__init__.py", "conftest.py"}


def is_test_module(dotted: str) -> bool:
    """`tests.test_x`, `tests.test_x.y` or a bare `test_x` (as a relative or sys.path import)."""
    parts = dotted.split(".")
    if parts[0] == "tests":
        parts = parts[1:]
    return bool(parts) and parts[0].startswith("test_")


def imported_test_modules(source: str) -> list[str]:
    """The test modules a module's source imports, in any spelling of the import."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if is_test_module(alias.name)]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if is_test_module(module):
                found.append(module)
            elif module in ("", "tests"):
                # `from tests import test_x`, `from . import test_x`
                found += [alias.name for alias in node.names if is_test_module(alias.name)]
    return found


def pytest_plugins_named(source: str) -> list[str]:
    """The module names a `pytest_plugins = (...)` assignment registers."""
    names = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "pytest_plugins"
            for target in node.targets
        ):
            names += [
                item.value
                for item in ast.walk(node.value)
                if isinstance(item, ast.Constant) and isinstance(item.value, str)
            ]
    return names


TEST_MODULES = sorted(TESTS.glob("test_*.py"))


def test_there_are_test_modules() -> None:
    assert Path(__file__).resolve() in TEST_MODULES
    assert len(TEST_MODULES) > 30


@pytest.mark.parametrize(
    "source",
    [
        "from tests.test_config import dev_config",
        "import tests.test_config",
        "import tests.test_config as config_tests",
        "from tests import test_config",
        "from . import test_config",
        "from .test_config import dev_config",
        "import test_config",
        "def helper():\n    from tests.test_config import dev_config\n",
    ],
)
def test_every_spelling_of_a_test_module_import_is_found(source: str) -> None:
    assert imported_test_modules(source)


@pytest.mark.parametrize(
    "source",
    [
        "from tests.support.stack_config import dev_config",
        "import tests.support.node_steps",
        "from tests import support",
        "from tools.mock_engine import run_stack",
        "import pytest",
    ],
)
def test_support_and_program_imports_are_not_test_module_imports(source: str) -> None:
    assert imported_test_modules(source) == []


@pytest.mark.parametrize("module", TEST_MODULES, ids=lambda path: path.name)
def test_no_test_module_imports_another(module: Path) -> None:
    source = module.read_text()
    assert imported_test_modules(source) == [], (
        f"{module.name} imports a test module: move what it shares to tests/support/ or "
        "tests/conftest.py"
    )
    plugins = [name for name in pytest_plugins_named(source) if is_test_module(name)]
    assert plugins == [], f"{module.name} registers a test module as a pytest plugin"


def test_conftest_imports_no_test_module() -> None:
    source = (TESTS / "conftest.py").read_text()
    assert imported_test_modules(source) == []
    assert [name for name in pytest_plugins_named(source) if is_test_module(name)] == []


def test_only_tests_and_conftest_sit_directly_in_tests() -> None:
    strays = sorted(
        path.name
        for path in TESTS.glob("*.py")
        if not path.name.startswith("test_") and path.name not in ALLOWED_FILES
    )
    assert strays == [], f"not a test module, belongs under tests/{SUPPORT}/: {strays}"


def test_no_package_but_support_sits_in_tests() -> None:
    packages = sorted(
        path.name
        for path in TESTS.iterdir()
        if path.is_dir() and path.name != SUPPORT and any(path.rglob("*.py"))
    )
    assert packages == [], f"Python code outside tests/{SUPPORT}/: {packages}"


def test_support_holds_no_test_module() -> None:
    stray_tests = sorted(
        str(path.relative_to(TESTS)) for path in (TESTS / SUPPORT).rglob("test_*.py")
    )
    assert stray_tests == [], f"test modules belong directly in tests/: {stray_tests}"
