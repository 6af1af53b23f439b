"""Two runs at once: the second waits for the first (or stops with a clear message)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from polars.testing import assert_frame_equal

from tasks.core.schema import TABLES
from tasks.storage.store import ArchiveBusy, archive_lock
from tasks.write import read_archive
from tests.helpers import REPO, SEED_NAMES, SEEDS, run_stages


def test_a_second_holder_waits_for_the_first(tmp_path: Path) -> None:
    events: list[str] = []
    held = threading.Event()

    def first() -> None:
        with archive_lock(tmp_path, wait_seconds=5):
            held.set()
            time.sleep(0.5)
            events.append("first done")

    thread = threading.Thread(target=first)
    thread.start()
    held.wait()
    with archive_lock(tmp_path, wait_seconds=10, on_wait=events.append):
        events.append("second in")
    thread.join()
    assert events[0].startswith(f"waiting for pid {os.getpid()}")
    assert events[1:] == ["first done", "second in"]


def test_a_holder_that_cannot_wait_is_told_who_holds_the_archive(tmp_path: Path) -> None:
    with (
        archive_lock(tmp_path, wait_seconds=1),
        pytest.raises(ArchiveBusy, match=r"being written by pid \d+"),
        archive_lock(tmp_path, wait_seconds=0),
    ):
        pass


def command(raw: Path, out: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "flows.cli", "run", "--raw-dir", str(raw), "--out-dir", str(out), *extra],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


@pytest.mark.slow
def test_two_commands_at_once_both_complete_and_archive_once(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    for name in SEED_NAMES:
        shutil.copy(SEEDS / f"{name}.txt", raw / f"{name}.txt")
    out = tmp_path / "out"
    runs = [command(raw, out), command(raw, out)]
    outputs = [run.communicate(timeout=300)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], "\n=====\n".join(o[-3000:] for o in outputs)
    # One of them archived the seeds; the other found them archived.
    finals = [[line for line in o.splitlines() if line.startswith(("captures read:", "nothing new:"))] for o in outputs]
    assert sorted(f[0].split(",")[0] for f in finals) == [
        "captures read: 2", "nothing new: 2 captures already archived (1 article)"
    ]  # fmt: skip
    run_stages(raw, tmp_path / "once")
    once = read_archive(tmp_path / "once")
    both = read_archive(out)
    for table in TABLES:
        times = ["ingested_at", "first_seen_at", "last_seen_at"]
        assert_frame_equal(both[table].drop(times, strict=False), once[table].drop(times, strict=False))


@pytest.mark.slow
def test_a_command_that_will_not_wait_stops_with_a_clear_message(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    shutil.copy(SEEDS / f"{SEED_NAMES[1]}.txt", raw)
    with archive_lock(tmp_path / "out", wait_seconds=1):
        done = command(raw, tmp_path / "out", "--wait", "0")
        output = done.communicate(timeout=300)[0]
    assert done.returncode == 1
    assert f"is being written by pid {os.getpid()}" in output
