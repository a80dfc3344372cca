"""X (Twitter) API v2: posts, media, public metrics, author timelines and likers.

``collect_twitter`` runs a recent-search query or reads user timelines into the store;
``replay_twitter`` stores a raw file saved by live runs (``--load``). The package splits
into fetch (``client``), parse (``parse``, pure) and save (``save``), with ``process``
applying one response and ``cursor`` saying where each query or user stands.
"""

from timgen_data.collectors.twitter.client import XClient
from timgen_data.collectors.twitter.collector import collect_twitter, raw_path, replay_twitter
from timgen_data.collectors.twitter.credentials import TOKEN_ENV, bearer_token
from timgen_data.collectors.twitter.parse import (
    Action,
    MediaAsset,
    TweetPage,
    best_mp4,
    parse_liking_users,
    parse_tweet_page,
    parse_user_lookup,
)
from timgen_data.collectors.twitter.process import XReport
from timgen_data.collectors.twitter.raw import RawResponse
from timgen_data.collectors.twitter.spec import DEFAULT_BASE_URL, LICENSE, NAMESPACE, XRequest

__all__ = [
    "DEFAULT_BASE_URL",
    "LICENSE",
    "NAMESPACE",
    "TOKEN_ENV",
    "Action",
    "MediaAsset",
    "RawResponse",
    "TweetPage",
    "XClient",
    "XReport",
    "XRequest",
    "bearer_token",
    "best_mp4",
    "collect_twitter",
    "parse_liking_users",
    "parse_tweet_page",
    "parse_user_lookup",
    "raw_path",
    "replay_twitter",
]
