//! Data for tests that need a long log quickly.

use sqlx::PgPool;

/// Appends `n` `ApiKeyIssued` events (key ids `first..first + n`) in one statement, in
/// the shape the command path writes them.
pub async fn append_api_key_events(pool: &PgPool, first: i64, n: i64) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
           SELECT 'ApiKey', i::text, 1, 'ApiKeyIssued', '1.0',
             json_build_object('ApiKeyIssued', json_build_object(
               'key_id', i, 'name', 'bulk ' || i, 'permissions', json_build_array('events:read'),
               'rate_limit_per_minute', NULL, 'key_hash', encode(sha256(i::text::bytea), 'hex'),
               'prefix', 'ilk_' || lpad(i::text, 8, '0'), 'issued_at', '2026-11-29T12:00:00Z')),
             '{"actor":"system"}'::json
           FROM generate_series($1::bigint, $1::bigint + $2::bigint - 1) AS i"#,
        first,
        n,
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Every live read model's rows as JSON text, table by table (in
/// [`store::migrate::READ_MODEL_TABLES`] order), rows sorted: two databases, or one
/// before and after a rebuild, hold the same read models when their dumps are equal.
pub async fn read_model_dump(pool: &PgPool) -> Result<Vec<(String, Vec<String>)>, sqlx::Error> {
    let mut out = Vec::new();
    for table in store::migrate::READ_MODEL_TABLES {
        // Dynamic: the table's name is an identifier, which cannot be bound.
        let rows: Vec<String> = sqlx::query_scalar(&format!(
            "SELECT to_jsonb(t)::text FROM public.{table} t ORDER BY 1"
        ))
        .fetch_all(pool)
        .await?;
        out.push(((*table).to_owned(), rows));
    }
    Ok(out)
}
