"""The progress artifact moves on while a stage of several batches runs, and ends at 100 %."""

from __future__ import annotations

from uuid import UUID

import pytest
from prefect import flow, task
from prefect.cache_policies import NO_CACHE

import tasks.report
from tasks.config import ExecutionConfig
from tasks.execution import Sealed, batch_runner
from tasks.report import PROGRESS_KEY, StageProgress

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
    monkeypatch.setattr(tasks.report, "PROGRESS_EVERY_SECONDS", 0.0)

    @flow(name="two-stages")
    def two_stages() -> tuple[int, UUID | None]:
        # Threads: the batches run on the task runner, as in a run, in the test's own process.
        with batch_runner(ExecutionConfig(runner="threads", workers=2)) as runner:
            progress = StageProgress(total=2, runner=runner)
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
