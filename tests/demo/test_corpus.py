"""Synthetic MovieLens-format corpora: formats, counts, drift, determinism, archives."""

from __future__ import annotations

import csv
import hashlib
import io
import re
import time
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from timgen_data.demo.corpus import (
    GENRES,
    Corpus,
    CorpusSpec,
    generate_corpus,
    write_md5_sidecar,
    zip_release,
)

SMALL = dict(users=300, items=400, ratings=20_000, seed=11)  # the demo's shape
FILES = {
    "1m": {"ratings.dat", "movies.dat", "users.dat"},
    "latest-small": {"ratings.csv", "movies.csv", "links.csv"},
    "100k": {"u.data", "u.item", "u.genre", "u.user", "u.occupation"},
}
FOLDERS = {"1m": "ml-1m", "latest-small": "ml-latest-small", "100k": "ml-100k"}
LAYOUTS = tuple(FILES)
_100K_GENRES = ("unknown", *GENRES)


# --------------------------------------------------------------------------- reading back


def read_ratings(folder: Path, layout: str) -> dict[str, np.ndarray]:
    """user, item, rating, ts columns of a written ratings file, in file order."""
    name = {"1m": "ratings.dat", "latest-small": "ratings.csv", "100k": "u.data"}[layout]
    data = (folder / name).read_bytes()
    if layout == "1m":
        data = data.replace(b"::", b"\t")
    table = pacsv.read_csv(
        pa.py_buffer(data),
        read_options=pacsv.ReadOptions(
            column_names=["user", "item", "rating", "ts"], skip_rows=1 if layout == "latest-small" else 0
        ),
        parse_options=pacsv.ParseOptions(delimiter="," if layout == "latest-small" else "\t", quote_char=False),
        convert_options=pacsv.ConvertOptions(
            column_types={"user": pa.int64(), "item": pa.int64(), "rating": pa.float64(), "ts": pa.int64()}
        ),
    )
    return {c: table[c].to_numpy() for c in table.column_names}


def read_movie_genres(folder: Path, layout: str) -> dict[int, list[str]]:
    """movie id -> genres as written (primary first, except ML-100K's flags in u.genre order)."""
    if layout == "1m":
        rows = [line.split("::") for line in (folder / "movies.dat").read_bytes().decode("latin-1").splitlines()]
        return {int(mid): genres.split("|") for mid, _title, genres in rows}
    if layout == "latest-small":
        reader = csv.reader(io.StringIO((folder / "movies.csv").read_text(encoding="utf-8"), newline=""))
        next(reader)
        return {int(mid): genres.split("|") for mid, _title, genres in reader}
    out = {}
    for line in (folder / "u.item").read_bytes().decode("latin-1").splitlines():
        fields = line.split("|")
        out[int(fields[0])] = [g for g, flag in zip(_100K_GENRES, fields[5:]) if flag == "1"]
    return out


def user_slices(users: np.ndarray) -> list[tuple[int, int, int]]:
    """(user, start, end) of each user's contiguous run of ratings."""
    starts = np.flatnonzero(np.diff(users, prepend=users[0] - 1))
    ends = np.append(starts[1:], len(users))
    return [(int(users[s]), int(s), int(e)) for s, e in zip(starts, ends)]


def drift_share(folder: Path, layout: str) -> float:
    """Share of users whose most-rated genre in their first third differs from their last third's.

    1M and latest-small count movies' primary genres; ML-100K's flags do not say which
    genre is primary, so there every flagged genre counts.
    """
    ratings = read_ratings(folder, layout)
    genres = read_movie_genres(folder, layout)
    items = ratings["item"]
    differ = total = 0
    for _user, start, end in user_slices(ratings["user"]):
        third = (end - start) // 3
        if third == 0:
            continue

        def top(chunk: np.ndarray) -> str:
            if layout == "100k":
                counts = Counter(g for i in chunk for g in genres[int(i)])
            else:
                counts = Counter(genres[int(i)][0] for i in chunk)
            return counts.most_common(1)[0][0]

        differ += top(items[start: start + third]) != top(items[end - third: end])
        total += 1
    return differ / total


@pytest.fixture(scope="module")
def corpora(tmp_path_factory) -> dict[str, Corpus]:
    root = tmp_path_factory.mktemp("corpora")
    return {layout: generate_corpus(root / layout, CorpusSpec(layout=layout, **SMALL)) for layout in LAYOUTS}


# --------------------------------------------------------------------------- files and counts


@pytest.mark.parametrize("layout", LAYOUTS)
def test_layout_writes_its_files_with_exact_counts(corpora, layout):
    corpus = corpora[layout]
    assert corpus.folder.name == FOLDERS[layout]
    assert {p.name for p in corpus.folder.iterdir()} == FILES[layout]
    assert (corpus.users, corpus.items, corpus.ratings) == (SMALL["users"], SMALL["items"], SMALL["ratings"])
    assert corpus.spec == CorpusSpec(layout=layout, **SMALL)

    ratings = read_ratings(corpus.folder, layout)
    assert len(ratings["user"]) == SMALL["ratings"]
    assert set(ratings["user"].tolist()) == set(range(1, SMALL["users"] + 1))
    assert set(ratings["item"].tolist()) == set(range(1, SMALL["items"] + 1))  # every movie is rated
    assert sorted(read_movie_genres(corpus.folder, layout)) == list(range(1, SMALL["items"] + 1))
    if layout == "1m":
        assert len((corpus.folder / "users.dat").read_bytes().splitlines()) == SMALL["users"]
    if layout == "100k":
        assert len((corpus.folder / "u.user").read_bytes().splitlines()) == SMALL["users"]
    if layout == "latest-small":
        assert len((corpus.folder / "links.csv").read_bytes().splitlines()) == SMALL["items"] + 1


@pytest.mark.parametrize("layout", LAYOUTS)
def test_every_file_ends_lines_with_newline_only(corpora, layout):
    for path in corpora[layout].folder.iterdir():
        data = path.read_bytes()
        assert data.endswith(b"\n") and b"\r" not in data, path.name


@pytest.mark.parametrize("layout", LAYOUTS)
def test_pairs_unique_sorted_and_timestamps_increase(corpora, layout):
    ratings = read_ratings(corpora[layout].folder, layout)
    users, items, ts = ratings["user"], ratings["item"], ratings["ts"]
    pairs = users * 1_000_000 + items
    assert len(np.unique(pairs)) == len(pairs)
    assert np.all(np.diff(users) >= 0)  # sorted by user
    same_user = users[1:] == users[:-1]
    assert np.all(ts[1:][same_user] > ts[:-1][same_user])  # then by time, strictly increasing
    firsts = ts[np.flatnonzero(np.diff(users, prepend=0))]
    assert firsts.min() >= 946_684_800 and firsts.max() < 1_009_843_200  # start in 2000–2001 UTC
    # Every user has at least 20 ratings, as in MovieLens.
    assert np.bincount(users)[1:].min() >= 20
    assert np.bincount(users).max() <= 0.6 * SMALL["items"]  # nobody rates nearly everything


@pytest.mark.parametrize("layout", LAYOUTS)
def test_rating_values(corpora, layout):
    values = set(read_ratings(corpora[layout].folder, layout)["rating"].tolist())
    if layout == "latest-small":
        assert values <= {x / 2 for x in range(1, 11)}
        assert any(v % 1 for v in values)  # half stars occur
    else:
        assert values == {1.0, 2.0, 3.0, 4.0, 5.0}


def test_1m_formats(corpora):
    folder = corpora["1m"].folder
    raw = (folder / "movies.dat").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")  # latin-1, like the real ML-1M
    text = raw.decode("latin-1")
    assert "Misérables, Les (" in text
    for line in text.splitlines():
        mid, title, genres = line.split("::")
        assert re.fullmatch(r".+ \((19[5-9]\d|2000)\)", title), title
        names = genres.split("|")
        assert 1 <= len(names) <= 3 and len(set(names)) == len(names) and set(names) <= set(GENRES)
    for line in (folder / "users.dat").read_bytes().decode("latin-1").splitlines():
        _uid, gender, age, occupation, zip_code = line.split("::")
        assert gender in ("M", "F")
        assert int(age) in (1, 18, 25, 35, 45, 50, 56)
        assert 0 <= int(occupation) <= 20
        assert re.fullmatch(r"\d{5}", zip_code)
    assert re.fullmatch(rb"(\d+::\d+::[1-5]::\d+\n)+", (folder / "ratings.dat").read_bytes())


def test_titles_use_trailing_articles(corpora):
    titles = [line.split("::")[1] for line in
              (corpora["1m"].folder / "movies.dat").read_bytes().decode("latin-1").splitlines()]
    assert titles[0] == "Misérables, Les (1995)"
    trailing = [t for t in titles if re.search(r", (The|A|An|La|Le|Les|El|Il|Die) \(\d{4}\)$", t)]
    assert 0.04 < len(trailing) / len(titles) < 0.2
    assert len(set(titles)) == len(titles)


def test_latest_small_formats(corpora):
    folder = corpora["latest-small"].folder
    ratings = (folder / "ratings.csv").read_text(encoding="utf-8")
    assert ratings.startswith("userId,movieId,rating,timestamp\n")
    assert re.fullmatch(r"(\d+,\d+,[0-5]\.[05],\d+\n)+", ratings.split("\n", 1)[1])

    text = (folder / "movies.csv").read_text(encoding="utf-8")
    assert text.startswith("movieId,title,genres\n")
    assert '1,"Misérables, Les (1995)",Drama|Musical\n' in text
    rows = list(csv.reader(io.StringIO(text, newline="")))[1:]
    assert all(len(row) == 3 for row in rows)
    # Exactly the titles with commas are quoted, as the csv module does.
    for line, (_mid, title, _genres) in zip(text.splitlines()[1:], rows):
        assert ('"' in line) == ("," in title)

    links = (folder / "links.csv").read_text(encoding="utf-8").splitlines()
    assert links[0] == "movieId,imdbId,tmdbId"
    for number, line in enumerate(links[1:], start=1):
        mid, imdb, tmdb = line.split(",")
        assert int(mid) == number and re.fullmatch(r"\d{7}", imdb) and re.fullmatch(r"[1-9]\d*", tmdb)


def test_100k_formats(corpora):
    folder = corpora["100k"].folder
    genre_text = (folder / "u.genre").read_bytes().decode("latin-1")
    assert genre_text == "".join(f"{g}|{i}\n" for i, g in enumerate(_100K_GENRES)) + "\n"
    raw = (folder / "u.item").read_bytes()
    assert "Misérables, Les (1995)".encode("latin-1") in raw
    for line in raw.decode("latin-1").splitlines():
        fields = line.split("|")
        assert len(fields) == 5 + 19
        assert re.fullmatch(r"\d{2}-(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)-\d{4}", fields[2])
        assert fields[3] == "" and fields[4].startswith("http://us.imdb.com/M/title-exact?")
        flags = fields[5:]
        assert set(flags) <= {"0", "1"} and flags[0] == "0" and 1 <= flags.count("1") <= 3
    occupations = set((folder / "u.occupation").read_text(encoding="latin-1").split())
    for line in (folder / "u.user").read_bytes().decode("latin-1").splitlines():
        _uid, age, gender, occupation, zip_code = line.split("|")
        assert 1 <= int(age) <= 100 and gender in ("M", "F") and occupation in occupations
        assert re.fullmatch(r"\d{5}", zip_code)
    assert re.fullmatch(rb"(\d+\t\d+\t[1-5]\t\d+\n)+", (folder / "u.data").read_bytes())


# --------------------------------------------------------------------------- the drift


@pytest.mark.parametrize("layout", LAYOUTS)
def test_users_drift_between_genres(corpora, layout):
    assert drift_share(corpora[layout].folder, layout) > 0.5


def test_phases_are_the_ground_truth(corpora):
    corpus = corpora["1m"]
    ratings = read_ratings(corpus.folder, "1m")
    genres = read_movie_genres(corpus.folder, "1m")
    assert set(corpus.phases) == {str(u) for u in range(1, SMALL["users"] + 1)}
    liked = total = 0
    for user, start, end in user_slices(ratings["user"]):
        phases = corpus.phases[str(user)]
        assert 2 <= len(phases) <= 3
        names = [g for _, g in phases]
        assert len(set(names)) == len(names) and set(names) <= set(GENRES)
        ts = ratings["ts"][start:end]
        starts = [s for s, _ in phases]
        assert starts[0] == ts[0] and starts == sorted(starts) and set(starts) <= set(ts.tolist())
        # Within a phase, movies of its genre are rated 4–5 and the others 1–3.
        index = np.searchsorted(starts, ts, side="right") - 1
        for k, (item, rating) in enumerate(zip(ratings["item"][start:end], ratings["rating"][start:end])):
            in_genre = names[index[k]] in genres[int(item)]
            assert (rating >= 4) == in_genre
            liked += genres[int(item)][0] == names[index[k]]
            total += 1
    assert liked / total > 0.55  # users mostly rate their phase's genre


# --------------------------------------------------------------------------- determinism and archives


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.mark.parametrize("layout", LAYOUTS)
def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path, layout):
    spec = CorpusSpec(users=40, items=60, ratings=1_500, seed=3, layout=layout)
    a = generate_corpus(tmp_path / "a", spec)
    b = generate_corpus(tmp_path / "b", spec)
    c = generate_corpus(tmp_path / "c", CorpusSpec(users=40, items=60, ratings=1_500, seed=4, layout=layout))
    assert _snapshot(a.folder) == _snapshot(b.folder)
    assert a.phases == b.phases
    zip_a = zip_release(a.folder, tmp_path / "a.zip")
    zip_b = zip_release(b.folder, tmp_path / "b.zip")
    assert zip_a.read_bytes() == zip_b.read_bytes()
    snap_c = _snapshot(c.folder)
    rating_file = {"1m": "ratings.dat", "latest-small": "ratings.csv", "100k": "u.data"}[layout]
    assert snap_c[rating_file] != _snapshot(a.folder)[rating_file]
    assert zip_release(c.folder, tmp_path / "c.zip").read_bytes() != zip_a.read_bytes()
    assert c.phases != a.phases


def test_regenerating_replaces_the_folder(tmp_path):
    spec = CorpusSpec(users=30, items=40, ratings=900, layout="1m")
    first = generate_corpus(tmp_path, spec)
    (first.folder / "stale.txt").write_text("old")
    again = generate_corpus(tmp_path, spec)
    assert {p.name for p in again.folder.iterdir()} == FILES["1m"]


def test_zip_release_layout(corpora, tmp_path):
    folder = corpora["1m"].folder
    archive = zip_release(folder, tmp_path / "mirror" / "ml-1m.zip")
    assert archive == tmp_path / "mirror" / "ml-1m.zip"
    with zipfile.ZipFile(archive) as zf:
        assert zf.testzip() is None
        infos = zf.infolist()
        names = [i.filename for i in infos]
        assert names == ["ml-1m/", *sorted(f"ml-1m/{n}" for n in FILES["1m"])]
        for info in infos:
            assert info.date_time == (1980, 1, 1, 0, 0, 0)
            if not info.is_dir():
                assert info.compress_type == zipfile.ZIP_DEFLATED
                assert zf.read(info) == (folder / info.filename.split("/", 1)[1]).read_bytes()
    # The project's own extractor finds the one top folder.
    from timgen_data.downloads.archive import extract_zip, single_top_folder

    extracted = extract_zip(archive, tmp_path / "out")
    assert single_top_folder(extracted).name == "ml-1m"


def test_md5_sidecar_matches(corpora, tmp_path):
    archive = zip_release(corpora["latest-small"].folder, tmp_path / "ml-latest-small.zip")
    sidecar = write_md5_sidecar(archive)
    assert sidecar == tmp_path / "ml-latest-small.zip.md5"
    expected = hashlib.md5(archive.read_bytes()).hexdigest()
    assert sidecar.read_text(encoding="ascii") == f"MD5 (ml-latest-small.zip) = {expected}\n"


# --------------------------------------------------------------------------- edge cases


def test_tiny_and_saturated_corpora(tmp_path):
    # Every user rates every movie: still no duplicate pair.
    full = generate_corpus(tmp_path / "full", CorpusSpec(users=4, items=25, ratings=100, layout="100k"))
    ratings = read_ratings(full.folder, "100k")
    assert len(set(zip(ratings["user"].tolist(), ratings["item"].tolist()))) == 100
    # Fewer than 20 ratings a user, fewer ratings than movies.
    sparse = generate_corpus(tmp_path / "sparse", CorpusSpec(users=10, items=500, ratings=30, layout="1m"))
    ratings = read_ratings(sparse.folder, "1m")
    assert len(ratings["user"]) == 30 and set(ratings["user"].tolist()) == set(range(1, 11))
    assert len((sparse.folder / "movies.dat").read_bytes().splitlines()) == 500
    one = generate_corpus(tmp_path / "one", CorpusSpec(users=1, items=1, ratings=1, layout="latest-small"))
    assert one.ratings == 1 and one.phases["1"][0][1] == "Drama"


@pytest.mark.parametrize(
    "spec",
    [
        CorpusSpec(users=10, items=10, ratings=5),  # a user with no rating
        CorpusSpec(users=2, items=3, ratings=7),  # more ratings than pairs
        CorpusSpec(users=0, items=3, ratings=0),
        CorpusSpec(layout="10m"),  # type: ignore[arg-type]
    ],
)
def test_impossible_specs_are_refused(tmp_path, spec):
    with pytest.raises(ValueError):
        generate_corpus(tmp_path, spec)
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("layout", LAYOUTS)
def test_the_collectors_parse_it_cleanly(corpora, layout):
    from timgen_data.collectors.movielens.catalog import parse_100k_catalog, parse_csv_catalog, parse_dat_catalog
    from timgen_data.collectors.movielens.ratings import parse_ratings

    folder = corpora[layout].folder
    ratings_file, parse_catalog = {
        "1m": ("ratings.dat", parse_dat_catalog),
        "latest-small": ("ratings.csv", parse_csv_catalog),
        "100k": ("u.data", parse_100k_catalog),
    }[layout]
    table, _ = parse_ratings(folder / ratings_file, strict=True)
    assert table.num_rows == SMALL["ratings"]  # strict: any bad line would have raised
    catalog = parse_catalog(folder, strict=True)
    assert len(catalog.items) == SMALL["items"]
    assert catalog.items[0].title == "Les Misérables" and catalog.items[0].year == 1995


# --------------------------------------------------------------------------- ML-1M size


@pytest.mark.slow
def test_ml_1m_sized_corpus(tmp_path):
    spec = CorpusSpec(users=6040, items=3706, ratings=1_000_209, layout="1m")
    started = time.perf_counter()
    corpus = generate_corpus(tmp_path, spec)
    elapsed = time.perf_counter() - started
    assert (corpus.users, corpus.items, corpus.ratings) == (6040, 3706, 1_000_209)
    ratings = read_ratings(corpus.folder, "1m")
    users, items = ratings["user"], ratings["item"]
    assert len(users) == 1_000_209
    assert np.array_equal(np.unique(users), np.arange(1, 6041))
    assert np.array_equal(np.unique(items), np.arange(1, 3707))
    assert len(np.unique(users * 10_000 + items)) == len(users)
    assert np.bincount(users)[1:].min() >= 20
    assert np.bincount(users).max() <= 0.6 * 3706
    assert len((corpus.folder / "movies.dat").read_bytes().splitlines()) == 3706
    assert len((corpus.folder / "users.dat").read_bytes().splitlines()) == 6040
    assert elapsed < 30, f"generation took {elapsed:.1f}s"  # about 2 s on a 2-core machine


def test_zip_release_refuses_a_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError):
        zip_release(tmp_path / "ml-1m", tmp_path / "ml-1m.zip")
    assert not (tmp_path / "ml-1m.zip").exists()
