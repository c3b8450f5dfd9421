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

/// The longest filter accepted, in bytes, checked before any parsing
/// (docs/security.md 23). Real clients send a few hundred bytes at most.
pub const MAX_FILTER_LENGTH: usize = 16 * 1024;

/// Parses a filter, or says where it goes wrong (`invalidFilter`).
///
/// Besides the RFC 7644 grammar it accepts `emails[type eq "work"].value eq
/// "x"`, which Entra ID sends (docs/scim-clients.md) and which means the same as
/// `emails[type eq "work" and value eq "x"]`.
pub fn parse(text: &str) -> Result<Filter, Error> {
    if text.len() > MAX_FILTER_LENGTH {
        return Err(Error::new(
            ScimType::InvalidFilter,
            format!("the filter is longer than {MAX_FILTER_LENGTH} bytes"),
        ));
    }
    Filter::from_str(text).or_else(|e| {
        match sub_attribute_after_brackets(text) {
            Some(rewritten) => Filter::from_str(&rewritten).ok(),
            None => None,
        }
        .ok_or_else(|| {
            Error::new(
                ScimType::InvalidFilter,
                format!("invalid filter: {}", describe(&e)),
            )
        })
    })
}

/// Rewrites each `attr[inner].sub op value` into `attr[inner and sub op
/// value]`, or `None` when the text has no such form. One pass over the
/// characters: the tokens after `].` are read in place (an earlier version
/// copied the rest of the input at every `].`, quadratic in its length).
fn sub_attribute_after_brackets(text: &str) -> Option<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() + 8);
    let mut open = false;
    let mut in_string = false;
    let mut changed = false;
    let mut i = 0;
    let skip = |mut j: usize, keep: &dyn Fn(char) -> bool| {
        while j < chars.len() && keep(chars[j]) {
            j += 1;
        }
        j
    };
    while i < chars.len() {
        let c = chars[i];
        if in_string {
            out.push(c);
            if c == '\\' && i + 1 < chars.len() {
                out.push(chars[i + 1]);
                i += 2;
                continue;
            }
            in_string = c != '"';
            i += 1;
            continue;
        }
        match c {
            '"' => in_string = true,
            '[' => open = true,
            ']' if open && chars.get(i + 1) == Some(&'.') => {
                // `].sub op value`: read the three tokens.
                let sub_start = i + 2;
                let sub_end = skip(sub_start, &|c| {
                    c.is_ascii_alphanumeric() || c == '_' || c == '$'
                });
                let op_start = skip(sub_end, &char::is_whitespace);
                let op_end = skip(op_start, &|c| c.is_ascii_alphabetic());
                if sub_end == sub_start || op_end == op_start {
                    return None;
                }
                let sub: String = chars[sub_start..sub_end].iter().collect();
                let op: String = chars[op_start..op_end].iter().collect();
                let (value, end) = if op.eq_ignore_ascii_case("pr") {
                    (String::new(), op_end)
                } else {
                    let value_start = skip(op_end, &char::is_whitespace);
                    let value_end = value_token(&chars, value_start)?;
                    (chars[value_start..value_end].iter().collect(), value_end)
                };
                out.push_str(" and ");
                out.push_str(&sub);
                out.push(' ');
                out.push_str(&op);
                out.push(' ');
                out.push_str(&value);
                out.push(']');
                i = end;
                open = false;
                changed = true;
                continue;
            }
            ']' => open = false,
            _ => {}
        }
        out.push(c);
        i += 1;
    }
    changed.then_some(out)
}

/// The end of the comparison value starting at `start`: a JSON string or a
/// bare word.
fn value_token(chars: &[char], start: usize) -> Option<usize> {
    if chars.get(start) == Some(&'"') {
        let mut escaped = false;
        for (n, c) in chars.iter().enumerate().skip(start + 1) {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => return Some(n + 1),
                _ => {}
            }
        }
        return None;
    }
    let end = chars[start.min(chars.len())..]
        .iter()
        .position(|c| c.is_whitespace() || *c == ')')
        .map_or(chars.len(), |n| start + n);
    (end > start).then_some(end)
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
