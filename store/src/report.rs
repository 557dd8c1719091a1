//! An error's chain of causes, for logs and recorded reasons: written once here for
//! every layer above (`Display` of an error shows only its own message).

use std::error::Error;

/// `err` with its whole chain of causes, `: `-separated.
pub fn chain(err: &dyn Error) -> String {
    let mut text = err.to_string();
    let mut cause = err.source();
    while let Some(e) = cause {
        text.push_str(": ");
        text.push_str(&e.to_string());
        cause = e.source();
    }
    text
}

/// The first error of type `E` in `err`'s chain, `err` itself included.
pub fn find_in_chain<'a, E: Error + 'static>(err: &'a (dyn Error + 'static)) -> Option<&'a E> {
    let mut current = Some(err);
    while let Some(err) = current {
        if let Some(found) = err.downcast_ref::<E>() {
            return Some(found);
        }
        current = err.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn the_chain_names_every_cause_and_finds_one_by_type() {
        let err = Outer(std::io::Error::other("inner"));
        assert_eq!(chain(&err), "outer: inner");
        assert!(find_in_chain::<std::io::Error>(&err).is_some());
        assert!(find_in_chain::<std::fmt::Error>(&err).is_none());
    }
}
