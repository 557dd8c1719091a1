-- An endpoint's latest deliveries, newest first (GraphQL `Endpoint.successRate`
-- reads its latest 1,000 attempted ones): without this index, the endpoint's every
-- delivery would be read and sorted. Created by the read models' function too, so a
-- rebuild's shadow tables have it (ADR 0005); the live table gets it here.
CREATE FUNCTION ledger_add_endpoint_recent_index(target_schema text) RETURNS void
    LANGUAGE plpgsql AS
$fn$
BEGIN
    EXECUTE format(
        'CREATE INDEX webhook_deliveries_endpoint_recent_idx ON %I.webhook_deliveries (endpoint_id, id)',
        target_schema);
END
$fn$;

ALTER FUNCTION ledger_create_read_models(text) RENAME TO ledger_create_read_models_0007;

-- What rebuilds call: the tables of 0002 with the columns of 0007 and this index.
CREATE FUNCTION ledger_create_read_models(target_schema text) RETURNS void
    LANGUAGE plpgsql AS
$fn$
BEGIN
    PERFORM ledger_create_read_models_0007(target_schema);
    PERFORM ledger_add_endpoint_recent_index(target_schema);
END
$fn$;

SELECT ledger_add_endpoint_recent_index('public');
