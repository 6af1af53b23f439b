"""The flow's parameters: frozen pydantic models, so Prefect validates them and the UI shows a form."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ReadConfig(_Frozen):
    """Limits on what one capture may be; a capture beyond them is quarantined with the reason."""

    max_capture_mb: float = Field(
        20.0,
        gt=0,
        le=1024,
        title="Largest capture (MB)",
        description="Captures larger than this are quarantined instead of read.",
    )  # 20 MB: the largest page captures seen are under 2 MB; bounds a run's memory
    max_line_chars: int = Field(
        100_000,
        ge=1_000,
        le=10_000_000,
        title="Longest line (characters)",
        description="A capture with a longer line (a dump, not a page) is quarantined.",
    )  # 100,000: a paragraph or comment is under 10,000; fuzzy matching a longer line costs seconds


class MatchConfig(_Frozen):
    """How captures of one article are found (the group-captures-by-article stage)."""

    shingle_words: int = Field(
        4,
        ge=2,
        le=12,
        title="Shingle length (words)",
        description="Words per shingle used to find candidate pairs of captures.",
    )  # 4: long enough to be rare across articles, short enough to survive small edits
    max_shingle_captures: int = Field(
        10,
        ge=2,
        le=100_000,
        title="Most captures sharing a shingle",
        description="Shingles found in more captures of one run than this (boilerplate, wire copy) are ignored.",
    )  # 10: an article comes as 1-4 captures a run; common phrases and wire copy are in far more.
    # Letting them through made 83,530 candidate line pairs instead of 1,944 on 100 captures.
    min_line_words: int = Field(
        6,
        ge=1,
        le=100,
        title="Shortest line compared (words)",
        description="Lines with fewer words take no part in grouping.",
    )  # 6: titles and short comments ("Russia knows.") match too easily
    line_score_cutoff: float = Field(
        90.0,
        ge=50.0,
        le=100.0,
        title="Line match score",
        description="rapidfuzz partial_ratio a line must reach against a line of the other capture.",
    )  # 90: reflowed seed paragraphs score 97-100, unrelated lines sharing a shingle below 70
    min_containment: float = Field(
        0.5,
        ge=0.05,
        le=1.0,
        title="Body containment",
        description="Share of the smaller capture's long-line text the other must hold to be the same article.",
    )  # 0.5: seeds hold 0.9+ of each other; a shared wire paragraph is well under 0.3
    min_own_lines: int = Field(
        3,
        ge=1,
        le=100,
        title="Own lines of a framed article",
        description=(
            "Two captures are two articles, however much they share, when between two long lines both hold "
            "each has at least this many long lines the other lacks (two pages of one site: its menus, related "
            "links and footer around different articles)."
        ),
    )  # 3: one article's synthetic captures differ there by 2 lines at most (with 2, 4 of 11,381 matched pairs of
    # 10,000 captures would part, with 3 none of 111,067 of 99,805); real pages of one site framed 5 or more (a
    # development set kept outside the repository)
    min_own_share: float = Field(
        0.1,
        ge=0.0,
        le=1.0,
        title="Own share of a framed article",
        description="Share of the smaller capture's long-line text that each of those runs of own lines must reach.",
    )  # 0.1: those real pages' own articles were 0.13-0.41 of the smaller page's long-line text
    min_own_paragraph_words: int = Field(
        20,
        ge=1,
        le=200,
        title="Paragraph of a framed article (words)",
        description="Each of those runs must hold a line of this many words or more: an article, not new headlines.",
    )  # 20: each of those real pages' own articles had a line of 30+ words; headlines have 6-15

    min_frame_lines: int = Field(
        10,
        ge=1,
        le=1000,
        title="Short lines of a page's frame",
        description=(
            "A capture shows a page frame of its own when this many short lines or more stand outside the "
            "long lines it shares with the other capture (masthead, menus, footer links)."
        ),
    )  # 10: a site's name, menu and footer links make 10+ short lines; an article's own (a short title, a
    # byline, a date) and a thread's short comments fewer (the seeds: 4 and 1; article-only captures of a
    # development set kept outside the repository: 4 at most, the two-site pages it parted 18 and more)
    min_frame_match: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        title="Frame match",
        description=(
            "Two captures that both show a frame are one page when this share of the smaller frame's characters "
            "is in the other's frame; less, and they are two pages (two articles) however much text they share."
        ),
    )  # 0.5: one page captured twice keeps its frame but a teaser or two (0.92 in the tests); two sites share
    # a few generic menu words (0.07 in the tests; 0.04 at most on the development set's two-site pages)


class RolesConfig(_Frozen):
    """How lines get their roles once captures are aligned (the label-merge-and-link-articles stage)."""

    min_run_words: int = Field(
        3,
        ge=1,
        le=50,
        title="Shortest shared run (words)",
        description="Runs of equal words shorter than this are chance matches of common words.",
    )  # 3: chance LCS runs between the seed's comments and its metadata are 1-2 words
    shared_coverage: float = Field(
        0.5,
        ge=0.05,
        le=1.0,
        title="Shared share of a line",
        description="Share of a line's words another capture must hold for the line to be shared.",
    )  # 0.5: an edited seed paragraph keeps 0.8+, a comment quoting half a paragraph stays apart
    line_model: Literal["learned", "rules"] = Field(
        "learned",
        title="Line roles from",
        description=(
            "learned: the model trained on annotated real pages (tasks/articles/rolemodel), which reads the rules' "
            "roles and the alignment as evidence; rules: the hand-written rules alone."
        ),
    )  # learned: line-role accuracy on real pages of sites it never saw (BENCHMARKS.md, "Real pages")
    max_caption_gap: int = Field(
        2,
        ge=0,
        le=20,
        title="Longest caption run (lines)",
        description="Lines inside the body found in one capture only, at most this many in a row, are captions.",
    )  # 2: a photo caption is one line, sometimes with a credit line


class QuoteConfig(_Frozen):
    """How a comment quoting the article or an earlier comment is linked (label-merge-and-link-articles)."""

    min_quote_words: int = Field(
        6,
        ge=1,
        le=100,
        title="Shortest quote (words)",
        description="Quoted text shorter than this is not linked.",
    )  # 6: the gold's shortest quote has 7 words; 5-word echoes ("cut Ukraine lose from Russia") are not quotes
    score_cutoff: float = Field(
        90.0,
        ge=50.0,
        le=100.0,
        title="Quote match score",
        description="rapidfuzz partial_ratio the quoted text must reach inside the quoted line.",
    )  # 90: gold quotes score 95-100 after normalization
    max_candidates: int = Field(
        100,
        ge=1,
        le=1_000_000,
        title="Lines tried per quote",
        description=(
            "A comment's quoted text is looked for in at most this many earlier lines holding its two rarest "
            "words, earliest first: linking stays linear in a thread of many thousands of comments."
        ),
    )  # 100: a seed quote's rarest words are held by at most a few lines; a long thread needs the cap


class ExecutionConfig(_Frozen):
    """Where the batch stages (decoding, then roles, merging and quotes per batch of articles) run."""

    runner: Literal["processes", "threads", "dask"] = Field(
        "processes",
        title="Task runner",
        description=(
            "processes: a pool of worker processes on this machine; threads: one process (little memory, one core "
            "for Python work); dask: a Dask cluster, local or at the address below."
        ),
    )  # processes: the stages are pure Python, so threads would share one core
    workers: int = Field(
        0,
        ge=0,
        le=256,
        title="Workers",
        description="Worker processes or threads (0: one per CPU core). For dask, the size of the local cluster.",
    )
    dask_address: str = Field(
        "",
        max_length=500,
        title="Dask scheduler address",
        description="For the dask runner: an existing cluster (tcp://host:8786); empty starts a local cluster.",
    )
    decode_batch_captures: int = Field(
        5_000,
        ge=1,
        le=1_000_000,
        title="Captures per decoding task",
        description="Captures one task reads, decodes and splits into lines.",
    )  # 5,000: bounds a decoding worker's memory. Each task costs Prefect settings and clients made again in
    # the worker, so smaller batches are slower
    batch_captures: int = Field(
        5_000,
        ge=1,
        le=1_000_000,
        title="Captures per batch of articles",
        description="At most about as many captures per task that labels, merges and links whole articles.",
    )  # 5,000: bounds a worker's memory; smaller batches cost more tasks and time

    @property
    def workers_elsewhere(self) -> bool:
        """An existing Dask cluster: its workers may run on other machines and see none of this one's folders."""
        return self.runner == "dask" and bool(self.dask_address)


KEEP_HOURS = 7 * 24  # runs that compaction keeps readable by default: a week


class CompactionConfig(_Frozen):
    """When a run compacts the archive after its commit (`newsarchive compact` does it by hand)."""

    every_runs: int = Field(
        0,
        ge=0,
        le=100_000,
        title="Compact every (runs)",
        description=(
            "0: never. N: after a run commits, once N runs have written to the archive since it was last "
            "compacted, rewrite each table's small files into few and remove the files no run of the last "
            "hours below reads. A failed compaction is logged; the run that committed still succeeds."
        ),
    )  # 0: compaction makes earlier runs unreadable once their files go, so an archive has it only when asked
    keep_hours: int = Field(
        KEEP_HOURS,
        ge=0,
        le=24 * 365 * 10,
        title="Keep runs readable (hours)",
        description="Compaction keeps the runs of the last hours readable (read_archive(run=...)); older ones not.",
    )  # a week: as `newsarchive compact` keeps


# The flow's top-level parameters (flows/archive.py), each its own field of the UI's form, so that a run given some of
# them keeps the deployment's values of the others: Prefect merges a run's parameters with its deployment's by name.


def _shown(title: str, description: str) -> Any:
    """A top-level parameter's title and help text in the UI's form.

    Prefect titles a flow's parameter with its name and drops a description set on its type, but keeps the type's
    JSON schema extras: they go there as well.
    """
    return Field(title=title, description=description, json_schema_extra={"title": title, "description": description})


def _absolute(path: str) -> str:
    # A deployment's runs start in whatever folder the runner started in: a relative path would depend on it.
    if not Path(path).is_absolute():
        raise ValueError(f"{path!r} is not an absolute path (a run may start in any folder): give the full path")
    return path


def _absolute_or_object_store(path: str) -> str:
    return path if path.startswith(("s3://", "s3a://")) else _absolute(path)


# The pattern refuses a relative path in the server's check, before a deployment's run is created.
_Location = Annotated[
    str, AfterValidator(_absolute_or_object_store), Field(json_schema_extra={"pattern": "^(/|s3a?://)"})
]
RawDir = Annotated[
    _Location,
    _shown(
        "Raw captures",
        "Directory of raw text captures (one file per capture): an absolute path, or s3://bucket/prefix.",
    ),
]
OutDir = Annotated[
    _Location,
    _shown(
        "Archive directory",
        "Directory of the Delta tables (created if missing): an absolute path, or s3://bucket/prefix.",
    ),
]
LockWaitSeconds = Annotated[
    int,
    Field(ge=0, le=86_400),
    _shown("Wait for another run (s)", "How long to wait while another run writes the same archive before giving up."),
]
LOCK_WAIT_SECONDS = 3600  # an hour: a daily scheduled run and a manual one should queue, not fail
Reading = Annotated[
    ReadConfig,
    _shown(
        "Reading", "Limits on one capture: a larger one, or one with a longer line, is quarantined with the reason."
    ),
]
Grouping = Annotated[
    MatchConfig,
    _shown("Grouping", "How the captures of one article are found: shared shingles of long lines, then line scores."),
]
Roles = Annotated[
    RolesConfig, _shown("Roles", "How aligned captures tell title, body, caption, byline, bio and comments apart.")
]
Quotes = Annotated[
    QuoteConfig, _shown("Quotes", "How a comment that quotes a paragraph or an earlier comment is linked to it.")
]
Compaction = Annotated[
    CompactionConfig,
    _shown(
        "Compaction",
        "Whether a run compacts the archive after its commit (every N runs), and which runs stay readable.",
    ),
]
Execution = Annotated[
    ExecutionConfig,
    _shown(
        "Execution", "Where the batch stages run (worker processes, threads or Dask) and how large their batches are."
    ),
]


class ArchiveParams(_Frozen):
    """Every parameter of the archive flow in one object, for callers in Python (the command, tests, benchmarks)."""

    raw_dir: RawDir
    out_dir: OutDir
    lock_wait_seconds: LockWaitSeconds = LOCK_WAIT_SECONDS
    read: Reading = ReadConfig()
    match: Grouping = MatchConfig()
    roles: Roles = RolesConfig()
    quotes: Quotes = QuoteConfig()
    execution: Execution = ExecutionConfig()
    compaction: Compaction = CompactionConfig()

    def flow_parameters(self) -> dict[str, Any]:
        """The archive flow's keyword arguments: one per field, the sections as their models."""
        return dict(self)
