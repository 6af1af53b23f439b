"""Synthetic captures dressed as whole pages (tasks/synth/pages.py): what the line-role model learns furniture from."""

from __future__ import annotations

from collections import Counter

import numpy as np

from tasks.synth.pages import CHROME, Site, dress_as_page, new_site

VOCABULARY = ["harbour", "council", "library", "storm", "river", "market", "school", "bridge", "ferry", "quay"]
STORIES = [
    ("Ferry timetable to change", "The ferry will leave an hour later from the first of May, the company said."),
    ("Fish market reopens", "Traders were back at their stalls on Monday after six weeks of repairs to the roof."),
]
ARTICLE = [
    ("Harbour Town Votes to Rebuild Its Library", "title"),
    ("The council chose higher ground after the flood.", "caption"),
    ("The council voted on Tuesday night to rebuild the public library on the hill above the market.", "body"),
    ("Engineers said the old building could be saved, but only behind a sea wall costing more than a new one.", "body"),
    ("Work is due to start next autumn and the doors should open in about three years.", "body"),
    ("Volunteers have dried most of the damaged parish records in a borrowed freezer unit.", "body"),
]
THREAD = [
    ("I learned to read in that building and I will miss it, but they are right.", "comment"),
    ("who is paying for all this? my council tax went up again", "comment"),
    ("The hill is a long walk without a car. Will there be a bus?", "comment"),
]


def _sites(n: int, seed: int = 3) -> tuple[list[Site], np.random.Generator]:
    rng = np.random.default_rng(seed)
    return [new_site(rng, VOCABULARY) for _ in range(n)], rng


def _page(site: Site, rng: np.random.Generator, lines: list[tuple[str, str]]) -> list[tuple[str, str]]:
    text, gold = dress_as_page(site, lines, STORIES, VOCABULARY, rng)
    numbered = list(enumerate(text.split("\n"), 1))
    assert sorted(gold) == [n for n, line in numbered if line], "a gold role for every non-blank line, no other"
    return [(line, gold[n]) for n, line in numbered if line]


def test_the_article_and_its_thread_keep_their_lines_roles_and_order() -> None:
    sites, rng = _sites(40)
    for site in sites:
        page = _page(site, rng, ARTICLE + THREAD)
        assert [line for line in page if line in ARTICLE] == ARTICLE
        comments = [t for t, r in page if r == "comment"]
        assert [c.split(" ", 1)[1] if c.startswith("@") else c for c in comments] == [t for t, _ in THREAD]
        # The article comes before its thread; furniture around them is boilerplate or the thread's chrome.
        positions = {line: i for i, line in enumerate(page)}
        assert max(positions[line] for line in ARTICLE) < min(i for i, (_, r) in enumerate(page) if r == "comment")
        assert {r for _, r in page} <= {"title", "caption", "body", "comment", "boilerplate", CHROME}


def test_chrome_only_stands_in_a_thread() -> None:
    sites, rng = _sites(40)
    for site in sites:
        assert CHROME not in {r for _, r in _page(site, rng, ARTICLE)}


def test_sites_differ_in_how_they_sign_comments_and_one_site_keeps_its_furniture() -> None:
    sites, rng = _sites(60)
    assert Counter(site.signing for site in sites).keys() == {0, 1, 2, 3, 4}
    assert any(site.byline and "{upper}" in site.byline for site in sites)  # a byline in capitals alone
    # Two pages of one site hold the same menu and footer lines.
    first, second = _page(sites[0], rng, ARTICLE + THREAD), _page(sites[0], rng, ARTICLE)
    assert [line for line in first if line[0] in sites[0].top] == [line for line in second if line[0] in sites[0].top]
    assert [t for t, _ in first if t in sites[0].footer] == list(sites[0].footer)


def test_a_signed_thread_has_its_names_and_dates_as_chrome() -> None:
    sites, rng = _sites(200)
    by_name_and_date = next(s for s in sites if s.signing == 2 and not s.actions and s.more is None)
    page = _page(by_name_and_date, rng, ARTICLE + THREAD)
    thread = page[next(i for i, (_, r) in enumerate(page) if r == CHROME or r == "comment") :]
    roles = [r for _, r in thread if r in (CHROME, "comment")]
    # Each comment under its name line and its date line (a heading or sort line may open the thread).
    assert roles[-9:] == [CHROME, CHROME, "comment"] * 3


def test_the_same_seed_dresses_the_same_page() -> None:
    one, rng_one = _sites(5, seed=8)
    two, rng_two = _sites(5, seed=8)
    assert one == two
    assert dress_as_page(one[4], ARTICLE + THREAD, STORIES, VOCABULARY, rng_one) == dress_as_page(
        two[4], ARTICLE + THREAD, STORIES, VOCABULARY, rng_two
    )
