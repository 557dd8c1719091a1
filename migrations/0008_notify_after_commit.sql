-- Appends no longer notify from inside their transaction: PostgreSQL holds a
-- database-wide lock from a notifying transaction's pre-commit until after its WAL
-- flush, so every append waited for the previous append's fsync (no shared flushes;
-- single commits queued for over a second under load). The group-commit writers
-- send `NOTIFY ledger_events` right after their commit instead, on its own, which
-- writes no WAL (store::group_commit). Subscribers also poll.
DROP TRIGGER IF EXISTS events_notify ON events;
DROP FUNCTION IF EXISTS ledger_events_notify();
