"""Invented news pages for the line-role tests: an article, its site's furniture, and a reader thread.

Written for these tests (no real page's text): a full page as a reader would copy it, with
menus, links and a thread, and the article alone, hard-wrapped as a print edition has it.
"""

from __future__ import annotations

import textwrap

TITLE = "Harbour Town Votes to Rebuild Its Flooded Library on Higher Ground"
PARAGRAPHS = (
    "The council of Harbour Town voted on Tuesday night to rebuild the public library on a hill above the old "
    "fish market, two years after a winter storm left its reading rooms under a metre of sea water.",
    "The decision ends a long argument between residents who wanted the library back in the square where it has "
    "stood since 1921 and those who said that another flood was only a matter of time in a warming climate.",
    "Engineers hired by the town told the council that the old building could be saved, but that keeping it dry "
    "would need a sea wall costing more than the new library itself, and that insurers would not cover it.",
    "The new site, a former school playing field, will hold a building of two floors with a children's wing, a "
    "local history room and a cafe run by volunteers, according to plans shown to the public in the spring.",
    "Work is due to start next autumn and the doors should open in about three years, the council said. Until "
    "then the temporary library in the church hall will keep its hours and add a weekly evening session.",
    "Some of the books and papers damaged by the flood have been dried and repaired by a team of volunteers, "
    "who spent most of last year working through boxes of wet parish records in a borrowed freezer unit.",
)
MENU = ("Home", "News", "Sport", "Business", "Weather", "Opinion", "Contact us")
RELATED = (
    "More from Harbour Town",
    "Ferry timetable to change in the new year",
    "Fish market reopens after repairs",
    "School playing field sold to the council",
)
FOOTER = ("About us", "Privacy policy", "Terms of use", "Advertise with us", "Copyright 2026 The Harbour Gazette")
COMMENTS = (
    "finally some common sense from the council, the old square floods every other winter",
    "posted by seagull_watcher | 14 March 2026 9:12",
    "I learned to read in that building and I will miss it. But they are right, the water keeps coming back",
    "posted by Margaret from the north quay | 14 March 2026 10:40",
    "who is paying for all this?? my council tax went up again this year",
    "posted by kevin_h | 14 March 2026 11:02",
    "The hill is a long walk for older people without a car. Will there be a bus?",
    "posted by retired_teacher | 14 March 2026 12:31",
)


def wrapped(paragraphs: tuple[str, ...], width: int = 72) -> list[str]:
    """Paragraphs hard-wrapped at `width` columns, a blank line between them."""
    lines: list[str] = []
    for paragraph in paragraphs:
        lines += [*textwrap.wrap(paragraph, width), ""]
    return lines[:-1]


def page(*, above_title: tuple[str, ...] = (), under_title: tuple[str, ...] = (), thread: bool = True) -> str:
    """The full page, one paragraph per line, as a reader would copy it."""
    lines = [*MENU, *above_title, TITLE, *under_title, *PARAGRAPHS, "Share this article"]
    if thread:
        lines += list(COMMENTS)
    return "\n".join([*lines, *RELATED, *FOOTER]) + "\n"


def article_only() -> str:
    """The article alone: title, then its paragraphs hard-wrapped, as a print edition has it."""
    return "\n".join([TITLE, "", *wrapped(PARAGRAPHS)]) + "\n"


INTERVIEW_TITLE = "Ten Questions for the Harbour Master"
INTERVIEW = (
    "Ruth Okafor has run the port of Harbour Town for eleven years. We asked her about the night of the storm "
    "and about what the town should do before the next one.",
    "Gazette: What did you see that night?",
    "Okafor: The water came over the wall at about two in the morning. I had never seen it so high.",
    "Gazette: Were the boats safe?",
    "Okafor: Most of them were. We lost two small ones. The water came over the wall at about two in the morning.",
    "Gazette: Will it happen again?",
    "Okafor: Yes, and we have to be ready for it. That is why the new wall matters more than anything else we "
    "could spend the money on, and why I will keep saying so at every meeting of the council.",
)


def interview_print() -> str:
    """A print edition of an interview: title, then its questions and answers hard-wrapped, a blank line between."""
    return "\n".join([INTERVIEW_TITLE, "", *wrapped(INTERVIEW)]) + "\n"
