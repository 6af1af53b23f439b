"""`python -m bench.run --sizes 1000 10000 --out BENCHMARKS.md`: generate, measure, score, report.

For each size (number of captures, about), a synthetic corpus is written (or reused), then every
configuration runs in its own process: the Prefect flow, the pure stage functions, the I/O
floor, newsarchive's grouping, all-pairs rapidfuzz and MinHashLSH. Quality is scored against
the corpus's gold labels.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import polars as pl

from bench.measure import METHODS
from bench.report import (
    archive_clusters,
    archive_frames,
    best_threshold,
    profile_lines,
    role_report,
    scaling_lines,
    size_section,
    write_markdown,
)
from tasks import synth
from tasks.synth import evaluate as ev
from tasks.synth.corpus import write_corpus
from tasks.synth.render import CAPTURES_PER_ARTICLE


def generator_version() -> str:
    """A hash of the generator's source: a corpus is reused only if the same code wrote it."""
    digest = hashlib.sha256()
    for path in sorted(Path(synth.__file__).parent.glob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def corpus_for(work: Path, size: int, seed: int) -> tuple[Path, dict[str, Any]]:
    """The corpus of about `size` captures, reused when an earlier run wrote the same one."""
    articles = max(1, round(size / CAPTURES_PER_ARTICLE))
    corpus = work / f"corpus-{articles}-seed{seed}-{generator_version()}"
    stamp = corpus / "gold" / "corpus.json"
    if stamp.is_file():
        return corpus, json.loads(stamp.read_text(encoding="utf-8"))
    if corpus.exists():  # an unfinished earlier run
        shutil.rmtree(corpus)
    started = time.perf_counter()
    summary = write_corpus(corpus, articles=articles, seed=seed)
    info = {"seed": seed, **summary.__dict__, "seconds": time.perf_counter() - started}
    stamp.write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return corpus, info


def run_module(label: str, args: list[str], result: Path, timeout: float) -> dict[str, Any] | None:
    """`python -m ARGS` in a fresh interpreter, then the JSON it wrote; None when it failed or ran out of time."""
    started = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, "-m", *args], timeout=timeout, capture_output=True, text=True)
    except subprocess.TimeoutExpired:
        print(f"  {label}: no result within {timeout:.0f} s", flush=True)
        return None
    if done.returncode != 0:
        print(f"  {label}: failed (exit {done.returncode})\n{done.stderr[-3000:]}", flush=True)
        return None
    print(f"  {label}: {time.perf_counter() - started:.1f} s wall", flush=True)
    loaded: dict[str, Any] = json.loads(result.read_text(encoding="utf-8"))
    return loaded


def warm_page_cache(corpus: Path) -> None:
    """Read every raw file once, so that no configuration pays the disk for another.

    At 100,000 captures the first configuration read 509 MB from disk and the next from
    memory: the flow's discovery took 12.3 s, 6 s with the files cached.
    """
    for path in sorted((corpus / "raw").rglob("*")):
        if path.is_file():
            path.read_bytes()


def measure(method: str, corpus: Path, result: Path, timeout: float) -> dict[str, Any] | None:
    """One configuration in its own process, the corpus in the page cache."""
    warm_page_cache(corpus)
    return run_module(method, ["bench.measure", method, str(corpus), str(result)], result, timeout)


def run_profile(corpus: Path, out: Path, timeout: float) -> dict[str, Any] | None:
    """`bench.profile` in its own process (py-spy needs ptrace: without it, None)."""
    warm_page_cache(corpus)
    return run_module("profile", ["bench.profile", str(corpus), str(out)], out / "profile.json", timeout)


def score(corpus: Path, runs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Grouping scores of every method and the line-role accuracy of newsarchive's archive."""
    captures = ev.read_captures(corpus / "gold")
    article_of = dict(zip(captures["capture"], captures["article"], strict=True))
    scores: dict[str, Any] = {
        m: best_threshold(runs[m], article_of) for m in ("group", "allpairs", "minhash") if m in runs
    }
    frames = None
    if "flow" in runs:
        frames, source = archive_frames(Path(runs["flow"]["archive"])), "Prefect flow output"
        scores["flow"] = {
            "scores": ev.pair_scores(archive_clusters(frames[0]), article_of),
            "seconds": runs["flow"]["seconds"],
        }
    elif "stages" in runs:
        tables = Path(runs["stages"]["tables"])
        frames, source = (
            (pl.read_parquet(tables / "sources.parquet"), pl.read_parquet(tables / "segments.parquet")),
            "pure stages",
        )
    if frames is not None:
        scores["roles"] = {**role_report(corpus, *frames), "source": source}
    return scores


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.run", description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000], help="captures per corpus (about)")
    parser.add_argument("--out", type=Path, default=Path("BENCHMARKS.md"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--allpairs-max", type=int, default=10_000, help="largest size all-pairs runs at")
    parser.add_argument(
        "--stages-max", type=int, default=10_000, help="largest size the one-process pure stages run at"
    )
    parser.add_argument("--profile", action="store_true", help="also profile the flow at the largest size (py-spy)")
    parser.add_argument("--timeout", type=float, default=3 * 3600, help="seconds one configuration may take")
    parser.add_argument("--work-dir", type=Path, default=Path(tempfile.gettempdir()) / "newsarchive-bench")
    args = parser.parse_args(argv)
    command = ".venv/bin/python -m bench.run " + " ".join(argv if argv is not None else sys.argv[1:])
    sections: list[list[str]] = []
    flow_seconds: dict[int, float] = {}
    floor_seconds: dict[int, float] = {}
    for size in args.sizes:
        corpus, info = corpus_for(args.work_dir, size, args.seed)
        print(f"size {size}: {info['captures']} captures in {corpus}", flush=True)
        results = args.work_dir / f"results-{size}-seed{args.seed}"
        results.mkdir(parents=True, exist_ok=True)
        runs: dict[str, dict[str, Any]] = {}
        for method in args.methods:
            if (method == "allpairs" and size > args.allpairs_max) or (method == "stages" and size > args.stages_max):
                continue
            found = measure(method, corpus, results / f"{method}.json", args.timeout)
            if found is not None:
                runs[method] = found
        for method, seconds in (("flow", flow_seconds), ("floor", floor_seconds)):
            if method in runs:
                seconds[size] = runs[method]["seconds"]
        sections.append(size_section(size, info, runs, score(corpus, runs)))
        if args.profile and size == max(args.sizes):
            profile = run_profile(corpus, results / "profile", args.timeout)
            if profile is not None:
                sections.append(profile_lines(size, profile))
        write_markdown(args.out, command, [*sections, scaling_lines(flow_seconds, floor_seconds)])
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
