-- After-events that scenario subscriptions wait for (spec 03 §3.2), written in the same
-- transaction as the record change they report, so that a change committed just before a
-- crash still starts its scenarios after the restart. A row is deleted once every run it
-- started has recorded itself (its process record or its saved state).
CREATE TABLE automation_events (
    id BIGSERIAL PRIMARY KEY,
    event TEXT NOT NULL,
    "createdMs" BIGINT NOT NULL
);
