-- The hot path (issue #11, ADR 0018): an event accepted over REST or an inbound
-- webhook is routed, scheduled and queued in the transaction that stores it.
--
-- route_epoch: where in the log the last `Endpoint` or `EventMapping` event is, one
-- row. Every transaction that appends such events takes the exclusive advisory
-- lock `ledger_routes` first and sets this row before it commits; every ingest
-- transaction that routes takes the same lock shared first, then reads this row.
-- So an ingest transaction sees every route change ordered before its own events
-- in the global order `(tx_id, position)`, and none after: the lock is taken
-- before either transaction has an id, so the order of the ids is the order of
-- the lock. The ingest routes only when the read-model projector has applied
-- everything up to this row (its routes come from the read models).
CREATE TABLE route_epoch
(
    id       integer PRIMARY KEY CHECK (id = 1),
    tx_id    xid8    NOT NULL DEFAULT '0'::xid8,
    position bigint  NOT NULL DEFAULT 0
);
INSERT INTO route_epoch (id, tx_id, position)
SELECT 1, coalesce(max(tx_id), '0'::xid8), coalesce(max(position), 0)
FROM events WHERE aggregate_type IN ('Endpoint', 'EventMapping');

-- inline_projected: transactions whose events were folded into the read models by
-- the transaction itself (an inline projection). The live projector passes over
-- their events (it would write the same rows again), and forgets a transaction
-- once its batches have gone past it. Rebuilds fold every event.
CREATE TABLE inline_projected
(
    tx_id xid8 PRIMARY KEY
);

-- A transaction that sets `ledger.quiet_queue` inserts queue rows without the
-- notification: a notifying transaction holds a database-wide lock through its
-- commit's WAL flush (see 0008), and the hot path's rows are either sent by the
-- process that wrote them or announced by it after the commit.
CREATE OR REPLACE FUNCTION ledger_retry_queue_notify() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    IF coalesce(current_setting('ledger.quiet_queue', true), '') <> 'on' THEN
        PERFORM pg_notify('ledger_retry_queue', '');
    END IF;
    RETURN NULL;
END
$$;

-- The first statement of a routing ingest transaction, in one round trip: queue
-- rows stay quiet, the routes lock is taken shared (`lock`), and then (a statement
-- of its own, so its snapshot is taken once the lock is held) where the last route
-- change is and whether `projection`'s checkpoint has reached it.
CREATE FUNCTION ledger_route_epoch(lock bigint, projection text)
    RETURNS TABLE (tx_id bigint, epoch_position bigint, projected boolean)
    LANGUAGE plpgsql VOLATILE AS
$$
BEGIN
    PERFORM set_config('ledger.quiet_queue', 'on', true);
    PERFORM pg_advisory_xact_lock_shared(lock);
    RETURN QUERY
        SELECT (e.tx_id::text)::bigint, e.position,
               coalesce((c.tx_id, c.position) >= (e.tx_id, e.position), false)
        FROM route_epoch e
        LEFT JOIN subscription_checkpoints c ON c.name = projection;
END
$$;
