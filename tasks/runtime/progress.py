"""The stage runner: the flow's stages one by one, a progress artifact moved on and each stage timed."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, ParamSpec, TypeVar, cast, overload
from uuid import UUID

from prefect import get_run_logger
from prefect.artifacts import create_progress_artifact
from prefect.artifacts import update_progress_artifact as _update_progress
from prefect.logging import disable_run_logger
from prefect.tasks import Task
from prefect.utilities.annotations import quote

from tasks.core.config import ExecutionConfig
from tasks.runtime.execution import BatchRunner, Sealed

P = ParamSpec("P")
R = TypeVar("R")

PROGRESS_KEY = "archive-progress"
PROGRESS_EVERY_SECONDS = 5.0  # how often a batch stage moves the progress artifact on


class UnknownStage(ValueError):
    """A stage run that the flow's order of stages does not name (or names later)."""


class StageProgress:
    """Runs the flow's stages one by one, in their order, moving a progress artifact on and timing each stage.

    `order` is the flow's list of its stages, once: the artifact's "stage N of M" comes from it, and
    a stage that it does not name, or that comes before one already run, is refused. Plain calls,
    not tasks or state hooks, so the UI shows no extra task runs or hook log lines.
    """

    def __init__(self, order: Sequence[Task[..., Any]], runner: BatchRunner | None = None) -> None:
        self.order = tuple(stage.name for stage in order)
        self.total = len(self.order)
        self.runner = runner or BatchRunner(ExecutionConfig(workers=1))
        self.done = 0
        self.seconds: dict[str, float] = {}  # task name -> seconds, in run order
        self._artifact_id: UUID | None = self._publish(None, 0.0, f"Starting: {self.total} stages")

    def start_workers_for(self, new_files: int) -> None:
        """Start the batch stages' workers early, when `new_files` surely makes several batches (BatchRunner)."""
        self.runner.start_workers_for(new_files)

    def release_workers(self) -> None:
        """The last batch stage is done: the workers go, and their memory back, while the flow goes on."""
        self.runner.release()

    @overload
    def run(self, stage: Task[P, Sealed[R]], *args: P.args, **kwargs: P.kwargs) -> R: ...
    @overload
    def run(self, stage: Task[P, R], *args: P.args, **kwargs: P.kwargs) -> R: ...
    def run(self, stage: Task[P, Any], *args: P.args, **kwargs: P.kwargs) -> Any:
        """Call one stage's task (its result unsealed); the progress artifact names it while it runs."""
        started = self._starting(stage.name)
        # quote(): Prefect would otherwise walk every element of large inputs (all
        # captures, all articles) looking for futures, most of a small run's time.
        quoted_args = [quote(a) for a in args]
        quoted_kwargs = {k: quote(v) for k, v in kwargs.items()}
        result = stage(*quoted_args, **quoted_kwargs)  # type: ignore[arg-type]
        self._finished(stage.name, started)
        return result.value if isinstance(result, Sealed) else result

    def map(self, stage: Task[..., Sealed[R]], batches: Sequence[Any], **common: Any) -> list[R]:
        """Run one stage's task on every batch (on the task runner when there are several), results in order."""
        started = self._starting(stage.name)
        base = 100 * self.done / self.total

        published = [time.monotonic()]

        def batch_done(n: int) -> None:
            # Every few seconds, not every batch: each update is a request the server must serve
            # while the workers want both cores. The stage's end is published anyway.
            if len(batches) > 1 and n < len(batches) and time.monotonic() - published[0] >= PROGRESS_EVERY_SECONDS:
                published[0] = time.monotonic()
                note = f"Stage {self.done + 1} of {self.total}: {stage.name}, {n} of {len(batches)} batches done"
                self._artifact_id = self._publish(self._artifact_id, base + 100 * n / len(batches) / self.total, note)

        results = self.runner.map(stage, batches, on_done=batch_done, **common)
        self._finished(stage.name, started)
        return results

    def _starting(self, name: str) -> float:
        if name not in self.order[self.done :]:
            raise UnknownStage(f"stage {name!r} is not next in the flow's order: {', '.join(self.order)}")
        self.done = self.order.index(name, self.done)
        note = f"Stage {self.done + 1} of {self.total}: {name}"
        self._artifact_id = self._publish(self._artifact_id, 100 * self.done / self.total, note)
        return time.perf_counter()

    def _finished(self, name: str, started: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started
        self.done += 1
        note = f"Stage {self.done} of {self.total} done: {name}"
        if self.done == self.total:
            note = f"All {self.total} stages done in {sum(self.seconds.values()):.1f} s"
        self._artifact_id = self._publish(self._artifact_id, 100 * self.done / self.total, note)

    @staticmethod
    def _publish(artifact_id: UUID | None, percent: float, description: str) -> UUID | None:
        """Create or update the progress artifact; a failed update costs the run nothing."""
        try:
            if artifact_id is None:
                # async_dispatch types the result as UUID | Coroutine; called from sync code it is a UUID
                return cast(UUID, create_progress_artifact(percent, key=PROGRESS_KEY, description=description))
            _update_progress(artifact_id, percent, description=description)
        except Exception as err:  # the archive matters more than its progress bar
            get_run_logger().warning("could not update the progress artifact: %s", err)
        return artifact_id


class InProcessStages:
    """The same stages as StageProgress runs, called as plain functions in this process, with no Prefect run.

    What tests, benchmarks and training use to run the flow's phases (flows/archive.py): one composition
    of the stages, two ways to run it. The stages' run loggers say nothing here.
    """

    def __init__(self, order: Sequence[Task[..., Any]]) -> None:
        self.order = tuple(stage.name for stage in order)
        self.seconds: dict[str, float] = {}

    def start_workers_for(self, new_files: int) -> None:
        """No workers: every batch runs here."""

    def release_workers(self) -> None:
        """No workers to release."""

    def run(self, stage: Task[..., Any], *args: Any, **kwargs: Any) -> Any:
        """The stage's function on the arguments, its result unsealed."""
        if stage.name not in self.order:
            raise UnknownStage(f"stage {stage.name!r} is not in the flow's order: {', '.join(self.order)}")
        started = time.perf_counter()
        with disable_run_logger():
            result = stage.fn(*args, **kwargs)
        self.seconds[stage.name] = self.seconds.get(stage.name, 0.0) + time.perf_counter() - started
        return result.value if isinstance(result, Sealed) else result

    def map(self, stage: Task[..., Sealed[R]], batches: Sequence[Any], **common: Any) -> list[R]:
        """The stage's function on every batch, one after the other, results in order."""
        return [self.run(stage, batch, **common) for batch in batches]
