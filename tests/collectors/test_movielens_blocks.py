"""Rating files read in blocks of whole lines give what one read of the whole file gives:
the same ratings in the same order and the same rejections with the same line numbers,
whatever the block size (down to one byte, so ``::`` and every line fall across block
ends), for clean files, files with bad lines, and files whose ids only the line-by-line
reader would trim."""

from __future__ import annotations

from pathlib import Path

import pytest

from timgen_data.collectors.line_blocks import read_line_blocks
from timgen_data.collectors.movielens.ratings import check_ratings, parse_ratings, read_ratings
from timgen_data.errors import MalformedInputError

WHOLE = 1 << 30  # one block: the file read at once, as it was before ratings were streamed
SMALL_BLOCKS = (1, 2, 3, 7, 13, 64)

CLEAN_DAT = b"".join(b"%d::%d::%d::97830%04d\n" % (u, i, (u + i) % 5 + 1, u * 10 + i)
                     for u in range(1, 6) for i in range(1, 8))
BAD_DAT = (b"1::1::5::978300760\n"
           b"1::2::oops::978300761\n"          # not a number
           b"\n"                               # blank: no rating, no rejection
           b"2::1::4\n"                        # three fields
           b" 2 :: 3 ::4::978300762\n"         # ids the line-by-line reader trims
           b"2::2::9::978300763\n"             # out of range
           b"1\xff::2::4::978300764\n"         # a user id that is not UTF-8
           b"3:::4::4::978300765\n"            # ":::" is a tab and a colon: item ":4"
           b"   ::4::4::978300766\n"           # a blank user id
           b"3::4::4.5::978300767\r\n"         # CRLF
           b"4::5::0.5::978300768")            # no newline at the end
CSV = (b"userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,3,4.0,964981247\n\n"
       b"2,3,x,964982224\n2,47, 5.0 ,964983815\n3,50,5.0,964982931\r\n")


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def read_whole_and_in_blocks(path: Path, block_bytes: int):
    whole, whole_rejections = parse_ratings(path, block_bytes=WHOLE)
    blocks, block_rejections = parse_ratings(path, block_bytes=block_bytes)
    return (whole, [str(r) for r in whole_rejections.kept]), (blocks, [str(r) for r in block_rejections.kept])


@pytest.mark.parametrize("block_bytes", SMALL_BLOCKS)
@pytest.mark.parametrize("name, data", [
    ("ratings.dat", CLEAN_DAT), ("ratings.dat", BAD_DAT), ("ratings.csv", CSV),
    ("u.data", b"1\t1\t5\t874965758\n 1\t2\t3\t876893171\n2\t1\t4\t878542960\n"),
    ("ratings.dat", CLEAN_DAT + b"9::9::oops::978300760\n"),  # the only bad line is the last
    ("ratings.dat", b" 7::1::5::978300760\n" + CLEAN_DAT + b"9::9::oops::978300760\n"),  # trimmed id, then a bad line
])
def test_blocks_read_what_the_whole_file_reads(tmp_path, name, data, block_bytes):
    path = write(tmp_path, name, data)

    whole, blocks = read_whole_and_in_blocks(path, block_bytes)

    assert blocks[0].equals(whole[0]) and blocks[1] == whole[1]


def test_bad_lines_are_named_with_their_numbers_across_block_ends(tmp_path):
    path = write(tmp_path, "ratings.dat", BAD_DAT)

    check = check_ratings(path, block_bytes=7)
    table, _ = parse_ratings(path, block_bytes=7)

    assert [str(r) for r in check.rejections.kept] == [
        "ratings.dat:2: rating 'oops' is not a number",
        "ratings.dat:4: expected 4 fields, found 3",
        "ratings.dat:6: rating 9.0 outside 0.5–5.0",
        "ratings.dat:7: the user id holds bytes that are not UTF-8 (0xff); fix the file or fetch the release again",
        "ratings.dat:9: empty user or item id",
    ]
    assert check.careful and check.rows == table.num_rows == 5
    assert table["user"].to_pylist() == ["1", "2", "3", "3", "4"]  # " 2 " trimmed, as the line-by-line reader does
    assert list(check.users) == ["1", "2", "3", "4"] and list(check.items) == ["1", "3", ":4", "4", "5"]


def test_a_clean_file_keeps_ids_as_written_in_every_block(tmp_path):
    # Without a bad line the columnar reading holds for the whole file: " 2" stays " 2".
    path = write(tmp_path, "ratings.dat", b"1::1::5::978300760\n 2::1::4::978300761\n" + CLEAN_DAT)

    check = check_ratings(path, block_bytes=3)

    assert not check.careful and check.rejections.count == 0
    assert list(check.users)[:3] == ["1", " 2", "2"]


def test_strict_stops_at_the_first_bad_line_whatever_the_blocks(tmp_path):
    path = write(tmp_path, "ratings.dat", BAD_DAT)
    for block_bytes in (WHOLE, 5):
        with pytest.raises(MalformedInputError, match=r"^ratings.dat:2: rating 'oops'"):
            check_ratings(path, strict=True, block_bytes=block_bytes)


@pytest.mark.parametrize("data", [b"", b"\n\n", b"1::1::oops::978300760\n2::1::4\n"])
def test_a_file_without_ratings_is_unusable_whatever_the_blocks(tmp_path, data):
    path = write(tmp_path, "ratings.dat", data)
    for block_bytes in (WHOLE, 3):
        with pytest.raises(MalformedInputError, match="is unusable"):
            check_ratings(path, block_bytes=block_bytes)


def test_a_file_that_changed_between_the_two_readings_is_an_error(tmp_path):
    path = write(tmp_path, "ratings.dat", CLEAN_DAT)
    check = check_ratings(path)
    path.write_bytes(CLEAN_DAT + b"1::1::oops::1\n")

    with pytest.raises(MalformedInputError, match="changed while it was read"):
        list(read_ratings(path, careful=check.careful))


@pytest.mark.parametrize("block_bytes", [1, 2, 5, 16, 1 << 20])
def test_line_blocks_hold_whole_lines_with_their_numbers(tmp_path, block_bytes):
    data = b"a::b\n\nccc:::d\r\n" + b"x" * 40 + b"\nlast"
    path = write(tmp_path, "f.dat", data)

    blocks = list(read_line_blocks(path, block_bytes=block_bytes))

    assert b"".join(b.data for b in blocks) == data
    assert all(b.data.endswith(b"\n") for b in blocks[:-1])
    before = [b"".join(b.data for b in blocks[:k]) for k in range(len(blocks))]
    assert [b.first_line for b in blocks] == [1 + text.count(b"\n") for text in before]
    numbered = [(b.first_line + k, line) for b in blocks for k, line in enumerate(b.data.split(b"\n")[:-1])]
    assert numbered == list(enumerate(data.split(b"\n")[:-1], start=1))


def test_a_line_too_long_to_hold_is_passed_over_and_counted(tmp_path):
    path = write(tmp_path, "f.dat", b"1::1\n" + b"9" * 100 + b"\n2::2\n3::3")

    blocks = list(read_line_blocks(path, block_bytes=8, max_line_bytes=20))

    assert [(b.first_line, b.data) for b in blocks] == [(1, b"1::1\n"), (2, None), (3, b"2::2\n"), (4, b"3::3")]
