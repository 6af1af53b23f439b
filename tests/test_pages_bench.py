"""The hand-written pages in today's layouts (tests/fixtures/pages): their gold, and the archive's roles on them."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import polars as pl
import pytest

from bench.pages import PAGES, gold_frame
from bench.real import comment_detection, line_accuracy, scored_lines, title_detection
from tasks.synth.evaluate import predicted_roles
from tests.helpers import REPO, archive_tables
from tests.test_lifetime import GONE_WITHIN_S, MARK, processes_of

ROLES = {"title", "subtitle", "byline", "author_bio", "caption", "body", "comment", "boilerplate", "chrome"}
# What the shipped model reaches on these pages, less a margin: below it, a change has lost what the
# pages' threads, bylines and furniture were learned for (BENCHMARKS.md has the figures).
AT_LEAST = {"accuracy": 0.90, "comment_f1": 0.50, "title_f1": 0.70}


def test_every_non_blank_line_has_one_gold_role_and_its_opening_words() -> None:
    captures = sorted((PAGES / "raw").glob("*.txt"))
    assert len(captures) == 14
    for capture in captures:
        lines = capture.read_text(encoding="utf-8").split("\n")
        rows = (PAGES / "gold" / f"{capture.stem}.roles.tsv").read_text(encoding="utf-8").splitlines()
        assert rows[0] == "line\trole\ttext_start"
        gold = [row.split("\t", 2) for row in rows[1:]]
        assert [int(n) for n, _, _ in gold] == [i for i, line in enumerate(lines, 1) if line.strip()], capture.name
        assert all(role in ROLES and lines[int(n) - 1].startswith(start) for n, role, start in gold), capture.name


def test_gold_reads_as_realdev_does_chrome_apart_and_bylines_as_captions() -> None:
    frame = gold_frame(PAGES)
    assert set(frame["gold"]) == {"title", "caption", "body", "comment", "boilerplate"}
    chrome = frame.filter(pl.col("chrome"))
    assert chrome.height > 100
    assert set(chrome["gold"]) == {"comment"}
    kinds = frame.unique("capture").select("capture", "kind", "article").sort("capture")
    prints = kinds.filter(pl.col("kind") == "article-only")
    assert prints["capture"].to_list() == ["p05_opinion_print", "p06_opinion_print"]
    assert prints["article"].to_list() == ["p05", "p06"]


def test_the_archive_labels_the_pages_at_least_as_well_as_the_shipped_model_did() -> None:
    tables = archive_tables(PAGES / "raw")
    names = tables["sources"].with_columns(pl.col("uri").str.extract(r"([^/]+)$"))
    table = scored_lines(gold_frame(PAGES), predicted_roles(tables["segments"], names))
    found = {
        "accuracy": line_accuracy(table),
        "comment_f1": comment_detection(table).f1,
        "title_f1": title_detection(table).f1,
    }
    assert {k: v for k, v in found.items() if v < AT_LEAST[k]} == {}, found


@pytest.mark.slow
def test_a_benchmark_killed_while_it_runs_leaves_no_server_behind(tmp_path: Path) -> None:
    """A benchmark runs the flow in its own process, as `newsarchive run` does: its temporary server dies with it
    (a benchmark piped into `head` is killed by the pipe closing, at any moment)."""
    mark = uuid.uuid4().hex
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PREFECT_HOME": str(tmp_path / "prefect"), MARK: mark}
    bench = subprocess.Popen(
        [sys.executable, "-m", "bench.pages"], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    try:
        assert bench.stdout is not None
        for line in bench.stdout:  # the flow begins once the server answers
            if "Beginning flow run" in line:
                break
        assert len(processes_of(mark)) >= 2  # the benchmark and its server at least
        bench.kill()
        bench.wait(timeout=30)
        deadline = time.monotonic() + GONE_WITHIN_S
        while processes_of(mark) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert processes_of(mark) == {}
    finally:
        for pid in processes_of(mark):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
