"""One synthetic article: headline, dek, paragraphs, photo caption, author, and its reader thread."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from tasks.synth.text import TextRandom, capitalize, title_case
from tasks.synth.world import BIOS, Outlet, Person, Story, World, sentences

QuoteTarget = tuple[Literal["paragraph", "comment"], int]

_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October")
_AGENCIES = ("Reuters", "AP", "AFP", "Getty Images", "Agency", "Staff photo")
_VERBS = ("Says", "Warns", "Backs", "Rejects", "Plans", "Defends", "Questions", "Approves", "Delays", "Wins")
_CAPTIONS = (
    "{p.title} {p.full} at the {word} in {place} on {day} (Photo: {agency})",
    "{p.full} speaks to reporters in {place}, {month} {date}, {year} ({agency})",
    "A view of the {word} in {place} on {day} (Photo: {agency})",
    "{p.full} and {q.full} meet in {place} on {month} {date}, {year} (official photo)",
    "{p.full} outside the {org} in {month} ({agency})",
)
_SENTENCE_BREAK = re.compile(r"(?<=[.!?]) ")
_QUOTE_STRIP = "\u201c\u201d\u2018\u2019\"'.,;:!?"


@dataclass(frozen=True)
class Comment:
    """A reader comment; `quotes` is the paragraph or earlier comment it repeats, if any."""

    text: str
    quotes: QuoteTarget | None


@dataclass(frozen=True)
class Article:
    """What every capture of one article is rendered from."""

    article_id: str
    outlet: Outlet
    story_no: int
    title: str
    subtitle: str
    paragraphs: tuple[str, ...]
    caption: str
    caption_after: int  # the caption stands after this paragraph (0-based), never after the last
    author: str
    bio: str
    comments: tuple[Comment, ...]


def mention(rng: TextRandom, story: Story) -> str:
    """A named entity of the story as prose names it."""
    who = rng.choice(story.people)
    return rng.choice((f"{who.title} {who.full}", who.last, who.full, story.place, f"the {story.org}"))


def paragraph(rng: TextRandom, world: World, story: Story) -> str:
    """30 to 80 words: prose on the story's topic naming its people, sometimes with a quotation."""
    parts = sentences(rng, rng.randint(30, 66), story.topic, 0.1).split(". ")
    for _ in range(rng.randint(0, 2)):
        at = rng.randrange(len(parts))
        words = parts[at].split(" ")
        words.insert(rng.randrange(1, len(words)), mention(rng, story))
        parts[at] = " ".join(words)
    text = ". ".join(parts)
    if rng.random() < 0.25:
        speaker = rng.choice(story.people)
        text = f"\u201c{text.removesuffix('.')},\u201d {speaker.last} said."
    return text


def quoted_statement(world: World, story: Story) -> str:
    """The story's much-quoted statement as a paragraph."""
    quote = world.quotes[story.quote]
    speaker = quote.speaker
    return f"\u201c{quote.text.removesuffix('.')},\u201d {speaker.title} {speaker.full} said."


def headline(rng: TextRandom, world: World, story: Story) -> str:
    who: Person = rng.choice(story.people)
    words = [who.full if rng.random() < 0.5 else story.place, rng.choice(_VERBS)]
    words += rng.sample(story.topic, 2) + rng.sample(world.vocab.content, rng.randint(1, 4))
    return title_case(words)


def caption(rng: TextRandom, world: World, story: Story) -> str:
    """A photo caption: names people and a credit, and ends without a period."""
    p, q = rng.sample(story.people, 2)
    return rng.choice(_CAPTIONS).format(
        p=p, q=q, place=story.place, org=story.org, word=rng.choice(story.topic), day=rng.choice(_WEEKDAYS),
        month=rng.choice(_MONTHS), date=rng.randint(1, 28), year=rng.randint(2015, 2025),
        agency=rng.choice(_AGENCIES),
    )  # fmt: skip


def author_bio(rng: TextRandom, world: World, story: Story, name: str, outlet: Outlet) -> str:
    handle = "".join(c for c in name.lower() if c.isascii() and c.isalpha())
    return rng.choice(BIOS).format(
        name=name, outlet=outlet.name, a=rng.choice(story.topic), b=rng.choice(world.vocab.content),
        them=rng.choice(("him", "her", "them")), handle=handle, year=rng.randint(2008, 2024),
        sentence=sentences(rng, rng.randint(8, 16), story.topic, 0.05),
    )  # fmt: skip


def passage(rng: TextRandom, text: str, shortest: int, longest: int) -> str:
    """Consecutive words of one sentence of a text (of the whole text if no sentence is long enough)."""
    fitting = [s for s in _SENTENCE_BREAK.split(text) if len(s.split(" ")) >= shortest]
    words = rng.choice(fitting).split(" ") if fitting else text.split(" ")
    size = min(len(words), rng.randint(shortest, longest))
    start = rng.randrange(len(words) - size + 1)
    return " ".join(words[start : start + size]).strip(_QUOTE_STRIP)


def _quote_marks(rng: TextRandom, text: str) -> str:
    return f'"{text}"' if rng.random() < 0.6 else f"\u201c{text}\u201d"


def plain_comment(rng: TextRandom, world: World, story: Story, n_words: int) -> str:
    text = sentences(rng, n_words, story.topic, 0.04)
    if rng.random() < 0.15:
        text = text.removesuffix(".") + rng.choice(("?", "!", "", "..."))
    return text if rng.random() > 0.1 else text[:1].lower() + text[1:]


def _reaction(rng: TextRandom, world: World, story: Story, quoted: str) -> str:
    if rng.random() < 0.2:
        return quoted
    reply = plain_comment(rng, world, story, rng.randint(3, 30))
    return f"{quoted} {reply}" if rng.random() < 0.8 else f"{reply} {quoted}"


def comment(
    rng: TextRandom,
    world: World,
    story: Story,
    paragraphs: tuple[str, ...],
    earlier: list[Comment],
    quotable: list[int],
) -> Comment:
    """A reader comment: mostly its own words, sometimes repeating the article or an earlier comment."""
    roll = rng.random()
    if roll < 0.03:
        at = rng.randrange(len(paragraphs))
        return Comment(paragraphs[at], ("paragraph", at))
    if roll < 0.11:
        at = rng.randrange(len(paragraphs))
        return Comment(
            _reaction(rng, world, story, _quote_marks(rng, passage(rng, paragraphs[at], 7, 14))), ("paragraph", at)
        )
    if roll < 0.15 and quotable:
        at = rng.choice(quotable)
        quoted = passage(rng, earlier[at].text, 7, 12)
        return Comment(
            quoted if rng.random() < 0.3 else _reaction(rng, world, story, _quote_marks(rng, quoted)), ("comment", at)
        )
    if roll < 0.16:
        outside = world.quotes[(story.quote + 1 + rng.randrange(len(world.quotes) - 1)) % len(world.quotes)]
        return Comment(_reaction(rng, world, story, _quote_marks(rng, passage(rng, outside.text, 8, 14))), None)
    return Comment(plain_comment(rng, world, story, min(60, 5 + int(rng.gammavariate(2.0, 9.0)))), None)


def thread(rng: TextRandom, world: World, story: Story, paragraphs: tuple[str, ...]) -> tuple[Comment, ...]:
    """0 to 150 comments, most threads short (mean 35)."""
    comments: list[Comment] = []
    quotable: list[int] = []  # comments of 10+ words of their own, which later ones may quote
    for _ in range(min(150, int(rng.expovariate(1 / 35)))):
        made = comment(rng, world, story, paragraphs, comments, quotable)
        if made.quotes is None and made.text.count(" ") >= 9:
            quotable.append(len(comments))
        comments.append(made)
    return tuple(comments)


def make_article(world: World, seed: int, article_no: int) -> Article:
    """Article `article_no` of the corpus of `seed`; it depends on nothing else, so workers can split the corpus."""
    rng = TextRandom(f"newsarchive-synth-article:{seed}:{article_no}", world.vocab)
    outlet = rng.choice(world.outlets)
    story_no = rng.randrange(len(world.stories))
    story = world.stories[story_no]
    paragraphs = [paragraph(rng, world, story) for _ in range(rng.randint(5, 12))]
    if rng.random() < 0.15:  # wire copy: the same paragraph in articles on other stories
        paragraphs[rng.randrange(1, len(paragraphs))] = rng.choice(world.wire)
    if rng.random() < 0.25:  # the statement every outlet on the story quotes
        paragraphs[rng.randrange(1, len(paragraphs))] = quoted_statement(world, story)
    subtitle = sentences(rng, rng.randint(10, 22), story.topic, 0.15)
    subtitle = capitalize(mention(rng, story)) + " " + subtitle[:1].lower() + subtitle[1:]
    author = rng.choice(outlet.authors)
    body = tuple(paragraphs)
    return Article(
        f"a{article_no:07d}", outlet, story_no, headline(rng, world, story),
        subtitle.removesuffix(".") if rng.random() < 0.5 else subtitle,
        body, caption(rng, world, story), rng.randrange(len(body) - 1), author,
        author_bio(rng, world, story, author, outlet), thread(rng, world, story, body),
    )  # fmt: skip
