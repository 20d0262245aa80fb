-- File lifecycle: image metadata (size and preview keys, JSON), when a file was first saved
-- into a record ("attachedAt"; uploads never attached are collected after a while), when the
-- record holding it was deleted ("deletedAt"; the bytes are kept for a grace period), and when
-- its bytes were removed ("purgedAt").
ALTER TABLE files ADD COLUMN metadata TEXT;
ALTER TABLE files ADD COLUMN "attachedAt" TEXT;
ALTER TABLE files ADD COLUMN "deletedAt" TEXT;
ALTER TABLE files ADD COLUMN "purgedAt" TEXT;
-- Files that already belong to a record, and external links, count as attached.
UPDATE files SET "attachedAt" = "createdAt" WHERE "recordDbId" IS NOT NULL OR url IS NOT NULL;
CREATE INDEX files_record ON files ("catalogDbId", "recordDbId");
CREATE INDEX files_unattached ON files ("createdAt") WHERE "attachedAt" IS NULL;
CREATE INDEX files_deleted ON files ("deletedAt") WHERE "deletedAt" IS NOT NULL AND "purgedAt" IS NULL;
