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

/// Every field of `Query`, `Mutation` and `Subscription` is named in
/// `docs/graphql.md` (in backticks), so what the API gains is documented.
#[test]
fn every_root_field_is_documented() {
    let sdl = api::graphql::sdl();
    let guide = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/graphql.md"),
    )
    .unwrap();
    let mut undocumented = Vec::new();
    let mut fields = 0;
    for root in ["Query", "Mutation", "Subscription"] {
        let start = sdl.find(&format!("type {root} {{")).unwrap();
        let body = &sdl[start..];
        let body = &body[..body.find("\n}").unwrap()];
        let mut in_doc = false;
        for line in body.lines().skip(1) {
            let line = line.trim();
            if line.starts_with("\"\"\"") {
                in_doc = !(in_doc || line.len() > 3 && line.ends_with("\"\"\""));
                continue;
            }
            if in_doc || line.is_empty() {
                continue;
            }
            let name: String = line
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if name.is_empty() {
                continue;
            }
            fields += 1;
            let named = [
                format!("`{name}`"),
                format!("`{name}("),
                format!(" {name}("),
            ]
            .iter()
            .any(|form| guide.contains(form.as_str()));
            if !named {
                undocumented.push(format!("{root}.{name}"));
            }
        }
    }
    assert!(
        fields > 40,
        "only {fields} root fields found: the parser is wrong"
    );
    assert!(
        undocumented.is_empty(),
        "not in docs/graphql.md: {undocumented:?}"
    );
}

/// `docs/notices/` holds each operational notice's JSON Schema as `ledgerd` serves
/// it (`GET /v1/notices/{type}.schema.json`); `UPDATE_SCHEMA=1` rewrites them.
#[test]
fn notice_schemas_in_the_docs_match_the_code() {
    let folder = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/notices");
    let update = std::env::var_os("UPDATE_SCHEMA").is_some_and(|v| v == "1");
    let mut expected = std::collections::BTreeSet::new();
    for kind in domain::notice::NoticeType::ALL {
        let name = format!("{}.schema.json", kind.as_str());
        let text = serde_json::to_string_pretty(&kind.schema()).unwrap() + "\n";
        let path = folder.join(&name);
        if update {
            std::fs::create_dir_all(&folder).unwrap();
            std::fs::write(&path, &text).unwrap();
        }
        let written = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            written == text,
            "docs/notices/{name} is out of date; regenerate with \
             `UPDATE_SCHEMA=1 cargo test -p tests --test graphql notice_schemas`"
        );
        expected.insert(name);
    }
    let present: std::collections::BTreeSet<String> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        present, expected,
        "docs/notices/ holds a schema of no notice"
    );
}
