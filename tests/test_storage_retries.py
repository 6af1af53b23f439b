"""Tasks that read or write storage retry a transient failure after a backoff; the flow is stopped after 6 hours."""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from prefect import flow
from prefect.client.schemas.objects import State
from prefect.tasks import Task

import tasks.state
from flows.archive import archive
from tasks.discover import discover_captures
from tasks.plan import build_changes
from tasks.related import load_related
from tasks.state import ArchiveState, open_archive
from tasks.write import commit_archive

BACKOFF_S = [1, 5]  # README: "retry twice (after 1 s and 5 s)"
STORAGE_TASKS: list[Task[..., Any]] = [open_archive, discover_captures, load_related, build_changes, commit_archive]


@pytest.mark.parametrize("stage", STORAGE_TASKS, ids=lambda stage: stage.name)
def test_tasks_that_read_or_write_storage_retry_twice_with_backoff(stage: Task[..., Any]) -> None:
    assert stage.retries == len(BACKOFF_S)
    assert stage.retry_delay_seconds == BACKOFF_S
    assert not stage.retry_jitter_factor  # the delays are exactly these


def test_a_run_is_stopped_after_six_hours() -> None:
    assert archive.timeout_seconds == 6 * 3600


def task_run_history(task_run_id: UUID) -> list[State]:
    """The task run's states in order, once its final one has reached the server (states arrive as events)."""
    from prefect import get_client

    from tests.test_deploy import wait_for

    def history() -> list[State]:
        with get_client(sync_client=True) as client:
            states = sorted(client.read_task_run_states(task_run_id), key=lambda s: s.timestamp)
        return states if states and states[-1].is_final() else []

    return list(wait_for(history, 30, f"the states of task run {task_run_id}"))


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
def test_a_transient_storage_error_is_retried_after_1_s_then_5_s(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two transient errors (a disk or network mount hiccup) where open-archive reads the archive.
    failures = [OSError(errno.EIO, "Input/output error (injected)") for _ in BACKOFF_S]
    read_state = tasks.state.read_state

    def flaky_read_state(root: Path, *, raw_dir: str | None = None) -> ArchiveState:
        if failures:
            raise failures.pop()
        return read_state(root, raw_dir=raw_dir)

    monkeypatch.setattr(tasks.state, "read_state", flaky_read_state)

    @flow(name="open-an-archive")
    def open_an_archive(out_dir: str) -> tuple[UUID | None, int]:
        opened = open_archive(out_dir, return_state=True)
        return opened.state_details.task_run_id, opened.result().manifest.version

    task_run_id, version = open_an_archive(str(tmp_path / "archive"))
    assert not failures  # it read the archive on its third attempt
    assert version == 0
    assert task_run_id is not None
    history = task_run_history(task_run_id)
    attempts = [s.name for s in history if s.name != "Pending"]
    assert attempts == ["Running", "AwaitingRetry", "Retrying", "AwaitingRetry", "Retrying", "Completed"]
    waits = [s for s in history if s.name == "AwaitingRetry"]
    planned = [(s.state_details.scheduled_time - s.timestamp).total_seconds() for s in waits]  # type: ignore[operator]
    assert planned == pytest.approx(BACKOFF_S, abs=0.25)
    # And it did wait that long before trying again.
    retries = [s for s in history if s.name == "Retrying"]
    waited = [(retry.timestamp - wait.timestamp).total_seconds() for wait, retry in zip(waits, retries, strict=True)]
    assert all(w >= b - 0.1 for w, b in zip(waited, BACKOFF_S, strict=True)), waited


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
def test_a_raw_folder_that_cannot_be_listed_fails_discovery_at_once(tmp_path: Path) -> None:
    """A missing raw folder stays missing: no retry, no 6 s of waiting, nothing quarantined for it
    (on main it was tried three times)."""
    from tasks.core.folders import RawFolderError

    @flow(name="list-a-missing-folder")
    def list_a_missing_folder(raw_dir: str) -> UUID | None:
        listed = discover_captures(raw_dir, {}, return_state=True)
        return listed.state_details.task_run_id

    task_run_id = list_a_missing_folder(str(tmp_path / "missing"))
    assert task_run_id is not None
    history = task_run_history(task_run_id)
    assert [s.name for s in history if s.name != "Pending"] == ["Running", "Failed"]
    assert f"{RawFolderError.__name__}: raw directory" in (history[-1].message or "")
    assert "cannot be listed: No such file or directory" in (history[-1].message or "")
