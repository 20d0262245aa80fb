-- Kartoteka system tables, SQLite. Never edit a shipped migration: add a new file.
-- Names follow the Bpium 2.0 physical layout (spec 02 §2): a column holding an internal
-- integer key is named ...DbId; a column named id holds a public id.

CREATE TABLE _sequences (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
-- System sections take 1..2 and system catalogs 1..99; user objects start above them.
INSERT INTO _sequences (name, value) VALUES ('sections', 2), ('catalogs', 99), ('fields', 99);

CREATE TABLE sections_data (
    "dbId" INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    icon TEXT NOT NULL DEFAULT '',
    priority INTEGER NOT NULL DEFAULT 0,
    "isSystem" INTEGER NOT NULL DEFAULT 0,
    deleted INTEGER NOT NULL DEFAULT 0,
    "createdAt" TEXT NOT NULL
);

CREATE TABLE catalogs_data (
    "dbId" INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    "sectionDbId" INTEGER NOT NULL REFERENCES sections_data("dbId"),
    name TEXT NOT NULL,
    icon TEXT NOT NULL DEFAULT '',
    history INTEGER NOT NULL DEFAULT 1,
    priority INTEGER NOT NULL DEFAULT 0,
    "isSystem" INTEGER NOT NULL DEFAULT 0,
    deleted INTEGER NOT NULL DEFAULT 0,
    "nextFieldId" INTEGER NOT NULL DEFAULT 1,
    "createdAt" TEXT NOT NULL
);
CREATE INDEX catalogs_data_section ON catalogs_data ("sectionDbId", priority);

-- Record titles, kept after deletion so links to deleted records still render (spec 01 §2.4).
CREATE TABLE titles (
    "catalogDbId" INTEGER NOT NULL,
    "recordDbId" INTEGER NOT NULL,
    id TEXT,
    title TEXT NOT NULL DEFAULT '',
    deleted INTEGER NOT NULL DEFAULT 0,
    "lastMessageDbId" INTEGER,
    PRIMARY KEY ("catalogDbId", "recordDbId")
);

CREATE TABLE history (
    "dbId" INTEGER PRIMARY KEY AUTOINCREMENT,
    "catalogDbId" INTEGER NOT NULL,
    "recordDbId" INTEGER NOT NULL,
    "userDbId" INTEGER,
    "actionType" TEXT NOT NULL,
    date TEXT NOT NULL,
    payload TEXT NOT NULL
);
CREATE INDEX history_record ON history ("catalogDbId", "recordDbId", "dbId");

CREATE TABLE files (
    "dbId" INTEGER PRIMARY KEY AUTOINCREMENT,
    "catalogDbId" INTEGER,
    "recordDbId" INTEGER,
    "fieldDbId" INTEGER,
    title TEXT NOT NULL,
    size INTEGER,
    "mimeType" TEXT,
    url TEXT,
    "storageKey" TEXT,
    "createdBy" INTEGER,
    "createdAt" TEXT NOT NULL
);

CREATE TABLE sessions (
    "tokenHash" TEXT PRIMARY KEY,
    "userDbId" INTEGER NOT NULL,
    "createdAt" TEXT NOT NULL,
    "expiresAt" TEXT NOT NULL
);
CREATE INDEX sessions_user ON sessions ("userDbId");
