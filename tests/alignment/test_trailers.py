"""The MovieLens-YouTube trailer file: each kind of real-world damage, and good lines."""

from __future__ import annotations

import io

import pytest

from timgen_data.alignment.trailers import (
    TrailerRejection,
    read_trailer_file,
    youtube_id_problem,
)
from timgen_data.errors import MalformedInputError

MOVIES = {
    "1": "Toy Story (1995)",
    "2": "Jumanji (1995)",
    "6": "Heat (1995)",
    "29": "City of Lost Children, The (Cité des enfants perdus, La) (1995)",
    "47": "Seven (a.k.a. Se7en) (1995)",
    "50": "Usual Suspects, The (1995)",
    "10": "GoldenEye (1995)",
}

# Line numbers: the header is line 1.
FILE = """youtubeId,movieId,title
K26_sDKnvMU,1,Toy Story (1995)
3LPANjHlPxo,2,Jumanji (1995)
3LPANjHlPxo,2,Jumanji (1995)
#NAME?,6,Heat (1995)
#VALUE!,6,Heat (1995)
=HYPERLINK(x),6,Heat (1995)
+AbCdEfGhIjK,6,Heat (1995)
@AbCdEfGhIjK,6,Heat (1995)
1.00E+10,6,Heat (1995)
-2.5E+08,6,Heat (1995)
short,6,Heat (1995)
-0ZeLIbz6qI,6,Heat (1995)
2GfZl4kuVNI,29,"Cité des enfants perdus, La (City of Lost Children, The) (1995)"
J4YV2_TcCoE,47,Se7en (1995)
aaaaaaaaaaa,50,Usual Suspects (1995)
bbbbbbbbbbb,50,The Usual Suspects (1990)
ccccccccccc,999,Unknown Movie (1999)
SHAREDid_01,1,Toy Story (1995)
SHAREDid_01,10,GoldenEye (1995)
dddddddddd_,10,"GoldenEye ""Special"" Edition, The (1995)"
eeeeeeeeeee,10
"""


def test_each_kind_of_damage_and_good_lines():
    result = read_trailer_file(io.StringIO(FILE), MOVIES)
    assert result.lines == 21
    assert result.links == [
        ("1", "K26_sDKnvMU"),
        ("2", "3LPANjHlPxo"),  # the identical line 4 collapses into this one, silently
        ("6", "-0ZeLIbz6qI"),  # real ids may start with "-"
        (
            "29",
            "2GfZl4kuVNI",
        ),  # title written the other way round: matches via the alternate
        ("47", "J4YV2_TcCoE"),  # the a.k.a. title
        ("50", "aaaaaaaaaaa"),  # article missing, still the same title
    ]
    assert result.rejected == [
        TrailerRejection(5, "#NAME?", "6", "spreadsheet-damaged id '#NAME?'"),
        TrailerRejection(6, "#VALUE!", "6", "spreadsheet-damaged id '#VALUE!'"),
        TrailerRejection(
            7,
            "=HYPERLINK(x)",
            "6",
            "spreadsheet-damaged id '=HYPERLINK(x)' (starts like a formula)",
        ),
        TrailerRejection(
            8,
            "+AbCdEfGhIjK",
            "6",
            "spreadsheet-damaged id '+AbCdEfGhIjK' (starts like a formula)",
        ),
        TrailerRejection(
            9,
            "@AbCdEfGhIjK",
            "6",
            "spreadsheet-damaged id '@AbCdEfGhIjK' (starts like a formula)",
        ),
        TrailerRejection(
            10,
            "1.00E+10",
            "6",
            "spreadsheet-damaged id '1.00E+10' (number in scientific notation)",
        ),
        TrailerRejection(
            11,
            "-2.5E+08",
            "6",
            "spreadsheet-damaged id '-2.5E+08' (number in scientific notation)",
        ),
        TrailerRejection(
            12,
            "short",
            "6",
            "not a YouTube id 'short' (expected 11 characters from A-Z a-z 0-9 _ -)",
        ),
        TrailerRejection(
            17,
            "bbbbbbbbbbb",
            "50",
            "title 'The Usual Suspects (1990)' does not match movie 50's title 'Usual Suspects, The (1995)'",
        ),
        TrailerRejection(18, "ccccccccccc", "999", "unknown movie '999'"),
        TrailerRejection(
            19,
            "SHAREDid_01",
            "1",
            "YouTube id 'SHAREDid_01' is also given for movie(s) 10",
        ),
        TrailerRejection(
            20,
            "SHAREDid_01",
            "10",
            "YouTube id 'SHAREDid_01' is also given for movie(s) 1",
        ),
        TrailerRejection(
            21,
            "dddddddddd_",
            "10",
            "title 'GoldenEye \"Special\" Edition, The (1995)' does not match movie 10's title 'GoldenEye (1995)'",
        ),
        TrailerRejection(22, "eeeeeeeeeee", "10", "expected 3 fields, found 2"),
    ]


def test_shared_id_rejects_every_line_even_when_one_title_is_wrong():
    text = "youtubeId,movieId,title\nXXXXXXXXXXX,1,Toy Story (1995)\nXXXXXXXXXXX,2,Toy Story (1995)\n"
    result = read_trailer_file(io.StringIO(text), MOVIES)
    assert result.links == []
    assert [(r.line, r.reason.split(" ")[0]) for r in result.rejected] == [
        (2, "YouTube"),
        (3, "title"),
    ]


def test_reads_a_path_with_bom_and_crlf(tmp_path):
    path = tmp_path / "ml-youtube.csv"
    path.write_bytes(
        "\ufeffyoutubeId,movieId,title\r\nK26_sDKnvMU,1,Toy Story (1995)\r\n\r\n".encode()
    )
    result = read_trailer_file(path, MOVIES)
    assert (result.links, result.rejected, result.lines) == (
        [("1", "K26_sDKnvMU")],
        [],
        1,
    )
    assert read_trailer_file(str(path), MOVIES).links == [("1", "K26_sDKnvMU")]


@pytest.mark.parametrize(
    "text", ["", "movieId,youtubeId,title\n", "youtubeId,movieId\n"]
)
def test_wrong_header_raises_with_the_expected_one(text):
    with pytest.raises(MalformedInputError, match="youtubeId,movieId,title"):
        read_trailer_file(io.StringIO(text), MOVIES)


@pytest.mark.parametrize("good", ["K26_sDKnvMU", "-0ZeLIbz6qI", "_abc-DEF123"])
def test_good_ids(good):
    assert youtube_id_problem(good) is None


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "#N/A",
        "#REF!",
        "=1+1",
        "1,23E+10",
        "K26_sDKnvM",
        "K26_sDKnvMUx",
        "K26 sDKnvMU",
    ],
)
def test_bad_ids(bad):
    assert youtube_id_problem(bad) is not None
