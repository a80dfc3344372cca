"""Title normalization and match confidence, for linking items across sources.

MovieLens writes "Matrix, The (1999)" and "Cité des enfants perdus, La (City of Lost
Children, The) (1995)"; IMDb writes "The Matrix" with a separate start year, and
YouTube uploaders write anything. ``normalize_title`` turns each form into a
``TitleKey`` (one comparable main title, its year, and the alternative titles found in
parentheses) and ``match_confidence`` scores two keys with a small fixed table.

The normalization is deliberately conservative: it removes what differs only in
typography (case, accents, punctuation, "&", where the article is written) and keeps
what could tell two films apart (roman vs arabic numerals, "Alien" vs "Aliens").
Everything here is pure and cheap, because index builds call it millions of times.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from timgen_data.errors import UsageError

__all__ = [
    "ARTICLES",
    "TitleKey",
    "match_confidence",
    "normalize_text",
    "normalize_title",
    "split_year",
]

# Articles MovieLens moves to the end ("Postino, Il") and other sources write first.
ARTICLES: tuple[str, ...] = (
    "the", "a", "an", "les", "le", "la", "l'", "il", "lo", "gli", "i", "der", "die", "das",
    "den", "det", "el", "los", "las", "un", "une", "una", "o", "os", "as", "de", "het",
    "ett", "en", "ein", "eine",
)  # fmt: skip
_WORD_ARTICLES = "|".join(a for a in ARTICLES if not a.endswith("'"))

# "Matrix, The" / "Uomo delle stelle, L'": the last comma, then only an article.
_TRAILING_ARTICLE = re.compile(rf"^(.*\S)\s*,\s*(?:{_WORD_ARTICLES}|l')$")
# "The Matrix" / "L'Avventura"; the lookahead keeps "The" or "A" alone from emptying.
_LEADING_ARTICLE = re.compile(rf"^(?:(?:{_WORD_ARTICLES})\s+|l'\s*)(?=.*\w)")
# "(1995)", "(1995-1996)", "(2007-)"; ML-100K also has one "(1995) (V)" (IMDb's video mark).
_YEAR_SUFFIX = re.compile(
    r"^(.*?)\s*\((\d{4})(?:\s*[-–]\s*(?:\d{4})?)?\)(?:\s*\((?:V|TV|VG)\))?\s*$"
)
_AKA = re.compile(r"^(?:a\.?k\.?a\.?|aka)\s+", re.IGNORECASE)
_NOT_WORD = re.compile(r"[\W_]+")
_AMPERSAND = re.compile(r"\s*&\s*")

# Applied before NFKD: apostrophe look-alikes become "'" (NFKD would turn "´" into a
# space plus a combining accent), and letters NFKD does not decompose get ASCII forms.
_PRE = str.maketrans(
    {
        "’": "'", "‘": "'", "`": "'", "´": "'", "ʼ": "'", "′": "'",
        "ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ł": "l", "Ł": "L",
        "đ": "d", "Đ": "D", "ð": "d", "Ð": "D", "þ": "th", "Þ": "Th", "ı": "i",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class TitleKey:
    """A title in comparable form: normalized main title, year, normalized alternates."""

    title: str
    year: int | None
    alternates: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        """The main title followed by the alternates (what an index is searched by)."""
        return (self.title, *self.alternates)


def split_year(raw: str) -> tuple[str, int | None]:
    """Split a trailing "(1995)" (or series range "(1995-1996)", "(2007-)") off a title.

    The first year of a range is returned. A title with nothing before the
    parenthesis is not split ("(1995)" alone is returned whole, with no year).
    """
    # Most IMDb titles have no parenthesis at all: skip the regex for them.
    match = _YEAR_SUFFIX.match(raw) if ")" in raw else None
    if match is None or not match.group(1):
        return raw.strip(), None
    return match.group(1), int(match.group(2))


def normalize_text(text: str) -> str:
    """Normalize one title (no year, no parenthesized alternates) to comparable form.

    Lower case, accents stripped, the article removed wherever it is written
    ("Matrix, The" and "The Matrix" both give "matrix"), apostrophes dropped
    ("Schindler's" -> "schindlers"), "&" -> "and", other punctuation -> space.
    """
    if text.isascii():
        if "`" in text:
            text = text.replace("`", "'")
    else:
        # translate is slow-ish, so it runs only where there is non-ASCII to map.
        text = unicodedata.normalize("NFKD", text.translate(_PRE))
        text = "".join(c for c in text if not unicodedata.combining(c))
    text = text.casefold()
    if "&" in text:
        text = _AMPERSAND.sub(" and ", text)
    text = text.strip()
    stripped = _TRAILING_ARTICLE.sub(r"\1", text) if "," in text else text
    if stripped == text:
        # Only one article is removed: "Die Hard, The" would keep its "die".
        stripped = _LEADING_ARTICLE.sub("", text)
    if "'" in stripped:
        stripped = stripped.replace("'", "")
    return " ".join(_NOT_WORD.sub(" ", stripped).split())


def _peel_groups(text: str) -> tuple[str, list[str]]:
    """Split trailing parenthesized groups off ``text``: "A (B) (C)" -> ("A", ["B", "C"])."""
    groups: list[str] = []
    text = text.rstrip()
    while text.endswith(")"):
        depth = 0
        start = -1
        for i in range(len(text) - 1, -1, -1):
            ch = text[i]
            if ch == ")":
                depth += 1
            elif ch == "(":
                depth -= 1
                if depth == 0:
                    start = i
                    break
        # Unbalanced, or the whole title is parenthesized: the parenthesis is the title.
        if start <= 0:
            break
        groups.insert(0, text[start + 1 : -1])
        text = text[:start].rstrip()
    return text, groups


def normalize_title(raw: str, year: int | None = None) -> TitleKey:
    """Turn a raw title ("Usual Suspects, The (1995)") into a ``TitleKey``.

    A trailing year is parsed by ``split_year``; ``year``, when given, overrides it.
    Trailing parenthesized groups become alternates (MovieLens's "(a.k.a. Se7en)" and
    the English title of a foreign film); the text before them is the main title.
    """
    text, parsed_year = split_year(raw)
    main, groups = _peel_groups(text)
    title = normalize_text(main)
    alternates: list[str] = []
    for group in groups:
        alt = normalize_text(_AKA.sub("", group.strip()))
        if alt and alt != title and alt not in alternates:
            alternates.append(alt)
    return TitleKey(title, parsed_year if year is None else year, tuple(alternates))


def match_confidence(a: TitleKey, b: TitleKey, *, year_tolerance: int = 1) -> float:
    """Score how surely two keys name the same film, from this table.

    Δ is the difference in years; "alternate match" means one key's main title is one
    of the other's alternates, or the two share an alternate.

    ==================  ===========================  ==========
    titles              years                        confidence
    ==================  ===========================  ==========
    main titles equal   equal                        1.0
    main titles equal   0 < |Δ| ≤ year_tolerance     0.95
    alternate match     |Δ| ≤ year_tolerance         0.9
    main titles equal   either year unknown          0.85
    alternate match     either year unknown          0.75
    anything else       or |Δ| > year_tolerance      0.0
    ==================  ===========================  ==========

    An empty normalized title (one made only of punctuation) never matches.
    """
    if year_tolerance < 0:
        raise UsageError(f"year_tolerance must be 0 or more, got {year_tolerance}")
    if not a.title or not b.title:
        return 0.0
    ya = a.year
    yb = b.year
    known = ya is not None and yb is not None
    if known:
        diff = ya - yb if ya >= yb else yb - ya
        if diff > year_tolerance:
            return 0.0
    if a.title == b.title:
        if not known:
            return 0.85
        return 1.0 if diff == 0 else 0.95
    if (
        a.title in b.alternates
        or b.title in a.alternates
        or (
            a.alternates
            and b.alternates
            and not set(a.alternates).isdisjoint(b.alternates)
        )
    ):
        return 0.9 if known else 0.75
    return 0.0
