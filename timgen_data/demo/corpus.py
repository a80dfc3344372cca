"""Synthetic MovieLens-format corpora whose users drift between genres.

Used by ``timgen-data demo`` (served from a loopback server), by tests, and by the
ingest benchmark (an ML-1M-sized corpus). The files follow the official releases'
formats exactly, in one of three layouts:

* ``"1m"``: ``ml-1m/`` with ``ratings.dat``, ``movies.dat`` (latin-1), ``users.dat``;
* ``"latest-small"``: ``ml-latest-small/`` with ``ratings.csv``, ``movies.csv``,
  ``links.csv`` (UTF-8);
* ``"100k"``: ``ml-100k/`` with ``u.data``, ``u.item`` (latin-1), ``u.genre``,
  ``u.user``, ``u.occupation``.

The signal: every user lives through 2–3 *phases*, each with a preferred genre. In a
phase the user mostly rates movies whose primary genre is the phase's genre, and rates
movies of that genre high (4–5 stars) and others low (1–3 stars). Timestamps increase
per user, so a temporal model can see the drift; ``Corpus.phases`` is the ground truth.

Everything is drawn from one ``numpy.random.Generator`` seeded with ``spec.seed``, so
the same spec gives byte-identical files (and, through ``zip_release``, archives).
Generation is vectorised: the ML-1M size (1,000,209 ratings) takes under two seconds
on two CPU cores, most of it formatting the ratings file.
"""

from __future__ import annotations

import csv
import hashlib
import io
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from timgen_data.demo.unique_pairs import make_pairs_unique

Layout = Literal["1m", "latest-small", "100k"]

GENRES: tuple[str, ...] = (
    "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama",
    "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War",
    "Western",
)

FOLDERS: dict[str, str] = {"1m": "ml-1m", "latest-small": "ml-latest-small", "100k": "ml-100k"}

# How common each genre is as a movie's primary genre (roughly ML-1M's shape).
_GENRE_WEIGHTS = np.array(
    [8, 4, 2, 3, 15, 4, 2, 20, 1.5, 1, 5, 1.5, 1.5, 6, 3, 6, 2, 1.5], dtype=np.float64
)
# ML-100K's u.genre: "unknown" first, then the 18 genres.
_100K_GENRES = ("unknown", *GENRES)
_100K_OCCUPATIONS = (
    "administrator", "artist", "doctor", "educator", "engineer", "entertainment", "executive",
    "healthcare", "homemaker", "lawyer", "librarian", "marketing", "none", "other", "programmer",
    "retired", "salesman", "scientist", "student", "technician", "writer",
)
_1M_AGES = np.array([1, 18, 25, 35, 45, 50, 56])
_1M_AGE_P = np.array([0.04, 0.18, 0.35, 0.2, 0.09, 0.08, 0.06])
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# Title vocabulary; every word encodes in latin-1 (ML-1M and ML-100K files are latin-1).
_ADJECTIVES = (
    "Silent", "Crimson", "Broken", "Hidden", "Last", "Lonely", "Golden", "Dark", "Burning",
    "Frozen", "Wild", "Secret", "Distant", "Lost", "Electric", "Midnight", "Quiet", "Savage",
    "Bitter", "Endless", "Little", "Forgotten", "Restless", "Brave", "Hollow", "Northern",
    "Painted", "Shattered", "Sweet", "Wandering", "Eternal", "Falling", "Rising", "Blue",
    "Scarlet", "Iron", "Velvet", "Crooked", "Sleeping", "Naked",
)
_NOUNS = (
    "River", "Road", "Summer", "Horizon", "Kingdom", "Heart", "Shadow", "City", "Garden",
    "Island", "Night", "Storm", "Mirror", "Harbor", "Empire", "Promise", "Stranger", "Forest",
    "Desert", "Station", "Letter", "Voyage", "Winter", "Circus", "Witness", "Frontier", "Game",
    "Bridge", "Dream", "Mountain", "Hunter", "Orchard", "Ocean", "Soldier", "Detective", "Planet",
    "Café", "Château", "Fiancée", "Señor", "Dancer", "Machine", "Prophet", "Valley", "Signal",
    "Legacy", "Tide", "Crown", "Cowboy", "Angel",
)
# MovieLens moves leading articles to the end: "Matrix, The (1999)".
_ARTICLES = ("The", "The", "The", "The", "A", "An", "La", "Le", "Les", "El", "Il", "Die")
_FIRST_TITLE = ("Misérables, Les", 1995, ("Drama", "Musical"))

_EPOCH_2000 = 946_684_800  # 2000-01-01 00:00:00 UTC
_EPOCH_2002 = 1_009_843_200  # 2002-01-01 00:00:00 UTC
_MIN_PER_USER = 20  # MovieLens keeps users with at least 20 ratings
_IN_GENRE = 0.8  # share of a phase's ratings drawn from the phase's genre
_PHASE_GENRE_POWER = 1.5  # phase genres are drawn with weight (movies in the genre) ** this
_RESAMPLE_ROUNDS = 16
_IN_GENRE_ROUNDS = 8  # after this many tries a duplicate is redrawn from the whole catalog
_CHUNK_ROWS = 1 << 20


@dataclass(frozen=True)
class CorpusSpec:
    """What to generate; ``ratings`` is the exact number of rating lines written."""

    users: int = 300
    items: int = 400
    ratings: int = 20_000
    seed: int = 0
    layout: Layout = "latest-small"


@dataclass(frozen=True)
class Corpus:
    """A generated release and the ground truth of its users' drift."""

    folder: Path  # the release folder written, e.g. <dest>/ml-latest-small
    spec: CorpusSpec
    users: int
    items: int
    ratings: int
    # user external id -> [(start_ts, genre), ...], one entry per phase in time order
    phases: dict[str, list[tuple[int, str]]]


@dataclass
class _Movies:
    titles: list[str]  # full MovieLens titles, "Silent River (1997)"
    years: np.ndarray
    genres: list[list[int]]  # genre indices, primary first
    primary: np.ndarray  # (M,) primary genre index
    genre_matrix: np.ndarray  # (M, 18) bool
    popularity: np.ndarray  # (M,) sampling weights


@dataclass
class _Ratings:
    user: np.ndarray  # (R,) 0-based user index, sorted
    item: np.ndarray  # (R,) 0-based item index
    half_stars: np.ndarray  # (R,) 1..10
    ts: np.ndarray  # (R,) int64, increasing within a user


def generate_corpus(dest: Path, spec: CorpusSpec = CorpusSpec()) -> Corpus:
    """Write the release folder for ``spec`` under ``dest`` (replacing it); returns its description.

    >>> corpus = generate_corpus(Path("/tmp/corpus"), CorpusSpec(seed=1))  # doctest: +SKIP
    >>> corpus.folder.name, corpus.ratings  # doctest: +SKIP
    ('ml-latest-small', 20000)
    """
    _validate(spec)
    rng = np.random.default_rng(spec.seed)
    movies = _make_movies(rng, spec.items)
    ratings, phases = _make_ratings(rng, spec, movies)

    folder = Path(dest) / FOLDERS[spec.layout]
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    if spec.layout == "1m":
        _write_1m(folder, rng, spec, movies, ratings)
    elif spec.layout == "100k":
        _write_100k(folder, rng, spec, movies, ratings)
    else:
        _write_latest_small(folder, rng, spec, movies, ratings)

    phase_map = {
        str(u + 1): [(int(ts), GENRES[g]) for ts, g in user_phases] for u, user_phases in enumerate(phases)
    }
    return Corpus(folder, spec, spec.users, spec.items, len(ratings.user), phase_map)


def zip_release(folder: Path, archive: Path) -> Path:
    """Zip ``folder`` as ``<folder.name>/<file>`` members, byte-for-byte reproducibly; returns ``archive``.

    Members come in name order with a fixed date (1980-01-01) and mode, deflated.
    """
    folder, archive = Path(folder), Path(archive)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder; generate the corpus first")
    archive.parent.mkdir(parents=True, exist_ok=True)
    files = sorted(
        (p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")),
        key=lambda p: p.relative_to(folder).as_posix(),
    )
    partial = archive.with_name(archive.name + ".partial")
    with zipfile.ZipFile(partial, "w") as zf:
        top = zipfile.ZipInfo(f"{folder.name}/", date_time=(1980, 1, 1, 0, 0, 0))
        top.create_system = 3
        top.external_attr = (0o40755 << 16) | 0x10
        zf.writestr(top, b"")
        for path in files:
            name = f"{folder.name}/{path.relative_to(folder).as_posix()}"
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.create_system = 3
            info.external_attr = 0o100644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            size = path.stat().st_size
            with path.open("rb") as src, zf.open(info, "w", force_zip64=size >= zipfile.ZIP64_LIMIT) as out:
                shutil.copyfileobj(src, out, 1 << 20)
    partial.replace(archive)
    return archive


def write_md5_sidecar(archive: Path) -> Path:
    """Write ``<archive>.md5`` as GroupLens publishes it: ``MD5 (<name>) = <hex>``; returns its path."""
    archive = Path(archive)
    digest = hashlib.md5()
    with archive.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    sidecar = archive.with_name(archive.name + ".md5")
    sidecar.write_text(f"MD5 ({archive.name}) = {digest.hexdigest()}\n", encoding="ascii")
    return sidecar


# --------------------------------------------------------------------------- generation


def _validate(spec: CorpusSpec) -> None:
    if spec.layout not in FOLDERS:
        raise ValueError(f"unknown layout {spec.layout!r}; choose one of {', '.join(FOLDERS)}")
    if spec.users < 1 or spec.items < 1:
        raise ValueError(f"a corpus needs at least one user and one item, not {spec.users} and {spec.items}")
    if spec.ratings < spec.users:
        raise ValueError(f"{spec.ratings} ratings cannot give each of {spec.users} users a rating")
    if spec.ratings > spec.users * spec.items:
        raise ValueError(
            f"{spec.ratings} ratings exceed {spec.users} users × {spec.items} items without duplicate pairs"
        )


def _make_movies(rng: np.random.Generator, count: int) -> _Movies:
    n_genres = len(GENRES)
    weights = _GENRE_WEIGHTS / _GENRE_WEIGHTS.sum()
    # Movie 1 is always "Misérables, Les (1995)" (a non-ASCII, trailing-article title).
    # Among the others every genre has a movie when there are enough; the rest follow the weights.
    first_genres = [GENRES.index(g) for g in _FIRST_TITLE[2]]
    rest = count - 1
    covered = rng.permutation(n_genres)[: min(rest, n_genres)]
    others = rng.permutation(np.concatenate([covered, rng.choice(n_genres, size=rest - len(covered), p=weights)]))
    primary = np.concatenate([[first_genres[0]], others]).astype(np.int64)
    extra_counts = rng.choice(3, size=count, p=[0.5, 0.35, 0.15])
    # Secondary genres: the top Gumbel keys among the other genres (sampling without replacement).
    keys = np.log(weights)[None, :] + rng.gumbel(size=(count, n_genres))
    keys[np.arange(count), primary] = -np.inf
    ranked = np.argsort(-keys, axis=1, kind="stable")[:, :2]
    years = rng.integers(1950, 2001, size=count)
    years[0] = _FIRST_TITLE[1]
    article = rng.random(count) < 0.1
    long_form = rng.random(count) < 0.3
    adjective = rng.integers(len(_ADJECTIVES), size=count)
    noun = rng.integers(len(_NOUNS), size=(count, 2))
    article_pick = rng.integers(len(_ARTICLES), size=count)

    genres: list[list[int]] = []
    titles: list[str] = []
    seen: set[str] = set()
    for i in range(count):
        if i == 0:
            name, item_genres, has_article = _FIRST_TITLE[0], first_genres, True
        else:
            item_genres = [int(primary[i]), *sorted(int(g) for g in ranked[i, : extra_counts[i]])]
            name = f"{_ADJECTIVES[adjective[i]]} {_NOUNS[noun[i, 0]]}"
            if long_form[i]:
                name = f"{_NOUNS[noun[i, 1]]} of the {name}"
            has_article = bool(article[i])
            if has_article:
                name = f"{name}, {_ARTICLES[article_pick[i]]}"
        # Titles are unique: a repeated name becomes a sequel.
        base, sequel = name, 1
        while name in seen:
            sequel += 1
            name = _sequel_with_article(base, sequel) if has_article else f"{base} {_roman(sequel)}"
        seen.add(name)
        genres.append(item_genres)
        titles.append(f"{name} ({int(years[i])})")

    matrix = np.zeros((count, n_genres), dtype=bool)
    for i, item_genres in enumerate(genres):
        matrix[i, item_genres] = True
    # Long-tailed popularity, in a random order so ids say nothing about it.
    ranks = rng.permutation(count) + 1
    # (A Zipf exponent of 0.5 gives ML-1M's shape: the top movie has ~30 times the median's ratings.)
    popularity = 1.0 / ranks.astype(np.float64) ** 0.5
    return _Movies(titles, years, genres, primary, matrix, popularity)


def _roman(n: int) -> str:
    numerals = ((10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I"))
    out = []
    for value, numeral in numerals:
        while n >= value:
            out.append(numeral)
            n -= value
    return "".join(out)


def _sequel_with_article(name: str, sequel: int) -> str:
    main, article = name.rsplit(", ", 1)
    return f"{main} {_roman(sequel)}, {article}"


def _ratings_per_user(rng: np.random.Generator, users: int, items: int, total: int) -> np.ndarray:
    """How many ratings each user has: at least min(20, total // users), long-tailed.

    Nobody rates more than 60% of the catalog (ML-1M's heaviest user: 2,314 of 3,706
    movies) unless the totals leave no other way.
    """
    floor = min(_MIN_PER_USER, total // users, items)
    counts = np.full(users, floor, dtype=np.int64)
    cap = min(items, max(-(-items * 3 // 5), -(-total // users))) - floor
    weights = rng.lognormal(0.0, 0.9, size=users)
    remaining = total - int(counts.sum())
    extra = np.zeros(users, dtype=np.int64)
    while remaining > 0:
        open_ = extra < cap
        w = np.where(open_, weights, 0.0)
        extra += rng.multinomial(remaining, w / w.sum())
        over = np.maximum(extra - cap, 0)
        extra -= over
        remaining = int(over.sum())
    return counts + extra


def _make_ratings(
    rng: np.random.Generator, spec: CorpusSpec, movies: _Movies
) -> tuple[_Ratings, list[list[tuple[int, int]]]]:
    n_users, n_items, n_genres = spec.users, spec.items, len(GENRES)
    counts = _ratings_per_user(rng, n_users, n_items, spec.ratings)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    total = int(counts.sum())
    user = np.repeat(np.arange(n_users, dtype=np.int64), counts)
    pos = np.arange(total, dtype=np.int64) - starts[user]

    # Phases: 2–3 per user (fewer only when a user has fewer ratings), of roughly equal
    # lengths, with distinct genres favouring those with many movies (so that a phase finds
    # enough of them); Gumbel keys draw the genres without replacement.
    genre_sizes = np.bincount(movies.primary, minlength=n_genres).astype(np.float64)
    log_weight = _PHASE_GENRE_POWER * np.log(np.maximum(genre_sizes, 1e-12))
    keys = log_weight[None, :] + rng.gumbel(size=(n_users, n_genres))
    keys[:, genre_sizes == 0] = -np.inf
    phase_genres = np.argsort(-keys, axis=1, kind="stable")[:, :3]
    n_phases = np.minimum(rng.integers(2, 4, size=n_users), counts)
    n_phases = np.minimum(n_phases, int((genre_sizes > 0).sum()))
    cut2 = rng.uniform(0.35, 0.65, size=n_users)
    cut3a, cut3b = rng.uniform(0.25, 0.4, size=n_users), rng.uniform(0.6, 0.75, size=n_users)
    b1 = np.where(n_phases == 3, np.rint(cut3a * counts), np.rint(cut2 * counts)).astype(np.int64)
    b2 = np.rint(cut3b * counts).astype(np.int64)
    b1 = np.clip(b1, 1, np.maximum(counts - n_phases + 1, 1))
    b2 = np.clip(b2, b1 + 1, np.maximum(counts - 1, b1 + 1))
    b1 = np.where(n_phases >= 2, b1, counts)
    b2 = np.where(n_phases >= 3, b2, counts)
    phase = (pos >= b1[user]).astype(np.int64) + (pos >= b2[user])
    slot_genre = phase_genres[user, phase]

    # Items: mostly from the phase genre (by popularity within it), else from the whole catalog.
    sampler = _Sampler(movies, n_genres)
    in_genre = rng.random(total) < _IN_GENRE
    # A phase cannot take more of its genre's movies than there are; the rest draw from everything.
    group_start = np.flatnonzero(np.diff(user * 3 + phase, prepend=-1))
    group_size = np.diff(np.append(group_start, total))
    taken = np.cumsum(in_genre)
    before = np.repeat(taken[group_start] - in_genre[group_start], group_size)
    in_genre &= (taken - before) <= genre_sizes[slot_genre]
    item = np.empty(total, dtype=np.int64)
    item[in_genre] = sampler.in_genre(rng, slot_genre[in_genre])
    item[~in_genre] = sampler.anywhere(rng, int((~in_genre).sum()))
    _remove_duplicates(rng, user, item, in_genre, slot_genre, sampler, starts, counts, n_items)
    if total >= n_items:
        _cover_every_item(rng, item, n_items)

    # Ratings: high for the phase genre, low otherwise (in half stars, 1..10).
    liked = movies.genre_matrix[item, slot_genre]
    high = rng.choice(np.array([8, 9, 10]), size=total, p=[0.35, 0.3, 0.35])
    low = rng.choice(np.array([1, 2, 3, 4, 5, 6]), size=total, p=[0.03, 0.1, 0.12, 0.25, 0.2, 0.3])
    half_stars = np.where(liked, high, low).astype(np.int64)

    # Timestamps: start in 2000–2001, then gaps of seconds to days (mostly minutes).
    start_ts = rng.integers(_EPOCH_2000, _EPOCH_2002, size=n_users)
    kind = rng.random(total)
    log_gap = np.where(
        kind < 0.75, rng.uniform(np.log(20), np.log(1800), total),
        np.where(kind < 0.95, rng.uniform(np.log(3600), np.log(86_400), total),
                 rng.uniform(np.log(86_400), np.log(20 * 86_400), total)),
    )
    gaps = np.maximum(np.rint(np.exp(log_gap)).astype(np.int64), 1)
    gaps[starts] = 0
    running = np.cumsum(gaps)
    ts = start_ts[user] + running - running[starts][user]

    phases: list[list[tuple[int, int]]] = []
    for u in range(n_users):
        bounds = (0, int(b1[u]), int(b2[u]))[: int(n_phases[u])]
        phases.append([(int(ts[starts[u] + b]), int(phase_genres[u, k])) for k, b in enumerate(bounds)])
    return _Ratings(user, item, half_stars, ts), phases


class _Sampler:
    """Draws items by popularity, either from one primary genre's movies or from all."""

    def __init__(self, movies: _Movies, n_genres: int):
        order = np.argsort(movies.primary, kind="stable")
        self.order = order
        cum = np.cumsum(movies.popularity[order])
        self.cum = cum
        bounds = np.searchsorted(movies.primary[order], np.arange(n_genres + 1))
        self.first, self.last = bounds[:-1], bounds[1:] - 1  # index range per genre in ``order``
        lo = np.concatenate([[0.0], cum])
        self.lo, self.hi = lo[self.first], lo[self.last + 1]
        self.all_cum = np.cumsum(movies.popularity)

    def in_genre(self, rng: np.random.Generator, genres: np.ndarray) -> np.ndarray:
        target = self.lo[genres] + rng.random(len(genres)) * (self.hi[genres] - self.lo[genres])
        idx = np.searchsorted(self.cum, target, side="right")
        idx = np.clip(idx, self.first[genres], self.last[genres])
        return self.order[idx]

    def anywhere(self, rng: np.random.Generator, size: int) -> np.ndarray:
        target = rng.random(size) * self.all_cum[-1]
        return np.minimum(np.searchsorted(self.all_cum, target, side="right"), len(self.all_cum) - 1)


def _remove_duplicates(
    rng: np.random.Generator,
    user: np.ndarray,
    item: np.ndarray,
    in_genre: np.ndarray,
    slot_genre: np.ndarray,
    sampler: _Sampler,
    starts: np.ndarray,
    counts: np.ndarray,
    n_items: int,
) -> None:
    """Redraw repeated (user, item) pairs in place: from the slot's genre for the first rounds."""
    def redraw(pending: np.ndarray, round_: int) -> np.ndarray:
        from_genre = in_genre[pending] if round_ < _IN_GENRE_ROUNDS else np.zeros(len(pending), dtype=bool)
        new = np.empty(len(pending), dtype=item.dtype)
        new[from_genre] = sampler.in_genre(rng, slot_genre[pending[from_genre]])
        new[~from_genre] = sampler.anywhere(rng, int((~from_genre).sum()))
        return new

    make_pairs_unique(rng, user, item, n_items, starts, counts, redraw, _RESAMPLE_ROUNDS)


def _cover_every_item(rng: np.random.Generator, item: np.ndarray, n_items: int) -> None:
    """Give every unrated item one rating, taken from items rated more than once."""
    seen = np.bincount(item, minlength=n_items)
    unrated = np.flatnonzero(seen == 0)
    if len(unrated) == 0:
        return
    order = np.argsort(item, kind="stable")
    sorted_items = item[order]
    spare = np.ones(len(item), dtype=bool)
    spare[0] = False
    spare[1:] = sorted_items[1:] == sorted_items[:-1]  # every occurrence but an item's first
    chosen = rng.choice(order[spare], size=len(unrated), replace=False)
    # No user has an unrated item yet, so this cannot create duplicate pairs.
    item[np.sort(chosen)] = rng.permutation(unrated)


# --------------------------------------------------------------------------- writing


def _join_lines(columns: list[pa.Array], sep: str) -> pa.Buffer:
    """``sep``-joined columns, one "\\n"-terminated line per row."""
    *head, last = columns
    last = pc.binary_join_element_wise(last, pa.scalar(""), "\n")
    joined = pc.binary_join_element_wise(*head, last, sep) if head else last
    if isinstance(joined, pa.ChunkedArray):
        joined = joined.combine_chunks()
    offsets = np.frombuffer(joined.buffers()[1], dtype=np.int32)[joined.offset: joined.offset + len(joined) + 1]
    return joined.buffers()[2][int(offsets[0]): int(offsets[-1])]


def _rating_rows(ratings: _Ratings, rating_text: list[str]) -> Iterator[list[pa.Array]]:
    lookup = pa.array(rating_text, type=pa.string())
    for lo in range(0, len(ratings.user), _CHUNK_ROWS):
        hi = lo + _CHUNK_ROWS
        yield [
            pc.cast(pa.array(ratings.user[lo:hi] + 1), pa.string()),
            pc.cast(pa.array(ratings.item[lo:hi] + 1), pa.string()),
            lookup.take(pa.array(ratings.half_stars[lo:hi] - 1)),
            pc.cast(pa.array(ratings.ts[lo:hi]), pa.string()),
        ]


def _write_ratings(path: Path, ratings: _Ratings, sep: str, rating_text: list[str], header: str = "") -> None:
    with path.open("wb") as out:
        out.write(header.encode("ascii"))
        for columns in _rating_rows(ratings, rating_text):
            out.write(_join_lines(columns, sep))


# Half stars 1..10 as text. ML-1M and ML-100K have whole stars only: a half rounds up
# (0.5 → 1, 4.5 → 5), which keeps phase-genre ratings at 4–5 and the others at 1–3.
_WHOLE = ["1", "1", "2", "2", "3", "3", "4", "4", "5", "5"]
_HALF = [f"{h / 2:.1f}" for h in range(1, 11)]  # "0.5" .. "5.0"


def _genre_names(genres: list[int]) -> str:
    return "|".join(GENRES[g] for g in genres)


def _write_1m(folder: Path, rng: np.random.Generator, spec: CorpusSpec, movies: _Movies, ratings: _Ratings) -> None:
    _write_ratings(folder / "ratings.dat", ratings, "::", _WHOLE)
    lines = [f"{i + 1}::{t}::{_genre_names(g)}\n" for i, (t, g) in enumerate(zip(movies.titles, movies.genres))]
    (folder / "movies.dat").write_bytes("".join(lines).encode("latin-1"))
    n = spec.users
    gender = np.where(rng.random(n) < 0.72, "M", "F")
    age = rng.choice(_1M_AGES, size=n, p=_1M_AGE_P)
    occupation = rng.integers(0, 21, size=n)
    zips = rng.integers(0, 100_000, size=n)
    lines = [f"{u + 1}::{gender[u]}::{age[u]}::{occupation[u]}::{zips[u]:05d}\n" for u in range(n)]
    (folder / "users.dat").write_bytes("".join(lines).encode("latin-1"))


def _write_latest_small(
    folder: Path, rng: np.random.Generator, spec: CorpusSpec, movies: _Movies, ratings: _Ratings
) -> None:
    _write_ratings(folder / "ratings.csv", ratings, ",", _HALF, header="userId,movieId,rating,timestamp\n")
    text = io.StringIO(newline="")
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["movieId", "title", "genres"])
    for i, (title, genres) in enumerate(zip(movies.titles, movies.genres)):
        writer.writerow([i + 1, title, _genre_names(genres)])
    (folder / "movies.csv").write_bytes(text.getvalue().encode("utf-8"))
    imdb = rng.choice(9_999_999, size=spec.items, replace=False) + 1
    tmdb = rng.choice(max(999_999, spec.items), size=spec.items, replace=False) + 1
    lines = ["movieId,imdbId,tmdbId\n", *(f"{i + 1},{imdb[i]:07d},{tmdb[i]}\n" for i in range(spec.items))]
    (folder / "links.csv").write_bytes("".join(lines).encode("utf-8"))


def _write_100k(folder: Path, rng: np.random.Generator, spec: CorpusSpec, movies: _Movies, ratings: _Ratings) -> None:
    _write_ratings(folder / "u.data", ratings, "\t", _WHOLE)
    months = rng.integers(0, 12, size=spec.items)
    days = rng.integers(1, 29, size=spec.items)
    lines = []
    for i, (title, genres) in enumerate(zip(movies.titles, movies.genres)):
        flags = ["0"] * len(_100K_GENRES)
        for g in genres:
            flags[g + 1] = "1"
        date = f"{days[i]:02d}-{_MONTHS[months[i]]}-{int(movies.years[i])}"
        url = "http://us.imdb.com/M/title-exact?" + title.replace(" ", "%20")
        lines.append("|".join([str(i + 1), title, date, "", url, *flags]) + "\n")
    (folder / "u.item").write_bytes("".join(lines).encode("latin-1"))
    genre_lines = "".join(f"{name}|{index}\n" for index, name in enumerate(_100K_GENRES)) + "\n"
    (folder / "u.genre").write_bytes(genre_lines.encode("latin-1"))
    (folder / "u.occupation").write_bytes("".join(f"{o}\n" for o in _100K_OCCUPATIONS).encode("latin-1"))
    n = spec.users
    age = rng.integers(7, 74, size=n)
    gender = np.where(rng.random(n) < 0.71, "M", "F")
    occupation = rng.integers(0, len(_100K_OCCUPATIONS), size=n)
    zips = rng.integers(0, 100_000, size=n)
    lines = [f"{u + 1}|{age[u]}|{gender[u]}|{_100K_OCCUPATIONS[occupation[u]]}|{zips[u]:05d}\n" for u in range(n)]
    (folder / "u.user").write_bytes("".join(lines).encode("latin-1"))
