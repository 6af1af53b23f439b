"""What a person sees of a run in the Prefect UI: a progress bar while it runs, a summary and the quarantine after."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any, ParamSpec, TypeVar, cast, overload
from uuid import UUID

import polars as pl
from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_progress_artifact, create_table_artifact
from prefect.artifacts import update_progress_artifact as _update_progress
from prefect.cache_policies import NO_CACHE
from prefect.tasks import Task
from prefect.utilities.annotations import quote

from tasks.config import ExecutionConfig
from tasks.execution import BatchRunner, Sealed

P = ParamSpec("P")
R = TypeVar("R")

PROGRESS_KEY = "archive-progress"
SUMMARY_KEY = "archive-run-summary"
QUARANTINE_KEY = "archive-quarantine"
# The table artifact is for reading, not for export: `sources` holds every row.
MAX_QUARANTINE_ROWS = 1000
# The summary lists this many quarantined captures; the table artifact has the rest.
MAX_LISTED = 20
# The summary lists this many of the captures whose line roles the model was least sure of.
MAX_UNSURE = 10
LABELS = {"captures": "captures read"}
PROGRESS_EVERY_SECONDS = 5.0  # how often a batch stage moves the progress artifact on


class StageProgress:
    """Runs the flow's stages one by one, moving a progress artifact on and timing each stage.

    Plain calls, not tasks or state hooks, so the UI shows no extra task runs or hook log lines.
    """

    def __init__(self, total: int, runner: BatchRunner | None = None) -> None:
        self.total = total
        self.runner = runner or BatchRunner(ExecutionConfig(workers=1))
        self.done = 0
        self.seconds: dict[str, float] = {}  # task name -> seconds, in run order
        self._artifact_id: UUID | None = self._publish(None, 0.0, f"Starting: {total} stages")

    @overload
    def run(self, stage: Task[P, Sealed[R]], *args: P.args, **kwargs: P.kwargs) -> R: ...
    @overload
    def run(self, stage: Task[P, R], *args: P.args, **kwargs: P.kwargs) -> R: ...
    def run(self, stage: Task[P, Any], *args: P.args, **kwargs: P.kwargs) -> Any:
        """Call one stage's task (its result unsealed); the progress artifact names it while it runs."""
        started = self._starting(stage.name)
        # quote(): Prefect would otherwise walk every element of large inputs (all
        # captures, all articles) looking for futures; measured 80 s of 96 s on 100 captures.
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
        if self.done == self.total:  # a stage was added to the flow but not to its count
            self.total += 1
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


def _label(count: str) -> str:
    return LABELS.get(count, count.replace("_", " "))


def quarantined_captures(sources: pl.DataFrame) -> pl.DataFrame:
    """The captures that were not archived, with the reason, in path order."""
    quarantined = sources.filter(pl.col("status") == "quarantined")
    return quarantined.select(pl.col("uri").alias("capture"), pl.col("error").alias("reason"), "size_bytes").sort(
        "capture"
    )


def least_confident_captures(sources: pl.DataFrame, segments: pl.DataFrame, *, limit: int = MAX_UNSURE) -> pl.DataFrame:
    """The captures archived this run whose lines' roles were least sure: the ones a person reads first.

    Mean confidence per line, from the segments' means weighted by their lines; captures without any are left out.
    """
    archived = sources.filter(pl.col("status") == "archived").select("source_id", pl.col("uri").alias("capture"))
    n_lines = pl.col("line_end") - pl.col("line_start") + 1
    per_capture = (
        segments.filter(pl.col("confidence").is_not_null())
        .group_by("source_id")
        .agg(
            ((pl.col("confidence") * n_lines).sum() / n_lines.sum()).round(3).alias("confidence"),
            n_lines.sum().alias("lines"),
        )
    )
    unsure = archived.join(per_capture, on="source_id").sort("confidence", "capture").head(limit)
    return unsure.select("capture", "confidence", "lines")


def _least_confident_section(unsure: pl.DataFrame | None) -> list[str]:
    if unsure is None or unsure.is_empty():
        return []
    lines = ["", "## Least confident captures", "", "| capture | confidence | lines |", "|---|---:|---:|"]
    return lines + [f"| `{capture}` | {confidence:.3f} | {n:,} |" for capture, confidence, n in unsure.iter_rows()]


def summary_markdown(
    summary: Mapping[str, int], quarantined: pl.DataFrame, seconds: Mapping[str, float],
    *, raw_dir: str, out_dir: str, least_confident: pl.DataFrame | None = None,
) -> str:  # fmt: skip
    """The run in one page: counts, what was quarantined and why, which captures to read first, where the time went.

    `least_confident`: the captures whose line roles the model was least sure of (`least_confident_captures`).
    """
    lines = [
        "# Archive run",
        "",
        f"Read `{raw_dir}`, wrote `{out_dir}`.",
        "",
        "| | count |",
        "|---|---:|",
    ]
    lines += [f"| {_label(name)} | {value:,} |" for name, value in summary.items()]
    lines += ["", "## Quarantined", ""]
    listed = quarantined.head(MAX_LISTED).iter_rows(named=True)
    lines += [f"- `{row['capture']}`: {row['reason']}" for row in listed] or ["None."]
    if quarantined.height > MAX_LISTED:
        lines.append(f"- … and {quarantined.height - MAX_LISTED:,} more (see the `{QUARANTINE_KEY}` table)")
    lines += _least_confident_section(least_confident)
    lines += ["", "## Time per stage", "", "| stage | seconds |", "|---|---:|"]
    lines += [f"| {stage} | {spent:.2f} |" for stage, spent in seconds.items()]
    lines.append(f"| **total** | **{sum(seconds.values()):.2f}** |")
    return "\n".join(lines) + "\n"


@task(name="publish-run-report", cache_policy=NO_CACHE)
def publish_run_report(
    tables: Mapping[str, pl.DataFrame],
    summary: dict[str, int],
    seconds: dict[str, float],
    *,
    raw_dir: str,
    out_dir: str,
) -> None:
    """A markdown summary and a table of the quarantined captures, shown on the run's page.

    `tables`: the run's `sources` rows, and its `least_confident` captures where it has them.
    """
    quarantined = quarantined_captures(tables["sources"])
    create_markdown_artifact(
        summary_markdown(
            summary,
            quarantined,
            seconds,
            raw_dir=raw_dir,
            out_dir=out_dir,
            least_confident=tables.get("least_confident"),
        ),
        key=SUMMARY_KEY,
        description=(
            "Captures read, archived, duplicates, quarantined; articles, paragraphs, comments; "
            "the least confident captures; time per stage"
        ),
    )
    create_table_artifact(
        # A list of rows: Prefect's V2 UI reads no other shape (it showed "No results." for a dict of columns); the V1
        # UI reads this one too. Neither shows the headers of an empty table.
        quarantined.head(MAX_QUARANTINE_ROWS).to_dicts(),
        key=QUARANTINE_KEY,
        description=f"{quarantined.height} quarantined captures and why (`sources` rows with status 'quarantined')",
    )
    counts = ", ".join(f"{_label(name)}: {value}" for name, value in summary.items())
    get_run_logger().info("%s; %.1f s in the stages", counts, sum(seconds.values()))
