"""What a collection did: records read, written, skipped and rejected (with reasons)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Enough rejections to see a pattern without an unbounded list on a badly broken file.
MAX_KEPT_REJECTIONS = 200


@dataclass(frozen=True)
class Rejection:
    """One input record that could not be used, with where it was and why."""

    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


@dataclass
class Rejections:
    """Counts every rejection, keeps the first ``MAX_KEPT_REJECTIONS`` for the report."""

    count: int = 0
    kept: list[Rejection] = field(default_factory=list)

    def add(self, rejection: Rejection) -> None:
        self.count += 1
        if len(self.kept) < MAX_KEPT_REJECTIONS:
            self.kept.append(rejection)

    def extend(self, other: "Rejections") -> None:
        self.count += other.count
        self.kept.extend(other.kept[: max(0, MAX_KEPT_REJECTIONS - len(self.kept))])


@dataclass
class CollectReport:
    """The outcome of one ``collect`` run."""

    collector: str
    variant: str
    namespace: str
    archive: str
    sha256: str
    md5: str | None = None
    md5_verified: bool = False
    read: dict[str, int] = field(default_factory=dict)
    written: dict[str, int] = field(default_factory=dict)
    stored: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    rejections: Rejections = field(default_factory=Rejections)
    resumed_from: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "collector": self.collector,
            "variant": self.variant,
            "namespace": self.namespace,
            "archive": self.archive,
            "sha256": self.sha256,
            "md5": self.md5,
            "md5_verified": self.md5_verified,
            "read": self.read,
            "written": self.written,
            "stored": self.stored,
            "skipped": self.skipped,
            "rejected": self.rejections.count,
            "rejections": [str(r) for r in self.rejections.kept],
            "resumed_from": self.resumed_from,
        }
