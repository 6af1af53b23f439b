"""Real pages: the archive's line roles and grouping scored against realdev's human gold (issue 17).

`python -m bench.real [--realdev DIR] [--split dev|holdout|both|all]` archives realdev/raw with the
Prefect flow, as `newsarchive run` runs it, into a temporary folder and prints a Markdown report.
realdev is for research use only: it is read where it lies and only numbers leave it (no line text,
no excerpts, no word lists). Scoring holdout is logged, so that every look at it is counted.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import polars as pl

from tasks.synth.evaluate import pair_scores, predicted_roles

REPO = Path(__file__).resolve().parents[1]
LOOKS_LOG = Path.home() / ".cache" / "newsarchive" / "holdout-looks.log"

GOLD_ROLES = ("title", "body", "caption", "comment", "boilerplate")
ARTICLE_ROLES = ("title", "body", "caption")
# realdev's caption is L3S "supplemental" (dates, bylines, credits, standfirsts): the finer roles compare as it.
AS_CAPTION = ("subtitle", "byline", "author_bio")
CHROME = "comment chrome"  # confusion row: gold comment lines that hold no reader's text (headings, names, forms)
LOST = "missing"  # lines that no segment of the archive covers
KINDS = ("page", "article-only")
# Two pages of different gold articles whose body text is one text (a wire story on two sites or two
# pages of one site): at least this share of the smaller body's word shingles is in the other.
SAME_TEXT_SHINGLE_WORDS = 8
SAME_TEXT_SHARE = 0.8
SplitChoice = Literal["dev", "holdout", "both", "all"]
# Each inner tuple is scored as one set: "both" scores dev and holdout apart, "all" pools them.
SCORED: dict[str, tuple[tuple[str, ...], ...]] = {
    "dev": (("dev",),),
    "holdout": (("holdout",),),
    "both": (("dev",), ("holdout",)),
    "all": (("dev", "holdout"),),
}


@dataclass(frozen=True)
class Detection:
    """Line-level precision and recall of one role (none predicted: precision 1; none in gold: recall 1)."""

    gold: int
    predicted: int
    true: int
    precision: float
    recall: float
    f1: float


# ---- pure scoring: frames in, numbers out ----------------------------------------------------------


def gold_frame(gold: Mapping[str, Mapping[str, Any]], splits: Iterable[str]) -> pl.DataFrame:
    """capture (file name without .txt), kind, article, line, gold, chrome: one row per gold line."""
    wanted = set(splits)
    columns: dict[str, list[Any]] = {k: [] for k in ("capture", "kind", "article", "line", "gold", "chrome")}
    for name, entry in gold.items():
        if entry["split"] not in wanted:
            continue
        chrome = set(entry["comment_chrome"])
        for number, role in entry["roles"].items():
            columns["capture"].append(name.removesuffix(".txt"))
            columns["kind"].append(entry["capture"])
            columns["article"].append(entry["article"])
            columns["line"].append(int(number))
            columns["gold"].append(role)
            columns["chrome"].append(int(number) in chrome)
    schema = {"capture": pl.String, "kind": pl.String, "article": pl.String, "line": pl.Int64,
              "gold": pl.String, "chrome": pl.Boolean}  # fmt: skip
    return pl.DataFrame(columns, schema=schema)


def as_gold_role(predicted: pl.Expr) -> pl.Expr:
    """A predicted role in the gold's five: subtitle, byline and author bio are caption; no segment is LOST."""
    return pl.when(predicted.is_in(AS_CAPTION)).then(pl.lit("caption")).otherwise(predicted).fill_null(LOST)


def scored_lines(gold: pl.DataFrame, predicted: pl.DataFrame) -> pl.DataFrame:
    """Gold lines plus `predicted`, `row` (the confusion row), `credited` (the role a right answer has) and `right`.

    A chrome line is right when predicted comment or boilerplate; any other prediction is held to boilerplate.
    """
    chrome_credit = pl.col("chrome") & pl.col("predicted").is_in(["comment", "boilerplate"])
    return (
        gold.join(predicted.select("capture", "line", "predicted"), on=["capture", "line"], how="left")
        .with_columns(as_gold_role(pl.col("predicted")).alias("predicted"))
        .with_columns(
            pl.when(pl.col("chrome")).then(pl.lit(CHROME)).otherwise(pl.col("gold")).alias("row"),
            pl.when(chrome_credit)
            .then(pl.col("predicted"))
            .when(pl.col("chrome"))
            .then(pl.lit("boilerplate"))
            .otherwise(pl.col("gold"))
            .alias("credited"),
        )
        .with_columns((pl.col("credited") == pl.col("predicted")).alias("right"))
    )


def share(mask: pl.Series) -> float:
    """Share of true values (0 of an empty series)."""
    return float(mask.sum()) / len(mask) if len(mask) else 0.0


def line_accuracy(table: pl.DataFrame) -> float:
    return share(table["right"])


def article_accuracy(table: pl.DataFrame) -> float:
    """Article (title, body, caption) against the rest, on both sides; a lost line is wrong."""
    gold = table["gold"].is_in(ARTICLE_ROLES)
    predicted = table["predicted"].is_in(ARTICLE_ROLES)
    return share((gold == predicted) & (table["predicted"] != LOST))


def detection(gold: pl.Series, predicted: pl.Series) -> Detection:
    """Scores of one role from two boolean series over the same lines."""
    n_gold, n_predicted, n_true = int(gold.sum()), int(predicted.sum()), int((gold & predicted).sum())
    precision = n_true / n_predicted if n_predicted else 1.0
    recall = n_true / n_gold if n_gold else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Detection(n_gold, n_predicted, n_true, precision, recall, f1)


def role_detections(table: pl.DataFrame) -> dict[str, Detection]:
    """Each gold role against the credited role, so that the true lines add up to the accuracy's right ones."""
    return {role: detection(table["credited"] == role, table["predicted"] == role) for role in GOLD_ROLES}


def comment_detection(table: pl.DataFrame) -> Detection:
    """Reader-comment text only: chrome lines are left out on both sides."""
    text = table.filter(~pl.col("chrome"))
    return detection(text["gold"] == "comment", text["predicted"] == "comment")


def title_detection(table: pl.DataFrame) -> Detection:
    return detection(table["gold"] == "title", table["predicted"] == "title")


def confusion(table: pl.DataFrame) -> dict[str, dict[str, int]]:
    """Lines by gold row (chrome apart) and predicted column, every row and column present."""
    counts = {(r, p): n for r, p, n in table.group_by("row", "predicted").len().iter_rows()}
    rows = (*GOLD_ROLES[:4], CHROME, GOLD_ROLES[4])
    return {r: {p: counts.get((r, p), 0) for p in (*GOLD_ROLES, LOST)} for r in rows}


def worst_captures(table: pl.DataFrame, n: int = 10) -> pl.DataFrame:
    """capture, kind, lines, accuracy, confusion, confusion_lines: the n least accurate captures.

    The confusion is the capture's most common wrong (gold row -> predicted) pair; ties go alphabetically.
    """
    per_capture = table.group_by("capture", "kind").agg(
        pl.len().alias("lines"), pl.col("right").mean().alias("accuracy")
    )
    wrong = (
        table.filter(~pl.col("right"))
        .group_by("capture", "row", "predicted")
        .len("confusion_lines")
        .sort(["capture", "confusion_lines", "row", "predicted"], descending=[False, True, False, False])
        .unique("capture", keep="first", maintain_order=True)
        .select("capture", pl.format("{} -> {}", "row", "predicted").alias("confusion"), "confusion_lines")
    )
    return (
        per_capture.join(wrong, on="capture", how="left")
        .with_columns(pl.col("confusion_lines").fill_null(0))
        .sort(["accuracy", "lines", "capture"], descending=[False, True, False])
        .head(n)
        .select("capture", "kind", "lines", "accuracy", "confusion", "confusion_lines")
    )


def archive_clusters(sources: pl.DataFrame, captures: Iterable[str]) -> list[list[str]]:
    """The archive's articles as clusters of the given captures; one without an article is a cluster alone."""
    names = sorted(set(captures))
    held = (
        sources.select(pl.col("uri").str.replace(r"\.txt$", "").alias("capture"), "article_id")
        .filter(pl.col("capture").is_in(names))
        .unique("capture", keep="first")
    )
    article = dict(zip(held["capture"], held["article_id"], strict=True))
    clusters: dict[str, list[str]] = {}
    for name in names:
        clusters.setdefault(article.get(name) or f"alone:{name}", []).append(name)
    return list(clusters.values())


def body_shingles(gold: pl.DataFrame, text_of: Mapping[str, str]) -> dict[str, frozenset[int]]:
    """Each capture's gold body text as hashed shingles of SAME_TEXT_SHINGLE_WORDS words (wrapping does not matter)."""
    body = gold.filter(pl.col("gold") == "body").group_by("capture").agg(pl.col("line").sort())
    found: dict[str, frozenset[int]] = {}
    for capture, numbers in body.iter_rows():
        lines = text_of[capture].split("\n")
        words = " ".join(lines[n - 1] for n in numbers).lower().split()
        n = SAME_TEXT_SHINGLE_WORDS
        found[capture] = frozenset(hash(" ".join(words[i : i + n])) for i in range(max(len(words) - n + 1, 1)))
    return found


def same_text_pairs(
    clusters: Iterable[Sequence[str]], article_of: Mapping[str, str], shingles: Mapping[str, frozenset[int]]
) -> tuple[int, int]:
    """(wrong pairs, of them those whose two bodies are one text): what a wrong merge of two gold articles joined."""
    wrong = same = 0
    for cluster in clusters:
        for i, a in enumerate(cluster):
            for b in cluster[i + 1 :]:
                if article_of[a] == article_of[b]:
                    continue
                wrong += 1
                small, large = sorted((shingles.get(a, frozenset()), shingles.get(b, frozenset())), key=len)
                same += bool(small) and len(small & large) >= SAME_TEXT_SHARE * len(small)
    return wrong, same


_SHAPES = ("containment", "frame_a", "frame_b", "frame_match")


def wrong_pair_shapes(
    clusters: Iterable[Sequence[str]], article_of: Mapping[str, str], kind_of: Mapping[str, str], shapes: pl.DataFrame
) -> list[dict[str, Any]]:
    """What grouping saw of each wrong pair: kinds, containment, frame lines of each and frame match.

    `shapes` is tasks.group.frame_pairs by capture name (a, b); a pair it lacks was joined through others.
    """
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for a, b, containment, frame_a, frame_b, match in shapes.select("a", "b", *_SHAPES).iter_rows():
        seen[a, b] = {"containment": containment, "frame_a": frame_a, "frame_b": frame_b, "frame_match": match}
        seen[b, a] = {**seen[a, b], "frame_a": frame_b, "frame_b": frame_a}
    return [
        {"a": a, "b": b, "kinds": f"{kind_of[a]} / {kind_of[b]}", **seen.get((a, b), dict.fromkeys(_SHAPES))}
        for cluster in clusters
        for a, b in itertools.combinations(sorted(cluster), 2)
        if article_of[a] != article_of[b]
    ]


def capture_shapes(realdev: Path) -> pl.DataFrame:
    """tasks.group.frame_pairs over every capture of realdev/raw, by name: numbers only."""
    from tasks.core.capture import make_capture
    from tasks.core.config import MatchConfig
    from tasks.core.lines import decode_capture, numbered_lines
    from tasks.group import frame_pairs

    names = sorted(p.name.removesuffix(".txt") for p in (realdev / "raw").glob("*.txt"))
    captures = []
    for name in names:
        lines, n = numbered_lines(decode_capture((realdev / "raw" / f"{name}.txt").read_bytes())[0])
        captures.append(make_capture(name, name, name, lines, n))
    shapes = frame_pairs(captures, MatchConfig())
    name_of = pl.Series(names)
    return shapes.with_columns(
        a=name_of.gather(shapes["capture_a"].to_numpy()), b=name_of.gather(shapes["capture_b"].to_numpy())
    )


def score(
    gold: pl.DataFrame,
    sources: pl.DataFrame,
    segments: pl.DataFrame,
    shingles: Mapping[str, frozenset[int]] | None = None,
    shapes: pl.DataFrame | None = None,
) -> dict[str, Any]:
    """Every figure of one set of gold captures against the archive's `sources` and `segments`."""
    table = scored_lines(gold, predicted_roles(segments, sources))
    kinds = table.unique("capture")["kind"]
    article_of = dict(table.unique("capture").select("capture", "article").iter_rows())
    kind_of = dict(table.unique("capture").select("capture", "kind").iter_rows())
    clusters = archive_clusters(sources, article_of)
    wrong, same = same_text_pairs(clusters, article_of, shingles or {})
    return {
        "captures": len(kinds),
        "captures_by_kind": {k: int((kinds == k).sum()) for k in KINDS},
        "lines": table.height,
        "lost_lines": int((table["predicted"] == LOST).sum()),
        "line_accuracy": line_accuracy(table),
        "line_accuracy_by_kind": {k: line_accuracy(table.filter(pl.col("kind") == k)) for k in KINDS},
        "all_boilerplate_accuracy": share(table["credited"] == "boilerplate"),
        "article_accuracy": article_accuracy(table),
        "comment": asdict(comment_detection(table)),
        "title": asdict(title_detection(table)),
        "roles": {role: asdict(d) for role, d in role_detections(table).items()},
        "confusion": confusion(table),
        "pairs": asdict(pair_scores(clusters, article_of)),
        "wrong_pairs": wrong,
        "same_text_pairs": same,
        "wrong_pair_shapes": [] if shapes is None else wrong_pair_shapes(clusters, article_of, kind_of, shapes),
        "worst": worst_captures(table).to_dicts(),
    }


# ---- the report -------------------------------------------------------------------------------------


def _table(header: Sequence[str], rows: Iterable[Sequence[str]], *, align: str = "") -> list[str]:
    """A Markdown table; `align` has an l or r per column (default: the first left, the rest right)."""
    align = align or "l" + "r" * (len(header) - 1)
    aligned = ["---" if a == "l" else "---:" for a in align]
    return [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(aligned) + "|",
        *("| " + " | ".join(r) + " |" for r in rows),
    ]


def _prf(d: Mapping[str, Any]) -> str:
    return (
        f"{d['f1']:.3f} (P {d['precision']:.3f}, R {d['recall']:.3f}; gold {d['gold']:,}, predicted {d['predicted']:,})"
    )


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}" if isinstance(value, float) else str(value)


def split_section(name: str, s: Mapping[str, Any]) -> list[str]:
    """The Markdown of one scored set."""
    kinds = ", ".join(f"{s['captures_by_kind'][k]} {k}" for k in KINDS)
    pairs = s["pairs"]
    by_kind = s["line_accuracy_by_kind"]
    lines = [
        f"### {name}: {s['captures']} captures ({kinds}), {s['lines']:,} gold lines, {s['lost_lines']:,} lost",
        "",
        *_table(["figure", "value"], [
            ["line-role accuracy (chrome right as comment or boilerplate)", f"{s['line_accuracy']:.3f}"],
            *([f"- {k} captures", f"{by_kind[k]:.3f}"] for k in KINDS),
            ["every line boilerplate, for reference", f"{s['all_boilerplate_accuracy']:.3f}"],
            ["article (title, body, caption) vs rest accuracy", f"{s['article_accuracy']:.3f}"],
            ["comment F1, reader-comment text (chrome left out)", _prf(s["comment"])],
            ["title F1", _prf(s["title"])],
            ["grouping pair F1", f"{pairs['f1']:.3f} (P {pairs['precision']:.3f}, R {pairs['recall']:.3f}; "
             f"gold pairs {pairs['gold_pairs']}, predicted {pairs['predicted_pairs']})"],
            ["- wrong pairs; of them, two pages of one body text (a story on two pages or sites)",
             f"{s['wrong_pairs']}; {s['same_text_pairs']}"],
        ]),
        "",
        "Wrong pairs as grouping saw them (frame: short lines outside the text the two share; "
        "match: share of the smaller frame's characters in the other's; - : joined through other captures):",
        "",
        *_table(["capture a", "capture b", "kinds", "containment", "frame a", "frame b", "frame match"],
                align="lllrrrr", rows=(
            [f"`{w['a']}`", f"`{w['b']}`", w["kinds"], *(_number(w[k]) for k in _SHAPES)]
            for w in s.get("wrong_pair_shapes", [])
        )),
        "",
        "Per role (predicted subtitle, byline and author bio count as caption; chrome credited as above):",
        "",
        *_table(["role", "gold lines", "predicted", "precision", "recall", "F1"], (
            [r, f"{d['gold']:,}", f"{d['predicted']:,}", *(f"{d[k]:.3f}" for k in ("precision", "recall", "f1"))]
            for r, d in s["roles"].items()
        )),
        "",
        "Confusion (lines; gold rows, predicted columns):",
        "",
        *_table(["gold \\ predicted", *GOLD_ROLES, LOST], (
            [row, *(f"{n:,}" for n in cols.values())] for row, cols in s["confusion"].items()
        )),
        "",
        "The ten least accurate captures:",
        "",
        *_table(["capture", "kind", "lines", "accuracy", "most common confusion"], align="llrrl", rows=(
            [f"`{w['capture']}.txt`", w["kind"], f"{w['lines']:,}", f"{w['accuracy']:.3f}",
             f"{w['confusion']} ({w['confusion_lines']})" if w["confusion"] else "-"]
            for w in s["worst"]
        )),
        "",
    ]  # fmt: skip
    return lines


def markdown(figures: Mapping[str, Any]) -> str:
    """The whole section: heading (date, commit, command), the run, then each scored set."""
    run = figures["run"]
    commit = figures["commit"] + (" (uncommitted changes)" if figures["dirty"] else "")
    lines = [
        f"## Real pages (realdev), {figures['date']}, {figures['commit']}: `{figures['command']}`",
        "",
        f"Commit {commit}. Scored: {', '.join(figures['scored'])}. "
        f"Holdout looks so far: {figures['holdout_looks']} (`{LOOKS_LOG.name}` in `~/.cache/newsarchive`).",
        "",
    ]
    if run:
        lines += [
            f"Archive run on all {run['captures']} captures of realdev/raw (Prefect flow as `newsarchive run` "
            f"runs it, temporary server and worker start included): {run['seconds']:.1f} s; "
            f"peak memory of the process tree {run['peak_tree_rss_mb']:,.0f} MB; raw folder unchanged: "
            f"{run['raw_unchanged']}. Whole command: {figures['seconds']:.1f} s.",
            "",
            "Stage seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in run["stage_seconds"].items()) + ".",
            "",
        ]
    else:
        lines += [f"Scored an existing archive (no run timed). Whole command: {figures['seconds']:.1f} s.", ""]
    lines += [*figures["environment"], ""]
    for name, s in figures["splits"].items():
        lines += split_section(name, s)
    return "\n".join(lines)


# ---- I/O --------------------------------------------------------------------------------------------


def folder_listing(folder: Path) -> list[tuple[str, int, int]]:
    """(name, size, mtime_ns) of every entry: compared before and after the run, so the run provably left it alone."""
    return sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir())


def raw_texts(realdev: Path, gold: pl.DataFrame) -> dict[str, str]:
    """The text of every capture `gold` scores, read where it lies."""
    names = gold["capture"].unique().to_list()
    return {name: (realdev / "raw" / f"{name}.txt").read_text(encoding="utf-8") for name in names}


def run_archive(realdev: Path, work: Path) -> dict[str, Any]:
    """Archive realdev/raw into work/archive with the flow; its seconds, stages and peak memory."""
    from bench.measure import run_flow  # imports Prefect: only when a run is wanted

    before = folder_listing(realdev / "raw")
    result = run_flow(realdev, work)
    return {
        "captures": len(before),
        "seconds": result["seconds"],
        "stage_seconds": result["stage_seconds"],
        "peak_tree_rss_mb": result["peak_tree_rss_mb"],
        "summary": result["summary"],
        "raw_unchanged": folder_listing(realdev / "raw") == before,
        "archive": result["archive"],
    }


def git(*args: str) -> str:
    # No optional locks: `git status` must not rewrite the index under someone working in the same checkout.
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}
    return subprocess.run(["git", *args], cwd=REPO, env=env, capture_output=True, text=True, check=True).stdout.strip()


def log_holdout_look(commit: str, log: Path = LOOKS_LOG) -> int:
    """Append this look at holdout (ISO time, commit) to a log outside the repository; the looks so far."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a", encoding="utf-8") as handle:
        handle.write(f"{datetime.now(UTC).isoformat(timespec='seconds')}\t{commit}\n")
    return count_holdout_looks(log)


def count_holdout_looks(log: Path = LOOKS_LOG) -> int:
    return len(log.read_text(encoding="utf-8").splitlines()) if log.exists() else 0


def evaluate(args: argparse.Namespace, command: str) -> dict[str, Any]:
    """Run (or take) the archive, score each chosen set, log a holdout look; every figure."""
    from bench.report import machine
    from tasks.write import read_archive

    started, environment = time.perf_counter(), machine()  # the load average before the run
    realdev: Path = args.realdev.resolve()
    gold = json.loads((realdev / "gold.json").read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory(prefix="newsarchive-real-") as tmp:
        run = None if args.archive else run_archive(realdev, Path(args.keep or tmp))
        tables = read_archive(Path(args.archive) if run is None else Path(run["archive"]))
    sets = SCORED[args.split]
    frames = {"+".join(s): gold_frame(gold, s) for s in sets}
    shapes = capture_shapes(realdev)
    splits = {
        name: score(
            frame, tables["sources"], tables["segments"], body_shingles(frame, raw_texts(realdev, frame)), shapes
        )
        for name, frame in frames.items()
    }
    commit, dirty = git("rev-parse", "--short", "HEAD"), bool(git("status", "--porcelain", "--untracked-files=no"))
    looked = any("holdout" in s for s in sets)
    return {
        "date": datetime.now(UTC).date().isoformat(), "commit": commit, "dirty": dirty, "command": command,
        "scored": list(splits), "holdout_looks": log_holdout_look(commit) if looked else count_holdout_looks(),
        "run": run, "splits": splits, "environment": environment, "seconds": time.perf_counter() - started,
    }  # fmt: skip


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench.real", description=__doc__)
    parser.add_argument("--realdev", type=Path, required=True,
                        help="realdev folder: raw/*.txt and gold.json (make eval-real passes REALDEV)")  # fmt: skip
    parser.add_argument("--split", choices=list(SCORED), default="both",
                        help="dev, holdout, both apart (default) or all pooled; holdout looks are logged")  # fmt: skip
    parser.add_argument("--json", type=Path, help="write the figures as JSON here")
    parser.add_argument("--append", type=Path, help="append the Markdown section to this file (BENCHMARKS.md)")
    keep = parser.add_mutually_exclusive_group()
    keep.add_argument("--keep", type=Path, help="archive into this folder and keep it (default: a temporary one)")
    keep.add_argument("--archive", type=Path, help="score this existing archive of realdev/raw; no run")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if not (args.realdev / "gold.json").is_file():
        print(f"bench.real: no gold.json in {args.realdev} (--realdev)", file=sys.stderr)
        return 2
    if args.keep and args.keep.resolve().is_relative_to(REPO):
        print("bench.real: --keep must lie outside the repository (realdev's text may not enter it)", file=sys.stderr)
        return 2
    command = shlex.join(["python", "-m", "bench.real", *(sys.argv[1:] if argv is None else argv)])
    figures = evaluate(args, command)
    section = markdown(figures)
    print(section)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1), encoding="utf-8")
    if args.append:
        with args.append.open("a", encoding="utf-8") as handle:
            handle.write("\n" + section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
