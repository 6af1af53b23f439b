"""The learned line roles: features on hand-written lines, and the model on invented pages."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from tasks.articles.rolemodel.batch import CHOICE_FEATURES
from tasks.articles.rolemodel.features import FEATURE_NAMES, LineTable, line_features
from tasks.articles.rolemodel.model import MODEL_FILE, LineRoleModel
from tasks.core.config import ArchiveParams, RolesConfig
from tests import pages
from tests.helpers import archive_tables, roles_by_line


def features_of(texts: list[str], *, blank_after: bool = False) -> pl.DataFrame:
    """Features of one capture made of `texts`."""
    n = len(texts)
    step = 2 if blank_after else 1
    return line_features(
        LineTable(
            capture=np.zeros(n, dtype=np.int64), line_no=np.arange(1, step * n + 1, step, dtype=np.int64),
            text=texts, key=[t.lower() for t in texts], rule=np.full(n, 4, dtype=np.int64),
            coverage=np.zeros(n), furniture=np.zeros(n, dtype=bool), partners=np.zeros(n, dtype=np.int64),
            words=np.array([len(t.split()) for t in texts], dtype=np.int64),
        )
    )  # fmt: skip


def test_a_signed_comment_line_has_the_signature_shape_and_prose_does_not() -> None:
    found = features_of(
        [
            "posted by seagull_watcher | 14 March 2026 9:12",
            "The council said that the work would start in 2027 and end three years later.",
        ]
    )
    assert found["signature"].to_list() == [1.0, 0.0]
    assert found["dated"].to_list() == [1.0, 1.0]


def test_a_speaker_label_and_a_numbered_line_are_told_by_their_shape() -> None:
    found = features_of(["Okafor: Most of them were.", "3. I agree with the last reader", "Weather"])
    assert found["name_colon"].to_list() == [1.0, 0.0, 0.0]
    assert found["numbered"].to_list() == [0.0, 1.0, 0.0]


def test_a_reader_saying_i_is_in_the_first_person_and_an_article_is_not() -> None:
    from tasks.articles.rolemodel.features import in_first_person

    keys = [pages.COMMENTS[2].lower(), "i've been there. my word, what a mess", *(p.lower() for p in pages.PARAGRAPHS)]
    assert in_first_person(keys).tolist() == [True, True, *[False] * len(pages.PARAGRAPHS)]
    assert in_first_person(["in it, it is mine", "iron mines", "imine"]).tolist() == [True, False, False]


def test_a_menu_is_a_long_run_of_short_lines() -> None:
    texts = [*pages.MENU, pages.PARAGRAPHS[0]]
    found = features_of(texts)
    run = found["run_length"].to_list()
    assert run[0] == run[len(pages.MENU) - 1] == pytest.approx(np.log1p(len(pages.MENU)))
    assert run[-1] == pytest.approx(np.log1p(1))
    assert found["page_words"][0] > 0  # "Home"
    assert found["stop_share"][-1] > found["stop_share"][0]


def test_position_and_blank_lines_are_read_from_the_line_numbers() -> None:
    found = features_of(["one", "two", "three", "four"], blank_after=True)
    assert found["position"].to_list() == [0.0, 0.25, 0.5, 0.75]
    assert found["blank_before"].to_list() == [1.0, 1.0, 1.0, 1.0]
    assert found["prose_before"].to_list() == [0.0] * 4  # no line is prose


def test_a_headline_shares_its_words_with_the_lead_and_a_menu_item_does_not() -> None:
    texts = [*pages.MENU, pages.TITLE, "14 March 2026", *pages.PARAGRAPHS[:2]]
    found = features_of(texts)
    lead = found["lead_words"].to_list()
    title = len(pages.MENU)
    # "harbour", "town", "rebuild", "library" of the title come back in the first paragraph.
    assert lead[title] >= 0.5
    assert lead[title - 1] == 0.0  # "Contact us"
    assert lead[title + 1] == 0.0  # a date has no content words
    assert lead[title + 2] == 0.0  # prose is not asked


# Twenty lines of a site's menu, then a headline, then more furniture than the next-prose cue reaches over.
LONG_MENU = (*pages.MENU, *pages.FOOTER[:4], "Events", "Jobs", "Homes", "Cars", "Puzzles", "Letters", "Obituaries",
             "Podcasts", "Newsletters")  # fmt: skip
UNDER_TITLE = ("Advertisement", "Share this article", "Print", "Email", "Text size", "Save", "Comments (0)")


def test_a_headline_under_a_long_menu_shares_its_words_with_the_main_prose() -> None:
    texts = [*LONG_MENU, pages.TITLE, *UNDER_TITLE, *pages.PARAGRAPHS]
    found = features_of(texts)
    title = len(LONG_MENU)
    assert len(LONG_MENU) == 20
    assert found["lead_words"][title] == 0.0  # the prose is more lines away than the next-prose cue looks
    # "harbo", "town", "rebui", "libra" and "flood" of the title's stems begin the first two paragraphs.
    assert found["main_lead"][title] >= 0.5
    assert found["best_main_lead"].to_list() == [float(i == title) for i in range(len(texts))]
    assert found["main_lead"][:title].to_list() == [0.0] * title  # no menu item's words come back
    assert found["main_lead"][-1] == 0.0  # prose is not asked


def test_lines_asked_for_their_words_a_few_at_a_time_get_the_same_shares(monkeypatch: pytest.MonkeyPatch) -> None:
    import tasks.articles.rolemodel.features as features

    texts = [*LONG_MENU, pages.TITLE, *UNDER_TITLE, *pages.PARAGRAPHS, *pages.MENU, pages.TITLE, *pages.PARAGRAPHS]
    whole = features_of(texts)
    monkeypatch.setattr(features, "_ASKS_AT_ONCE", 3)  # slices that split the asking lines of each capture
    sliced = features_of(texts)
    assert whole["main_lead"].sum() > 0
    assert whole["lead_words"].sum() > 0
    assert sliced.equals(whole)


def test_the_main_prose_is_the_longest_run_not_the_first_prose_line() -> None:
    teaser = "A short teaser paragraph about the ferry timetable, which will change next year, said the port."
    headline = "Harbour Town Library Moves Uphill"  # under ten words: no line of the main prose itself
    texts = [teaser, "Sport", "Weather", "Opinion", "Letters", "Puzzles", headline, *pages.PARAGRAPHS]
    found = features_of(texts)
    assert found["main_lead"][6] >= 0.5  # the prose under it begins with its words; the teaser's run is shorter
    assert found["best_main_lead"].to_list() == [float(i == 6) for i in range(len(texts))]


def test_dates_and_bylines_between_a_headline_and_its_text_do_not_keep_them_apart() -> None:
    byline, date = "By ANNA KOWALSKA", "14 March 2026 9:12"
    texts = ["Sport", "Letters to the editor", pages.TITLE, byline, date, pages.PARAGRAPHS[0]]
    found = features_of(texts)["free_lines_to_prose"].to_list()
    assert found[2] == 0.0  # only a byline and a date stand between the title and the prose
    assert found[0] == pytest.approx(np.log1p(2))  # the letters' heading and the title stand between
    assert found[1] == pytest.approx(np.log1p(1))
    assert found[-1] == -1.0  # prose itself


def test_the_lines_between_the_signatures_of_one_thread_are_comments() -> None:
    from tasks.articles.rolemodel.batch import follow_signatures
    from tasks.articles.rolemodel.model import BODY, BOILERPLATE, COMMENT

    texts = [pages.PARAGRAPHS[0], *pages.COMMENTS, *pages.FOOTER]
    features = features_of(texts).to_numpy()
    read = np.asarray([BODY, COMMENT, COMMENT, *[BOILERPLATE] * (len(texts) - 3)], dtype=np.int64)
    found = follow_signatures(read, features, np.asarray([0, len(texts)]))
    thread = slice(1, 1 + len(pages.COMMENTS))
    assert found[thread].tolist() == [COMMENT] * len(pages.COMMENTS)
    assert found[0] == BODY
    assert found[thread.stop :].tolist() == [BOILERPLATE] * len(pages.FOOTER)  # the footer after the last one


def test_dated_links_one_under_another_are_no_thread() -> None:
    from tasks.articles.rolemodel.batch import follow_signatures
    from tasks.articles.rolemodel.model import BOILERPLATE, COMMENT

    texts = ["a fine comment from a reader, who liked it", *[f"Ferry news | {d} March 2026" for d in range(1, 6)]]
    features = features_of(texts).to_numpy()
    read = np.asarray([COMMENT, *[BOILERPLATE] * 5], dtype=np.int64)
    assert follow_signatures(read, features, np.asarray([0, len(texts)])).tolist() == read.tolist()


def test_names_dates_buttons_and_counts_around_comments_are_furniture_and_what_readers_wrote_stays() -> None:
    from tasks.articles.rolemodel.batch import file_thread_furniture
    from tasks.articles.rolemodel.model import BOILERPLATE, COMMENT

    thread = [
        ("14 comments", BOILERPLATE),
        ("Sort by: Newest | Oldest | Best", BOILERPLATE),
        ("Tom Bradley", BOILERPLATE),
        ("August 14, 2026 at 7:42 pm", BOILERPLATE),
        ("Same thing happened to me with cherry tomatoes, I blamed the heat.", COMMENT),
        ("Reply", BOILERPLATE),
        ("priya_k wrote:", BOILERPLATE),
        ("Do you water in the morning or the evening?", COMMENT),
        ("Recommend 12", BOILERPLATE),
        ("Reply", BOILERPLATE),
        ("gardenbob", BOILERPLATE),
        ("2 hours ago", BOILERPLATE),
        ("Evenings are fine", COMMENT),  # short, but what a reader wrote: no date, count or colon, said once
        ("Reply", BOILERPLATE),
        ("Thanks!", COMMENT),
        ("9. Tom,", COMMENT),  # a numbered comment opening with whom it answers
        ("you are right about the watering", COMMENT),
    ]
    texts = [text for text, _ in thread]
    found = file_thread_furniture(np.full(len(texts), COMMENT), features_of(texts).to_numpy(), np.asarray([0, 17]))
    assert dict(zip(texts, found.tolist(), strict=True)) == dict(thread)
    # A short line over a date in another capture is no name: captures are read apart.
    texts = ["Evenings are fine", "2 hours ago"]
    found = file_thread_furniture(np.full(2, COMMENT), features_of(texts).to_numpy(), np.asarray([0, 1, 2]))
    assert found.tolist() == [COMMENT, BOILERPLATE]


def test_a_list_of_links_read_as_comments_is_furniture_and_short_comments_stay() -> None:
    from tasks.articles.rolemodel.batch import file_link_lists
    from tasks.articles.rolemodel.model import BOILERPLATE, COMMENT

    capture = [
        ("I walked past the old library last week and the water mark is still on the wall.", COMMENT),
        ("Ferry timetable to change in the new year", BOILERPLATE),  # the related stories under a thread
        ("Fish Market Reopens After Repairs", BOILERPLATE),
        ("School playing field sold to the council", BOILERPLATE),
        ("Hi Margaret,", COMMENT),  # opens a comment: an open end
        ("the bus stops at the bottom of the hill", COMMENT),
        ("Evenings are fine", COMMENT),
        ("I agree with the last reader", COMMENT),  # first person
        ("Well said", COMMENT),  # a link item, alone: one short line is no list
        ("The hill is a long walk for older people.", COMMENT),
        ("3. Tom Bradley", COMMENT),  # a numbered comment opening with whom it answers
        ("4. Margaret", COMMENT),
    ]
    texts = [text for text, _ in capture]
    features = features_of(texts).to_numpy()
    keys = [t.lower() for t in texts]
    found = file_link_lists(np.full(len(texts), COMMENT), features, keys, np.asarray([0, len(texts)]))
    assert dict(zip(texts, found.tolist(), strict=True)) == dict(capture)
    # Lines the walk found no comment are left as they are; two captures' lines make no run.
    read = np.asarray([BOILERPLATE, COMMENT], dtype=np.int64)
    two = ["Ferry timetable to change in the new year", "Fish Market Reopens After Repairs"]
    found = file_link_lists(read, features_of(two).to_numpy(), [t.lower() for t in two], np.asarray([0, 2]))
    assert found.tolist() == [BOILERPLATE, COMMENT]
    found = file_link_lists(
        np.full(2, COMMENT), features_of(two).to_numpy(), [t.lower() for t in two], np.asarray([0, 1, 2])
    )
    assert found.tolist() == [COMMENT, COMMENT]


def test_a_comment_forms_own_text_beside_its_fields_is_furniture_and_the_comments_above_stay() -> None:
    from tasks.articles.rolemodel.batch import file_comment_forms
    from tasks.articles.rolemodel.model import BOILERPLATE, COMMENT

    capture = [
        ("The new ferry is slower than the old one, and dearer.", COMMENT),
        ("Posting rules: keep it short and on topic", BOILERPLATE),  # right above the fields: the form's text
        ("Your name:", BOILERPLATE),  # filed as a thread's furniture before: a name ending with a colon
        ("E-mail *:", BOILERPLATE),
        ("Your address is kept private and never shown", BOILERPLATE),  # between the fields
        ("Website:", BOILERPLATE),
        ("Comment: *", BOILERPLATE),
        ("By sending it you accept our house rules", BOILERPLATE),  # right below them
        ("A reader from the harbour", COMMENT),  # two lines below the fields: not the form's
    ]
    texts = [text for text, _ in capture]
    read = np.asarray([COMMENT, COMMENT, BOILERPLATE, BOILERPLATE, COMMENT, BOILERPLATE, BOILERPLATE, COMMENT,
                       COMMENT], dtype=np.int64)  # fmt: skip
    keys = [t.lower() for t in texts]
    found = file_comment_forms(read, features_of(texts).to_numpy(), keys, np.asarray([0, len(texts)]))
    assert dict(zip(texts, found.tolist(), strict=True)) == dict(capture)
    # One field alone is no form; nor are numbered comments that open with whom they answer ("2. Tom:").
    thread = ["Tom:", "I take the early boat every day.", "2. Tom:", "3. Ann:", "You are both right about it."]
    read = np.full(len(thread), COMMENT)
    keys = [t.lower() for t in thread]
    found = file_comment_forms(read, features_of(thread).to_numpy(), keys, np.asarray([0, len(thread)]))
    assert found.tolist() == read.tolist()
    # Two captures' lines make no form: the last field of one and the first field of the next are apart.
    two = ["I take the early boat every day.", "Name:", "Email:", "Fine by me."]
    read = np.asarray([COMMENT, BOILERPLATE, BOILERPLATE, COMMENT], dtype=np.int64)
    keys = [t.lower() for t in two]
    found = file_comment_forms(read, features_of(two).to_numpy(), keys, np.asarray([0, 2, 4]))
    assert found.tolist() == read.tolist()


def _doubted(texts: list[str], read: list[int]) -> list[int]:
    """doubt_unsigned_threads() on one capture the walk read as `read`, each line sure of its class at 0.9."""
    from tasks.articles.rolemodel.batch import doubt_unsigned_threads
    from tasks.articles.rolemodel.model import BODY, COARSE, REGIONS

    features = features_of(texts).to_numpy()
    probabilities = np.full((len(texts), len(COARSE)), 0.025)
    probabilities[np.arange(len(texts)), read] = 0.9
    probabilities[:, BODY] += 0.05  # the runner-up: what a line is when it is no comment
    flat = LineRoleModel(None, np.zeros(len(REGIONS)), np.zeros((len(REGIONS), len(REGIONS))), {})  # type: ignore[arg-type]
    keys = [t.lower() for t in texts]
    found = doubt_unsigned_threads(np.asarray(read), probabilities, features, keys, np.asarray([0, len(texts)]), flat)
    return list(found.tolist())


def test_an_article_read_as_a_thread_with_no_signature_heading_or_first_person_is_walked_again() -> None:
    from tasks.articles.rolemodel.model import BODY, BOILERPLATE, COMMENT

    heading = "What the council says"
    article = [line for paragraph in pages.PARAGRAPHS for line in (heading, paragraph)]
    menu = [*pages.MENU, "Comments", "Letters"]  # a menu's item is no thread's heading: ten short lines in a row
    texts = [*menu, *article]
    read = [BOILERPLATE] * len(menu) + [COMMENT] * len(article)
    assert _doubted(texts, read) == [BOILERPLATE] * len(menu) + [BODY] * len(article)


def test_a_thread_with_a_signature_a_heading_or_readers_saying_i_stays_a_thread() -> None:
    from tasks.articles.rolemodel.model import BODY, BOILERPLATE, COMMENT

    said = [
        "I walked past the old library today and I think the council is right to move it.",
        "the square floods every winter, everyone knows that",
        "who will pay for the new one though",
        "a bus up the hill would help the older readers",
        "My grandmother worked there for thirty years.",
    ] * 2  # the first person on two of every five lines
    signed = [*said[1:4], "posted by kevin_h | 14 March 2026 11:02", *said[1:4], *said[1:4]]
    unsigned = [line for line in said if not line.startswith(("I ", "My "))] * 2
    for thread in (said, signed, ["Comments", *unsigned]):
        texts = [pages.PARAGRAPHS[0], *thread, *pages.FOOTER[:2]]
        read = [BODY, *[COMMENT] * len(thread), BOILERPLATE, BOILERPLATE]
        assert _doubted(texts, read) == read
    texts = [pages.PARAGRAPHS[0], *unsigned, *pages.FOOTER[:2]]
    read = [BODY, *[COMMENT] * len(unsigned), BOILERPLATE, BOILERPLATE]
    assert COMMENT not in _doubted(texts, read)  # the same lines with no heading and no "I"


def test_a_list_of_teasers_cut_short_under_their_dated_headlines_is_no_thread() -> None:
    from tasks.articles.rolemodel.model import BODY, BOILERPLATE, COMMENT

    teasers = [
        "Ferry Timetable Changes for the Winter | 3 March 2026",
        "The island ferry will sail twice a day from November, the operator said on...",
        "New Bakery Opens on the Quay | 2 March 2026",
        "Queues formed before dawn outside the old fish market, where a family of...",
        "Lighthouse Keepers Remembered | 1 March 2026",
        "A small exhibition at the harbour museum tells the story of the men who...",
    ]
    texts = [pages.PARAGRAPHS[0], *teasers]
    read = [BODY, *[COMMENT] * len(teasers)]
    assert COMMENT not in _doubted(texts, read)  # signed, by the signature's shape, but cut short
    readers = [line.replace("...", ".") for line in teasers]
    assert _doubted([pages.PARAGRAPHS[0], *readers], read) == read  # the same, written to the end: a thread
    assert BOILERPLATE not in read


def test_a_short_thread_with_no_signature_no_heading_and_no_reader_saying_i_is_walked_again() -> None:
    from tasks.articles.rolemodel.model import BODY, BOILERPLATE, COMMENT

    below = ["The harbour board meets again in April.", "Its minutes are published online a week later."]
    texts = [*pages.PARAGRAPHS[:2], *below, *pages.FOOTER[:2]]
    read = [BODY, BODY, COMMENT, COMMENT, BOILERPLATE, BOILERPLATE]
    assert COMMENT not in _doubted(texts, read)  # fewer than ten lines, and no evidence of readers
    voiced = ["I sat on that board for years.", "My advice: read the minutes."]
    texts = [*pages.PARAGRAPHS[:2], *voiced, *pages.FOOTER[:2]]
    assert _doubted(texts, read) == read
    quoted = [f'"{line}" the chairman told us.' for line in voiced]  # someone quoted, not a reader
    texts = [*pages.PARAGRAPHS[:2], *quoted, *pages.FOOTER[:2]]
    assert COMMENT not in _doubted(texts, read)
    reported = [f"{line[:-1]}, he said." for line in voiced]  # the article's voice, reporting someone's words
    texts = [*pages.PARAGRAPHS[:2], *reported, *pages.FOOTER[:2]]
    assert COMMENT not in _doubted(texts, read)
    answered = [f'"{line}" Well, I disagree.' for line in below]  # a reader quoting the article, then saying "I"
    texts = [*pages.PARAGRAPHS[:2], *answered, *pages.FOOTER[:2]]
    assert _doubted(texts, read) == read


def test_a_doubted_capture_walked_again_finds_no_new_thread_elsewhere() -> None:
    from tasks.articles.rolemodel.batch import doubt_unsigned_threads
    from tasks.articles.rolemodel.model import BODY, BOILERPLATE, COARSE, COMMENT, REGIONS

    below = ["The harbour board meets again in April.", "Its minutes are published online a week later."]
    texts = [*pages.PARAGRAPHS[:2], *below, "More from the coast", *pages.FOOTER[:2]]
    read = np.asarray([BODY, BODY, COMMENT, COMMENT, BOILERPLATE, BOILERPLATE, BOILERPLATE])
    probabilities = np.full((len(texts), len(COARSE)), 0.025)
    probabilities[np.arange(len(texts)), read] = 0.9
    probabilities[:, BODY] += 0.05
    # A heading under the doubted lines that the first walk found furniture, though it read a little more like a
    # comment line by line: walked again without the doubted thread, it would be a thread of its own.
    probabilities[4] = [0.0, 0.05, 0.0, 0.5, 0.45]
    flat = LineRoleModel(None, np.zeros(len(REGIONS)), np.zeros((len(REGIONS), len(REGIONS))), {})  # type: ignore[arg-type]
    keys = [t.lower() for t in texts]
    found = doubt_unsigned_threads(read, probabilities, features_of(texts).to_numpy(), keys, np.asarray([0, 7]), flat)
    assert found.tolist() == [BODY, BODY, BODY, BODY, BOILERPLATE, BOILERPLATE, BOILERPLATE]


def test_a_list_far_below_a_signed_thread_shows_its_own_evidence_and_the_thread_stays() -> None:
    from tasks.articles.rolemodel.batch import THREAD_GAP
    from tasks.articles.rolemodel.model import BODY, BOILERPLATE, COMMENT

    thread = list(pages.COMMENTS)  # each comment signed under it
    links = [f"Harbour notice {n}: moorings, fees and the spring tide table" for n in range(THREAD_GAP + 1)]
    digest = ["The week on the quay, in brief", "Ferry fares rise from April", "Sea wall survey put off again"]
    texts = [pages.PARAGRAPHS[0], *thread, *links, *digest]
    read = [BODY, *[COMMENT] * len(thread), *[BOILERPLATE] * len(links), *[COMMENT] * len(digest)]
    found = _doubted(texts, read)
    assert found[: 1 + len(thread)] == read[: 1 + len(thread)]  # the signed thread stays a thread
    assert COMMENT not in found[1 + len(thread) :]  # the list far below it had no signature, heading or "I"
    near = [BODY, *[COMMENT] * (len(thread) + len(digest))]  # the same list right under the thread: signed
    assert _doubted([pages.PARAGRAPHS[0], *thread, *digest], near) == near


def test_a_signature_among_links_far_from_any_comment_is_no_evidence_of_a_thread() -> None:
    from tasks.articles.rolemodel.model import BODY, BOILERPLATE, COMMENT

    links = ["Harbour wall repairs begin", "School roof fixed before winter", "Tide tables for April"]
    video = "Watch: the flood in pictures | 2 March 2026"
    texts = [pages.PARAGRAPHS[0], *links[:2], "More news", video, "Most read", *links]
    read = [BODY, COMMENT, COMMENT, BOILERPLATE, BOILERPLATE, BOILERPLATE, COMMENT, COMMENT, COMMENT]
    assert COMMENT not in _doubted(texts, read)
    beside = [BODY, COMMENT, COMMENT, COMMENT, BOILERPLATE, COMMENT, COMMENT, COMMENT, COMMENT]
    assert _doubted(texts, beside) == beside  # the same signature next to a comment: a thread, as the walk found


def test_an_untitled_article_gets_the_likeliest_line_above_it_whose_words_come_back_in_its_lead() -> None:
    from tasks.articles.rolemodel.batch import give_a_title
    from tasks.articles.rolemodel.model import BODY, BOILERPLATE, TITLE

    texts = [*LONG_MENU[-8:], pages.TITLE, "Share this article", *pages.PARAGRAPHS[:3]]
    features = features_of(texts).to_numpy()
    title = 8
    read = np.asarray([BOILERPLATE] * 10 + [BODY] * 3, dtype=np.int64)
    probabilities = np.tile([0.0, 0.0, 0.0, 0.0, 1.0], (len(texts), 1))
    probabilities[title] = [0.08, 0.0, 0.02, 0.0, 0.9]  # above TITLE_AT_LEAST (0.05)
    probabilities[3] = [0.3, 0.0, 0.0, 0.0, 0.7]  # likelier, but a menu item: none of its words in the lead
    found = give_a_title(read, probabilities, features, np.asarray([0, len(texts)]))
    assert found.tolist() == [*read[:title], TITLE, *read[title + 1 :]]
    probabilities[title, TITLE] = 0.03  # below TITLE_AT_LEAST: the walk's reading stands
    assert give_a_title(read, probabilities, features, np.asarray([0, len(texts)])).tolist() == read.tolist()


def test_a_body_only_capture_under_a_menu_gets_no_title_from_the_menu() -> None:
    from tasks.articles.rolemodel.batch import give_a_title
    from tasks.articles.rolemodel.model import BODY, BOILERPLATE

    texts = [*pages.MENU, *pages.PARAGRAPHS[:3]]
    features = features_of(texts).to_numpy()
    read = np.asarray([BOILERPLATE] * len(pages.MENU) + [BODY] * 3, dtype=np.int64)
    probabilities = np.tile([0.4, 0.0, 0.0, 0.0, 0.6], (len(texts), 1))
    assert give_a_title(read, probabilities, features, np.asarray([0, len(texts)])).tolist() == read.tolist()


def test_the_headline_candidates_are_the_lines_above_the_text_and_the_walks_titles_read_side_by_side() -> None:
    from tasks.articles.rolemodel.batch import CHOICE_FEATURES, CHOICE_REACH, title_candidates
    from tasks.articles.rolemodel.model import BODY, BOILERPLATE, TITLE

    menu = [f"Section {n}" for n in range(CHOICE_REACH + 5)]
    texts = [pages.TITLE, *menu, "Quayside Sketches", *pages.PARAGRAPHS[:3]]
    features = features_of(texts).to_numpy()
    first_body = len(texts) - 3
    read = np.asarray([TITLE] + [BOILERPLATE] * (first_body - 1) + [BODY] * 3, dtype=np.int64)
    probabilities = np.tile([0.01, 0.01, 0.01, 0.01, 0.96], (len(texts), 1))
    probabilities[first_body:] = [0.0, 1.0, 0.0, 0.0, 0.0]
    probabilities[first_body - 1] = [0.6, 0.0, 0.1, 0.0, 0.3]  # the likeliest title, right above the text
    probabilities[0] = [0.4, 0.0, 0.0, 0.0, 0.6]  # the walk's title, far above
    lines, matrix = title_candidates(read, probabilities, features, np.asarray([0, len(texts)]))
    near = list(range(first_body - CHOICE_REACH, first_body + 1))
    assert lines.tolist() == [0, *near]  # the walk's title, then the reach above the text and its first line
    column = {name: matrix[:, CHOICE_FEATURES.index(name)].tolist() for name in CHOICE_FEATURES}
    assert column["to_body"][0] == first_body
    assert column["to_body"][-2:] == [1, 0]
    assert column["title_rank"][0] == 1
    assert column["title_rank"][-2] == 0
    assert column["title_gap"][-2] == 0.0
    assert column["title_gap"][0] == pytest.approx(-0.2)
    assert column["titles"] == [1.0] * len(lines)
    assert column["titles_so_far"][:2] == [1.0, 1.0]
    assert column["class_below"][-2] == BODY
    assert column["title_above"][-1] == pytest.approx(0.6)


def test_the_candidate_the_chooser_scores_best_is_the_headline_and_the_walks_other_title_steps_down() -> None:
    from tasks.articles.rolemodel.batch import ALSO_TITLE_AT_LEAST, CHOSEN_AT_LEAST, choose_titles_by
    from tasks.articles.rolemodel.model import BODY, BOILERPLATE, COMMENT, SUPPLEMENT, TITLE

    read = np.asarray([BOILERPLATE, TITLE, TITLE, BOILERPLATE, BODY, BODY], dtype=np.int64)
    probabilities = np.tile([0.1, 0.1, 0.1, 0.1, 0.6], (6, 1))
    probabilities[1] = [0.5, 0.0, 0.1, 0.35, 0.05]  # a byline read as title: a comment is likelier than a caption
    starts = np.asarray([0, 6])
    lines = np.asarray([0, 1, 2, 3, 4])
    scores = np.asarray([0.1, CHOSEN_AT_LEAST / 2, CHOSEN_AT_LEAST + 0.05, 0.2, 0.0])
    found = choose_titles_by(read, probabilities, lines, scores, starts)
    assert found.tolist() == [BOILERPLATE, SUPPLEMENT, TITLE, BOILERPLATE, BODY, BODY]
    scores[3] = ALSO_TITLE_AT_LEAST  # a second line sure to be title (a headline in two lines) is one too
    assert choose_titles_by(read, probabilities, lines, scores, starts)[3] == TITLE
    unsure = np.full(5, CHOSEN_AT_LEAST / 2)  # no candidate the chooser believes in: no headline
    assert TITLE not in choose_titles_by(read, probabilities, lines, unsure, starts).tolist()
    assert COMMENT not in choose_titles_by(read, probabilities, lines, unsure, starts).tolist()


def test_a_walk_never_goes_from_a_thread_back_into_the_body_even_where_a_training_page_did() -> None:
    from tasks.articles.rolemodel.model import (
        _NEVER,
        BODY_REGION,
        CHROME,
        HEAD,
        REGION_COMMENT,
        TITLE_REGION,
        WALK_WEIGHT,
        walk_tables,
    )  # fmt: skip

    # A training page whose gold has a few comment lines inside its body, one with chrome there too.
    paths = [[HEAD, TITLE_REGION, BODY_REGION, REGION_COMMENT, BODY_REGION, REGION_COMMENT, CHROME, BODY_REGION]]
    _, log_transition = walk_tables(paths, [1.0])
    assert log_transition[REGION_COMMENT, BODY_REGION] == WALK_WEIGHT * _NEVER
    assert log_transition[CHROME, BODY_REGION] == WALK_WEIGHT * _NEVER
    assert log_transition[BODY_REGION, REGION_COMMENT] > WALK_WEIGHT * _NEVER  # into the thread, as pages go
    assert log_transition[REGION_COMMENT, CHROME] > WALK_WEIGHT * _NEVER


def test_the_shipped_model_file_loads_and_names_what_it_was_trained_on() -> None:
    model = LineRoleModel.load(MODEL_FILE)
    corpora = model.meta["corpora"]
    assert isinstance(corpora, dict)
    assert set(corpora) == {"realdev-dev", "seeds", "synthetic", "synthetic-pages"}
    assert model.log_transition.shape == (9, 9)
    assert model.booster.num_feature() == len(FEATURE_NAMES)
    assert model.title_booster is not None
    assert model.title_booster.num_feature() == len(CHOICE_FEATURES)


def test_a_model_file_keeps_its_headline_chooser(tmp_path: Path) -> None:
    model = LineRoleModel.load(MODEL_FILE)
    assert model.title_booster is not None
    model.save(tmp_path / "model.json.gz")
    again = LineRoleModel.load(tmp_path / "model.json.gz")
    assert again.title_booster is not None
    assert again.title_booster.model_to_string() == model.title_booster.model_to_string()


def archived_roles(raw: Path, files: dict[str, str], roles: RolesConfig | None = None) -> dict[str, dict[int, str]]:
    """Role of every line of every invented capture, archived by the pipeline."""
    raw.mkdir()
    for name, text in files.items():
        (raw / name).write_text(text, encoding="utf-8")
    params = ArchiveParams(raw_dir=str(raw), out_dir="/unused", roles=roles or RolesConfig())
    tables = archive_tables(raw, params)
    return {name: roles_by_line(tables, name) for name in files}


def line_of(text: str, line: str) -> int:
    return text.split("\n").index(line) + 1


def test_a_comment_counter_above_text_a_partner_holds_does_not_make_the_article_comments(tmp_path: Path) -> None:
    page = pages.page(above_title=("Comments: 408",))
    found = archived_roles(tmp_path / "raw", {"page.txt": page, "print.txt": pages.article_only()})["page.txt"]
    assert [found[line_of(page, p)] for p in pages.PARAGRAPHS] == ["body"] * len(pages.PARAGRAPHS)
    assert found[line_of(page, pages.TITLE)] == "title"
    assert found[line_of(page, "Comments: 408")] != "comment"


def test_the_article_only_capture_is_all_title_and_body(tmp_path: Path) -> None:
    text = pages.article_only()
    found = archived_roles(tmp_path / "raw", {"page.txt": pages.page(), "print.txt": text})["print.txt"]
    assert found[1] == "title"
    assert {role for line, role in found.items() if line > 1} == {"body"}


@pytest.mark.parametrize("with_page", [False, True], ids=["alone", "beside its page"])
def test_a_headline_hard_wrapped_over_two_lines_is_title_on_both(tmp_path: Path, with_page: bool) -> None:
    headline = f"{pages.TITLE} as Rain Returns"  # its last two words alone on the second line
    text = pages.article_only().replace(pages.TITLE, "\n".join(pages.wrapped((headline,))), 1)
    first, second = text.split("\n")[:2]
    assert second
    assert f"{first} {second}" == headline
    files = {"print.txt": text} | ({"page.txt": pages.page().replace(pages.TITLE, headline)} if with_page else {})
    found = archived_roles(tmp_path / "raw", files)["print.txt"]
    assert (found[1], found[2]) == ("title", "title")
    assert {role for line, role in found.items() if line > 2} == {"body"}


def test_only_a_headline_sized_wrapped_paragraph_under_a_title_line_is_all_title() -> None:
    """A wrapped paragraph of the article whose first line was taken for the title keeps its other lines."""
    from tasks.articles.rolemodel.batch import whole_wrapped_headlines
    from tasks.articles.rolemodel.model import BODY, SUPPLEMENT, TITLE

    headline = pages.wrapped((f"{pages.TITLE} as Rain Returns",))
    lead = pages.wrapped(pages.PARAGRAPHS[:1])  # three lines, more words than a headline has
    texts = [*headline, *lead, pages.PARAGRAPHS[1]]
    gaps = [0] * len(headline) + [1] + [0] * (len(lead) - 1) + [1]  # a blank line opens the lead and the last
    line_no = np.cumsum(np.asarray(gaps) + 1)
    table = LineTable(
        capture=np.zeros(len(texts), dtype=np.int64), line_no=line_no.astype(np.int64), text=texts,
        key=[t.lower() for t in texts], rule=np.full(len(texts), 4, dtype=np.int64), coverage=np.zeros(len(texts)),
        furniture=np.zeros(len(texts), dtype=bool), partners=np.zeros(len(texts), dtype=np.int64),
        words=np.array([len(t.split()) for t in texts], dtype=np.int64),
    )  # fmt: skip
    features = line_features(table).to_numpy()
    read = np.array([TITLE, SUPPLEMENT] + [TITLE] + [BODY] * (len(lead) - 1) + [BODY])
    expected = np.array([TITLE, TITLE] + [TITLE] + [BODY] * (len(lead) - 1) + [BODY])
    assert len(headline) == 2
    assert len(lead) >= 3
    assert whole_wrapped_headlines(read, features, np.array([0, len(texts)])).tolist() == expected.tolist()


def test_a_byline_in_capitals_under_the_title_is_a_byline(tmp_path: Path) -> None:
    page = pages.page(under_title=("By ANNA KOWALSKA",), thread=False)
    found = archived_roles(tmp_path / "raw", {"page.txt": page})["page.txt"]
    assert found[line_of(page, "By ANNA KOWALSKA")] == "byline"
    assert found[line_of(page, pages.TITLE)] == "title"


def test_a_name_in_capitals_under_the_standfirst_is_the_byline_and_the_standfirst_a_subtitle(tmp_path: Path) -> None:
    standfirst = "After two years in a church hall, the town's readers will have a building of their own again"
    page = pages.page(under_title=(standfirst, "ANNA KOWALSKA", "Share on Facebook", "Email"), thread=False)
    found = archived_roles(tmp_path / "raw", {"page.txt": page})["page.txt"]
    assert found[line_of(page, pages.TITLE)] == "title"
    assert found[line_of(page, standfirst)] == "subtitle"
    assert found[line_of(page, "ANNA KOWALSKA")] == "byline"
    assert found[line_of(page, "Share on Facebook")] == "boilerplate"


def test_capitals_in_the_menu_above_the_headline_are_no_byline() -> None:
    from tasks.articles.rolemodel.batch import name_under_headline
    from tasks.articles.rolemodel.model import BODY, BOILERPLATE, COARSE, SUPPLEMENT, TITLE

    texts = ["LOCAL NEWS", "Harbour Town Votes", "ANNA KOWALSKA", "SHARE THIS", pages.PARAGRAPHS[0]]
    walked = np.asarray([BOILERPLATE, TITLE, BOILERPLATE, BOILERPLATE, BODY])
    probabilities = np.full((5, len(COARSE)), 0.1)
    probabilities[[0, 2], SUPPLEMENT] = 0.4  # as likely a supplement as the name: only its place tells them apart
    found = name_under_headline(walked, probabilities, texts, np.asarray([0, 5]))
    assert found.tolist() == [BOILERPLATE, TITLE, SUPPLEMENT, BOILERPLATE, BODY]
    # A headline in the capture before is none of this capture's.
    found = name_under_headline(walked, probabilities, texts, np.asarray([0, 2, 5]))
    assert found.tolist() == walked.tolist()


def test_a_source_line_under_the_headline_is_no_second_headline(tmp_path: Path) -> None:
    """Line by line the source reads as a second headline line; beside the headline, the chooser tells them apart."""
    source = "Source: Harbour Gazette"
    lines = [*pages.MENU, pages.TITLE, source, "Posted on: 14 March 2026", *pages.PARAGRAPHS, *pages.FOOTER]
    page = "\n".join(lines) + "\n"
    found = archived_roles(tmp_path / "raw", {"page.txt": page})["page.txt"]
    assert found[line_of(page, pages.TITLE)] == "title"
    assert found[line_of(page, source)] == "caption"


def test_a_lone_capture_without_a_heading_still_finds_where_its_comments_start(tmp_path: Path) -> None:
    page = pages.page()
    found = archived_roles(tmp_path / "raw", {"page.txt": page})["page.txt"]
    assert [found[line_of(page, p)] for p in pages.PARAGRAPHS] == ["body"] * len(pages.PARAGRAPHS)
    comments = [found[line_of(page, c)] for c in pages.COMMENTS if not c.startswith("posted by")]
    assert comments == ["comment"] * len(comments)
    menu = [found[line_of(page, m)] for m in (*pages.MENU, *pages.FOOTER)]
    assert set(menu) == {"boilerplate"}


def test_dialogue_lines_in_a_print_capture_stay_body(tmp_path: Path) -> None:
    text = pages.interview_print()
    found = archived_roles(tmp_path / "raw", {"interview.txt": text})["interview.txt"]
    assert {role for line, role in found.items() if line > 1} == {"body"}


def test_with_the_rules_alone_no_line_gets_a_confidence(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "page.txt").write_text(pages.page(), encoding="utf-8")
    tables = archive_tables(
        raw, ArchiveParams(raw_dir=str(raw), out_dir="/unused", roles=RolesConfig(line_model="rules"))
    )
    assert tables["segments"]["confidence"].null_count() == tables["segments"].height


def test_a_capture_walking_alone_takes_the_path_it_takes_beside_another(monkeypatch: pytest.MonkeyPatch) -> None:
    """The walk of one long capture finishes in plain Python, slice by slice: the same path as numpy's lockstep walk."""
    import tasks.articles.rolemodel.model as walk
    from tasks.articles.rolemodel.model import shipped_model, viterbi

    monkeypatch.setattr(walk, "_WALK_SLICE", 64)  # the lone walk crosses slices
    rng = np.random.default_rng(5)
    model = shipped_model()
    alone = rng.dirichlet(np.full(5, 0.3), 700)
    beside = rng.dirichlet(np.full(5, 0.3), 700)
    walked_alone = viterbi(alone, np.asarray([0, 700]), model)
    walked_together = viterbi(np.vstack([alone, beside]), np.asarray([0, 700, 1400]), model)
    assert walked_alone.tolist() == walked_together[:700].tolist()
    assert len(set(walked_alone.tolist())) > 1  # a real walk, not one class throughout


def test_a_headline_under_a_run_of_twenty_menu_lines_is_a_title(tmp_path: Path) -> None:
    page = "\n".join([*LONG_MENU, pages.TITLE, "14 March 2026", *pages.PARAGRAPHS, *pages.FOOTER]) + "\n"
    found = archived_roles(tmp_path / "raw", {"page.txt": page})["page.txt"]
    assert found[line_of(page, pages.TITLE)] == "title"
    assert [found[line_of(page, m)] for m in LONG_MENU[:7]] == ["boilerplate"] * 7


def test_a_lone_walk_that_must_take_a_rare_move_takes_it_as_the_lockstep_walk_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Sure lines in long runs of one class: regions fall more than a rare move behind, and one is taken."""
    import tasks.articles.rolemodel.model as walk

    full_steps: list[int] = []
    best_of_all = walk._best_of_all

    def counted(current: list[float], into: list[float]) -> tuple[int, float]:
        full_steps.append(1)
        return best_of_all(current, into)

    monkeypatch.setattr(walk, "_best_of_all", counted)
    rng = np.random.default_rng(7)
    sure = np.full((1_000, 5), 1e-7)
    sure[np.arange(1_000), np.repeat(rng.integers(0, 5, 50), 20)] = 1.0
    beside = rng.dirichlet(np.full(5, 0.3), 1_000)
    model = walk.shipped_model()
    walked_alone = walk.viterbi(sure, np.asarray([0, 1_000]), model)
    walked_together = walk.viterbi(np.vstack([sure, beside]), np.asarray([0, 1_000, 2_000]), model)
    assert walked_alone.tolist() == walked_together[:1_000].tolist()
    assert full_steps  # some step was walked with every move
