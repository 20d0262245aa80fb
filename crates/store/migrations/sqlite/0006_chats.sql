-- Record chats: messages are records of $messages (catalog 13), found by the record they are
-- about; each employee's subscription and read position per record chat.
CREATE INDEX catalog_13_data_chat ON catalog_13_data ("catalogDbId", "recordDbId");
CREATE TABLE chat_state (
    "userDbId" INTEGER NOT NULL,
    "catalogDbId" INTEGER NOT NULL,
    "recordDbId" INTEGER NOT NULL,
    subscribed INTEGER NOT NULL DEFAULT 0,
    "lastReadDbId" INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY ("userDbId", "catalogDbId", "recordDbId")
);
