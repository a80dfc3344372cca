"""Amazon Reviews (2023 and 2018 releases): per-category reviews and item metadata."""

from timgen_data.collectors.amazon.collector import CHUNK_LINES, collect_amazon
from timgen_data.collectors.amazon.lines import decode_line, read_lines
from timgen_data.collectors.amazon.parse import Meta, Review, parse_meta, parse_review
from timgen_data.collectors.amazon.releases import RELEASES, Release, get_release

__all__ = [
    "CHUNK_LINES",
    "RELEASES",
    "Meta",
    "Release",
    "Review",
    "collect_amazon",
    "decode_line",
    "get_release",
    "parse_meta",
    "parse_review",
    "read_lines",
]
