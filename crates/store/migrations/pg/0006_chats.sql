-- Record chats: messages are records of $messages (catalog 13), found by the record they are
-- about; each employee's subscription and read position per record chat.
CREATE INDEX catalog_13_data_chat ON catalog_13_data ("catalogDbId", "recordDbId");
CREATE TABLE chat_state (
    "userDbId" BIGINT NOT NULL,
    "catalogDbId" BIGINT NOT NULL,
    "recordDbId" BIGINT NOT NULL,
    subscribed BOOLEAN NOT NULL DEFAULT FALSE,
    "lastReadDbId" BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY ("userDbId", "catalogDbId", "recordDbId")
);
