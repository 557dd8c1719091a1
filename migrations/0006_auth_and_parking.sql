-- Authentication reads the log, not the read models (ADR 0011): a key is found by its
-- hash in its own `ApiKeyIssued` event, and a revocation counts as soon as its event
-- commits, however far the projector lags or wherever it is stuck. This partial
-- index makes the lookup one index probe; it covers only the keys' issue events.
-- The JSON path is serde's shape of `ApiKeyEvent::ApiKeyIssued` (a test issues a key
-- through the command and authenticates with it, so a rename fails it).
CREATE INDEX events_api_key_hash_idx
    ON events (((payload -> 'ApiKeyIssued') ->> 'key_hash'))
    WHERE aggregate_type = 'ApiKey' AND event_type = 'ApiKeyIssued';

-- Where a stopped subscription stands: the event it cannot apply. Cleared when it
-- runs again (ADR 0012).
ALTER TABLE subscription_checkpoints
    ADD COLUMN stopped_position bigint,
    ADD COLUMN stopped_at       timestamptz;
