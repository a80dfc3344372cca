"""YouTube: video metadata, categories, thumbnails and timestamped comments through the
YouTube Data API v3 (google-api-python-client), and planned video/audio media (``youtube:<id>``
assets that ``align assets`` fetches through yt-dlp)."""

from timgen_data.collectors.youtube.api import COSTS, YouTubeApi
from timgen_data.collectors.youtube.collector import (
    COLLECTOR,
    LICENSE,
    MEDIA_MODALITIES,
    collect_youtube,
    raw_path,
    request_from_file,
)
from timgen_data.collectors.youtube.credentials import API_KEY_ENV, resolve_api_key
from timgen_data.collectors.youtube.quota import DEFAULT_DAILY_QUOTA, QuotaLedger
from timgen_data.collectors.youtube.report import YouTubeReport
from timgen_data.collectors.youtube.request import MODES, YouTubeRequest

__all__ = [
    "API_KEY_ENV", "COLLECTOR", "COSTS", "DEFAULT_DAILY_QUOTA", "LICENSE", "MEDIA_MODALITIES", "MODES",
    "QuotaLedger", "YouTubeApi", "YouTubeReport", "YouTubeRequest", "collect_youtube", "raw_path",
    "request_from_file", "resolve_api_key",
]
