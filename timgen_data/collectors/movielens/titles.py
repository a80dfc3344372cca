"""MovieLens titles: "Matrix, The (1999)" → ("The Matrix", 1999)."""

from __future__ import annotations

import re

# Articles MovieLens moves to the end of a title, across the languages it contains.
_ARTICLES = (
    "The", "A", "An", "Les", "Le", "La", "L'", "Los", "Las", "El", "Il", "I", "Lo", "Gli",
    "Die", "Der", "Das", "Den", "Det", "De", "Het", "Een", "Ein", "Eine", "Un", "Une", "Uno", "Una",
    "O", "Os", "As", "Ta", "To", "Hoi", "Ha", "Al", "En", "Et",
)
_YEAR = re.compile(r"\s*\((\d{4})(?:\s*[-–]\s*(?:\d{4})?)?\)\s*$")
_TRAILING_ARTICLE = re.compile(r"^(?P<main>.+?), (?P<article>" + "|".join(re.escape(a) for a in _ARTICLES) + r")$")
# "City of Lost Children, The (Cité des enfants perdus, La)": the alternate title in
# brackets follows the displaced article of the main one.
_ALTERNATE = re.compile(r"^(?P<head>.+?)(?P<alt>\s+\([^()]*\))+$")


def _front_article(title: str) -> str:
    match = _TRAILING_ARTICLE.match(title)
    if not match:
        return title
    article = match["article"]
    sep = "" if article.endswith("'") else " "
    return f"{article}{sep}{match['main']}"


def split_title(raw: str) -> tuple[str, int | None]:
    """Display title and year from a MovieLens title.

    >>> split_title("Matrix, The (1999)")
    ('The Matrix', 1999)
    >>> split_title("Misérables, Les (1995)")
    ('Les Misérables', 1995)
    >>> split_title("City of Lost Children, The (Cité des enfants perdus, La) (1995)")
    ('The City of Lost Children (Cité des enfants perdus, La)', 1995)
    >>> split_title("unknown")
    ('unknown', None)
    """
    title = raw.strip()
    year = None
    match = _YEAR.search(title)
    if match:
        year = int(match.group(1))
        title = title[: match.start()].rstrip()
    alt = _ALTERNATE.match(title)
    if alt and not _TRAILING_ARTICLE.match(title):
        tail = title[len(alt["head"]):]
        title = _front_article(alt["head"]) + tail
    else:
        title = _front_article(title)
    return title, year
