-- Scenario runs in progress (spec 03 §4.4): the engine's state (tokens, variables, timers,
-- step number) saved after every step, so that a run survives a restart: "process" is the
-- public id of its $processes record, "launch" 'sync' or 'async', "depth" the causation
-- depth it runs at, "wakeAt" the time (ms) a run waiting on a timer continues, NULL when it
-- is due now.
CREATE TABLE process_runs (
    process TEXT PRIMARY KEY,
    script TEXT NOT NULL,
    launch TEXT NOT NULL,
    depth INTEGER NOT NULL,
    state TEXT NOT NULL,
    "wakeAt" INTEGER,
    "startedMs" INTEGER NOT NULL
);
