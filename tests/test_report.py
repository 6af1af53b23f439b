"""The progress artifact moves on while a stage of several batches runs, and ends at 100 %; the summary
names the captures whose line roles the model was least sure of."""

from __future__ import annotations

from uuid import UUID

import polars as pl
import pytest
from prefect import flow, task
from prefect.cache_policies import NO_CACHE

import tasks.runtime.progress
from tasks.core.config import ExecutionConfig
from tasks.report import least_confident_captures, summary_markdown
from tasks.runtime.execution import Sealed, batch_runner
from tasks.runtime.progress import PROGRESS_KEY, StageProgress

BATCHES = 6


@task(name="double-batch", cache_policy=NO_CACHE)
def double_batch(batch: int) -> Sealed[int]:
    return Sealed(2 * batch)


@task(name="add-up", cache_policy=NO_CACHE)
def add_up(values: list[int]) -> int:
    return sum(values)


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
def test_progress_rises_while_the_batches_of_a_stage_finish_and_reaches_100(monkeypatch: pytest.MonkeyPatch) -> None:
    published: list[tuple[float, str]] = []
    publish = StageProgress._publish

    def recording(artifact_id: UUID | None, percent: float, description: str) -> UUID | None:
        published.append((percent, description))
        return publish(artifact_id, percent, description)  # the real artifact, created and updated

    monkeypatch.setattr(StageProgress, "_publish", staticmethod(recording))
    # Batches here take milliseconds, not the seconds between two updates of a real run.
    monkeypatch.setattr(tasks.runtime.progress, "PROGRESS_EVERY_SECONDS", 0.0)

    @flow(name="two-stages")
    def two_stages() -> tuple[int, UUID | None]:
        # Threads: the batches run on the task runner, as in a run, in the test's own process.
        with batch_runner(ExecutionConfig(runner="threads", workers=2)) as runner:
            progress = StageProgress([double_batch, add_up], runner=runner)
            doubled = progress.map(double_batch, list(range(BATCHES)))
            return progress.run(add_up, doubled), progress._artifact_id

    total, artifact_id = two_stages()
    assert total == 2 * sum(range(BATCHES))
    percents = [percent for percent, _ in published]
    assert percents == sorted(percents), published  # never backwards
    during = [p for p, note in published if "batches done" in note]
    assert len(during) == BATCHES - 1, published  # one per finished batch but the last (the stage's end says it)
    assert len(set(during)) == len(during), published  # each a step further
    assert all(0 < p < 50 for p in during), published  # inside stage 1 of 2
    final_percent, final_note = published[-1]
    assert final_percent == 100
    assert final_note.startswith("All 2 stages done")

    # What the UI reads: the run's progress artifact, at 100 %.
    from prefect import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    assert artifact_id is not None
    with get_client(sync_client=True) as client:
        progress = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[PROGRESS_KEY])))
    [mine] = [a for a in progress if a.id == artifact_id]
    assert (mine.key, mine.type, mine.data) == (PROGRESS_KEY, "progress", 100.0)


NOTHING_QUARANTINED = pl.DataFrame(schema={"capture": pl.String, "reason": pl.String, "size_bytes": pl.Int64})


def run_sources(*rows: tuple[str, str, str]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=["source_id", "uri", "status"], orient="row")


def run_segments(*rows: tuple[str, int, int, float | None]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=["source_id", "line_start", "line_end", "confidence"], orient="row")


def test_the_least_confident_captures_come_first_weighted_by_their_lines() -> None:
    sources = run_sources(
        ("a", "a.txt", "archived"), ("b", "b.txt", "archived"), ("c", "c.txt", "archived"),
        ("d", "d.txt", "duplicate"), ("e", "e.txt", "quarantined"),
    )  # fmt: skip
    segments = run_segments(
        ("a", 1, 3, 0.9), ("a", 5, 5, 0.5),  # (3 * 0.9 + 0.5) / 4 = 0.8
        ("b", 1, 1, 0.6), ("b", 2, 2, 0.7),  # 0.65
        ("c", 1, 2, None),  # the rules alone labeled it
        ("x", 1, 1, 0.1),  # a capture of an earlier run, rebuilt into an article of this one
    )  # fmt: skip
    unsure = least_confident_captures(sources, segments)
    assert unsure.rows() == [("b.txt", 0.65, 2), ("a.txt", 0.8, 4)]
    assert least_confident_captures(sources, segments, limit=1)["capture"].to_list() == ["b.txt"]


def test_the_summary_lists_the_least_confident_captures_and_leaves_the_section_out_without_any() -> None:
    sources = run_sources(("a", "a.txt", "archived"), ("b", "b.txt", "archived"))
    unsure = least_confident_captures(sources, run_segments(("a", 1, 4, 0.75), ("b", 1, 2, 0.5)))
    text = summary_markdown(
        {"captures": 2}, NOTHING_QUARANTINED, {}, raw_dir="/raw", out_dir="/archive", least_confident=unsure
    )
    assert "## Least confident captures\n\n| capture | confidence | lines |\n|---|---:|---:|\n" in text
    assert "| `b.txt` | 0.500 | 2 |\n| `a.txt` | 0.750 | 4 |\n" in text
    assert text.index("## Least confident") < text.index("## Time per stage")
    none = least_confident_captures(sources, run_segments(("a", 1, 4, None)))
    for without in (None, none):
        text = summary_markdown(
            {}, NOTHING_QUARANTINED, {}, raw_dir="/raw", out_dir="/archive", least_confident=without
        )
        assert "Least confident" not in text
