"""Trains the line-role model: `python -m flows.train --realdev DIR` (or `make train`).

Training data: the dev split of an annotated set of real pages (read where it lies, never
copied), the two seeds with their gold, and a synthetic corpus written by tasks/synth, as
written and dressed as whole pages. Every corpus is also cross-validated by site, so the
figures printed are on sites left out.
Deterministic: the same data give the same model file.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import lightgbm as lgb
import numpy as np

from flows.archive import STAGE_ORDER, group_phase, read_phase
from tasks.articles.rolemodel.batch import (
    batch_features,
    capture_starts,
    choose_titles_by,
    doubt_unsigned_threads,
    file_comment_forms,
    file_link_lists,
    file_thread_furniture,
    follow_signatures,
    give_a_title,
    held_as_article,
    lean_on_rules,
    name_under_headline,
    title_candidates,
    whole_wrapped_headlines,
    wrapped_as_one,
)  # fmt: skip
from tasks.articles.rolemodel.features import FEATURE_NAMES
from tasks.articles.rolemodel.model import (
    BODY,
    COARSE,
    COARSE_OF_ROLE,
    MODEL_FILE,
    TITLE,
    LineRoleModel,
    region_path,
    viterbi,
    walk_tables,
)  # fmt: skip
from tasks.articles.roles import LabeledGroup, label_all
from tasks.core.config import ArchiveParams
from tasks.runtime.progress import InProcessStages
from tasks.synth.corpus import write_corpus
from tasks.synth.pages import CHROME, Site, dress_as_page, new_site

REPO = Path(__file__).resolve().parents[1]
SEEDS_RAW = REPO / "data" / "raw"
SEEDS_GOLD = REPO / "tests" / "fixtures" / "seeds" / "gold"
BOOSTING = {
    "objective": "multiclass", "num_class": len(COARSE), "learning_rate": 0.2, "num_leaves": 15,
    "min_data_in_leaf": 40, "feature_fraction": 0.5, "bagging_fraction": 0.8, "bagging_freq": 1,
    "lambda_l2": 1.0, "max_bin": 63, "seed": 17, "deterministic": True, "force_col_wise": True,
    "num_threads": 1, "verbose": -1,
}  # fmt: skip
ROUNDS = 100  # dev cross-validated by site gained at 100 (commit body), little more at 150
FOLDS = 5
# The synthetic corpus dressed as pages: a site per this many articles, and the weight of each of its lines
# (as much as a line of dev: at 0.4, dev cross-validated by site moved by 0.003 at most).
ARTICLES_PER_SITE = 4
PAGES_WEIGHT = 1.0
# The headline chooser reads a few dozen lines a capture: small trees. Dev cross-validated by site (commit body):
# 15 leaves or a feature fraction of 0.8 lost title F1; 80 to 300 rounds and 40 to 100 lines a leaf hardly moved it.
CHOOSING = {
    "objective": "binary", "learning_rate": 0.1, "num_leaves": 7, "min_data_in_leaf": 40, "feature_fraction": 0.5,
    "bagging_fraction": 0.8, "bagging_freq": 1, "lambda_l2": 1.0, "seed": 17, "deterministic": True,
    "force_col_wise": True, "num_threads": 1, "verbose": -1,
}  # fmt: skip
CHOOSING_ROUNDS = 150


@dataclass
class Corpus:
    """The labeled groups of one set of captures, the gold coarse class of each line, and its site."""

    name: str
    groups: list[LabeledGroup]
    furniture: frozenset[str]
    gold: np.ndarray
    either: np.ndarray  # per line: comment chrome, right as comment or as boilerplate
    site: np.ndarray  # per line
    weight: float


def labeled_groups(raw_dir: Path) -> tuple[list[LabeledGroup], frozenset[str]]:
    """Decode, group and label (by the rules) every capture of a folder, as a run would: the flow's first phases.

    The run's archive and its captures' lines are kept in folders beside `raw_dir`, for as long as that lies.
    """
    params = ArchiveParams(raw_dir=str(raw_dir), out_dir=str(raw_dir.parent / f"{raw_dir.name}-archive"))
    lines = raw_dir.parent / f"{raw_dir.name}-lines"
    lines.mkdir()
    stages = InProcessStages(STAGE_ORDER)
    reading = read_phase(
        stages, params.raw_dir, params.out_dir, params.read, params.match, params.execution, shelf_dir=str(lines)
    )
    grouping = group_phase(stages, reading, params.match)
    return label_all(reading.captures, grouping.groups, params.roles, grouping.furniture), grouping.furniture


def _corpus(
    name: str, raw_dir: Path, gold_of: dict[str, dict[int, str]], site_of: dict[str, str], weight: float
) -> Corpus:
    groups, furniture = labeled_groups(raw_dir)
    roles = [
        gold_of[Path(lc.capture.uri).name][line.line_no]
        for group in groups
        for lc in group
        for line in lc.capture.lines
    ]
    sites = [site_of[Path(lc.capture.uri).name] for group in groups for lc in group for _ in lc.capture.lines]
    gold = np.asarray([COARSE_OF_ROLE["comment" if r == CHROME else r] for r in roles], dtype=np.int64)
    either = np.asarray([r == CHROME for r in roles], dtype=bool)
    return Corpus(name, groups, furniture, gold, either, np.asarray(sites, dtype=str), weight)


def realdev_corpus(realdev: Path, split: str, work: Path) -> Corpus:
    """The captures of one split, copied into a folder of their own.

    Comment chrome (headings, signatures, forms inside a thread) is learned as part of the
    thread, so the thread is one region; relabel() files the chrome shapes it knows as boilerplate.
    """
    entries = json.loads((realdev / "gold.json").read_text(encoding="utf-8"))
    folder = work / f"realdev-{split}"
    folder.mkdir()
    gold_of: dict[str, dict[int, str]] = {}
    site_of: dict[str, str] = {}
    for name, entry in entries.items():
        if entry["split"] != split:
            continue
        shutil.copyfile(realdev / "raw" / name, folder / name)
        chrome = set(entry.get("comment_chrome", []))
        gold_of[name] = {int(k): (CHROME if int(k) in chrome else v) for k, v in entry["roles"].items()}
        site_of[name] = entry["group"]
    return _corpus(f"realdev-{split}", folder, gold_of, site_of, 1.0)


def _tsv_roles(path: Path) -> dict[int, str]:
    rows = path.read_text(encoding="utf-8").splitlines()[1:]
    return {int(r.split("\t")[0]): r.split("\t")[1] for r in rows}


def seeds_corpus(work: Path) -> Corpus:
    """The seeds with their gold, and an earlier scrape of the seed that has comments: its thread two-thirds
    as long. Scrapers take a page again and again, so an article's thread often comes in several captures."""
    folder = work / "seeds"
    folder.mkdir()
    gold_of: dict[str, dict[int, str]] = {}
    for path in sorted(SEEDS_RAW.glob("*.txt")):
        shutil.copy(path, folder / path.name)
        gold_of[path.name] = _tsv_roles(SEEDS_GOLD / path.name.replace(".txt", ".roles.tsv"))
        comments = [n for n, role in gold_of[path.name].items() if role == "comment"]
        if comments:
            cut = comments[(2 * len(comments)) // 3]  # the line where the later comments begin
            lines = path.read_text(encoding="utf-8").split("\n")[: cut - 1]
            earlier = f"earlier-{path.name}"
            (folder / earlier).write_text("\n".join(lines) + "\n", encoding="utf-8")
            gold_of[earlier] = {n: r for n, r in gold_of[path.name].items() if n < cut}
    return _corpus("seeds", folder, gold_of, dict.fromkeys(gold_of, "seeds"), 20.0)


def synthetic_corpus(work: Path, articles: int, seed: int) -> tuple[Corpus, Corpus]:
    """The synthetic captures as the generator writes them, and the same captures dressed as whole pages."""
    out = work / "synthetic"
    write_corpus(out, articles=articles, seed=seed, workers=1)
    names = [p.name for p in (out / "raw").glob("*.txt")]
    gold_of = {n: _tsv_roles(out / "gold" / n.replace(".txt", ".roles.tsv")) for n in names}
    outlets = {}
    for row in (out / "gold" / "captures.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        fields = row.split("\t")
        outlets[f"{fields[0]}.txt"] = f"synthetic:{fields[3]}"
    plain = _corpus("synthetic", out / "raw", gold_of, outlets, 0.5)
    pages, page_gold = dress_as_pages(plain, np.random.default_rng(seed))
    folder = work / "synthetic-pages"
    folder.mkdir()
    for name, text in pages.items():
        (folder / name).write_text(text, encoding="utf-8")
    page_outlets = {f"page-{name}": outlet for name, outlet in outlets.items()}
    return plain, _corpus("synthetic-pages", folder, page_gold, page_outlets, PAGES_WEIGHT)


def dress_as_pages(corpus: Corpus, rng: np.random.Generator) -> tuple[dict[str, str], dict[str, dict[int, str]]]:
    """Each synthetic capture inside a page of a site (tasks/synth/pages.py), a few articles per site: real pages wrap
    articles so; the generator does not. The page's words come from generic web furniture and the corpus
    itself (other articles' headlines as links, its words as menu items and names)."""
    captures = [lc for group in corpus.groups for lc in group]
    stories = _stories(corpus)
    vocabulary = sorted(
        {w for lc in captures[:50] for line in lc.capture.lines for w in line.text.split() if w.isalpha()}
    )
    sites: dict[str, Site] = {}
    offset = 0
    pages: dict[str, str] = {}
    gold: dict[str, dict[int, str]] = {}
    for number, group in enumerate(corpus.groups):
        for lc in group:
            roles = [COARSE[c] if c != 2 else "caption" for c in corpus.gold[offset : offset + len(lc.roles)].tolist()]
            # A handful of articles per site: a layout seen on several pages, and many layouts in all.
            site = f"{corpus.site[offset] if len(lc.roles) else ''}/{number // ARTICLES_PER_SITE}"
            offset += len(lc.roles)
            if site not in sites:
                sites[site] = new_site(rng, vocabulary)
            lines = list(zip((line.text for line in lc.capture.lines), roles, strict=True))
            name = f"page-{Path(lc.capture.uri).name}"
            pages[name], gold[name] = dress_as_page(sites[site], lines, stories, vocabulary, rng)
    return pages, gold


def _stories(corpus: Corpus) -> list[tuple[str, str]]:
    """Each article's headline and first paragraph (gold), from its first capture that holds both."""
    found: list[tuple[str, str]] = []
    offset = 0
    for group in corpus.groups:
        story: tuple[str, str] | None = None
        for lc in group:
            classes = corpus.gold[offset : offset + len(lc.roles)].tolist()
            offset += len(lc.roles)
            texts = [line.text for line in lc.capture.lines]
            if story is None and TITLE in classes and BODY in classes:
                story = (texts[classes.index(TITLE)], texts[classes.index(BODY)])
        if story is not None:
            found.append(story)
    return found


def _folds(sites: np.ndarray) -> np.ndarray:
    """A fold per site, the same on every run: sites sorted, dealt round-robin after a seeded shuffle."""
    unique = np.unique(sites)
    order = np.random.default_rng(2010).permutation(len(unique))
    fold_of = dict(zip(unique[order].tolist(), (np.arange(len(unique)) % FOLDS).tolist(), strict=True))
    return np.asarray([fold_of[s] for s in sites.tolist()])


def _fit(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> lgb.Booster:
    return lgb.train(BOOSTING, lgb.Dataset(x, y, weight=w), num_boost_round=ROUNDS)


@dataclass(frozen=True)
class Stacked:
    """Every corpus's lines in one matrix, with gold, weights, site folds and where each corpus lies."""

    corpora: list[Corpus]
    features: np.ndarray
    gold: np.ndarray
    either: np.ndarray
    weight: np.ndarray
    folds: np.ndarray
    spans: list[slice]


def stack_corpora(corpora: Sequence[Corpus]) -> Stacked:
    xs = [batch_features(c.groups, c.furniture) for c in corpora]
    sizes = np.cumsum([0, *map(len, xs)])
    gold = np.concatenate([c.gold for c in corpora])
    weight = np.concatenate([np.full(len(c.gold), c.weight) for c in corpora])
    sites = np.concatenate([c.site for c in corpora])
    spans = [slice(int(a), int(b)) for a, b in pairwise(sizes)]
    either = np.concatenate([c.either for c in corpora])
    return Stacked(list(corpora), np.vstack(xs), gold, either, weight, _folds(sites), spans)


def out_of_fold(data: Stacked) -> np.ndarray:
    """Each line's class probabilities from a booster that never saw its site."""
    found = np.zeros((len(data.gold), len(COARSE)))
    for fold in range(FOLDS):
        held = data.folds == fold
        found[held] = _fit(data.features[~held], data.gold[~held], data.weight[~held]).predict(data.features[held])
    return found


def walk_of(data: Stacked) -> tuple[np.ndarray, np.ndarray]:
    """Start and transition tables from the gold of every capture."""
    paths: list[list[int]] = []
    weights: list[float] = []
    for corpus, span in zip(data.corpora, data.spans, strict=True):
        starts = capture_starts(corpus.groups)
        gold = data.gold[span]
        paths += [region_path(gold[a:b].tolist()) for a, b in pairwise(starts)]
        weights += [min(corpus.weight, 1.0)] * (len(starts) - 1)  # the seeds' weight is for their lines
    return walk_tables(paths, weights)


def walk_titles(data: Stacked, probabilities: np.ndarray, model: LineRoleModel) -> tuple[np.ndarray, np.ndarray]:
    """Viterbi, then the partners' evidence and the title an untitled article gets, corpus by corpus: what
    relabel() does before it chooses the headlines. The lines' classes, and their probabilities as the walk read
    them."""
    found = np.zeros(len(probabilities), dtype=np.int64)
    smoothed = np.zeros_like(probabilities)
    for corpus, span in zip(data.corpora, data.spans, strict=True):
        smoothed[span] = wrapped_as_one(lean_on_rules(probabilities[span], data.features[span]), data.features[span])
        starts = capture_starts(corpus.groups)
        keys = [line.key for group in corpus.groups for lc in group for line in lc.capture.lines]
        found_walk = doubt_unsigned_threads(
            viterbi(smoothed[span], starts, model), smoothed[span], data.features[span], keys, starts, model
        )
        found[span] = give_a_title(
            held_as_article(corpus.groups, found_walk), smoothed[span], data.features[span], starts
        )
    return found, smoothed


def all_starts(data: Stacked) -> np.ndarray:
    """Where every capture of every corpus begins in the stacked lines, then the number of lines."""
    parts = [capture_starts(c.groups)[:-1] + span.start for c, span in zip(data.corpora, data.spans, strict=True)]
    return np.concatenate([*parts, [len(data.gold)]]).astype(np.int64)


def choose_and_finish(
    data: Stacked, walked: np.ndarray, smoothed: np.ndarray, lines: np.ndarray, scores: np.ndarray
) -> np.ndarray:
    """The headlines chosen by `scores` (the chooser's, per candidate line), then the thread's signatures
    followed and its furniture filed: the rest of relabel()."""
    every_start = all_starts(data)
    chosen = whole_wrapped_headlines(
        choose_titles_by(walked, smoothed, lines, scores, every_start), data.features, every_start
    )
    found = np.zeros(len(walked), dtype=np.int64)
    for corpus, span in zip(data.corpora, data.spans, strict=True):
        starts = capture_starts(corpus.groups)
        lines_of = [line for group in corpus.groups for lc in group for line in lc.capture.lines]
        named = name_under_headline(chosen[span], smoothed[span], [line.text for line in lines_of], starts)
        filed = file_thread_furniture(
            follow_signatures(named, data.features[span], starts), data.features[span], starts
        )
        keys = [line.key for line in lines_of]
        found[span] = file_comment_forms(
            file_link_lists(filed, data.features[span], keys, starts), data.features[span], keys, starts
        )
    return found


def _fit_chooser(x: np.ndarray, y: np.ndarray) -> lgb.Booster:
    return lgb.train(CHOOSING, lgb.Dataset(x, y), num_boost_round=CHOOSING_ROUNDS)


def scores(gold: np.ndarray, predicted: np.ndarray, either: np.ndarray) -> dict[str, float]:
    """Accuracy, article-vs-rest accuracy, F1 of titles and comments and recall of supplements (coarse classes), as
    `make eval-real` counts them: chrome is right as comment or boilerplate, and left out of the comments' F1."""
    article = np.isin(gold, (0, 1, 2))
    right = (gold == predicted) | (either & np.isin(predicted, (3, 4)))

    def f1(cls: int) -> float:
        tp = float(np.sum((gold == cls) & (predicted == cls) & ~either))
        denominator = float(np.sum((gold == cls) & ~either) + np.sum((predicted == cls) & ~either))
        return 2 * tp / denominator if denominator else 1.0

    supplements = max(float(np.sum(gold == 2)), 1.0)
    return {
        "accuracy": round(float(np.mean(right)), 4),
        "article_vs_rest": round(float(np.mean(article == np.isin(predicted, (0, 1, 2)))), 4),
        "title_f1": round(f1(0), 4), "comment_f1": round(f1(3), 4),
        "supplement_recall": round(float(np.sum((gold == 2) & (predicted == 2))) / supplements, 4),
        "lines": len(gold),
    }  # fmt: skip


def dump_cv(path: Path, data: Stacked, probabilities: np.ndarray, decoded: np.ndarray) -> None:
    """Every line's gold, out-of-fold probabilities, decoded class and features, with its capture's name and line
    number: for error analysis, written where the caller says (never into the repository: it names the data's files)."""
    names = [Path(lc.capture.uri).name for c in data.corpora for g in c.groups for lc in g for _ in lc.capture.lines]
    line_no = [line.line_no for c in data.corpora for g in c.groups for lc in g for line in lc.capture.lines]
    corpus = [c.name for c in data.corpora for _ in range(len(c.gold))]
    np.savez_compressed(
        path, gold=data.gold, either=data.either, probabilities=probabilities, decoded=decoded,
        features=data.features, names=np.asarray(names), line_no=np.asarray(line_no), corpus=np.asarray(corpus),
        feature_names=np.asarray(FEATURE_NAMES),
    )  # fmt: skip


def train(
    corpora: Sequence[Corpus], *, cross_validate: bool = True, dump: Path | None = None
) -> tuple[LineRoleModel, dict[str, object]]:
    """The model from all corpora; with `cross_validate`, each corpus's figures on sites left out of training.

    The headline chooser learns from the lines' probabilities as the booster gives them on sites it never saw
    (out of fold), as it will meet them on new pages; so the boosters of the folds are trained in any case.
    """
    data = stack_corpora(corpora)
    log_start, log_transition = walk_of(data)
    walk = LineRoleModel(None, log_start, log_transition, {})  # type: ignore[arg-type]
    probabilities = out_of_fold(data)
    walked, smoothed = walk_titles(data, probabilities, walk)
    lines, candidates = title_candidates(walked, smoothed, data.features, all_starts(data))
    headline = data.gold[lines] == COARSE.index("title")
    figures: dict[str, object] = {}
    if cross_validate:
        chosen_by = np.zeros(len(lines))
        for fold in range(FOLDS):
            held = data.folds[lines] == fold
            chosen_by[held] = _fit_chooser(candidates[~held], headline[~held]).predict(candidates[held])
        decoded = choose_and_finish(data, walked, smoothed, lines, chosen_by)
        if dump is not None:
            dump_cv(dump, data, probabilities, decoded)
        for corpus, span in zip(data.corpora, data.spans, strict=True):
            figures[corpus.name] = {
                "per line": scores(data.gold[span], probabilities[span].argmax(axis=1), data.either[span]),
                "decoded": scores(data.gold[span], decoded[span], data.either[span]),
            }
    meta = {"corpora": {c.name: len(c.gold) for c in corpora}, "rounds": ROUNDS, "folds": FOLDS}
    booster = _fit(data.features, data.gold, data.weight)
    return LineRoleModel(booster, log_start, log_transition, meta, _fit_chooser(candidates, headline)), figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.train", description=__doc__)
    parser.add_argument(
        "--realdev", type=Path, help="the annotated real pages (gold.json, raw/); without it, seeds and synthetic only"
    )
    parser.add_argument("--synthetic-articles", type=int, default=300)
    parser.add_argument("--out", type=Path, default=MODEL_FILE)
    parser.add_argument("--no-cv", action="store_true", help="skip the cross-validated figures")
    parser.add_argument(
        "--dump-cv", type=Path, help="write each line's cross-validated prediction and features (.npz) here"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as work:
        corpora = [seeds_corpus(Path(work)), *synthetic_corpus(Path(work), args.synthetic_articles, seed=11)]
        if args.realdev is not None:
            corpora.insert(0, realdev_corpus(args.realdev, "dev", Path(work)))
        model, figures = train(corpora, cross_validate=not args.no_cv, dump=args.dump_cv)
    model.save(args.out)
    for corpus, found in figures.items():
        print(corpus, json.dumps(found))
    print(f"model written to {args.out} ({args.out.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
