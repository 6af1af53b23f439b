"""The archive depends on its input only: not on the hash seed of the process that built it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from polars.testing import assert_frame_equal

from tasks.synth.corpus import write_corpus
from tasks.write import read_archive
from tests.helpers import REPO

pytestmark = pytest.mark.slow
TIMES = ["ingested_at", "first_seen_at", "last_seen_at", "modified_at"]
BUILD = (
    "import sys; from pathlib import Path; from tests.helpers import run_stages; "
    "run_stages(Path(sys.argv[1]), Path(sys.argv[2]))"
)
LINK = (
    "import json, sys; from tasks.core.config import QuoteConfig; from tasks.articles.quotes import link_quotes; "
    "paragraphs, comments = json.loads(sys.argv[1]); "
    "print(json.dumps([link.paragraph_no for link in link_quotes(paragraphs, comments, QuoteConfig())]))"
)


def test_the_archive_is_the_same_whatever_pythonhashseed(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    write_corpus(raw, articles=300, seed=11, workers=1)
    archives = []
    for seed in ("1", "2"):  # a set's order changes with it: once, which line a comment quoted did
        out = tmp_path / f"archive-{seed}"
        env = {**os.environ, "PYTHONHASHSEED": seed}
        subprocess.run([sys.executable, "-c", BUILD, str(raw / "raw"), str(out)], cwd=REPO, env=env, check=True)
        archives.append(read_archive(out))
    assert archives[0]["comments"]["quotes_paragraph_no"].drop_nulls().len() > 0  # quotes were linked
    for name, frame in archives[0].items():
        assert_frame_equal(frame.drop(TIMES, strict=False), archives[1][name].drop(TIMES, strict=False))


def test_which_paragraph_a_comment_quotes_is_the_same_whatever_pythonhashseed() -> None:
    """40 comments quote a paragraph with two words changed; all ten of their words are as rare."""
    paragraphs, comments = [], []
    for i in range(40):
        words = [f"word{i:02d}{j:02d}x" for j in range(10)]
        paragraphs.append(" ".join(words))
        changed = [f"zed{i:02d}a", f"zed{i:02d}b"]
        comments.append(" ".join([*changed, "also", "said", "this", "before", "today"]))  # holds the changed words
        comments.append(" ".join([*words[:8], *changed]))
    case = json.dumps([paragraphs, comments])
    found = {}
    for seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        run = subprocess.run([sys.executable, "-c", LINK, case], cwd=REPO, env=env, capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        found[seed] = run.stdout
    assert len(set(found.values())) == 1, found
    assert json.loads(found["1"]) == list(range(40))  # each comment quotes its own paragraph
