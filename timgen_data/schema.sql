-- timgen-data relational store, schema version 3.
--
-- The canonical schema: it runs unchanged on SQLite and PostgreSQL. Timestamps are UTC
-- epoch seconds; JSON columns hold UTF-8 JSON text; ids from sources stay as text
-- external_id next to an integer surrogate key. On PostgreSQL the store additionally
-- makes each surrogate key an identity column (SQLite's INTEGER PRIMARY KEY already
-- assigns one), because no identity syntax is shared by both dialects.

CREATE TABLE IF NOT EXISTS schema_version (
    version     INTEGER PRIMARY KEY,
    applied_at  BIGINT  NOT NULL
);

-- One row per collected archive or collection run; re-collecting the same archive
-- updates its row rather than adding another.
CREATE TABLE IF NOT EXISTS sources (
    id           INTEGER PRIMARY KEY,
    collector    TEXT    NOT NULL,
    variant      TEXT    NOT NULL,
    namespace    TEXT    NOT NULL,
    url          TEXT,
    sha256       TEXT    NOT NULL,
    md5          TEXT,
    license      TEXT,
    started_at   BIGINT  NOT NULL,
    finished_at  BIGINT,
    status       TEXT    NOT NULL,
    counts       TEXT    NOT NULL,
    UNIQUE (collector, variant, sha256)
);

CREATE TABLE IF NOT EXISTS users (
    id           INTEGER PRIMARY KEY,
    source       TEXT    NOT NULL,
    external_id  TEXT    NOT NULL,
    attributes   TEXT    NOT NULL,
    UNIQUE (source, external_id)
);

CREATE TABLE IF NOT EXISTS items (
    id           INTEGER PRIMARY KEY,
    source       TEXT    NOT NULL,
    external_id  TEXT    NOT NULL,
    title        TEXT,
    text         TEXT,
    year         INTEGER,
    category     TEXT,
    categories   TEXT    NOT NULL,
    attributes   TEXT    NOT NULL,
    UNIQUE (source, external_id)
);

-- The same entity in another source; the target need not be collected yet.
CREATE TABLE IF NOT EXISTS item_links (
    item_id             INTEGER NOT NULL REFERENCES items (id),
    target_source       TEXT    NOT NULL,
    target_external_id  TEXT    NOT NULL,
    method              TEXT    NOT NULL,
    confidence          DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (item_id, target_source, target_external_id)
);

-- On PostgreSQL the store widens interactions.id and labels.interaction_id to BIGINT after
-- running this file (SQLite's INTEGER PRIMARY KEY is 64-bit already and must stay INTEGER).
CREATE TABLE IF NOT EXISTS interactions (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id),
    item_id    INTEGER NOT NULL REFERENCES items (id),
    ts         BIGINT  NOT NULL,
    action     TEXT    NOT NULL,
    value      DOUBLE PRECISION,
    duration   DOUBLE PRECISION,
    device     TEXT,
    platform   TEXT,
    geo        TEXT,
    text       TEXT,
    source_id  INTEGER REFERENCES sources (id),
    -- What a source says of this one interaction and no column holds (a review's helpful
    -- votes, the variant bought): a JSON object, or NULL where there is nothing.
    attributes TEXT,
    -- Minutes the user's local clock was ahead of UTC, where the source says (a zone or an
    -- offset in the time's text); NULL: unknown, read as UTC.
    utc_offset INTEGER,
    UNIQUE (user_id, item_id, ts, action)
);
CREATE INDEX IF NOT EXISTS interactions_item ON interactions (item_id);

CREATE TABLE IF NOT EXISTS assets (
    id          INTEGER PRIMARY KEY,
    item_id     INTEGER NOT NULL REFERENCES items (id),
    modality    TEXT    NOT NULL,
    uri         TEXT    NOT NULL,
    local_path  TEXT,
    sha256      TEXT,
    mime        TEXT,
    bytes       BIGINT,
    width       INTEGER,
    height      INTEGER,
    duration    DOUBLE PRECISION,
    status      TEXT    NOT NULL,
    error       TEXT,
    updated_at  BIGINT  NOT NULL,
    UNIQUE (item_id, modality, uri)
);

-- BYTEA: PostgreSQL's binary type; SQLite stores the blob unchanged under this name.
CREATE TABLE IF NOT EXISTS features (
    asset_id  INTEGER NOT NULL REFERENCES assets (id),
    encoder   TEXT    NOT NULL,
    dim       INTEGER NOT NULL,
    vector    BYTEA   NOT NULL,
    PRIMARY KEY (asset_id, encoder)
);

CREATE TABLE IF NOT EXISTS labels (
    interaction_id  INTEGER NOT NULL REFERENCES interactions (id),
    scenario        TEXT    NOT NULL,
    score           DOUBLE PRECISION,
    class           TEXT,
    PRIMARY KEY (interaction_id, scenario)
);

CREATE TABLE IF NOT EXISTS collection_state (
    collector   TEXT   NOT NULL,
    key         TEXT   NOT NULL,
    cursor      TEXT   NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (collector, key)
);
