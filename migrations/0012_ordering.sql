-- Ordered delivery (issue #14, ADR 0017). An endpoint orders its deliveries `none`
-- (in parallel, as before), `endpoint` (one at a time in the global order of their
-- events) or `key` (one at a time per key, the value of a jq path over the event).
--
-- - webhook_endpoints: the ordering, as its `EndpointOrderingChanged` set it.
-- - webhook_deliveries, retry_queue: a delivery's line (`order_key`, '' for
--   `endpoint`) and its place in it (`order_tx`, `order_position`: its event's place
--   in the log), from its `DeliveryScheduled` 1.1; null when unordered.
--   webhook_deliveries also keeps whether its line blocks when it is dead-lettered.
-- - ordering_blocks: one row per dead-lettered head that blocks its line, until it
--   is requeued or skipped (`DeliveryRequeued`, `DeliveryHeadSkipped`).
--
-- A queued row of an ordered line is claimable only when no earlier row of its line
-- is queued and no earlier delivery of its line blocks it: the two probes use the
-- indexes below. Every column is projected from events; the columns and the table
-- are created by the read models' function too, so a rebuild's shadow has them
-- (ADR 0005). Nothing projected before this migration is ordered (no event of it
-- existed), so the live tables need no filling and equal a rebuild's.
CREATE FUNCTION ledger_add_ordering(target_schema text) RETURNS void
    LANGUAGE plpgsql AS
$fn$
BEGIN
    EXECUTE format(
        'ALTER TABLE %I.webhook_endpoints
            ADD COLUMN ordering                varchar(16) NOT NULL DEFAULT ''none''
                CHECK (ordering IN (''none'', ''endpoint'', ''key'')),
            ADD COLUMN ordering_key            text,
            ADD COLUMN ordering_on_dead_letter varchar(16)
                CHECK (ordering_on_dead_letter IN (''blocks'', ''skips''))',
        target_schema);
    EXECUTE format(
        'ALTER TABLE %I.webhook_deliveries
            ADD COLUMN order_key      text,
            ADD COLUMN order_tx       bigint,
            ADD COLUMN order_position bigint,
            ADD COLUMN order_blocks   boolean',
        target_schema);
    EXECUTE format(
        'ALTER TABLE %I.retry_queue
            ADD COLUMN order_key      text,
            ADD COLUMN order_tx       bigint,
            ADD COLUMN order_position bigint',
        target_schema);
    EXECUTE format(
        'CREATE INDEX retry_queue_order_idx ON %I.retry_queue
            (endpoint_id, order_key, order_tx, order_position) WHERE order_key IS NOT NULL',
        target_schema);
    EXECUTE format(
        'CREATE TABLE %1$I.ordering_blocks
         (
             delivery_id    bigint      PRIMARY KEY REFERENCES %1$I.webhook_deliveries (id),
             endpoint_id    bigint      NOT NULL REFERENCES %1$I.webhook_endpoints (id),
             order_key      text        NOT NULL,
             order_tx       bigint      NOT NULL,
             order_position bigint      NOT NULL,
             event_id       bigint      NOT NULL,
             blocked_at     timestamptz NOT NULL
         )',
        target_schema);
    EXECUTE format(
        'CREATE INDEX ordering_blocks_line_idx ON %I.ordering_blocks
            (endpoint_id, order_key, order_tx, order_position)',
        target_schema);
END
$fn$;

ALTER FUNCTION ledger_create_read_models(text) RENAME TO ledger_create_read_models_0010;

-- What rebuilds call: the tables of 0002 with the columns of 0007, the index of 0010
-- and the ordering above.
CREATE FUNCTION ledger_create_read_models(target_schema text) RETURNS void
    LANGUAGE plpgsql AS
$fn$
BEGIN
    PERFORM ledger_create_read_models_0010(target_schema);
    PERFORM ledger_add_ordering(target_schema);
END
$fn$;

SELECT ledger_add_ordering('public');
