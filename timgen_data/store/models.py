"""SQLAlchemy tables mirroring ``schema.sql`` column for column.

``schema.sql`` is canonical and is what creates a store; these tables exist so queries
are written in Python. ``tests/store/test_schema_drift.py`` fails if the two differ.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
)

SCHEMA_VERSION = 4
# Statements that take a store from version N to N + 1 (valid on SQLite and PostgreSQL).
UPGRADES: dict[int, tuple[str, ...]] = {
    1: ("ALTER TABLE interactions ADD COLUMN text TEXT",),  # the review, comment or post itself
    2: ("ALTER TABLE interactions ADD COLUMN attributes TEXT",),  # what a source says of one interaction
    3: ("ALTER TABLE interactions ADD COLUMN utc_offset INTEGER",),  # the local clock's offset, in minutes
}

metadata = MetaData()

# Float(53) is DOUBLE PRECISION on PostgreSQL (plain Float would be REAL, 4 bytes).
Double = Float(precision=53)

schema_version = Table(
    "schema_version",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("applied_at", BigInteger, nullable=False),
)

sources = Table(
    "sources",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("collector", Text, nullable=False),
    Column("variant", Text, nullable=False),
    Column("namespace", Text, nullable=False),
    Column("url", Text),
    Column("sha256", Text, nullable=False),
    Column("md5", Text),
    Column("license", Text),
    Column("started_at", BigInteger, nullable=False),
    Column("finished_at", BigInteger),
    Column("status", Text, nullable=False),
    Column("counts", Text, nullable=False),
    UniqueConstraint("collector", "variant", "sha256"),
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("source", Text, nullable=False),
    Column("external_id", Text, nullable=False),
    Column("attributes", Text, nullable=False),
    UniqueConstraint("source", "external_id"),
)

items = Table(
    "items",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("source", Text, nullable=False),
    Column("external_id", Text, nullable=False),
    Column("title", Text),
    Column("text", Text),
    Column("year", Integer),
    Column("category", Text),
    Column("categories", Text, nullable=False),
    Column("attributes", Text, nullable=False),
    UniqueConstraint("source", "external_id"),
)

item_links = Table(
    "item_links",
    metadata,
    Column("item_id", Integer, ForeignKey("items.id"), nullable=False),
    Column("target_source", Text, nullable=False),
    Column("target_external_id", Text, nullable=False),
    Column("method", Text, nullable=False),
    Column("confidence", Double, nullable=False),
    PrimaryKeyConstraint("item_id", "target_source", "target_external_id"),
)

interactions = Table(
    "interactions",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("item_id", Integer, ForeignKey("items.id"), nullable=False),
    Column("ts", BigInteger, nullable=False),
    Column("action", Text, nullable=False),
    Column("value", Double),
    Column("duration", Double),
    Column("device", Text),
    Column("platform", Text),
    Column("geo", Text),
    Column("text", Text),
    Column("source_id", Integer, ForeignKey("sources.id")),
    Column("attributes", Text),
    Column("utc_offset", Integer),
    UniqueConstraint("user_id", "item_id", "ts", "action"),
    Index("interactions_item", "item_id"),
)

assets = Table(
    "assets",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("item_id", Integer, ForeignKey("items.id"), nullable=False),
    Column("modality", Text, nullable=False),
    Column("uri", Text, nullable=False),
    Column("local_path", Text),
    Column("sha256", Text),
    Column("mime", Text),
    Column("bytes", BigInteger),
    Column("width", Integer),
    Column("height", Integer),
    Column("duration", Double),
    Column("status", Text, nullable=False),
    Column("error", Text),
    Column("updated_at", BigInteger, nullable=False),
    UniqueConstraint("item_id", "modality", "uri"),
)

features = Table(
    "features",
    metadata,
    Column("asset_id", Integer, ForeignKey("assets.id"), nullable=False),
    Column("encoder", Text, nullable=False),
    Column("dim", Integer, nullable=False),
    Column("vector", LargeBinary, nullable=False),
    PrimaryKeyConstraint("asset_id", "encoder"),
)

labels = Table(
    "labels",
    metadata,
    Column("interaction_id", BigInteger, ForeignKey("interactions.id"), nullable=False),
    Column("scenario", Text, nullable=False),
    Column("score", Double),
    Column("class", Text),
    PrimaryKeyConstraint("interaction_id", "scenario"),
)

collection_state = Table(
    "collection_state",
    metadata,
    Column("collector", Text, nullable=False),
    Column("key", Text, nullable=False),
    Column("cursor", Text, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    PrimaryKeyConstraint("collector", "key"),
)

# Tables whose integer ``id`` is a surrogate key the database assigns.
SURROGATE_KEY_TABLES = ("sources", "users", "items", "interactions", "assets")
# Interactions are the one table that can outgrow 2**31 rows (a platform's logs); SQLite's
# INTEGER PRIMARY KEY is 64-bit already, PostgreSQL's INTEGER is not, so it is widened there.
WIDE_KEYS = (("interactions", "id"), ("labels", "interaction_id"))
