"""The archive flow under Prefect, and the `newsarchive run` command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from polars.testing import assert_frame_equal

from tasks.core.schema import TABLES
from tasks.write import read_archive
from tests.helpers import REPO, SEED_NAMES, TITLE, gold_lines, roles_by_line

pytestmark = pytest.mark.slow


@pytest.fixture
def raw_dir(raw: Path) -> Path:
    return raw


@pytest.mark.usefixtures("prefect_harness")
def test_flow_archives_the_seeds_and_a_rerun_changes_nothing(raw_dir: Path, tmp_path: Path) -> None:
    from flows.archive import archive

    out = tmp_path / "archive"
    summary = archive(raw_dir=str(raw_dir), out_dir=str(out))
    assert summary == {
        "captures": 2, "archived": 2, "duplicates": 0, "quarantined": 0, "articles": 1,
        "articles_new": 1, "articles_updated": 0, "paragraphs": 9, "captions": 1, "comments": 123,
        "captures_archived_before": 0, "articles_archived_before": 0,
    }  # fmt: skip
    first = read_archive(out)
    assert first["articles"]["title"].to_list() == [TITLE]
    for name in SEED_NAMES:
        expected = {no: g.role for no, g in enumerate(gold_lines(name), start=1) if g.role}
        assert roles_by_line(first, f"{name}.txt") == expected

    rerun = archive(raw_dir=str(raw_dir), out_dir=str(out))
    assert rerun["captures"] == rerun["articles"] == 0  # nothing new to read
    assert (rerun["captures_archived_before"], rerun["articles_archived_before"]) == (2, 1)
    second = read_archive(out)
    for name in TABLES:
        assert_frame_equal(second[name], first[name])


def test_command_prints_a_summary(raw_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "archive"
    # One capture per batch: two batches start the worker pool, which reports to the run's temporary server.
    done = subprocess.run(
        [
            sys.executable, "-m", "flows.cli", "run", "--raw-dir", str(raw_dir), "--out-dir", str(out),
            "--decode-batch-captures", "1", "--batch-captures", "1",
        ],
        cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Traceback" not in done.stderr, done.stderr[-4000:]  # e.g. from the pool's shutdown thread
    assert "captures read: 2, articles: 1, paragraphs: 9, comments: 123, quarantined: 0" in done.stdout
    assert {p.name for p in out.iterdir() if not p.name.startswith((".", "_"))} == set(TABLES)


def test_runs_on_the_temporary_server_send_no_heartbeats() -> None:
    """Nothing watches a temporary server's heartbeats; a real server gets them."""
    from prefect.flow_engine import FlowRunEngine
    from prefect.settings import PREFECT_API_URL, get_current_settings, temporary_settings

    from flows.archive import archive
    from flows.cli import run_settings

    default = get_current_settings().flows.heartbeat_frequency
    assert default is not None
    with temporary_settings(restore_defaults={PREFECT_API_URL}), run_settings():
        assert FlowRunEngine(flow=archive).heartbeat_seconds is None  # what the engine asks before starting them
    with temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:4200/api"}), run_settings():
        assert get_current_settings().flows.heartbeat_frequency == default
