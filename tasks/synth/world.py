"""What articles of a synthetic corpus share: outlets, stories, wire copy and much-quoted statements."""

from __future__ import annotations

import random
from dataclasses import dataclass

from tasks.synth.text import TextRandom, Vocabulary, capitalize, load_vocabulary, mix_topic, punctuate, split_lengths

# Names with accents, apostrophes and hyphens test encodings and byline parsing; all fit Windows-1252.
FIRST_NAMES = (
    "Anna", "Ben", "Carla", "David", "Elena", "Farid", "Grace", "Hugo", "Irene", "James", "Keiko", "Liam",
    "Maria", "Nadia", "Oscar", "Priya", "Quentin", "Rosa", "Samuel", "Tara", "Umar", "Vera", "Walter",
    "Yusuf", "Zoë", "José", "Renée", "Søren", "Jürgen", "François", "Inés", "Björn", "Chloé", "Mateo",
    "Amara", "Daniel", "Fiona", "Gareth", "Helen", "Ivan", "Julia", "Kofi", "Laura", "Marcus", "Nina",
    "Olivia", "Pedro", "Ruth", "Stefan", "Thomas",
)  # fmt: skip
SURNAMES = (
    "Adams", "Baker", "Castillo", "DeCamp", "Evans", "Fischer", "García", "Hughes", "Ibrahim", "Jensen",
    "Kowalski", "Lindqvist", "Moreau", "Nakamura", "Okafor", "Patel", "Quinn", "Rossi", "Schmidt", "Tanaka",
    "Underwood", "Vargas", "Walsh", "Yilmaz", "Zhang", "Müller", "Núñez", "O\u2019Neill", "Smith-Okafor",
    "Brennan", "Carter", "Dubois", "Eriksen", "Fernández", "Gallagher", "Haddad", "Iversen", "Jones",
    "Kim", "Larsen", "Mendes", "Novak", "Olsen", "Petrov", "Reyes", "Silva", "Turner", "Weber", "Young",
)  # fmt: skip
_PERSON_TITLES = (
    "Mayor", "Governor", "Senator", "Minister", "President", "Judge", "Police Chief", "Professor",
    "Commissioner", "Chief Executive", "Spokeswoman", "Spokesman", "Director",
)  # fmt: skip
_PLACE_PREFIXES = ("Port", "North", "South", "East", "West", "New", "Lake", "Fort", "Saint", "Upper", "Mount")
_PLACE_SUFFIXES = ("ville", "ton", "burg", "field", "ford", "bridge", "haven", "wick", "mouth")
_ORG_KINDS = (
    "City Council", "Port Authority", "Transit Agency", "Health Board", "Chamber of Commerce",
    "Water District", "University", "Police Department", "Electoral Commission", "Central Bank",
)  # fmt: skip
_PAPERS = ("Gazette", "Herald", "Post", "Times", "Chronicle", "Dispatch", "Observer", "Courier", "Ledger", "Tribune")
INLINE_BOILERPLATE = (
    "Advertisement", "ADVERTISEMENT", "Sponsored", "Continue reading below",
    "Story continues below advertisement", "Recommended",
)  # fmt: skip
CLOSING_BOILERPLATE = (
    "Share this article", "Share this:", "Subscribe now", "Support independent journalism",
    "Get our free newsletter", "Follow us on Twitter", "Print", "Email",
)  # fmt: skip
COMMENT_HEADINGS = ("Comments", "{n} Comments", "Leave a Reply", "Join the discussion", "{n} comments")
BYLINES = ("Author: {name}", "By {name}", "By {name} | {outlet}")
BIOS = (
    "{name} is a reporter for {outlet} covering {a} and {b}.",
    "{name} is the news editor of {outlet}, follow {them} on Twitter @{handle}.",
    "{name} covers {a} for {outlet}. {sentence}",
    "{name} has written about {a} and {b} for {outlet} since {year}.",
)


@dataclass(frozen=True)
class Outlet:
    """A news site: its byline style, its authors and the boilerplate lines of its pages."""

    name: str
    byline: str
    authors: tuple[str, ...]
    inline_boilerplate: tuple[str, ...]
    closing_boilerplate: tuple[str, ...]
    comments_heading: str | None


@dataclass(frozen=True)
class Person:
    """Someone the news is about: quoted, photographed, named in headlines."""

    title: str
    first: str
    last: str

    @property
    def full(self) -> str:
        return f"{self.first} {self.last}"


@dataclass(frozen=True)
class Story:
    """One news event: articles from different outlets on it share names and topic words, not sentences."""

    topic: tuple[str, ...]
    people: tuple[Person, ...]
    place: str
    org: str
    quote: int  # index into World.quotes: a statement several articles may carry


@dataclass(frozen=True)
class SharedQuote:
    """A long statement quoted verbatim by several articles."""

    speaker: Person
    text: str


@dataclass(frozen=True)
class World:
    """Everything articles draw from; small, so every worker can rebuild it from the seed."""

    vocab: Vocabulary
    outlets: tuple[Outlet, ...]
    stories: tuple[Story, ...]
    wire: tuple[str, ...]
    quotes: tuple[SharedQuote, ...]


def person(rng: random.Random) -> Person:
    return Person(rng.choice(_PERSON_TITLES), rng.choice(FIRST_NAMES), rng.choice(SURNAMES))


def place_name(rng: random.Random, vocab: Vocabulary) -> str:
    word = capitalize(rng.choice(vocab.content))
    if rng.random() < 0.5:
        return f"{rng.choice(_PLACE_PREFIXES)} {word}"
    return word + rng.choice(_PLACE_SUFFIXES)


def make_outlet(rng: random.Random, vocab: Vocabulary) -> Outlet:
    name = f"The {capitalize(rng.choice(vocab.content))} {rng.choice(_PAPERS)}"
    authors = tuple(f"{rng.choice(FIRST_NAMES)} {rng.choice(SURNAMES)}" for _ in range(rng.randint(3, 12)))
    inline = tuple(rng.sample(INLINE_BOILERPLATE, rng.randint(1, 2))) if rng.random() < 0.5 else ()
    closing = tuple(rng.sample(CLOSING_BOILERPLATE, rng.randint(1, 2))) if rng.random() < 0.6 else ()
    heading = rng.choice(COMMENT_HEADINGS) if rng.random() < 0.5 else None
    return Outlet(name, rng.choice(BYLINES), authors, inline, closing, heading)


def make_story(rng: random.Random, vocab: Vocabulary, n_quotes: int) -> Story:
    topic = tuple(rng.sample(vocab.content, 8))
    place = place_name(rng, vocab)
    org = f"{place} {rng.choice(_ORG_KINDS)}"
    people = tuple(person(rng) for _ in range(rng.randint(2, 3)))
    return Story(topic, people, place, org, rng.randrange(n_quotes))


def sentences(rng: TextRandom, n_words: int, topic: tuple[str, ...], rate: float) -> str:
    """Plain prose of exactly n_words words, 6 to 24 words a sentence."""
    words = rng.words(n_words)
    mix_topic(rng, words, topic, rate)
    out: list[str] = []
    start = 0
    for length in split_lengths(rng, n_words, 6, 24):
        out.append(punctuate(rng, words[start : start + length]))
        start += length
    return " ".join(out)


def make_world(seed: int, n_articles: int) -> World:
    """Pools sized to the corpus: a wire paragraph or statement recurs in a few dozen captures at most."""
    vocab = load_vocabulary()
    rng = TextRandom(f"newsarchive-synth-world:{seed}", vocab)
    n_quotes = max(2, n_articles // 25)
    outlets = tuple(make_outlet(rng, vocab) for _ in range(min(60, max(4, n_articles // 40))))
    quotes = tuple(
        SharedQuote(person(rng), sentences(rng, rng.randint(28, 45), tuple(rng.sample(vocab.content, 6)), 0.1))
        for _ in range(n_quotes)
    )
    stories = tuple(make_story(rng, vocab, n_quotes) for _ in range(max(1, n_articles // 2)))
    wire = tuple(
        sentences(rng, rng.randint(40, 70), tuple(rng.sample(vocab.content, 6)), 0.1)
        for _ in range(max(2, n_articles // 40))
    )
    return World(vocab, outlets, stories, wire, quotes)
