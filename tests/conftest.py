from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# Prefect's home (its database of runs, its settings) is the tests' own, set before Prefect is imported:
# the user's ~/.prefect never sees a test's run, and the command-line runs the tests start inherit it.
_PREFECT_HOME = tempfile.mkdtemp(prefix="newsarchive-tests-prefect-")
os.environ["PREFECT_HOME"] = _PREFECT_HOME
atexit.register(shutil.rmtree, _PREFECT_HOME, ignore_errors=True)
# Offline machines: no telemetry from Prefect's temporary servers.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The modules with the most slow tests first, each module's tests together and in their order.

    `make test-all` hands whole modules to one process per core (pytest-xdist, `--dist loadfile`): the long
    ones start first, and the quick modules fill in at the end instead of one long module running alone.
    """

    def module(item: pytest.Item) -> str:
        return item.nodeid.split("::")[0]

    slow: dict[str, int] = {}
    for item in items:
        slow[module(item)] = slow.get(module(item), 0) + (item.get_closest_marker("slow") is not None)
    items.sort(key=lambda item: (-slow[module(item)], module(item)))


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One temporary Prefect server and database for all flow tests."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def raw(tmp_path: Path) -> Path:
    """A raw folder holding the two seeds (test modules that want it empty define their own)."""
    from tests.helpers import SEED_NAMES, SEEDS

    folder = tmp_path / "raw"
    folder.mkdir()
    for name in SEED_NAMES:
        shutil.copy(SEEDS / f"{name}.txt", folder / f"{name}.txt")
    return folder
