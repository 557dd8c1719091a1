-- Inbound webhooks (ADR 0006). Operational, not event-sourced (DESIGN decision 9).

-- The systems allowed to push signed webhooks to POST /v1/inbound/{source_system},
-- with their Standard Webhooks secret encrypted under the master key (AES-256-GCM
-- "v1:..." ciphertext, never the clear secret). During a rotation the previous
-- secret stays accepted until previous_secret_expires_at.
CREATE TABLE inbound_sources
(
    source_system              varchar(64)  PRIMARY KEY,
    secret                     varchar(512) NOT NULL,
    previous_secret            varchar(512),
    previous_secret_expires_at timestamptz,
    created_at                 timestamptz  NOT NULL,
    updated_at                 timestamptz  NOT NULL,
    -- an API key id in decimal, or 'system'
    updated_by                 varchar(40)  NOT NULL
);

-- Every webhook-id each source has sent, and how often: a replay is acknowledged
-- without a second event (the event stream "{source}:{webhook-id}" guarantees it);
-- this table shows operators that it happened. Rows older than 30 days are purged.
CREATE TABLE inbound_webhook_ids
(
    source_system varchar(64)  NOT NULL,
    webhook_id    varchar(200) NOT NULL,
    event_id      bigint       NOT NULL,
    first_seen_at timestamptz  NOT NULL DEFAULT now(),
    last_seen_at  timestamptz  NOT NULL DEFAULT now(),
    times_seen    integer      NOT NULL DEFAULT 1 CHECK (times_seen > 0),
    PRIMARY KEY (source_system, webhook_id)
);
CREATE INDEX inbound_webhook_ids_first_seen_at_idx ON inbound_webhook_ids (first_seen_at);
