"""Synthetic captures dressed as whole web pages: what the line-role model learns a page's furniture from.

The generator writes an article and its thread alone; a real page wraps them in its site's
furniture, and sites differ in how: an account bar and a menu, a breadcrumb, share buttons
between the headline and the text, links to read next, a sidebar, a comment form, a footer;
threads under a heading or none, each comment signed on one line, or by a name line and a
date line, or `Name says:`, or below its text, with `Reply` or `Recommend 12` under it.
Each site (a few articles of one outlet of the corpus) keeps one layout and one set of
furniture for all its pages, as real sites do. The furniture's words are generic web furniture and the corpus's own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# Comment chrome: a thread's headings, signatures and buttons. Right as comment or as boilerplate.
CHROME = "comment chrome"
_BOILERPLATE = "boilerplate"

_MONTHS = ("January", "March", "May", "July", "September", "November", "Feb", "Aug", "Oct", "Dec")
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_ACCOUNT = ("Sign in", "Sign in | Register", "Log in", "Subscribe", "Register", "My account", "Subscribe now")
_GENERIC_MENU = ("Home", "News", "World", "Sport", "Business", "Opinion", "Culture", "Weather", "Video", "Search")
_SHARE = ("Share", "Share on Facebook", "Share on X", "Tweet", "Email", "Print", "Save", "Copy link", "WhatsApp")
_RELATED = ("Related", "Related stories", "You might also like", "More from {site}", "Read next", "Most popular",
            "Most read", "Recommended", "Also in {section}")  # fmt: skip
_SIDEBAR = ("Recent Posts", "Categories", "Archives", "Most viewed", "Popular", "Trending", "Latest")
_HEADINGS = ("Comments", "{n} Comments", "{n} comments", "Reader comments", "Leave a reply", "Responses",
             "{n} responses", "Comments ({n})", "{n} thoughts on \u201c{title}\u201d", "{n} Responses to \"{title}\"",
             "Join the conversation", "Discussion")  # fmt: skip
_SORTING = ("Sort by: Newest | Oldest | Most liked", "Newest first", "Showing {n} of {n} comments", "Oldest first")
_ACTIONS = ("Reply", "Report", "Like", "Recommend {k}", "{k} likes", "Reply | Report", "Flag", "Share",
            "Report abuse", "Quote", "Permalink", "{k} replies", "Upvote")  # fmt: skip
_MORE = ("Load more comments", "View all {n} comments", "Show more replies", "More comments")
_FORMS = (
    ("Leave a Reply", "Your email address will not be published. Required fields are marked *", "Comment",
     "Name *", "Email *", "Website", "Post Comment"),
    ("Post a comment", "You must be logged in to post a comment."),
    ("Add your comment", "Name", "Email", "Submit"),
    ("Have your say", "Comments are moderated and may take a while to appear.", "Submit comment"),
)  # fmt: skip
_NEWSLETTER = (("Sign up for our newsletter", "Enter your email", "Subscribe"), ("Get the morning briefing",))
_BYLINES = ("By {name}", "{upper}", "By {upper}", "{name}, staff writer", "{name} | {section}")
_FOOTER = ("About us", "Contact", "Privacy policy", "Terms of use", "Cookies", "Advertise", "Careers", "Help")


@dataclass(frozen=True)
class Site:
    """One site's furniture and layout: the same on every page of the site."""

    name: str
    top: tuple[str, ...]
    footer: tuple[str, ...]
    section: str
    share: tuple[str, ...]
    dateline: bool
    byline: str | None  # a byline under the headline, in the site's style
    related_heading: str | None
    links: str  # how links to other stories read: "plain", "dated", "teased" (over their first words), "counted"
    links_first: bool
    sidebar: tuple[str, ...]
    form: tuple[str, ...]
    heading: str | None
    sorting: str | None
    signing: int  # 0 unsigned, 1 one line, 2 a name line and a date line, 3 "Name says:", 4 signed below
    signed_above: bool
    actions: tuple[str, ...]
    more: str | None
    blank_between: bool


def _pick(rng: np.random.Generator, options: Sequence[str], low: int, high: int) -> tuple[str, ...]:
    """Between `low` and `high` distinct options, in the order given."""
    k = int(rng.integers(low, min(high, len(options)) + 1))
    chosen = sorted(rng.choice(len(options), size=k, replace=False).tolist())
    return tuple(options[i] for i in chosen)


def _word(rng: np.random.Generator, vocabulary: Sequence[str]) -> str:
    return str(rng.choice(vocabulary)).capitalize()


def _date(rng: np.random.Generator) -> str:
    day, year = int(rng.integers(1, 29)), int(rng.integers(1998, 2030))
    hour, minute = int(rng.integers(1, 13)), int(rng.integers(0, 60))
    month = str(rng.choice(_MONTHS))
    forms = (
        f"{month} {day}, {year} at {hour}:{minute:02d} pm",
        f"{day} {month} {year} {hour:02d}:{minute:02d}",
        f"{int(rng.integers(2, 23))} hours ago",
        f"{int(rng.integers(2, 9))} days ago",
        f"{month} {day}, {year}",
    )
    return forms[int(rng.integers(len(forms)))]


def _name(rng: np.random.Generator, vocabulary: Sequence[str]) -> str:
    first, second = _word(rng, vocabulary), _word(rng, vocabulary)
    forms = (first, f"{first} {second}", f"{first.lower()}_{int(rng.integers(1, 99))}", f"{first} from {second}",
             f"{first}, {second}", f"{first.lower()}{second.lower()}")  # fmt: skip
    return forms[int(rng.integers(len(forms)))]


def _one_line_signature(rng: np.random.Generator, vocabulary: Sequence[str]) -> str:
    name = _word(rng, vocabulary)
    day, year, hour, minute = rng.integers(1, 29), rng.integers(1998, 2030), rng.integers(1, 13), rng.integers(0, 60)
    month = str(rng.choice(_MONTHS))
    forms = (
        f"Posted by {name} on {month} {day}, {year} {hour}:{minute:02d} PM",
        f"{name} | {day} {month} {year}",
        f"{name}, {hour} hours ago",
        f"posted by: {name.lower()} at {hour}:{minute:02d}",
    )
    return forms[int(rng.integers(len(forms)))]


def new_site(rng: np.random.Generator, vocabulary: Sequence[str]) -> Site:
    """A site's furniture and layout, drawn once."""
    name = " ".join(_word(rng, vocabulary) for _ in range(int(rng.integers(1, 3))))
    menu = [_word(rng, vocabulary) for _ in range(int(rng.integers(2, 10)))]
    if rng.random() < 0.5:
        menu = [*_pick(rng, _GENERIC_MENU, 3, 8), *menu[:3]]
    top = [*(_pick(rng, _ACCOUNT, 1, 2) if rng.random() < 0.5 else ()), name, *menu]
    year = int(rng.integers(1998, 2030))
    if rng.random() < 0.3:
        top.append(f"{rng.choice(_DAYS)} {int(rng.integers(1, 29))} {rng.choice(_MONTHS)} {year}")
    copyright = (f"\u00a9 {year} {name}", f"Copyright {year} {name}", f"\u00a9 {name} Ltd. All rights reserved.")
    footer = [*_pick(rng, _FOOTER, 2, 6), str(rng.choice(copyright))]
    sidebar: tuple[str, ...] = ()
    if rng.random() < 0.35:
        sidebar = (str(rng.choice(_SIDEBAR)),)
    forms = (*_FORMS, ())
    return Site(
        name=name,
        top=tuple(top),
        footer=tuple(footer),
        section=_word(rng, vocabulary),
        share=_pick(rng, _SHARE, 1, 4) if rng.random() < 0.4 else (),
        dateline=rng.random() < 0.35,
        byline=str(rng.choice(_BYLINES)) if rng.random() < 0.4 else None,
        related_heading=str(rng.choice(_RELATED)) if rng.random() < 0.6 else None,
        links=str(rng.choice(("plain", "dated", "teased", "counted"), p=(0.5, 0.2, 0.2, 0.1))),
        links_first=rng.random() < 0.5,
        sidebar=sidebar,
        form=forms[int(rng.integers(len(forms)))] if rng.random() < 0.5 else (),
        heading=str(rng.choice(_HEADINGS)) if rng.random() < 0.6 else None,
        sorting=str(rng.choice(_SORTING)) if rng.random() < 0.2 else None,
        signing=int(rng.choice(5, p=(0.3, 0.25, 0.2, 0.1, 0.15))),
        signed_above=rng.random() < 0.5,
        actions=_pick(rng, _ACTIONS, 1, 3) if rng.random() < 0.45 else (),
        more=str(rng.choice(_MORE)) if rng.random() < 0.3 else None,
        blank_between=rng.random() < 0.5,
    )


def dress_as_page(
    site: Site, lines: Sequence[tuple[str, str]], stories: Sequence[tuple[str, str]], vocabulary: Sequence[str],
    rng: np.random.Generator,
) -> tuple[str, dict[int, str]]:  # fmt: skip
    """One capture's (text, role) lines inside its site's page: the page's text and the role of each line number.

    `stories`: other articles' headlines and first paragraphs, for the page's links to them.
    """
    titles = [headline for headline, _ in stories]
    texts = [text for text, _ in lines]
    roles = [role for _, role in lines]
    thread = next((i for i, r in enumerate(roles) if r == "comment"), len(texts))
    first_body = next((i for i, r in enumerate(roles[:thread]) if r == "body"), thread)
    title = next((t for t, r in zip(texts, roles, strict=True) if r == "title"), _word(rng, vocabulary))
    page: list[tuple[str, str]] = [(t, _BOILERPLATE) for t in site.top]
    if rng.random() < 0.3:
        page.append((f"Home {rng.choice(('>', '/', chr(187)))} {site.section}", _BOILERPLATE))
    if rng.random() < 0.5:
        page.append((site.section, _BOILERPLATE))
    header = list(zip(texts[:first_body], roles[:first_body], strict=True))
    if site.byline is not None and header and header[0][1] == "title":
        name = f"{_word(rng, vocabulary)} {_word(rng, vocabulary)}"
        byline = site.byline.format(name=name, upper=name.upper(), section=site.section)
        under = 2 if len(header) > 1 and header[1][1] == "caption" else 1  # the headline, or its subtitle
        header.insert(under, (byline, "caption"))
    page += header
    if site.dateline:
        dated = (f"Published {_date(rng)} | Updated {_date(rng)}", f"Updated {_date(rng)}", _date(rng))
        page.append((dated[int(rng.integers(len(dated)))], _BOILERPLATE))
    page += [(t, _BOILERPLATE) for t in site.share]
    body = list(zip(texts[first_body:thread], roles[first_body:thread], strict=True))
    if titles and len(body) > 3 and rng.random() < 0.2:  # a link to another story between two paragraphs
        at = int(rng.integers(1, len(body) - 1))
        body.insert(at, (f"Read more: {rng.choice(titles)}", _BOILERPLATE))
    page += body
    related: list[tuple[str, str]] = []
    if stories and rng.random() < 0.8:
        heading = site.related_heading
        if heading is not None:
            related.append((heading.format(site=site.name, section=site.section), _BOILERPLATE))
        related += [(link, _BOILERPLATE) for link in _links(site, stories, rng)]
    page += related if site.links_first else []
    if thread < len(texts):
        page += _thread(site, texts[thread:], roles[thread:], title, vocabulary, rng)
    page += [(t, _BOILERPLATE) for t in site.form]
    page += [] if site.links_first else related
    if site.sidebar and titles:
        page += [(site.sidebar[0], _BOILERPLATE), *((str(t), _BOILERPLATE) for t in rng.choice(titles, 3))]
    if rng.random() < 0.15:
        page += [(t, _BOILERPLATE) for t in _NEWSLETTER[int(rng.integers(len(_NEWSLETTER)))]]
    page += [(t, _BOILERPLATE) for t in site.footer]
    step = 2 if site.blank_between else 1
    text = "\n".join(t for line, _ in page for t in ([line, ""] if step == 2 else [line])) + "\n"
    return text, {1 + step * i: role for i, (_, role) in enumerate(page)}


def _links(site: Site, stories: Sequence[tuple[str, str]], rng: np.random.Generator) -> list[str]:
    """Links to other stories in the site's style: headlines alone, dated, each over its first words, or counted."""
    chosen = [stories[i] for i in rng.choice(len(stories), int(rng.integers(2, 8))).tolist()]
    if site.links == "dated":
        return [f"{_date(rng)} - {headline}" for headline, _ in chosen]
    if site.links == "teased":
        teasers = [" ".join(lead.split()[: int(rng.integers(8, 20))]) + "..." for _, lead in chosen]
        return [line for (headline, _), teaser in zip(chosen, teasers, strict=True) for line in (headline, teaser)]
    if site.links == "counted":
        return [f"{headline} ({int(rng.integers(3, 600))}) comments" for headline, _ in chosen]
    return [headline for headline, _ in chosen]


def _thread(
    site: Site, texts: Sequence[str], roles: Sequence[str], title: str, vocabulary: Sequence[str],
    rng: np.random.Generator,
) -> list[tuple[str, str]]:  # fmt: skip
    """The thread's comments in the site's way of signing them, with its heading, buttons and paging."""
    n = len(texts)
    found: list[tuple[str, str]] = []
    if site.heading is not None:
        found.append((site.heading.format(n=n, title=title), CHROME))
    if site.sorting is not None:
        found.append((site.sorting.format(n=n), CHROME))
    names: list[str] = []
    for text, role in zip(texts, roles, strict=True):
        name = _name(rng, vocabulary)
        if names and site.signing and rng.random() < 0.2:  # a reply names whom it answers
            text = f"@{str(rng.choice(names)).split(',')[0].split()[0]} {text}"
        names.append(name)
        above: list[tuple[str, str]] = []
        below: list[tuple[str, str]] = []
        if site.signing == 1:
            (above if site.signed_above else below).append((_one_line_signature(rng, vocabulary), CHROME))
        elif site.signing == 2:
            above += [(name, CHROME), (_date(rng), CHROME)]
        elif site.signing == 3:
            above.append((f"{name} {rng.choice(('says:', 'wrote:', 'said:'))}", CHROME))
            if rng.random() < 0.5:
                above.append((_date(rng), CHROME))
        elif site.signing == 4:
            below.append((f"\u2014 {name}" if rng.random() < 0.5 else f"{name}, {_date(rng)}", CHROME))
        actions = [(a.format(k=int(rng.integers(0, 300))), CHROME) for a in site.actions]
        found += [*above, (text, role), *below, *actions]
    if site.more is not None:
        found.append((site.more.format(n=n + int(rng.integers(5, 400))), CHROME))
    return found
