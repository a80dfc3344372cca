"""ML-25M-shaped MovieLens archives of any size, generated in bounded memory.

The scaling benchmark needs the 25m release's layout (``ml-25m/`` with ``ratings.csv``,
``movies.csv``, ``links.csv``, ``tags.csv``, ``genome-tags.csv``, ``genome-scores.csv``,
``README.txt``) at 1M, 5M or 25M ratings, with the skew of the real release:

- users and catalog scale with the size (ML-25M: 162,541 users, 62,423 movies of which
  59,047 are rated, 25,000,095 ratings);
- ratings per user: at least 20, then long-tailed (a lognormal fitted to ML-25M's median
  of 71 and mean of 154, heaviest user about half the catalog: ML-25M's has 32,202);
- item popularity: a Zipf-Mandelbrot law ``(rank + q) ** -2`` whose ``q`` makes the most
  popular movie rated by about half the users (ML-25M: 81,491 of 162,541), which leaves a
  long tail of movies with a handful of ratings and some with none;
- the stars follow ML-25M's histogram (4.0 most common); timestamps run 1995-2019, in
  sessions of minutes to weeks; within a user the file is sorted by movieId, as the real one
  is, so time order differs from file order.

``demo/corpus.py``'s generator holds a whole corpus in numpy arrays and plants a genre
drift signal a benchmark does not need; this one writes users in chunks of about a
million ratings, so a 25M archive takes well under a gigabyte. The same spec gives
byte-identical files and archives.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from timgen_data.demo.unique_pairs import make_pairs_unique

FOLDER = "ml-25m"
ML_25M_RATINGS = 25_000_095
ML_25M_USERS = 162_541
ML_25M_CATALOG = 62_423
ML_25M_GENOME_MOVIES = 13_816
GENOME_TAGS = 1_128
TAG_SHARE = 1_093_360 / ML_25M_RATINGS  # tags.csv rows per rating
MIN_PER_USER = 20
MAX_CATALOG_SHARE = 0.54  # ML-25M's heaviest user rated 32,202 of 59,047 rated movies
CHUNK_RATINGS = 1 << 20  # ratings generated and written at a time
_RESAMPLE_ROUNDS = 8  # redraws of repeated (user, movie) pairs before the uniform fallback
_FIRST_TS, _LAST_TS = 789_652_009, 1_574_327_703  # ML-25M's first and last rating times

# ML-25M's star histogram, 0.5 .. 5.0.
_STARS = [f"{h / 2:.1f}" for h in range(1, 11)]
_STAR_P = np.array([1.57, 3.11, 1.60, 6.56, 5.05, 19.59, 12.71, 26.56, 8.80, 14.45])
_STAR_P = _STAR_P / _STAR_P.sum()
_GENRES = (
    "Drama", "Comedy", "Thriller", "Romance", "Action", "Horror", "Documentary", "Crime", "Adventure",
    "Sci-Fi", "Children", "Animation", "Mystery", "Fantasy", "War", "Western", "Musical", "Film-Noir", "IMAX",
)
_GENRE_P = np.array([25.6, 16.9, 8.7, 7.6, 7.3, 5.7, 5.4, 5.4, 4.3, 3.9, 2.8, 2.8, 2.8, 2.7, 1.6, 1.4, 1.1, 0.3, 0.2])
_GENRE_P = _GENRE_P / _GENRE_P.sum()
_NO_GENRES = "(no genres listed)"
_NO_GENRE_SHARE = 5_062 / ML_25M_CATALOG
_WORDS = (
    "Silent", "Crimson", "Broken", "Hidden", "Last", "Golden", "Dark", "Frozen", "Wild", "Secret", "Lost",
    "Midnight", "River", "Road", "Summer", "Kingdom", "Heart", "Shadow", "City", "Garden", "Night", "Storm",
    "Café", "Château", "Señor", "Ocean", "Dream", "Machine", "Valley", "Crown",
)
_ARTICLES = ("The", "A", "Les", "La", "Die", "El")
_TAG_WORDS = ("atmospheric", "twist ending", "based on a book", "funny", "sci-fi", "dark comedy",
              "visually appealing", "thought-provoking", "classic", "boring", "Oscar (Best Picture)", "quirky")


@dataclass(frozen=True)
class ScaleSpec:
    """An ML-25M-shaped release of ``ratings`` ratings; the rest scales from ML-25M."""

    ratings: int
    seed: int = 25

    @property
    def users(self) -> int:
        return max(1, round(ML_25M_USERS * self.ratings / ML_25M_RATINGS))

    @property
    def catalog(self) -> int:
        # Small sizes get a larger catalog than the scaled one, so every user's count fits.
        scaled = round(ML_25M_CATALOG * self.ratings / ML_25M_RATINGS)
        return max(scaled, math.ceil(8 * self.ratings / self.users))

    @property
    def genome_movies(self) -> int:
        return max(1, round(self.catalog * ML_25M_GENOME_MOVIES / ML_25M_CATALOG))


@dataclass(frozen=True)
class Archive:
    path: Path  # <dest>/ml-25m.zip
    folder: Path  # the extracted release it was zipped from, <dest>/ml-25m
    md5: str
    spec: ScaleSpec


def ensure_archive(dest: Path, spec: ScaleSpec, log: Callable[[str], None] = lambda _: None) -> Archive:
    """The archive for ``spec`` under ``dest``: generated, or reused when a finished one is there."""
    dest = Path(dest)
    done = dest / "archive.json"
    if done.is_file():
        recorded = json.loads(done.read_text())
        if recorded["spec"] == asdict(spec) and (dest / f"{FOLDER}.zip").is_file():
            return Archive(dest / f"{FOLDER}.zip", dest / FOLDER, recorded["md5"], spec)
    done.unlink(missing_ok=True)
    folder = dest / FOLDER
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    log(f"generating {spec.ratings:,} ratings by {spec.users:,} users over {spec.catalog:,} movies in {folder}")
    write_release(folder, spec)
    archive = zip_folder(folder, dest / f"{FOLDER}.zip")
    md5 = _md5(archive)
    done.write_text(json.dumps({"spec": asdict(spec), "md5": md5}))
    return Archive(archive, folder, md5, spec)


def write_release(folder: Path, spec: ScaleSpec) -> None:
    """Write every file of the release into ``folder``."""
    rng = np.random.default_rng(spec.seed)
    counts = ratings_per_user(rng, spec)
    popularity = _popularity(rng, spec, counts)
    movie_ids = np.sort(rng.choice(np.arange(1, 3 * spec.catalog + 2), size=spec.catalog, replace=False))
    with (folder / "ratings.csv").open("wb") as ratings, (folder / "tags.csv").open("wb") as tags:
        ratings.write(b"userId,movieId,rating,timestamp\n")
        tags.write(b"userId,movieId,tag,timestamp\n")
        for user, item, stars, ts in _rating_chunks(rng, spec, counts, popularity):
            ratings.write(_lines([_text(user + 1), _text(movie_ids[item]), pa.array(_STARS).take(stars), _text(ts)]))
            tagged = np.flatnonzero(rng.random(len(user)) < TAG_SHARE)
            words = pa.array(_TAG_WORDS)  # none has a comma, so none needs quotes
            tags.write(_lines([_text(user[tagged] + 1), _text(movie_ids[item[tagged]]),
                               words.take(rng.integers(len(_TAG_WORDS), size=len(tagged))),
                               _text(ts[tagged] + rng.integers(0, 86_400, size=len(tagged)))]))
    _write_movies(folder, rng, movie_ids)
    _write_links(folder, rng, movie_ids)
    # The genome covers the most rated movies, every one against every tag.
    genome = np.sort(movie_ids[np.argsort(-popularity, kind="stable")[: spec.genome_movies]])
    _write_genome(folder, rng, genome)
    (folder / "README.txt").write_text(
        f"Synthetic ML-25M-shaped release for benchmarks: {spec.ratings:,} ratings by {spec.users:,} users "
        f"over {spec.catalog:,} movies (seed {spec.seed}). Not GroupLens data.\n", encoding="utf-8")


def ratings_per_user(rng: np.random.Generator, spec: ScaleSpec) -> np.ndarray:
    """How many ratings each user has: at least 20, long-tailed, summing to ``spec.ratings``."""
    floor = min(MIN_PER_USER, spec.ratings // spec.users)
    cap = max(int(spec.catalog * MAX_CATALOG_SHARE), -(-spec.ratings // spec.users)) - floor
    # ML-25M: median 71, mean 154 ratings a user; lognormal extra over the floor of 20.
    weights = rng.lognormal(math.log(51), 1.39, size=spec.users)
    extra = np.zeros(spec.users, dtype=np.int64)
    remaining = spec.ratings - floor * spec.users
    while remaining > 0:
        open_weights = np.where(extra < cap, weights, 0.0)
        extra += rng.multinomial(remaining, open_weights / open_weights.sum())
        over = np.maximum(extra - cap, 0)
        extra -= over
        remaining = int(over.sum())
    return floor + extra


def _popularity(rng: np.random.Generator, spec: ScaleSpec, counts: np.ndarray) -> np.ndarray:
    """Sampling weight of each catalog entry: ``(rank + q) ** -2`` in a random rank order.

    ``q`` is chosen so the top movie's expected share is half the users' worth of ratings.
    """
    ranks = np.arange(1, spec.catalog + 1, dtype=np.float64)
    target = min(0.5 * spec.users / spec.ratings, 0.5)
    lo, hi = 0.0, 1e9
    for _ in range(200):  # the top share falls as q grows: bisect
        q = (lo + hi) / 2
        weights = (ranks + q) ** -2.0
        if weights[0] / weights.sum() > target:
            lo = q
        else:
            hi = q
    return ((ranks + hi) ** -2.0)[rng.permutation(spec.catalog)]


def _rating_chunks(
    rng: np.random.Generator, spec: ScaleSpec, counts: np.ndarray, popularity: np.ndarray
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """(user, catalog index, star index, ts) for whole users, about CHUNK_RATINGS rows at a time."""
    cum = np.cumsum(popularity)
    ends = np.cumsum(counts)
    first = 0
    while first < spec.users:
        last = int(np.searchsorted(ends, (ends[first - 1] if first else 0) + CHUNK_RATINGS, side="right"))
        last = max(last, first + 1)
        chunk_counts = counts[first:last]
        local = np.repeat(np.arange(last - first, dtype=np.int64), chunk_counts)
        item = _distinct_items(rng, local, chunk_counts, cum, spec.catalog)
        # File order: by movieId within a user (the catalog index follows movieId).
        order = np.argsort(local * spec.catalog + item, kind="stable")
        item = item[order]
        ts = _timestamps(rng, local, chunk_counts)
        ts = ts[np.lexsort((rng.random(len(ts)), local))]  # time order is not file order
        stars = rng.choice(len(_STARS), size=len(local), p=_STAR_P)
        yield local + first, item, stars, ts
        first = last


def _distinct_items(rng: np.random.Generator, user: np.ndarray, counts: np.ndarray, cum: np.ndarray,
                    n_items: int) -> np.ndarray:
    """Movies drawn by popularity, redrawn until no user has one twice."""
    def draw(size: int) -> np.ndarray:
        return np.minimum(np.searchsorted(cum, rng.random(size) * cum[-1], side="right"), n_items - 1)

    item = draw(len(user))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    make_pairs_unique(rng, user, item, n_items, starts, counts, lambda pending, _: draw(len(pending)),
                      _RESAMPLE_ROUNDS)
    return item


def _timestamps(rng: np.random.Generator, user: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Increasing per user: sessions of minutes, gaps of hours to weeks, within 1995-2019."""
    n = len(user)
    kind = rng.random(n)
    log_gap = np.where(
        kind < 0.75, rng.uniform(math.log(5), math.log(600), n),
        np.where(kind < 0.95, rng.uniform(math.log(3600), math.log(86_400), n),
                 rng.uniform(math.log(86_400), math.log(30 * 86_400), n)),
    )
    gaps = np.exp(log_gap)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    gaps[starts] = 0
    running = np.cumsum(gaps)
    offset = running - running[starts][user]
    span = offset[starts + counts - 1]
    room = _LAST_TS - _FIRST_TS
    squeeze = np.minimum(1.0, room / np.maximum(span, 1.0))  # a user longer than the era is compressed
    begin = _FIRST_TS + rng.random(len(counts)) * (room - span * squeeze)
    return (begin[user] + offset * squeeze[user]).astype(np.int64)


def _write_movies(folder: Path, rng: np.random.Generator, movie_ids: np.ndarray) -> None:
    n = len(movie_ids)
    words = rng.integers(len(_WORDS), size=(n, 2))
    article = rng.random(n) < 0.08
    article_pick = rng.integers(len(_ARTICLES), size=n)
    years = rng.integers(1900, 2020, size=n)
    genre_counts = np.where(rng.random(n) < _NO_GENRE_SHARE, 0, rng.choice([1, 2, 3, 4], size=n, p=[.35, .35, .2, .1]))
    keys = np.log(_GENRE_P)[None, :] + rng.gumbel(size=(n, len(_GENRES)))  # genres without replacement
    picks = np.argsort(-keys, axis=1)[:, :4]
    lines = ["movieId,title,genres\n"]
    for i in range(n):
        title = f"{_WORDS[words[i, 0]]} {_WORDS[words[i, 1]]}"
        if article[i]:
            title = f"{title}, {_ARTICLES[article_pick[i]]}"
        title = f"{title} ({years[i]})"
        if "," in title:
            title = f'"{title}"'
        genres = "|".join(sorted(_GENRES[g] for g in picks[i, : genre_counts[i]])) or _NO_GENRES
        lines.append(f"{movie_ids[i]},{title},{genres}\n")
    (folder / "movies.csv").write_bytes("".join(lines).encode("utf-8"))


def _write_links(folder: Path, rng: np.random.Generator, movie_ids: np.ndarray) -> None:
    n = len(movie_ids)
    imdb = rng.choice(9_999_999, size=n, replace=False) + 1
    tmdb = rng.choice(max(999_999, n), size=n, replace=False) + 1
    no_tmdb = rng.random(n) < 0.002
    lines = ["movieId,imdbId,tmdbId\n"]
    lines.extend(f"{m},{i:07d},{'' if gone else t}\n" for m, i, t, gone in zip(movie_ids, imdb, tmdb, no_tmdb))
    (folder / "links.csv").write_bytes("".join(lines).encode("utf-8"))


def _write_genome(folder: Path, rng: np.random.Generator, movies: np.ndarray) -> None:
    tags = ["tagId,tag\n", *(f"{t + 1},tag {t + 1}\n" for t in range(GENOME_TAGS))]
    (folder / "genome-tags.csv").write_bytes("".join(tags).encode("utf-8"))
    tag_ids = _text(np.arange(1, GENOME_TAGS + 1))
    step = max(1, CHUNK_RATINGS // GENOME_TAGS)
    with (folder / "genome-scores.csv").open("wb") as out:
        out.write(b"movieId,tagId,relevance\n")
        for lo in range(0, len(movies), step):
            block = movies[lo: lo + step]
            relevance = np.round(rng.beta(0.6, 4.0, size=len(block) * GENOME_TAGS), 5)
            out.write(_lines([_text(np.repeat(block, GENOME_TAGS)), pa.concat_arrays([tag_ids] * len(block)),
                              pc.cast(pa.array(relevance), pa.string())]))


def zip_folder(folder: Path, archive: Path) -> Path:
    """Zip ``folder`` as ``<folder.name>/<file>`` members, reproducibly (fixed dates, name order)."""
    partial = archive.with_name(archive.name + ".partial")
    with zipfile.ZipFile(partial, "w") as zf:
        for path in sorted(p for p in folder.iterdir() if p.is_file()):
            info = zipfile.ZipInfo(f"{folder.name}/{path.name}", date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o100644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            with path.open("rb") as src, zf.open(info, "w", force_zip64=True) as out:
                shutil.copyfileobj(src, out, 1 << 20)
    partial.replace(archive)
    return archive


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _text(values: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(values), pa.string())


def _lines(columns: list[pa.Array]) -> bytes:
    """Comma-joined columns, one "\\n"-terminated line per row."""
    *head, last = columns
    joined = pc.binary_join_element_wise(*head, pc.binary_join_element_wise(last, "", "\n"), ",")
    if len(joined) == 0:
        return b""
    offsets = np.frombuffer(joined.buffers()[1], dtype=np.int32)[joined.offset: joined.offset + len(joined) + 1]
    return joined.buffers()[2].slice(int(offsets[0]), int(offsets[-1] - offsets[0])).to_pybytes()
