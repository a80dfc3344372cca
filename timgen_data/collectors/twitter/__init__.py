"""X (Twitter) API v2: posts, media, public metrics, author timelines and likers.

``collect_twitter`` runs a recent-search query or reads user timelines into the store, or
with ``load`` stores a raw file saved by live runs (``--load``). The raw log, replay,
credentials, cursors and report are the shared API runner's (``collectors.api``); this
package is X's request plan (``collector``), its HTTP client with X's rate limits
(``client``), parse (``parse``, pure) and save (``save``), with ``process`` applying one
response and ``cursor`` saying where each query or user stands.
"""

from timgen_data.collectors.twitter.client import XClient
from timgen_data.collectors.twitter.collector import collect_twitter, raw_path
from timgen_data.collectors.twitter.parse import (
    Action,
    MediaAsset,
    TweetPage,
    best_mp4,
    parse_liking_users,
    parse_tweet_page,
    parse_user_lookup,
)
from timgen_data.collectors.twitter.process import XReport, XSource
from timgen_data.collectors.twitter.spec import DEFAULT_BASE_URL, LICENSE, NAMESPACE, TOKEN, TOKEN_ENV, XRequest

__all__ = [
    "DEFAULT_BASE_URL",
    "LICENSE",
    "NAMESPACE",
    "TOKEN",
    "TOKEN_ENV",
    "Action",
    "MediaAsset",
    "TweetPage",
    "XClient",
    "XReport",
    "XRequest",
    "XSource",
    "best_mp4",
    "collect_twitter",
    "parse_liking_users",
    "parse_tweet_page",
    "parse_user_lookup",
    "raw_path",
]
