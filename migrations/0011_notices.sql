-- Operational notices (ADR 0016): the state of the `notices` subscription, written in
-- the same transaction as its checkpoint, so it is exactly what the events up to the
-- checkpoint make it. Not read models: no rebuild touches them.

-- Dead letters waiting for their window to close: one row per endpoint and window,
-- with the count so far and the first ten (the notice's `first`).
CREATE TABLE notice_windows
(
    endpoint_id    bigint      NOT NULL,
    window_start   timestamptz NOT NULL,
    dead_lettered  integer     NOT NULL CHECK (dead_lettered > 0),
    first          jsonb       NOT NULL,
    -- The first dead letter's event: the notice's `cause`.
    cause          jsonb       NOT NULL,
    PRIMARY KEY (endpoint_id, window_start)
);

-- Each endpoint's run of failed attempts, as the log tells it, and whether its
-- circuit-opened notice went out for this run.
CREATE TABLE notice_streaks
(
    endpoint_id    bigint      PRIMARY KEY,
    failed         integer     NOT NULL CHECK (failed >= 0),
    failing_since  timestamptz NOT NULL,
    opened         boolean     NOT NULL DEFAULT false
);
