-- Webhook deliveries: the durable outbox. A notification is written here (its payload in
-- webhook_payloads, which never changes, so that state updates rewrite small rows only) in
-- the same transaction as the record change it reports. The dispatcher numbers pending ones
-- per hook when it first takes them ("seq", from the hook's $sequenceId; the message is
-- rebuilt from these columns byte for byte on every try), sends them in order and records
-- every try in webhook_attempts. Requests and actions, which are sent at once, are logged
-- here too (kind 'request' / 'action'). Times are Unix milliseconds.
CREATE TABLE webhook_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    "hookId" INTEGER NOT NULL,
    seq INTEGER,
    kind TEXT NOT NULL,
    event TEXT NOT NULL,
    "catalogDbId" INTEGER,
    "recordDbId" INTEGER,
    "userId" TEXT,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    "createdAt" INTEGER NOT NULL,
    "nextAt" INTEGER NOT NULL,
    "doneAt" INTEGER,
    "lastStatus" INTEGER,
    "lastError" TEXT,
    "resendOf" INTEGER
);
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries ("hookId", id) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_log ON webhook_deliveries ("hookId", id);
CREATE INDEX webhook_deliveries_done ON webhook_deliveries ("doneAt") WHERE state <> 'pending';
CREATE TABLE webhook_payloads (
    "deliveryId" INTEGER PRIMARY KEY,
    payload TEXT NOT NULL
);
CREATE TABLE webhook_attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    "deliveryId" INTEGER NOT NULL,
    at INTEGER NOT NULL,
    status INTEGER,
    "latencyMs" INTEGER NOT NULL,
    error TEXT,
    response TEXT
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts ("deliveryId", id);
