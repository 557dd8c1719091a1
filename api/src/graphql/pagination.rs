//! Relay cursor pagination over a keyset: `(time, id)`, never `OFFSET`.
//!
//! A cursor is opaque to clients: base64url of `k1:<time in microseconds>:<id>`,
//! the position of one row in the list's order. A page asks for rows strictly
//! after (or before) it, so rows inserted meanwhile never shift a page, and paging
//! is an index range scan however deep it goes.

use async_graphql::connection::{Connection, CursorType, Edge};
use async_graphql::OutputType;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{FromRow, PgPool, Postgres, QueryBuilder};

use super::error::{invalid, FieldError, FieldResult, LIST_COST};

/// Rows in a page when neither `first` nor `last` is given.
pub const DEFAULT_PAGE: i32 = 20;
/// The largest page.
pub const MAX_PAGE: i32 = 100;

/// A row's position in a list: its sort time and id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    /// The sort column's value (`created_at`, `next_retry_at`, ...).
    pub at: DateTime<Utc>,
    /// The row's id, breaking ties.
    pub id: i64,
}

/// A cursor that is not one of ours.
#[derive(Debug, thiserror::Error)]
#[error("not a cursor of this list")]
pub struct CursorError;

impl CursorType for Key {
    type Error = CursorError;

    fn decode_cursor(s: &str) -> Result<Self, CursorError> {
        let (micros, id) = decode_pair("k1", s).ok_or(CursorError)?;
        Ok(Self {
            at: DateTime::from_timestamp_micros(micros).ok_or(CursorError)?,
            id,
        })
    }

    fn encode_cursor(&self) -> String {
        encode_pair("k1", self.at.timestamp_micros(), self.id)
    }
}

/// A cursor of two integers: base64url of `<tag>:<a>:<b>`. The tag tells lists'
/// cursors apart (and versions them).
pub fn encode_pair(tag: &str, a: i64, b: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{tag}:{a}:{b}"))
}

/// The two integers of a cursor made by [`encode_pair`] with `tag`; `None` for
/// anything else.
pub fn decode_pair(tag: &str, cursor: &str) -> Option<(i64, i64)> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(cursor).ok()?).ok()?;
    let mut parts = text.split(':');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(t), Some(a), Some(b), None) if t == tag => Some((a.parse().ok()?, b.parse().ok()?)),
        _ => None,
    }
}

/// A row that knows its position.
pub trait Keyed {
    /// The row's key.
    fn key(&self) -> Key;
}

/// The order of a list: by `time` then `id`, newest or oldest first.
#[derive(Debug, Clone, Copy)]
pub struct Keyset {
    /// The time column (qualified if the query needs it).
    pub time: &'static str,
    /// The id column.
    pub id: &'static str,
    /// Newest first (`DESC`) or oldest first (`ASC`).
    pub newest_first: bool,
}

/// The Relay arguments of a connection field.
#[derive(Debug, Clone, Default)]
pub struct Page {
    /// Rows after `after`, at most this many.
    pub first: Option<i32>,
    /// Cursor to start after.
    pub after: Option<String>,
    /// Rows before `before`, at most this many (the last ones).
    pub last: Option<i32>,
    /// Cursor to end before.
    pub before: Option<String>,
}

impl Page {
    /// Bundles the four arguments.
    pub fn new(
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Self {
        Self {
            first,
            after,
            last,
            before,
        }
    }

    /// The page size and whether it counts from the end (`last`).
    fn size(&self) -> FieldResult<(usize, bool)> {
        let check = |field: &'static str, n: i32| {
            if (0..=MAX_PAGE).contains(&n) {
                Ok(usize::try_from(n).unwrap_or(0))
            } else {
                Err(invalid(
                    match field {
                        "first" => "invalid_first",
                        _ => "invalid_last",
                    },
                    field,
                    format!("{field} must be between 0 and {MAX_PAGE}, got {n}"),
                ))
            }
        };
        match (self.first, self.last) {
            (Some(_), Some(_)) => Err(invalid(
                "invalid_pagination",
                "last",
                "give `first` or `last`, not both",
            )),
            (Some(n), None) => Ok((check("first", n)?, false)),
            (None, Some(n)) => Ok((check("last", n)?, true)),
            (None, None) => Ok((check("first", DEFAULT_PAGE)?, false)),
        }
    }
}

/// Decodes the cursor argument `field`; a malformed one is `invalid_cursor`.
pub fn decode_cursor<C: CursorType>(field: &'static str, cursor: &str) -> FieldResult<C> {
    C::decode_cursor(cursor).map_err(|e| invalid("invalid_cursor", field, e))
}

/// The cost of a connection field for the complexity limit: its page size times its
/// children.
pub fn page_cost(first: Option<i32>, last: Option<i32>, child_complexity: usize) -> usize {
    let size = first
        .or(last)
        .unwrap_or(DEFAULT_PAGE)
        .clamp(0, MAX_PAGE)
        .unsigned_abs() as usize;
    1 + size.max(1) * child_complexity
}

/// The cost of an unpaged list field: [`LIST_COST`] times its children.
pub fn list_cost(child_complexity: usize) -> usize {
    1 + LIST_COST * child_complexity
}

/// Runs `query` (a `SELECT ... WHERE <filters>` without order or limit) for one page
/// in `keyset` order and wraps the rows as a connection.
pub async fn fetch<T>(
    pool: &PgPool,
    mut query: QueryBuilder<'_, Postgres>,
    keyset: Keyset,
    page: Page,
) -> FieldResult<Connection<Key, T>>
where
    T: for<'r> FromRow<'r, PgRow> + Keyed + OutputType + Send + Unpin,
{
    let (limit, backward) = page.size()?;
    let after: Option<Key> = page
        .after
        .as_deref()
        .map(|c| decode_cursor("after", c))
        .transpose()?;
    let before: Option<Key> = page
        .before
        .as_deref()
        .map(|c| decode_cursor("before", c))
        .transpose()?;
    // In the list's own order, "after" is further along.
    let (further, earlier) = if keyset.newest_first {
        ("<", ">")
    } else {
        (">", "<")
    };
    for (key, op) in [(after, further), (before, earlier)] {
        if let Some(key) = key {
            query
                .push(format_args!(" AND ({}, {}) {op} (", keyset.time, keyset.id))
                .push_bind(key.at)
                .push(", ")
                .push_bind(key.id)
                .push(")");
        }
    }
    let direction = match (keyset.newest_first, backward) {
        (true, false) | (false, true) => "DESC",
        (false, false) | (true, true) => "ASC",
    };
    query
        .push(format_args!(
            " ORDER BY {} {direction}, {} {direction} LIMIT ",
            keyset.time, keyset.id
        ))
        .push_bind(i64::try_from(limit).unwrap_or(0) + 1);
    // Dynamic: the caller's optional filters, the cursors and the direction vary
    // per request, so the statement is assembled here rather than checked at build.
    let rows: Vec<T> = query
        .build_query_as()
        .fetch_all(pool)
        .await
        .map_err(FieldError::from)?;
    Ok(assemble(
        rows,
        limit,
        backward,
        (after.is_some(), before.is_some()),
        |row| row.key(),
    ))
}

/// A Relay page from `rows`, read in the paging direction with one row more than
/// `limit` (whether there is more): cut to `limit`, put in display order, with
/// `hasPreviousPage` / `hasNextPage` (a page that started from a cursor has rows on
/// that side). `cursors`: whether `after` and `before` were given.
pub fn assemble<C, T>(
    mut rows: Vec<T>,
    limit: usize,
    backward: bool,
    cursors: (bool, bool),
    cursor: impl Fn(&T) -> C,
) -> Connection<C, T>
where
    C: CursorType + Send + Sync,
    T: OutputType,
{
    let (after, before) = cursors;
    let more = rows.len() > limit;
    rows.truncate(limit);
    if backward {
        rows.reverse();
    }
    let (has_previous, has_next) = if backward {
        (more, before)
    } else {
        (after, more)
    };
    let mut connection = Connection::new(has_previous, has_next);
    connection.edges.extend(rows.into_iter().map(|row| {
        let key = cursor(&row);
        Edge::new(key, row)
    }));
    connection
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_strangers() {
        let key = Key {
            at: DateTime::from_timestamp_micros(1_717_000_000_123_456).unwrap_or_default(),
            id: 42,
        };
        assert_eq!(Key::decode_cursor(&key.encode_cursor()).ok(), Some(key));
        for bad in ["", "!!", "azE6eDox", &URL_SAFE_NO_PAD.encode("k2:1:1")] {
            assert!(Key::decode_cursor(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn page_sizes_are_bounded() {
        assert!(matches!(Page::default().size(), Ok((20, false))));
        assert!(matches!(
            Page::new(None, None, Some(5), None).size(),
            Ok((5, true))
        ));
        for page in [
            Page::new(Some(101), None, None, None),
            Page::new(Some(-1), None, None, None),
            Page::new(Some(1), None, Some(1), None),
        ] {
            assert!(page.size().is_err());
        }
    }
}
