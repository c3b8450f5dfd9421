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
///
/// Besides the RFC 7644 grammar it accepts `emails[type eq "work"].value eq
/// "x"`, which Entra ID sends (SCIM-CLIENTS.md) and which means the same as
/// `emails[type eq "work" and value eq "x"]`.
pub fn parse(text: &str) -> Result<Filter, Error> {
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
/// value]`, or `None` when the text has no such form.
fn sub_attribute_after_brackets(text: &str) -> Option<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() + 8);
    let mut open: Option<usize> = None;
    let mut in_string = false;
    let mut changed = false;
    let mut i = 0;
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
            '[' => open = Some(out.len()),
            ']' if open.is_some() && chars.get(i + 1) == Some(&'.') => {
                // `].sub op value`: read the three tokens.
                let mut j = i + 2;
                let sub: String = chars[j..]
                    .iter()
                    .take_while(|c| c.is_ascii_alphanumeric() || **c == '_' || **c == '$')
                    .collect();
                j += sub.chars().count();
                let rest: String = chars[j..].iter().collect();
                let trimmed = rest.trim_start();
                let op: String = trimmed
                    .chars()
                    .take_while(|c| c.is_ascii_alphabetic())
                    .collect();
                if sub.is_empty() || op.is_empty() {
                    return None;
                }
                let after_op = &trimmed[op.len()..];
                let consumed_ws = rest.len() - trimmed.len();
                let value = if op.eq_ignore_ascii_case("pr") {
                    String::new()
                } else {
                    value_token(after_op.trim_start())?
                };
                let ws_before_value = after_op.len() - after_op.trim_start().len();
                out.push_str(&format!(" and {sub} {op} {value}]"));
                let consumed = consumed_ws
                    + op.len()
                    + if value.is_empty() {
                        0
                    } else {
                        ws_before_value + value.len()
                    };
                i = j + rest[..consumed].chars().count();
                open = None;
                changed = true;
                continue;
            }
            ']' => open = None,
            _ => {}
        }
        out.push(c);
        i += 1;
    }
    changed.then_some(out)
}

/// A comparison value at the start of `text`: a JSON string or a bare word.
fn value_token(text: &str) -> Option<String> {
    if let Some(rest) = text.strip_prefix('"') {
        let mut escaped = false;
        for (n, c) in rest.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => return Some(text[..n + 2].to_owned()),
                _ => {}
            }
        }
        return None;
    }
    let word: String = text
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != ')')
        .collect();
    (!word.is_empty()).then_some(word)
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
