"""Hand-written pages in today's layouts: the archive's line roles scored against their gold.

`python -m bench.pages` (or `make eval-pages`) archives `tests/fixtures/pages/raw` with the Prefect flow,
as `newsarchive run` runs it, into a temporary folder, and prints the same figures as `make eval-real`.
The pages were written for this project, every word invented: blogs with their comment threads, opinion
columns with reader comments and their print editions, news pages with and without threads. realdev's
pages were crawled in 2008; these have the threads of today's sites (a name line, a date line, `Reply`,
`Recommend 14`), which realdev does not teach.

Gold: `gold/<capture>.roles.tsv`, one row per non-blank line, the archive's own roles plus `chrome` (a
thread's names, dates, buttons and counters: right as comment or as boilerplate). Captures whose names
share their part before the first `_` are one article; a name ending `_print` is an article-only capture.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl

from bench.real import AS_CAPTION, git, run_archive, score, split_section

PAGES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "pages"


def gold_frame(folder: Path) -> pl.DataFrame:
    """capture, kind, article, line, gold, chrome: one row per gold line, in bench.real's terms."""
    columns: dict[str, list[Any]] = {k: [] for k in ("capture", "kind", "article", "line", "gold", "chrome")}
    for path in sorted((folder / "gold").glob("*.roles.tsv")):
        capture = path.name.removesuffix(".roles.tsv")
        for row in path.read_text(encoding="utf-8").splitlines()[1:]:
            number, role, _ = row.split("\t", 2)
            columns["capture"].append(capture)
            columns["kind"].append("article-only" if capture.endswith("_print") else "page")
            columns["article"].append(capture.split("_", 1)[0])
            columns["line"].append(int(number))
            columns["gold"].append("comment" if role == "chrome" else "caption" if role in AS_CAPTION else role)
            columns["chrome"].append(role == "chrome")
    schema = {"capture": pl.String, "kind": pl.String, "article": pl.String, "line": pl.Int64,
              "gold": pl.String, "chrome": pl.Boolean}  # fmt: skip
    return pl.DataFrame(columns, schema=schema)


def evaluate(folder: Path) -> dict[str, Any]:
    """Archive the pages with the flow and score them: every figure."""
    from tasks.write import read_archive

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="newsarchive-pages-") as tmp:
        run = run_archive(folder, Path(tmp))
        tables = read_archive(Path(run["archive"]))
    figures = score(gold_frame(folder), tables["sources"], tables["segments"])
    return {"run": run, "figures": figures, "seconds": time.perf_counter() - started}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.pages", description=__doc__)
    parser.add_argument("--pages", type=Path, default=PAGES, help="raw/*.txt and gold/*.roles.tsv (default: ours)")
    args = parser.parse_args(argv)
    command = shlex.join(["python", "-m", "bench.pages", *(sys.argv[1:] if argv is None else argv)])
    found = evaluate(args.pages)
    print(f"## Hand-written pages, {git('rev-parse', '--short', 'HEAD')}: `{command}`\n")
    print(f"Archived {found['run']['captures']} captures in {found['run']['seconds']:.1f} s.\n")
    print("\n".join(split_section("pages", found["figures"])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
