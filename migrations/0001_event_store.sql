-- The event store: postgres-es's `events` and `snapshots` tables (same columns and
-- primary keys), extended for a global order, an append-only guarantee and a hash
-- chain per stream. See docs/adr/0002-event-store.md.

CREATE TABLE events
(
    aggregate_type text                         NOT NULL,
    aggregate_id   text                         NOT NULL,
    sequence       bigint CHECK (sequence >= 0) NOT NULL,
    event_type     text                         NOT NULL,
    event_version  text                         NOT NULL,
    payload        json                         NOT NULL,
    metadata       json                         NOT NULL,
    -- Global order: subscribers read by (tx_id, position) below the oldest running
    -- transaction, so an event whose transaction commits late is never skipped.
    position       bigint GENERATED ALWAYS AS IDENTITY,
    tx_id          xid8                         NOT NULL DEFAULT pg_current_xact_id(),
    recorded_at    timestamptz                  NOT NULL DEFAULT now(),
    -- SHA-256 over the previous event's hash in this stream and this row's content;
    -- set by the trigger below, whatever the writer sent.
    hash           bytea                        NOT NULL DEFAULT ''::bytea,
    PRIMARY KEY (aggregate_type, aggregate_id, sequence)
);

CREATE UNIQUE INDEX events_position_idx ON events (position);
CREATE INDEX events_global_order_idx ON events (tx_id, position);
CREATE INDEX events_recorded_at_idx ON events (recorded_at);

-- Present for postgres-es; unused: snapshot modes of cqrs-es 0.5 apply events twice,
-- so only the event-sourced store is used (ADR 0002).
CREATE TABLE snapshots
(
    aggregate_type   text                                 NOT NULL,
    aggregate_id     text                                 NOT NULL,
    last_sequence    bigint CHECK (last_sequence >= 0)    NOT NULL,
    current_snapshot bigint CHECK (current_snapshot >= 0) NOT NULL,
    payload          json                                 NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id, last_sequence)
);

-- One field of the hashed content: its byte length, a colon, its text. Length
-- prefixes make the encoding unambiguous whatever the fields contain.
CREATE FUNCTION ledger_hash_field(value text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN octet_length(value)::text || ':' || value;

-- The bytes a row's hash covers (besides the previous hash). `ledger audit verify`
-- recomputes the same encoding in Rust (store::audit), independently of this function.
CREATE FUNCTION ledger_event_content(e events) RETURNS bytea
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN convert_to(
        ledger_hash_field(e.aggregate_type) || ledger_hash_field(e.aggregate_id) ||
        ledger_hash_field(e.sequence::text) || ledger_hash_field(e.event_type) ||
        ledger_hash_field(e.event_version) || ledger_hash_field(e.payload::text) ||
        ledger_hash_field(e.metadata::text), 'UTF8');

CREATE FUNCTION ledger_events_chain() RETURNS trigger
    LANGUAGE plpgsql AS
$$
DECLARE
    previous bytea;
BEGIN
    SELECT e.hash INTO previous
    FROM events e
    WHERE e.aggregate_type = NEW.aggregate_type
      AND e.aggregate_id = NEW.aggregate_id
      AND e.sequence < NEW.sequence
    ORDER BY e.sequence DESC
    LIMIT 1;
    NEW.hash := sha256(coalesce(previous, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea)
                       || ledger_event_content(NEW));
    RETURN NEW;
END
$$;

CREATE TRIGGER events_chain
    BEFORE INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION ledger_events_chain();

-- The log is append-only. (A superuser can still bypass triggers with
-- session_replication_role = replica; `ledgerd audit verify` catches that.)
CREATE FUNCTION ledger_events_append_only() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    RAISE EXCEPTION 'the event log is append-only: % on events is not allowed', TG_OP
        USING ERRCODE = 'restrict_violation';
END
$$;

CREATE TRIGGER events_append_only
    BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION ledger_events_append_only();

CREATE TRIGGER events_no_truncate
    BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_events_append_only();

-- Wakes subscribers (projector, router); they poll as a fallback.
CREATE FUNCTION ledger_events_notify() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    PERFORM pg_notify('ledger_events', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER events_notify
    AFTER INSERT ON events
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_events_notify();

-- Where each subscriber (projection, router) is in the global order. Updated in the
-- same transaction as the subscriber's effects.
CREATE TABLE subscription_checkpoints
(
    name       varchar(100) PRIMARY KEY,
    version    integer      NOT NULL DEFAULT 1,
    tx_id      xid8         NOT NULL DEFAULT '0'::xid8,
    position   bigint       NOT NULL DEFAULT 0,
    state      varchar(20)  NOT NULL DEFAULT 'running'
        CHECK (state IN ('running', 'stopped', 'rebuilding')),
    error      text,
    updated_at timestamptz  NOT NULL DEFAULT now()
);
