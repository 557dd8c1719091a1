-- Read models: exactly the seed tables (../shared/seed/data-structure.en.md), with
-- columns added where the design needs them, never renamed or dropped.
-- Types: tinyint -> smallint, datetime -> timestamptz, json -> jsonb, varchar -> varchar(n).

-- Lookup tables ---------------------------------------------------------------------

CREATE TABLE domain_api_key_status  (id smallint PRIMARY KEY, code varchar(40) NOT NULL UNIQUE, label varchar(100) NOT NULL);
CREATE TABLE domain_endpoint_status (id smallint PRIMARY KEY, code varchar(40) NOT NULL UNIQUE, label varchar(100) NOT NULL);
CREATE TABLE domain_event_status    (id smallint PRIMARY KEY, code varchar(40) NOT NULL UNIQUE, label varchar(100) NOT NULL);
CREATE TABLE domain_delivery_status (id smallint PRIMARY KEY, code varchar(40) NOT NULL UNIQUE, label varchar(100) NOT NULL);
CREATE TABLE domain_job_status      (id smallint PRIMARY KEY, code varchar(40) NOT NULL UNIQUE, label varchar(100) NOT NULL);

-- The ids and codes below are the domain crate's status enums (domain::status).
INSERT INTO domain_api_key_status (id, code, label) VALUES
    (1, 'active', 'Active'),
    (2, 'revoked', 'Revoked');
INSERT INTO domain_endpoint_status (id, code, label) VALUES
    (1, 'active', 'Active'),
    (2, 'disabled', 'Disabled'),
    (3, 'deleted', 'Deleted');
INSERT INTO domain_event_status (id, code, label) VALUES
    (1, 'received', 'Received'),
    (2, 'routed', 'Routed to its deliveries'),
    (3, 'unroutable', 'No subscribed endpoint'),
    (4, 'delivered', 'Delivered to every endpoint'),
    (5, 'failed', 'At least one delivery dead-lettered');
INSERT INTO domain_delivery_status (id, code, label) VALUES
    (1, 'pending', 'Pending'),
    (2, 'retrying', 'Failed, retry scheduled'),
    (3, 'succeeded', 'Succeeded'),
    (4, 'dead_lettered', 'Dead-lettered'),
    (5, 'cancelled', 'Cancelled');
INSERT INTO domain_job_status (id, code, label) VALUES
    (1, 'pending', 'Pending'),
    (2, 'running', 'Running'),
    (3, 'succeeded', 'Succeeded'),
    (4, 'failed', 'Failed'),
    (5, 'cancelled', 'Cancelled');

-- Main tables -----------------------------------------------------------------------
--
-- The event-sourced read models are created by one function, so that a rebuild can
-- create the same tables in a shadow schema, fill them from the log while these keep
-- serving, and swap them in (blue/green, ADR 0005). A later migration that changes a
-- read model's shape replaces this function and bumps the projection's version; it
-- never alters the live tables itself. Unqualified names resolve through the
-- search_path the function sets: new tables land in `target_schema`, the lookup tables
-- are found in public.
CREATE FUNCTION ledger_create_read_models(target_schema text) RETURNS void
    LANGUAGE plpgsql AS
$fn$
DECLARE
    caller_search_path text := current_setting('search_path');
BEGIN
    PERFORM set_config('search_path', format('%I, public', target_schema), true);

    CREATE TABLE api_keys
    (
        id                    bigint       PRIMARY KEY,
        name                  varchar(200) NOT NULL,
        key_hash              varchar(64)  NOT NULL,
        permissions_json      jsonb        NOT NULL DEFAULT '[]'::jsonb,
        status_id             smallint     NOT NULL REFERENCES domain_api_key_status (id),
        last_used_at          timestamptz,
        -- added
        prefix                varchar(32)  NOT NULL DEFAULT '',
        rate_limit_per_minute integer CHECK (rate_limit_per_minute > 0),
        created_at            timestamptz  NOT NULL DEFAULT now(),
        revoked_at            timestamptz,
        CONSTRAINT api_keys_key_hash_key UNIQUE (key_hash)
    );

    CREATE TABLE webhook_endpoints
    (
        id                          bigint        PRIMARY KEY,
        system_name                 varchar(64)   NOT NULL,
        url                         varchar(2048) NOT NULL,
        -- AES-256-GCM ciphertext ("v1:..."), never the clear secret
        secret                      varchar(512)  NOT NULL,
        status_id                   smallint      NOT NULL REFERENCES domain_endpoint_status (id),
        created_at                  timestamptz   NOT NULL,
        updated_at                  timestamptz   NOT NULL,
        -- added
        previous_secret             varchar(512),
        previous_secret_expires_at  timestamptz,
        disabled_reason             varchar(40),
        retry_schedule_json         jsonb,
        timeout_ms                  integer       NOT NULL DEFAULT 15000 CHECK (timeout_ms > 0)
    );
    CREATE INDEX webhook_endpoints_system_name_idx ON webhook_endpoints (system_name);

    -- Partitioned by month on created_at (ADR 0003). The primary key must contain the
    -- partition key; rows referring to an event carry its created_at for the foreign key.
    CREATE TABLE integration_events
    (
        id            bigint       NOT NULL,
        event_type    varchar(128) NOT NULL,
        source_system varchar(64)  NOT NULL,
        payload_json  jsonb        NOT NULL,
        status_id     smallint     NOT NULL REFERENCES domain_event_status (id),
        created_at    timestamptz  NOT NULL,
        updated_at    timestamptz  NOT NULL,
        -- added
        event_key     varchar(200) NOT NULL,
        channel       varchar(20)  NOT NULL DEFAULT 'rest',
        -- how many deliveries routing fanned out to (null until routed)
        delivery_count integer,
        PRIMARY KEY (id, created_at)
    ) PARTITION BY RANGE (created_at);

    CREATE TABLE integration_events_default PARTITION OF integration_events DEFAULT;

    CREATE INDEX integration_events_status_id_idx ON integration_events (status_id);
    CREATE INDEX integration_events_created_at_idx ON integration_events (created_at);
    CREATE INDEX integration_events_source_key_idx ON integration_events (source_system, event_key);
    CREATE INDEX integration_events_event_type_idx ON integration_events (event_type);



    CREATE TABLE event_mappings
    (
        id             bigint       PRIMARY KEY,
        event_type     varchar(128) NOT NULL,
        target_system  varchar(64)  NOT NULL,
        -- {"language": "jq", "program": "..."}
        mapping_json   jsonb        NOT NULL,
        version        varchar(20)  NOT NULL,
        -- added
        version_number integer      NOT NULL CHECK (version_number > 0),
        published_at   timestamptz  NOT NULL,
        retired_at     timestamptz,
        CONSTRAINT event_mappings_version_key UNIQUE (event_type, target_system, version_number)
    );

    CREATE TABLE webhook_deliveries
    (
        id               bigint      PRIMARY KEY,
        endpoint_id      bigint      NOT NULL REFERENCES webhook_endpoints (id),
        event_id         bigint      NOT NULL,
        status_id        smallint    NOT NULL REFERENCES domain_delivery_status (id),
        attempts         integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
        last_attempt_at  timestamptz,
        response_code    integer,
        -- added
        event_created_at timestamptz NOT NULL,
        mapping_id       bigint,
        mapping_version  integer,
        next_attempt_at  timestamptz,
        last_error       text,
        created_at       timestamptz NOT NULL,
        updated_at       timestamptz NOT NULL,
        CONSTRAINT webhook_deliveries_event_endpoint_key UNIQUE (event_id, endpoint_id),
        CONSTRAINT webhook_deliveries_event_fk FOREIGN KEY (event_id, event_created_at)
            REFERENCES integration_events (id, created_at)
    );
    CREATE INDEX webhook_deliveries_endpoint_id_idx ON webhook_deliveries (endpoint_id);
    CREATE INDEX webhook_deliveries_status_id_idx ON webhook_deliveries (status_id);

    -- One row per delivery waiting for an attempt; id is the delivery's id. The lease
    -- columns are operational (not event-sourced): dispatchers claim rows with
    -- FOR UPDATE SKIP LOCKED and a lease that expires if the dispatcher dies.
    CREATE TABLE retry_queue
    (
        id               bigint      PRIMARY KEY,
        event_id         bigint      NOT NULL,
        next_retry_at    timestamptz NOT NULL,
        attempts         integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
        -- added
        event_created_at timestamptz NOT NULL,
        endpoint_id      bigint      NOT NULL REFERENCES webhook_endpoints (id),
        leased_until     timestamptz,
        leased_by        varchar(100),
        CONSTRAINT retry_queue_event_fk FOREIGN KEY (event_id, event_created_at)
            REFERENCES integration_events (id, created_at)
    );
    CREATE INDEX retry_queue_next_retry_at_idx ON retry_queue (next_retry_at);

    CREATE TABLE dead_letter
    (
        id               bigint      PRIMARY KEY,
        event_id         bigint      NOT NULL,
        reason           text        NOT NULL,
        created_at       timestamptz NOT NULL,
        -- added
        event_created_at timestamptz NOT NULL,
        delivery_id      bigint      NOT NULL REFERENCES webhook_deliveries (id),
        endpoint_id      bigint      NOT NULL REFERENCES webhook_endpoints (id),
        requeued_at      timestamptz,
        CONSTRAINT dead_letter_event_fk FOREIGN KEY (event_id, event_created_at)
            REFERENCES integration_events (id, created_at)
    );
    CREATE INDEX dead_letter_created_at_idx ON dead_letter (created_at);
    CREATE INDEX dead_letter_delivery_id_idx ON dead_letter (delivery_id);

    CREATE TABLE sync_jobs
    (
        id              bigint      PRIMARY KEY,
        job_type        varchar(64) NOT NULL,
        status_id       smallint    NOT NULL REFERENCES domain_job_status (id),
        started_at      timestamptz,
        finished_at     timestamptz,
        -- added
        parameters_json jsonb       NOT NULL DEFAULT '{}'::jsonb,
        progress_done   bigint      NOT NULL DEFAULT 0,
        progress_total  bigint,
        error           text,
        created_at      timestamptz NOT NULL,
        updated_at      timestamptz NOT NULL
    );
    CREATE INDEX sync_jobs_status_id_idx ON sync_jobs (status_id);

    PERFORM ledger_ensure_event_partitions(target_schema, 3);
    PERFORM set_config('search_path', caller_search_path, true);
END
$fn$;

-- Creates the monthly partitions of `<target_schema>.integration_events` from the
-- current month up to `months_ahead` months ahead; idempotent. Called here, by
-- `ledgerd serve` at start and every six hours, and by rebuilds for their shadow tables.
CREATE FUNCTION ledger_ensure_event_partitions(target_schema text, months_ahead integer) RETURNS integer
    LANGUAGE plpgsql AS
$$
DECLARE
    first_month date := date_trunc('month', now() AT TIME ZONE 'UTC')::date;
    month_start date;
    name        text;
    created     integer := 0;
BEGIN
    FOR i IN 0..months_ahead LOOP
        month_start := (first_month + make_interval(months => i))::date;
        name := format('integration_events_%s', to_char(month_start, 'YYYY_MM'));
        IF to_regclass(format('%I.%I', target_schema, name)) IS NULL THEN
            EXECUTE format(
                'CREATE TABLE %I.%I PARTITION OF %I.integration_events FOR VALUES FROM (%L) TO (%L)',
                target_schema, name, target_schema,
                (month_start::timestamp AT TIME ZONE 'UTC'),
                ((month_start + interval '1 month')::timestamp AT TIME ZONE 'UTC'));
            created := created + 1;
        END IF;
    END LOOP;
    RETURN created;
END
$$;

SELECT ledger_create_read_models('public');

-- Operational, not event-sourced (DESIGN decision 9): fixed windows per client.
CREATE TABLE rate_limits
(
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    client_id    bigint      NOT NULL,
    window_start timestamptz NOT NULL,
    count        integer     NOT NULL DEFAULT 0 CHECK (count >= 0),
    CONSTRAINT rate_limits_client_window_key UNIQUE (client_id, window_start)
);
CREATE INDEX rate_limits_window_start_idx ON rate_limits (window_start);
