"""`python -m flows.train`, run as a person runs it: on the seeds and a small synthetic corpus (no realdev here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tasks.articles.rolemodel.batch import CHOICE_FEATURES
from tasks.articles.rolemodel.model import LineRoleModel
from tests.helpers import REPO


def train(out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "flows.train", "--synthetic-articles", "20", "--out", str(out), *extra]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.slow
def test_training_with_or_without_figures_writes_the_same_model_with_its_headline_chooser(tmp_path: Path) -> None:
    with_figures = train(tmp_path / "cv.json.gz")
    assert with_figures.returncode == 0, with_figures.stderr
    assert "synthetic-pages" in with_figures.stdout  # each corpus's cross-validated figures
    without = train(tmp_path / "no-cv.json.gz", "--no-cv")
    assert without.returncode == 0, without.stderr
    assert "synthetic-pages" not in without.stdout
    assert (tmp_path / "cv.json.gz").read_bytes() == (tmp_path / "no-cv.json.gz").read_bytes()
    model = LineRoleModel.load(tmp_path / "no-cv.json.gz")
    assert model.title_booster is not None  # learned from the folds' out-of-fold probabilities, figures or not
    assert model.title_booster.num_feature() == len(CHOICE_FEATURES)
