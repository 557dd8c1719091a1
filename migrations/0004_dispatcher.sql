-- Operational hooks of the dispatcher (not event-sourced, DESIGN decision 9).

-- Wakes dispatchers when deliveries enter the queue (scheduled or requeued), so a
-- new delivery is claimed at once rather than at the next poll. One notification per
-- statement; PostgreSQL folds identical notifications of one transaction into one.
-- Dispatchers also poll, so a lost notification only delays.
--
-- The trigger lives on public.retry_queue. A blue/green rebuild (ADR 0005) that
-- swaps in a shadow retry_queue must call ledger_retry_queue_watch() on the swapped-in
-- table, or dispatchers fall back to polling until it does.
CREATE FUNCTION ledger_retry_queue_notify() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    PERFORM pg_notify('ledger_retry_queue', '');
    RETURN NULL;
END
$$;

-- (Re)creates the notify trigger on <target_schema>.retry_queue; idempotent.
CREATE FUNCTION ledger_retry_queue_watch(target_schema text) RETURNS void
    LANGUAGE plpgsql AS
$$
BEGIN
    EXECUTE format(
        'CREATE OR REPLACE TRIGGER retry_queue_notify AFTER INSERT ON %I.retry_queue '
        'FOR EACH STATEMENT EXECUTE FUNCTION ledger_retry_queue_notify()',
        target_schema);
END
$$;

SELECT ledger_retry_queue_watch('public');
