"""Names and defaults shared by the IMDb dumps collector and the IMDb crawl."""

from __future__ import annotations

from timgen_data.downloads.download import user_agent
from timgen_data.sources import SOURCES

COLLECTOR = "imdb"
NAMESPACE = "imdb"
DUMPS = ("title.basics", "title.ratings")
DUMPS_URL = "https://datasets.imdbws.com"
SITE_URL = "https://www.imdb.com"
# title.basics types kept by default: feature-length and short films, not episodes or series.
DEFAULT_TITLE_TYPES = ("movie", "tvMovie", "short", "video", "tvSpecial")
DUMPS_LICENSE = SOURCES[COLLECTOR].license
# The line the crawl's child process prints on stdout for each finished title (progress).
DONE_LINE = "title-done"
PAGES_LICENSE = SOURCES[COLLECTOR].license_of("pages")


def default_user_agent() -> str:
    """The crawl's User-Agent: who is asking and why, as polite crawlers say."""
    return f"{user_agent()} (+research dataset builder)"
