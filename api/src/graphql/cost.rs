//! What a GraphQL document may cost, measured on the parsed document before
//! async-graphql validates it.
//!
//! async-graphql's validation (and its depth and complexity measures) walks every
//! fragment spread as if it were written out. A fragment that spreads the next one
//! twice doubles the work per level, so a 1 KB document of 30 such fragments asks
//! for 2^30 fields, and validation runs out of memory long before the complexity
//! limit is consulted. Here the document is measured once, each fragment once
//! (memoized), in time and memory linear in its size, and refused before validation
//! when:
//! - a fragment spreads itself, directly or not (`fragment_cycle`);
//! - fragments spread each other more than [`MAX_FRAGMENT_NESTING`] deep
//!   (`query_too_deep`);
//! - written out, it would select more than [`MAX_FIELDS`] fields, aliases and
//!   repeated fields included (`query_too_large`), or nest deeper than
//!   [`MAX_DEPTH`] (`query_too_deep`);
//! - a string in it or in its variables holds a NUL character, which the ledger does
//!   not store (`unsupported_character`).
//!
//! Only a document that passes reaches validation, whose own depth and complexity
//! limits then apply as before.

use std::collections::HashMap;

use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{ErrorExtensionValues, Name, ServerError, Value, Variables};

use super::error::MAX_DEPTH;

/// The most fields a document may select once its fragments are written out,
/// aliases and repeated fields included. Every field costs at least 1 in the
/// complexity limit (2,000), so no query within that limit is refused here; the
/// standard introspection query selects about 300.
pub const MAX_FIELDS: u64 = 2_000;
/// How deep fragment spreads may nest (a fragment spreading one that spreads
/// another…). Introspection needs 3.
pub const MAX_FRAGMENT_NESTING: usize = 16;

/// A fragment's or selection set's size once written out.
#[derive(Debug, Clone, Copy, Default)]
struct Size {
    fields: u64,
    depth: usize,
}

/// Measures `document` and checks `variables`; the first refusal, coded.
pub fn check(document: &ExecutableDocument, variables: &Variables) -> Result<(), ServerError> {
    if let Some(path) = variables
        .iter()
        .find_map(|(name, value)| nul_in(value, &format!("${name}")))
    {
        return Err(refusal(
            "unsupported_character",
            format!("variable `{path}` holds a NUL character (\\u0000), which the ledger does not store"),
            None,
        ));
    }
    let mut measure = Measure {
        document,
        memo: HashMap::new(),
        visiting: Vec::new(),
    };
    let mut total = Size::default();
    for (_, operation) in document.operations.iter() {
        let size = measure.set(&operation.node.selection_set.node)?;
        total.fields = total.fields.saturating_add(size.fields);
        total.depth = total.depth.max(size.depth);
    }
    // Fragments no operation spreads are still validated: measure them too.
    let unused: Vec<&Name> = document
        .fragments
        .keys()
        .filter(|name| !measure.memo.contains_key(name))
        .collect();
    for name in unused {
        let size = measure.fragment(name)?;
        total.fields = total.fields.saturating_add(size.fields);
    }
    if total.fields > MAX_FIELDS {
        return Err(refusal(
            "query_too_large",
            format!(
                "the query selects {} fields once its fragments are written out; at most {MAX_FIELDS} are allowed",
                total.fields
            ),
            Some((total.fields, MAX_FIELDS)),
        ));
    }
    if total.depth > MAX_DEPTH {
        return Err(refusal(
            "query_too_deep",
            format!(
                "the query is nested {} levels deep; at most {MAX_DEPTH} are allowed",
                total.depth
            ),
            Some((total.depth as u64, MAX_DEPTH as u64)),
        ));
    }
    Ok(())
}

struct Measure<'a> {
    document: &'a ExecutableDocument,
    memo: HashMap<&'a Name, Size>,
    visiting: Vec<&'a Name>,
}

impl<'a> Measure<'a> {
    fn set(&mut self, set: &'a SelectionSet) -> Result<Size, ServerError> {
        let mut size = Size::default();
        for item in &set.items {
            let (fields, depth) = match &item.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    // Variables in a literal are checked with the request's variables.
                    if let Some(path) = field.arguments.iter().find_map(|(name, value)| {
                        let literal = value
                            .node
                            .clone()
                            .into_const_with(|_| Ok::<_, std::convert::Infallible>(Value::Null))
                            .unwrap_or(Value::Null);
                        nul_in(&literal, name.node.as_str())
                    }) {
                        return Err(refusal(
                            "unsupported_character",
                            format!("argument `{path}` holds a NUL character (\\u0000), which the ledger does not store"),
                            None,
                        ));
                    }
                    let inner = self.set(&field.selection_set.node)?;
                    (inner.fields.saturating_add(1), inner.depth + 1)
                }
                Selection::FragmentSpread(spread) => {
                    let inner = self.fragment(&spread.node.fragment_name.node)?;
                    (inner.fields, inner.depth)
                }
                Selection::InlineFragment(inline) => {
                    let inner = self.set(&inline.node.selection_set.node)?;
                    (inner.fields, inner.depth)
                }
            };
            size.fields = size.fields.saturating_add(fields);
            size.depth = size.depth.max(depth);
        }
        Ok(size)
    }

    fn fragment(&mut self, name: &'a Name) -> Result<Size, ServerError> {
        if let Some(size) = self.memo.get(name) {
            return Ok(*size);
        }
        // An unknown fragment is validation's to report.
        let Some(definition) = self.document.fragments.get(name) else {
            return Ok(Size::default());
        };
        if self.visiting.contains(&name) {
            return Err(refusal(
                "fragment_cycle",
                format!("fragment `{name}` spreads itself"),
                None,
            ));
        }
        if self.visiting.len() >= MAX_FRAGMENT_NESTING {
            return Err(refusal(
                "query_too_deep",
                format!("fragments spread each other more than {MAX_FRAGMENT_NESTING} deep"),
                Some((self.visiting.len() as u64 + 1, MAX_FRAGMENT_NESTING as u64)),
            ));
        }
        self.visiting.push(name);
        let size = self.set(&definition.node.selection_set.node);
        self.visiting.pop();
        let size = size?;
        self.memo.insert(name, size);
        Ok(size)
    }
}

/// The path of the first string or object key in `value` holding a NUL.
fn nul_in(value: &Value, path: &str) -> Option<String> {
    match value {
        Value::String(s) => s.contains('\0').then(|| path.to_owned()),
        Value::List(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| nul_in(item, &format!("{path}[{i}]"))),
        Value::Object(map) => map.iter().find_map(|(key, item)| {
            if key.as_str().contains('\0') {
                Some(format!("{path}.{}", key.as_str().replace('\0', "\\u0000")))
            } else {
                nul_in(item, &format!("{path}.{key}"))
            }
        }),
        _ => None,
    }
}

fn refusal(code: &'static str, message: String, limit: Option<(u64, u64)>) -> ServerError {
    let mut error = ServerError::new(message, None);
    let mut extensions = ErrorExtensionValues::default();
    extensions.set("code", code);
    if let Some((value, max)) = limit {
        extensions.set("value", value);
        extensions.set("max", max);
    }
    error.extensions = Some(extensions);
    error
}

#[cfg(test)]
mod tests {
    use async_graphql::parser::parse_query;

    use super::*;

    fn code_of(query: &str) -> Option<String> {
        let document = parse_query(query).expect("parses");
        check(&document, &Variables::default())
            .err()
            .and_then(|e| e.extensions)
            .and_then(|e| e.get("code").cloned())
            .map(|c| c.to_string().trim_matches('"').to_owned())
    }

    #[test]
    fn fragments_are_measured_once_each_and_cycles_are_named() {
        let cycle = "query { ...A } fragment A on Query { ...B } fragment B on Query { ...A }";
        assert_eq!(code_of(cycle).as_deref(), Some("fragment_cycle"));
        // 2^11 = 2,048 fields: one over the bound; 2^10 within it.
        let bomb = |levels: usize| {
            let mut q = String::from("query { ...F0 }\n");
            for i in 0..levels {
                q.push_str(&format!(
                    "fragment F{i} on Query {{ ...F{n} ...F{n} }}\n",
                    n = i + 1
                ));
            }
            q.push_str(&format!("fragment F{levels} on Query {{ __typename }}\n"));
            q
        };
        assert_eq!(code_of(&bomb(11)).as_deref(), Some("query_too_large"));
        assert_eq!(code_of(&bomb(10)), None);
        // An unused fragment counts; a used one counts once.
        let used_twice = "query { ...A ...A } fragment A on Query { a b c }";
        let document = parse_query(used_twice).expect("parses");
        assert!(check(&document, &Variables::default()).is_ok());
    }

    #[test]
    fn a_nul_in_a_variable_or_a_literal_is_refused() {
        assert_eq!(
            code_of(r#"mutation { f(x: {y: ["ok", "a\u0000"]}) }"#).as_deref(),
            Some("unsupported_character")
        );
        let document = parse_query("query($v: String) { f(x: $v) }").expect("parses");
        let variables = Variables::from_json(serde_json::json!({ "v": "a\u{0}" }));
        let error = check(&document, &variables).expect_err("refused");
        assert!(error.message.contains("$v"), "{}", error.message);
    }
}
