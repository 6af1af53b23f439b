"""Scores of the measured runs against the corpus's gold, and BENCHMARKS.md."""

from __future__ import annotations

import itertools
import os
import platform
from importlib.metadata import version
from pathlib import Path
from typing import Any

import polars as pl

from tasks.synth import evaluate as ev

_LABELS = {
    "flow": "newsarchive, Prefect flow (`flows.archive.archive`)",
    "stages": "newsarchive, pure stage functions (tests/helpers.py)",
    "floor": "floor: read + sha256 + decode + lines to Parquet",
    "group": "grouping: newsarchive `group_captures`",
    "allpairs": "grouping: all pairs, rapidfuzz `cdist` (best threshold)",
    "minhash": "grouping: datasketch MinHashLSH (best threshold)",
}


def archive_frames(archive: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    """sources and segments of an archive, read as ARCHIVE_SPEC.md says any reader may: a Delta table each."""

    def read(table: str) -> pl.DataFrame:
        return pl.scan_delta(str(archive / table)).collect()

    return read("sources"), read("segments")


def archive_clusters(sources: pl.DataFrame) -> list[list[str]]:
    named = sources.filter(pl.col("article_id").is_not_null()).with_columns(
        pl.col("uri").str.replace(r"\.txt$", "").alias("capture")
    )
    return named.group_by("article_id").agg("capture")["capture"].to_list()


def best_threshold(result: dict[str, Any], article_of: dict[str, str]) -> dict[str, Any]:
    """The threshold of the sweep with the best pairwise F1, its scores and its seconds."""
    scored = {t: ev.pair_scores(clusters, article_of) for t, clusters in result["sweep"].items()}
    threshold = max(scored, key=lambda t: (scored[t].f1, t))
    seconds = result.get("seconds")
    if seconds is None:
        seconds = result["setup_seconds"] + result["threshold_seconds"][threshold]
    sweep = {t: round(s.f1, 4) for t, s in scored.items()}
    return {"threshold": threshold, "scores": scored[threshold], "seconds": seconds, "sweep": sweep}


def role_report(corpus: Path, sources: pl.DataFrame, segments: pl.DataFrame) -> dict[str, Any]:
    captures = ev.read_captures(corpus / "gold")
    gold = ev.read_gold_roles(corpus / "gold", captures["capture"])
    table = ev.role_table(gold, ev.predicted_roles(segments, sources))
    per_role = (
        table.group_by("role")
        .agg(pl.len().alias("lines"), (pl.col("role") == pl.col("predicted")).mean().alias("accuracy"))
        .sort("role")
    )
    return {
        "accuracy": ev.role_accuracy(table),
        "per_role": per_role,
        "per_kind": ev.accuracy_by(table, captures, "kind"),
        "per_metadata": ev.accuracy_by(table, ev.mark_metadata_articles(captures), "article_has_metadata"),
        "confusion": ev.role_confusion(table).head(8),
    }


def machine() -> list[str]:
    memory = next(
        line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")
    )
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    packages = ", ".join(f"{p} {version(p)}" for p in ("prefect", "polars", "rapidfuzz", "datasketch", "wordfreq"))
    return [
        f"- CPU: {os.cpu_count()} cores ({model}); memory: {int(memory) / 2**20:.1f} GiB",
        f"- Python {platform.python_version()}; {packages}",
        f"- load average when the run started: {os.getloadavg()[0]:.2f} (other work on the machine skews timings)",
    ]


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
        *("| " + " | ".join(r) + " |" for r in rows),
    ]


def _frame_rows(frame: pl.DataFrame) -> list[list[str]]:
    return [[f"{v:.3f}" if isinstance(v, float) else str(v) for v in row] for row in frame.iter_rows()]


def size_section(
    size: int, corpus: dict[str, Any], runs: dict[str, dict[str, Any]], scores: dict[str, Any]
) -> list[str]:
    mb = corpus["raw_bytes"] / 1e6
    lines = [
        f"## {corpus['captures']:,} captures (`--sizes {size}`)",
        "",
        f"Corpus: {corpus['articles']:,} articles, {corpus['captures']:,} captures, {mb:.1f} MB of raw text, "
        f"{corpus['lines']:,} non-blank lines; generated in {corpus.get('seconds', float('nan')):.1f} s.",
        "",
    ]
    rows = []
    for method, label in _LABELS.items():
        if method not in runs:
            continue
        seconds = scores[method]["seconds"] if method in scores else runs[method]["seconds"]
        # The flow's workers are processes of their own: its figure is the sum over the process tree.
        rss = runs[method].get("peak_tree_rss_mb", runs[method].get("peak_rss_mb", float("nan")))
        rows.append(
            [label, f"{seconds:.2f}", f"{corpus['captures'] / seconds:,.0f}", f"{mb / seconds:.2f}", f"{rss:,.0f}"]
        )
    lines += _table(["configuration", "seconds", "captures/s", "MB/s", "peak memory MB"], rows)
    lines += [
        "",
        "Grouping methods are timed on captures decoded beforehand; their peak memory includes decoding.",
        "The flow's peak memory is the largest sum of resident memory over its process tree (the flow, its",
        "worker processes and the temporary Prefect server), sampled every 0.1 s; the others' is ru_maxrss.",
        "",
    ]
    lines += flow_stage_lines(runs) + stage_lines(runs) + quality_lines(scores) + ratio_lines(runs, scores)
    return lines


def flow_stage_lines(runs: dict[str, dict[str, Any]]) -> list[str]:
    """Wall time of each stage of the flow run, from its task runs (batch stages: first start to last end)."""
    stages = runs.get("flow", {}).get("stage_seconds")
    if not stages:
        return []
    total = runs["flow"]["seconds"]
    rows = [[f"`{name}`", f"{s:.2f}", f"{100 * s / total:.0f} %"] for name, s in stages.items()]
    rows.append(["rest: starting the temporary server, Prefect's bookkeeping", f"{total - sum(stages.values()):.2f}",
                 f"{100 * (total - sum(stages.values())) / total:.0f} %"])  # fmt: skip
    rows.append(["total (flow)", f"{total:.2f}", "100 %"])
    return ["### Time per stage (Prefect flow, wall clock)", "", *_table(["task", "seconds", "share"], rows), ""]


def scaling_lines(flow_seconds: dict[int, float], floor_seconds: dict[int, float]) -> list[str]:
    """Time of each size against the next smaller one: near-linear is about the ratio of sizes."""
    sizes = sorted(flow_seconds)
    rows = [
        [f"{small:,} -> {large:,}", f"{large / small:.0f}x", f"{flow_seconds[large] / flow_seconds[small]:.1f}x",
         f"{floor_seconds[large] / floor_seconds[small]:.1f}x" if small in floor_seconds and large in floor_seconds
         else "-"]
        for small, large in itertools.pairwise(sizes)
    ]  # fmt: skip
    if not rows:
        return []
    return ["## Scaling", "", *_table(["sizes", "captures", "flow time", "floor time"], rows), ""]


def profile_lines(size: int, profile: dict[str, Any]) -> list[str]:
    """The top functions of the profiled run (py-spy over all processes)."""
    seconds = profile["samples"] / profile["rate"]
    own = [[f"`{name}`", f"{n / profile['rate']:.1f}", f"{100 * share:.1f} %"] for name, n, share in profile["self"]]
    ours = [
        [f"`{name}`", f"{n / profile['rate']:.1f}", f"{100 * share:.1f} %"]
        for name, n, share in profile["ours_inclusive"]
    ]
    return [
        f"## Profile of the flow at {size:,} captures",
        "",
        f"`py-spy record --subprocesses` (`python -m bench.profile`): {profile['samples']:,} samples of running",
        f"threads at {profile['rate']} Hz, {seconds:.0f} CPU-seconds over all processes.",
        "",
        "Where the CPU went (the function running):",
        "",
        *_table(["function", "CPU s", "share"], own),
        "",
        "newsarchive's functions, counting what they call:",
        "",
        *_table(["function", "CPU s", "share"], ours),
        "",
    ]


def stage_lines(runs: dict[str, dict[str, Any]]) -> list[str]:
    if "stages" not in runs:
        return []
    stages = runs["stages"]["stage_seconds"]
    total = runs["stages"]["seconds"]
    rows = [
        [f"`{name}`", f"{s:.2f}", f"{100 * s / total:.0f} %"]
        for name, s in sorted(stages.items(), key=lambda kv: -kv[1])
    ]
    rows.append(["total (archive_tables)", f"{total:.2f}", "100 %"])
    return ["### Time per stage (pure functions)", "", *_table(["function", "seconds", "share"], rows), ""]


def quality_lines(scores: dict[str, Any]) -> list[str]:
    rows = []
    for method in ("flow", "group", "allpairs", "minhash"):
        if method in scores:
            s = scores[method]["scores"]
            rows.append([_LABELS[method], str(scores[method].get("threshold") or "-"), f"{s.precision:.4f}",
                         f"{s.recall:.4f}", f"{s.f1:.4f}", f"{s.predicted_pairs:,}", f"{s.gold_pairs:,}"])  # fmt: skip
    lines = ["### Grouping quality (pairwise, against gold/captures.tsv)", ""]
    lines += _table(["method", "threshold", "precision", "recall", "F1", "pairs predicted", "pairs in gold"], rows)
    for method in ("allpairs", "minhash"):
        if method in scores:
            sweep = ", ".join(f"{t}: {f1}" for t, f1 in scores[method]["sweep"].items())
            lines += ["", f"F1 by threshold, {method}: {sweep}"]
    roles = scores.get("roles")
    if roles:
        lines += ["", f"### Line roles: accuracy {roles['accuracy']:.4f} ({roles['source']})", ""]
        lines += [*_table(["gold role", "lines", "accuracy"], _frame_rows(roles["per_role"])), ""]
        lines += [*_table(["capture kind", "lines", "accuracy"], _frame_rows(roles["per_kind"])), ""]
        per_metadata = _frame_rows(roles["per_metadata"])
        lines += [*_table(["article has a metadata capture", "lines", "accuracy"], per_metadata), ""]
        lines += ["Most frequent errors:", ""]
        lines += _table(["gold role", "predicted", "lines"], _frame_rows(roles["confusion"]))
    return [*lines, ""]


def ratio_lines(runs: dict[str, dict[str, Any]], scores: dict[str, Any]) -> list[str]:
    def seconds(method: str) -> float | None:
        if method in scores:
            return float(scores[method]["seconds"])
        return float(runs[method]["seconds"]) if method in runs else None

    pairs = [("flow", "floor"), ("stages", "floor"), ("group", "allpairs"), ("group", "minhash")]
    rows = []
    for a, b in pairs:
        ta, tb = seconds(a), seconds(b)
        if ta is None or tb is None:
            continue
        f1 = ""
        if a in scores and b in scores:
            f1 = f"{scores[a]['scores'].f1:.4f} vs {scores[b]['scores'].f1:.4f}"
        rows.append([f"{a} / {b}", f"{ta / tb:.3g}x", f1])
    return [
        "### Ratios (time of the first over time of the second)",
        "",
        *_table(["runs", "time ratio", "F1"], rows),
        "",
    ]


def write_markdown(out: Path, command: str, sections: list[list[str]]) -> None:
    head = [
        "# Benchmarks",
        "",
        f"Command: `{command}`",
        "",
        *machine(),
        "",
        "Each configuration ran in a fresh process (peak RSS is its own). Corpora come from",
        "`newsarchive synth` (tasks/synth/); quality is scored against their gold labels.",
        "",
    ]
    out.write_text("\n".join(head + [line for section in sections for line in section]) + "\n", encoding="utf-8")
