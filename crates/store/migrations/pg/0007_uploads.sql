-- Uploaded files: the bytes live in file storage under "storageKey"; "uploaded" turns true once
-- they arrived. Server secrets (upload policies, download links) are kept here, created once.
ALTER TABLE files ADD COLUMN uploaded BOOLEAN NOT NULL DEFAULT FALSE;
CREATE TABLE _secrets (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
