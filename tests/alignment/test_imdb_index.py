"""IMDb title.basics reading (gzip, plain, file objects, damaged lines) and the title index."""

from __future__ import annotations

import gzip
import io

import pytest

from timgen_data.alignment.imdb_index import ImdbMatch, TitleIndex
from timgen_data.alignment.titles import normalize_title
from timgen_data.errors import MalformedInputError
from timgen_data.imdb_basics import MOVIE_TYPES, BasicsReadReport, ImdbTitle, iter_title_basics

HEADER = "tconst\ttitleType\tprimaryTitle\toriginalTitle\tisAdult\tstartYear\tendYear\truntimeMinutes\tgenres"
ROWS = [
    "tt0114709\tmovie\tToy Story\tToy Story\t0\t1995\t\\N\t81\tAdventure,Animation,Comedy",
    # The French original title is the one MovieLens writes as its main title.
    "tt0112682\tmovie\tThe City of Lost Children\tLa cité des enfants perdus\t0\t1995\t\\N\t112\tFantasy,Sci-Fi",
    "tt0114369\tmovie\tSe7en\tSe7en\t0\t1995\t\\N\t127\tCrime,Drama,Mystery",
    "tt0133093\tmovie\tThe Matrix\tThe Matrix\t0\t1999\t\\N\t136\tAction,Sci-Fi",
    "tt0109642\tmovie\tDolores Claiborne\tDolores Claiborne\t0\t1995\t\\N\t132\tCrime,Drama",
    "tt0113277\tmovie\tHeat\tHeat\t0\t1995\t\\N\t170\tAction,Crime,Drama",
    "tt2404463\tmovie\tThe Heat\tThe Heat\t0\t2013\t\\N\t117\tAction,Comedy,Crime",
    # A series with a film's title and year: excluded by type.
    "tt9000001\ttvSeries\tThe Matrix\tThe Matrix\t0\t1999\t2001\t\\N\tAnimation",
    # No quoting in this format: the double quotes are part of the title.
    'tt0367555\tvideo\t"Weird Al" Yankovic: The Ultimate Video Collection\t\\N\t0\t2003\t\\N\t\\N\t\\N',
    # Too few fields: skipped and counted (line 11 of the file).
    "tt9000002\tmovie\tBroken Row\t0\t2000",
    # Two films under one key: an ambiguity the caller must see.
    "tt0171359\tmovie\tHamlet\tHamlet\t0\t2000\t\\N\t112\tDrama",
    "tt9000003\ttvMovie\tHamlet\tHamlet\t0\t2000\t\\N\t180\tDrama",
    "tt9000004\tmovie\tAdult Title\tAdult Title\t1\t\\N\t\\N\t\\N\tAdult",
]
TEXT = "\n".join([HEADER, *ROWS]) + "\n"


@pytest.fixture
def basics_gz(tmp_path):
    path = tmp_path / "title.basics.tsv.gz"
    with gzip.open(path, "wt", encoding="utf-8", newline="\n") as handle:
        handle.write(TEXT)
    return path


def test_reads_gzip_with_nulls_quotes_and_a_short_line(basics_gz):
    report = BasicsReadReport()
    titles = {t.tconst: t for t in iter_title_basics(basics_gz, report)}
    assert report.lines == len(ROWS)
    assert report.titles == len(ROWS) - 1 == len(titles)
    assert report.skipped == 1 and report.skipped_lines == [11]
    assert "tt9000002" not in titles
    assert titles["tt0114709"] == ImdbTitle(
        "tt0114709",
        "movie",
        "Toy Story",
        "Toy Story",
        False,
        1995,
        81,
        ("Adventure", "Animation", "Comedy"),
    )
    weird = titles["tt0367555"]
    assert weird.primary_title == '"Weird Al" Yankovic: The Ultimate Video Collection'
    assert (
        weird.original_title is None
        and weird.runtime_minutes is None
        and weird.genres == ()
    )
    adult = titles["tt9000004"]
    assert adult.is_adult and adult.start_year is None
    assert titles["tt0112682"].original_title == "La cité des enfants perdus"


def test_reads_plain_tsv_and_file_objects(tmp_path, basics_gz):
    plain = tmp_path / "title.basics.tsv"
    plain.write_text(TEXT, encoding="utf-8")
    expected = list(iter_title_basics(basics_gz))
    assert list(iter_title_basics(str(plain))) == expected
    # A binary file object: gzip recognized by its magic bytes, the caller's stream left open.
    stream = io.BytesIO(basics_gz.read_bytes())
    assert list(iter_title_basics(stream)) == expected
    assert not stream.closed
    assert list(iter_title_basics(io.BytesIO(TEXT.encode()))) == expected


def test_types_filter_while_reading(basics_gz):
    report = BasicsReadReport()
    titles = list(iter_title_basics(basics_gz, report, types=frozenset({"tvSeries"})))
    assert [t.tconst for t in titles] == ["tt9000001"]
    assert report.titles == 1 and report.skipped == 1


def test_header_missing_a_column_raises(tmp_path):
    path = tmp_path / "title.basics.tsv"
    path.write_text(HEADER.replace("\tstartYear", "") + "\n", encoding="utf-8")
    with pytest.raises(MalformedInputError, match="startYear"):
        list(iter_title_basics(path))


def test_skipped_examples_are_bounded():
    lines = [HEADER] + ["tt1\tmovie"] * 25
    report = BasicsReadReport()
    assert list(iter_title_basics(io.BytesIO("\n".join(lines).encode()), report)) == []
    assert report.skipped == 25 and report.skipped_lines == list(range(2, 12))


def test_lookup(basics_gz):
    index = TitleIndex.build(iter_title_basics(basics_gz))
    assert (
        len(index) == 11
    )  # all but the series (not a movie type) and the short line (skipped)

    def tconsts(raw, **options):
        return [
            (m.tconst, m.confidence)
            for m in index.lookup(normalize_title(raw), **options)
        ]

    assert index.lookup(normalize_title("Matrix, The (1999)")) == [
        ImdbMatch("tt0133093", 1.0, "The Matrix", 1999)
    ]
    assert tconsts("Toy Story (1995)") == [("tt0114709", 1.0)]
    # MovieLens's main title is IMDb's French originalTitle; its English title the primary one.
    assert tconsts(
        "Cité des enfants perdus, La (City of Lost Children, The) (1995)"
    ) == [("tt0112682", 1.0)]
    assert tconsts(
        "City of Lost Children, The (Cité des enfants perdus, La) (1995)"
    ) == [("tt0112682", 1.0)]
    assert tconsts("Seven (a.k.a. Se7en) (1995)") == [("tt0114369", 0.9)]
    assert tconsts("Dolores Claiborne (1994)") == [("tt0109642", 0.95)]
    assert tconsts("Dolores Claiborne (1994)", year_tolerance=0) == []
    assert tconsts("Heat (1995)") == [("tt0113277", 1.0)]
    assert tconsts("Heat (2013)") == [("tt2404463", 1.0)]
    assert tconsts("Heat") == [
        ("tt0113277", 0.85),
        ("tt2404463", 0.85),
    ]  # no year: by tconst
    assert tconsts("Heat", min_confidence=0.9) == []
    # Ambiguity is visible: both at the top confidence.
    assert tconsts("Hamlet (2000)") == [("tt0171359", 1.0), ("tt9000003", 1.0)]
    assert tconsts("Hamlet (2001)") == [("tt0171359", 0.95), ("tt9000003", 0.95)]
    assert tconsts("Alien (1979)") == []


def test_lookup_orders_by_confidence_then_year_distance():
    titles = [
        ImdbTitle("tt3", "movie", "Twin", None, False, 2001, None, ()),
        ImdbTitle("tt2", "movie", "Twin", None, False, 1999, None, ()),
        ImdbTitle("tt1", "movie", "Twin", None, False, 2002, None, ()),
        ImdbTitle("tt4", "movie", "Twin", None, False, 2000, None, ()),
    ]
    index = TitleIndex.build(titles)
    matches = index.lookup(normalize_title("Twin (2000)"), year_tolerance=2)
    assert [(m.tconst, m.confidence) for m in matches] == [
        ("tt4", 1.0),
        ("tt2", 0.95),
        ("tt3", 0.95),
        ("tt1", 0.95),
    ]


def test_wanted_keeps_only_needed_titles(basics_gz):
    keys = [normalize_title("Cité des enfants perdus, La (City of Lost Children, The) (1995)"),
            normalize_title("Toy Story (1995)")]  # fmt: skip
    wanted = {name for key in keys for name in key.names}
    index = TitleIndex.build(iter_title_basics(basics_gz), wanted=wanted)
    assert len(index) == 2
    assert [m.tconst for m in index.lookup(keys[0])] == ["tt0112682"]
    assert [m.tconst for m in index.lookup(keys[1])] == ["tt0114709"]
    assert index.lookup(normalize_title("Matrix, The (1999)")) == []


def test_build_types(basics_gz):
    index = TitleIndex.build(
        iter_title_basics(basics_gz), types=frozenset({"tvSeries"})
    )
    assert len(index) == 1
    assert [m.tconst for m in index.lookup(normalize_title("Matrix, The (1999)"))] == [
        "tt9000001"
    ]
    assert "tvSeries" not in MOVIE_TYPES
