"""What one ``collect youtube`` run asks for, and the key that identifies it.

The same request (same videos, query, channel or playlist, same options that change
what is stored) always gets the same run key, so a re-run finds its cursor, its
``sources`` row and its raw-response file again.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from timgen_data.collectors.youtube.parse import is_video_id
from timgen_data.errors import UsageError

MODES = ("videos", "search", "channel", "playlist")
PAGE_SIZE = 50  # the API's maximum maxResults for videos, search and playlistItems
COMMENT_PAGE_SIZE = 100  # and for commentThreads
MAX_RESULTS_LIMIT = 5_000


@dataclass(frozen=True)
class YouTubeRequest:
    """``mode`` picks what ``target`` is: video ids (a tuple), a search query, a channel
    id (or ``@handle``) or a playlist id. ``max_results`` bounds search, channel and
    playlist listings; ``max_comment_pages`` bounds the comment pages read per video, and
    the reply pages read per thread."""

    mode: str
    target: str | tuple[str, ...]
    comments: bool = False
    max_results: int = 50
    max_comment_pages: int = 20

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise UsageError(f"unknown YouTube request {self.mode!r}; use one of {', '.join(MODES)}")
        if self.mode == "videos":
            ids = (self.target,) if isinstance(self.target, str) else tuple(self.target)
            ids = tuple(dict.fromkeys(i.strip() for i in ids if i and i.strip()))
            bad = [i for i in ids if not is_video_id(i)]
            if bad or not ids:
                raise UsageError(
                    f"not YouTube video ids: {', '.join(bad) or '(none given)'}; give 11-character ids "
                    "such as dQw4w9WgXcQ, separated by commas"
                )
            object.__setattr__(self, "target", ids)
        elif not isinstance(self.target, str) or not self.target.strip():
            raise UsageError(f"--{self.mode} needs a non-empty value")
        else:
            object.__setattr__(self, "target", self.target.strip())
        if not 1 <= self.max_results <= MAX_RESULTS_LIMIT:
            raise UsageError(f"--max-results must be between 1 and {MAX_RESULTS_LIMIT}")
        if self.max_comment_pages < 1:
            raise UsageError("--max-comment-pages must be at least 1")

    def spec(self) -> dict[str, Any]:
        """The canonical description of the request (what the run key is made of)."""
        spec: dict[str, Any] = {"mode": self.mode, "comments": self.comments}
        if self.mode == "videos":
            spec["ids"] = list(self.target)
        else:
            spec["target"] = self.target
            spec["max_results"] = self.max_results
        if self.comments:
            spec["max_comment_pages"] = self.max_comment_pages
        return spec

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> YouTubeRequest:
        try:
            mode = spec["mode"]
            target = tuple(spec["ids"]) if mode == "videos" else spec["target"]
            return cls(mode, target, comments=bool(spec.get("comments")),
                       max_results=int(spec.get("max_results", 50)),
                       max_comment_pages=int(spec.get("max_comment_pages", 20)))
        except (KeyError, TypeError, ValueError) as exc:
            raise UsageError(f"not a YouTube request description: {spec!r}") from exc

    @property
    def sha256(self) -> str:
        canonical = json.dumps(self.spec(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    @property
    def run_key(self) -> str:
        """Short and readable: names the raw-response file and the cursor."""
        return f"{self.mode}-{self.sha256[:16]}"
