//! SCIM filters (RFC 7644 §3.4.2.2): parsing, and evaluation against a
//! resource's JSON.
//!
//! Parsing is delegated to the `scim_v2` crate (the whole grammar, with a
//! depth and term budget), wrapped here so it can be replaced and so its
//! errors become `invalidFilter` with the position of the problem. The
//! evaluator is ours: it needs the attribute rules of RFC 7643 (`caseExact`,
//! types), which come from a [`Schema`].
//!
//! What it does not do: decide which filters a store can answer with an
//! index; callers look at the parsed [`Filter`] for that.

mod core;
mod eval;

use std::str::FromStr;

pub use core::CoreSchema;
pub use eval::{AttrInfo, Kind, Schema, element_matches, matches};
pub use scim_v2::filter::{AttrExp, AttrPath, CompValue, CompareOp, Filter, ValFilter, ValuePath};

use crate::{Error, ScimType};

/// Parses a filter, or says where it goes wrong (`invalidFilter`).
pub fn parse(text: &str) -> Result<Filter, Error> {
    Filter::from_str(text).map_err(|e| {
        Error::new(
            ScimType::InvalidFilter,
            format!("invalid filter: {}", describe(&e)),
        )
    })
}

/// Where and why the grammar refused a filter or path.
pub(crate) fn describe(e: &scim_v2::filter::ParseError) -> String {
    use scim_v2::filter::ParseError;
    match e {
        ParseError::InvalidToken { location } => format!("invalid token at character {location}"),
        ParseError::UnrecognizedEof { location, .. } => {
            format!("unexpected end at character {location}")
        }
        ParseError::UnrecognizedToken {
            token: (start, token, _),
            ..
        }
        | ParseError::ExtraToken {
            token: (start, token, _),
        } => {
            format!("unexpected {token:?} at character {start}")
        }
        ParseError::User { error } => error.to_string(),
    }
}

#[cfg(test)]
mod tests;
