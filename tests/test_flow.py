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


def test_the_command_runs_without_prefects_server_code_in_its_process(raw_dir: Path, tmp_path: Path) -> None:
    """The temporary server is a process of its own: the run's process never imports the server it talks to.

    One capture per batch: the worker pool starts, and with it threads of Prefect's that talk to the server.
    """
    script = (
        "import sys\n"
        "from flows.cli import main\n"
        "code = main(['run', '--raw-dir', sys.argv[1], '--out-dir', sys.argv[2],\n"
        "             '--decode-batch-captures', '1', '--batch-captures', '1'])\n"
        "print('server code imported:', 'prefect.server.api.server' in sys.modules)\n"
        "raise SystemExit(code)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(raw_dir), str(tmp_path / "archive")],
        cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "captures read: 2, articles: 1" in done.stdout
    assert "server code imported: False" in done.stdout, done.stdout[-2000:]
    assert done.stderr.count("Starting temporary server") == 1, done.stderr[-4000:]
    assert "View at" not in done.stderr  # that server serves no UI: no link to a page that is not there


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
