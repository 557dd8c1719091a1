//! `docs/schema.graphql` is the schema the code serves.

use std::path::PathBuf;

fn schema_file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/schema.graphql")
}

/// Fails when the exported SDL differs from the code's; `UPDATE_SCHEMA=1` rewrites
/// the file instead.
#[test]
fn exported_schema_matches_the_code() {
    let sdl = api::graphql::sdl();
    let path = schema_file();
    if std::env::var_os("UPDATE_SCHEMA").is_some_and(|v| v == "1") {
        std::fs::write(&path, &sdl).unwrap();
        return;
    }
    let exported = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        exported == sdl,
        "docs/schema.graphql is out of date with the code; regenerate it with \
         `UPDATE_SCHEMA=1 cargo test -p tests --test graphql exported_schema` and review the diff"
    );
}
