"""The summarize-run stage and what a person sees of a run in the Prefect UI: the summary and the quarantine."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ParamSpec, TypeVar

import polars as pl
from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from tasks.articles.rows import ArticleRows
from tasks.core.ids import source_id_of
from tasks.core.schema import TABLES
from tasks.discover import RawCapture
from tasks.plan import Changes
from tasks.state import ArchiveState

P = ParamSpec("P")
R = TypeVar("R")

SUMMARY_KEY = "archive-run-summary"
QUARANTINE_KEY = "archive-quarantine"
# The table artifact is for reading, not for export: `sources` holds every row.
MAX_QUARANTINE_ROWS = 1000
# The summary lists this many quarantined captures; the table artifact has the rest.
MAX_LISTED = 20
# The summary lists this many of the captures whose line roles the model was least sure of.
MAX_UNSURE = 10
LABELS = {"captures": "captures read"}


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


def run_sources(changes: Changes, state: ArchiveState, raw: Sequence[RawCapture]) -> pl.DataFrame:
    """The `sources` rows of the files this run read, less those it found archived before.

    A file still quarantined as before is among them, though its row was not written again.
    """
    read_ids = pl.Series([source_id_of(r.uri, r.sha256 or "") for r in raw], dtype=pl.String).implode()
    known = state.known.filter(pl.col("source_id").is_in(read_ids))
    again = known.filter(pl.col("status") != "quarantined")["source_id"].implode()
    written = pl.concat([*changes.get("sources", {}).values(), pl.DataFrame(schema=TABLES["sources"])])
    written = written.filter(pl.col("source_id").is_in(read_ids) & ~pl.col("source_id").is_in(again))
    unchanged = known.filter(
        (pl.col("status") == "quarantined") & ~pl.col("source_id").is_in(written["source_id"].implode())
    )
    return pl.concat([written, unchanged], how="diagonal_relaxed")


def run_summary(changes: Changes, state: ArchiveState, rows: ArticleRows, raw: Sequence[RawCapture]) -> dict[str, int]:
    """The counts a person wants after a run."""
    status = run_sources(changes, state, raw)["status"]
    stored_before = state.article_ids()
    article_ids = rows.article_ids
    return {
        "captures": len(raw),
        "archived": int((status == "archived").sum()),
        "duplicates": int((status == "duplicate").sum()),
        "quarantined": int((status == "quarantined").sum()),
        "articles": len(article_ids),
        "articles_new": len(article_ids - stored_before),
        "articles_updated": len(article_ids & stored_before),
        "paragraphs": rows.paragraphs.height,
        "captions": rows.captions.height,
        "comments": rows.comments.height,
        # What a run with nothing new says instead: "nothing new: N captures already archived (M articles)"
        "captures_archived_before": state.archived_files(),
        "articles_archived_before": len(stored_before),
    }


@task(name="summarize-run", cache_policy=NO_CACHE)
def summarize_run(
    changes: Changes, state: ArchiveState, rows: ArticleRows, raw: list[RawCapture]
) -> tuple[dict[str, int], dict[str, pl.DataFrame]]:
    """The run's counts, its own `sources` rows (for the quarantine report) and its least confident captures."""
    sources = run_sources(changes, state, raw)
    unsure = least_confident_captures(sources, rows.segments)
    return run_summary(changes, state, rows, raw), {"sources": sources, "least_confident": unsure}
