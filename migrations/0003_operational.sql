-- Operational state: not event-sourced (DESIGN decision 9), owned by the processes
-- that use it, and safe to lose (it is rebuilt from what happens next).

-- Node ids for the time-ordered id generator: each process takes the next value
-- (modulo 1024) at start, so concurrent processes generate distinct ids.
CREATE SEQUENCE ledger_node_seq;

-- The circuit breaker's input per endpoint: since when its deliveries have all
-- failed, and how many attempts failed since. Reset by a success or an enable.
CREATE TABLE endpoint_health
(
    endpoint_id      bigint      PRIMARY KEY,
    first_failure_at timestamptz,
    failed_attempts  integer     NOT NULL DEFAULT 0 CHECK (failed_attempts >= 0),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
