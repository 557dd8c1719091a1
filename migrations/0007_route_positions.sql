-- Routing by the log (ADR 0014): the router routes each event to the endpoints and
-- mapping versions as they were at the event's place in the global order, not as
-- the read models hold them when it gets there. So the rows it routes from carry
-- where in the log (tx_id, position) they started and stopped counting:
--
-- - an endpoint routes from its `EndpointRegistered` until its `EndpointDeleted`
--   (disabling does not stop routing: the deliveries wait in the queue);
-- - a mapping version routes from its `MappingPublished` until the next version's
--   `MappingPublished` or its `MappingRetired`, whichever comes first.
--
-- The projector writes these columns from the events' own positions, so a rebuild
-- writes the same values. tx_id is kept as bigint, as the subscriptions' cursors are.

-- The columns, for a shadow schema of a rebuild as for the live tables. The read
-- models' shape is `ledger_create_read_models` of 0002 followed by this.
CREATE FUNCTION ledger_add_route_positions(target_schema text) RETURNS void
    LANGUAGE plpgsql AS
$fn$
BEGIN
    EXECUTE format(
        'ALTER TABLE %I.webhook_endpoints
            ADD COLUMN registered_tx       bigint,
            ADD COLUMN registered_position bigint,
            ADD COLUMN deleted_tx          bigint,
            ADD COLUMN deleted_position    bigint',
        target_schema);
    EXECUTE format(
        'ALTER TABLE %I.event_mappings
            ADD COLUMN published_tx        bigint,
            ADD COLUMN published_position  bigint,
            ADD COLUMN retired_tx          bigint,
            ADD COLUMN retired_position    bigint',
        target_schema);
END
$fn$;

ALTER FUNCTION ledger_create_read_models(text) RENAME TO ledger_create_read_models_0002;

-- What rebuilds call: the tables of 0002 with the columns above.
CREATE FUNCTION ledger_create_read_models(target_schema text) RETURNS void
    LANGUAGE plpgsql AS
$fn$
BEGIN
    PERFORM ledger_create_read_models_0002(target_schema);
    PERFORM ledger_add_route_positions(target_schema);
END
$fn$;

SELECT ledger_add_route_positions('public');

-- Fills the columns of the rows already projected from the log: the values the
-- projector would have written (each from its event's own place in the log), so the
-- live tables equal a rebuild's without one. Only the rows of public; idempotent.
CREATE FUNCTION ledger_fill_route_positions() RETURNS void
    LANGUAGE sql AS
$fn$
    UPDATE public.webhook_endpoints w
    SET registered_tx = (e.tx_id::text)::bigint, registered_position = e.position
    FROM events e
    WHERE e.aggregate_type = 'Endpoint' AND e.aggregate_id = w.id::text
      AND e.event_type = 'EndpointRegistered';

    UPDATE public.webhook_endpoints w
    SET deleted_tx = (e.tx_id::text)::bigint, deleted_position = e.position
    FROM events e
    WHERE e.aggregate_type = 'Endpoint' AND e.aggregate_id = w.id::text
      AND e.event_type = 'EndpointDeleted';

    UPDATE public.event_mappings m
    SET published_tx = (e.tx_id::text)::bigint, published_position = e.position
    FROM events e
    WHERE e.aggregate_type = 'EventMapping'
      AND e.aggregate_id = m.event_type || ':' || m.target_system
      AND e.event_type = 'MappingPublished'
      AND (e.payload::jsonb -> 'MappingPublished' ->> 'mapping_id') = m.id::text;

    UPDATE public.event_mappings m
    SET retired_tx = (e.tx_id::text)::bigint, retired_position = e.position
    FROM events e
    WHERE e.aggregate_type = 'EventMapping'
      AND e.aggregate_id = m.event_type || ':' || m.target_system
      AND e.event_type = 'MappingRetired'
      AND (e.payload::jsonb -> 'MappingRetired' ->> 'mapping_id') = m.id::text;
$fn$;

SELECT ledger_fill_route_positions();
