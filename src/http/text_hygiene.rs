//! Text the stores cannot hold is refused at the edge. PostgreSQL's text
//! and json(b) refuse U+0000 (SQLite stores it), and one such character in
//! an event once stopped a read model for good. So a NUL anywhere in a JSON
//! body (values and keys, at any depth), a path segment, a query parameter
//! or the correlation header is a 400 naming the field, before any use case
//! or event sees it, on both backends alike.

use axum::extract::{MatchedPath, OriginalUri, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::http::refusal::EdgeRefusal;

/// Longest `x-request-id` kept as an event's correlation id.
pub const MAX_CORRELATION_CHARS: usize = 200;

pub fn is_storable(text: &str) -> bool {
    !text.contains('\0')
}

/// The path (`form_data.answers[2]`) of the first string or key in `value`
/// that cannot be stored.
pub fn first_unstorable(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => (!is_storable(text)).then(String::new),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| first_unstorable(item).map(|rest| format!("[{i}]{}", dotted(rest)))),
        Value::Object(fields) => fields.iter().find_map(|(key, item)| {
            let key_shown: String = key.chars().filter(|c| *c != '\0').collect();
            if !is_storable(key) {
                return Some(key_shown);
            }
            first_unstorable(item).map(|rest| format!("{key_shown}{}", dotted(rest)))
        }),
        _ => None,
    }
}

/// `rest` as the continuation of a path: `.field`, `[i]`, or nothing.
fn dotted(rest: String) -> String {
    if rest.is_empty() || rest.starts_with('[') {
        rest
    } else {
        format!(".{rest}")
    }
}

pub fn unstorable_field(param: &str) -> EdgeRefusal {
    let field = if param.is_empty() { "body" } else { param };
    EdgeRefusal::Unstorable { field: field.to_string() }
}

/// Middleware: refuses a request whose path segments, query parameters or
/// correlation header hold text that cannot be stored.
pub async fn refuse_unstorable_uri(request: Request, next: Next) -> Response {
    if let Err(error) = check_uri(&request) {
        return error.into_response();
    }
    next.run(request).await
}

fn check_uri(request: &Request) -> Result<(), EdgeRefusal> {
    let template = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned()).unwrap_or_default();
    let template: Vec<&str> = template.split('/').collect();
    // Inside a dialect's nested router the URI lost its prefix; the
    // template (`MatchedPath`) did not.
    let path = match request.extensions().get::<OriginalUri>() {
        Some(original) => original.path(),
        None => request.uri().path(),
    };
    for (i, segment) in path.split('/').enumerate() {
        let decoded = percent_encoding::percent_decode_str(segment).decode_utf8_lossy();
        if !is_storable(&decoded) {
            let name =
                template.get(i).and_then(|t| t.strip_prefix('{')).and_then(|t| t.strip_suffix('}')).unwrap_or("path");
            return Err(unstorable_field(name));
        }
    }
    if let Some(query) = request.uri().query() {
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            if !is_storable(&key) || !is_storable(&value) {
                let shown: String = key.chars().filter(|c| *c != '\0').collect();
                return Err(unstorable_field(if shown.is_empty() { "query" } else { &shown }));
            }
        }
    }
    if let Some(correlation) = request.headers().get("x-request-id") {
        if correlation.len() > MAX_CORRELATION_CHARS {
            return Err(EdgeRefusal::CorrelationTooLong { max: MAX_CORRELATION_CHARS });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_path_of_the_first_nul_is_named() {
        assert_eq!(first_unstorable(&json!({"name": "ok", "description": "a\u{0}b"})), Some("description".into()));
        assert_eq!(
            first_unstorable(&json!({"form_data": {"answers": ["x", {"text": "\u{0}"}]}})),
            Some("form_data.answers[1].text".into())
        );
        assert_eq!(first_unstorable(&json!({"ok\u{0}": 1})), Some("ok".into()));
        assert_eq!(first_unstorable(&json!(["\u{0}"])), Some("[0]".into()));
        assert_eq!(first_unstorable(&json!("\u{0}")), Some(String::new()));
        assert_eq!(first_unstorable(&json!({"name": "tab\tand\nnewline", "n": 1, "b": null})), None);
    }
}
