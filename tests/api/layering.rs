//! The layers, checked on the source text (like the Dockerfile test in
//! `operations.rs`): use cases and storage sit below HTTP and the wiring.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// Every source file under `src/`, with its path relative to `src/`.
pub fn sources() -> Vec<(String, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let relative = path.strip_prefix(&src).unwrap().to_string_lossy().replace('\\', "/");
            (relative, std::fs::read_to_string(&path).unwrap())
        })
        .collect()
}

/// Code lines, without the comments that may name other layers.
pub fn code_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines().enumerate().filter(|(_, line)| !line.trim_start().starts_with("//")).map(|(i, l)| (i + 1, l))
}

#[test]
fn no_module_below_http_imports_the_http_layer_or_the_wiring() {
    // The composition root and the binary's entry points know both sides.
    let wiring = ["app.rs", "cli.rs", "main.rs", "lib.rs"];
    let mut offenders = Vec::new();
    for (path, text) in sources() {
        if wiring.contains(&path.as_str()) || path.starts_with("http/") {
            continue;
        }
        for (line_number, line) in code_lines(&text) {
            if ["crate::http", "crate::app", "super::app", "super::http"].iter().any(|layer| line.contains(layer)) {
                offenders.push(format!("src/{path}:{line_number}: {}", line.trim()));
            }
        }
    }
    assert!(offenders.is_empty(), "below HTTP, but importing it or the wiring:\n{}", offenders.join("\n"));
}

/// The string literals of a source text's code lines (escapes as written).
fn literals(text: &str) -> Vec<String> {
    let code: String = code_lines(text).map(|(_, line)| format!("{line}\n")).collect();
    let code = code.replace("'\"'", "").replace("'\\\"'", "");
    let mut found = Vec::new();
    let mut chars = code.chars();
    while let Some(c) = chars.next() {
        if c != '"' {
            continue;
        }
        let mut literal = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    literal.push(c);
                    literal.extend(chars.next());
                }
                '"' => break,
                c => literal.push(c),
            }
        }
        found.push(literal);
    }
    found
}

/// What ELEVATE clients read: every message-like piece of text in
/// `src/http/elevate/` (format placeholders split out): words, or an
/// UPPER_SNAKE message or response code.
fn elevate_messages(sources: &[(String, String)]) -> std::collections::BTreeSet<String> {
    dialect_messages(sources, "http/elevate/")
}

/// The message-like text of one dialect's sources (see `elevate_messages`).
fn dialect_messages(sources: &[(String, String)], dir: &str) -> std::collections::BTreeSet<String> {
    let mut messages = std::collections::BTreeSet::new();
    for (_, text) in sources.iter().filter(|(path, _)| path.starts_with(dir)) {
        for literal in literals(text) {
            // A piece between placeholders ("… does not exist") must be
            // longer to count: short ones are everyday English.
            let pieces: Vec<&str> = literal.split(['{', '}']).step_by(2).collect();
            let shortest = if pieces.len() > 1 { 20 } else { 12 };
            for piece in pieces {
                let piece = piece.trim();
                let words = piece.contains(' ') && piece.chars().any(|c| c.is_alphabetic());
                let code = piece.contains('_') && piece.chars().all(|c| c.is_ascii_uppercase() || c == '_');
                if piece.len() >= shortest && (words || code) {
                    messages.insert(piece.to_string());
                }
            }
        }
    }
    messages
}

/// `needle` in `line`, not as part of a longer word (`INTERNAL_SERVER_ERROR`
/// does not hold `SERVER_ERROR`).
fn contains_word(line: &str, needle: &str) -> bool {
    let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    line.match_indices(needle)
        .any(|(at, _)| !word(line[..at].chars().next_back()) && !word(line[at + needle.len()..].chars().next()))
}

/// ELEVATE's wording and envelope belong to its dialect: a Sunbird or
/// entity-v5 route must not be able to borrow them by accident.
#[test]
fn elevate_strings_live_only_in_src_http_elevate() {
    let sources = sources();
    let messages = elevate_messages(&sources);
    assert!(messages.contains("User already exists"), "the scan found no messages: {messages:?}");
    assert!(messages.contains("MODULES_CREATED_SUCCESSFULLY"), "{messages:?}");
    let mut offenders = Vec::new();
    for (path, text) in sources.iter().filter(|(path, _)| !path.starts_with("http/elevate/")) {
        // Sunbird's own protocol has these too: there they are Sunbird's.
        let own = |found: &str| {
            (path.starts_with("http/sunbird/") && SUNBIRD_HAS_TOO.contains(&found)) || SERDE_WORDS.contains(&found)
        };
        for (line_number, line) in text.lines().enumerate() {
            let envelope = ["responseCode", "formsVersion"].into_iter().filter(|key| line.contains(key));
            let wording = messages.iter().map(String::as_str).filter(|m| contains_word(line, m));
            for found in envelope.chain(wording).filter(|found| !own(found)) {
                offenders.push(format!("src/{path}:{}: {found:?}", line_number + 1));
            }
        }
    }
    assert!(offenders.is_empty(), "ELEVATE's strings outside src/http/elevate/:\n{}", offenders.join("\n"));
}

/// serde's error text, which every dialect parses to word its own errors:
/// no dialect's wording.
const SERDE_WORDS: &[&str] = &["unknown field", "unknown field `", "missing field `", "invalid type:"];

/// Text in src/http/sunbird/ that the ELEVATE scan finds but is not
/// ELEVATE's to own: words both envelopes define, each in its own
/// specification (Sunbird's `responseCode` and its values are Sunbird's as
/// much as ELEVATE's), and serde's error text that both dialects parse.
const SUNBIRD_HAS_TOO: &[&str] = &["responseCode", "CLIENT_ERROR", "SERVER_ERROR", "UNAUTHORIZED", "missing field `"];

/// Sunbird's wording, envelope and error codes belong to its dialect, as
/// ELEVATE's belong to ELEVATE's: no other module (ELEVATE's included) can
/// borrow them by accident.
#[test]
fn sunbird_strings_live_only_in_src_http_sunbird() {
    let sources = sources();
    let messages = dialect_messages(&sources, "http/sunbird/");
    assert!(
        messages.contains("Requested data for this operation is not valid."),
        "the scan found no messages: {messages:?}"
    );
    assert!(messages.contains("USER_NOT_FOUND"), "{messages:?}");
    let elevate = elevate_messages(&sources);
    let mut offenders = Vec::new();
    for (path, text) in sources.iter().filter(|(path, _)| !path.starts_with("http/sunbird/")) {
        // String literals only: `StatusCode::SERVICE_UNAVAILABLE` is no message.
        for literal in literals(text) {
            let codes = literal.contains("UOS_").then_some("UOS_");
            // A word ELEVATE has too is ELEVATE's there (see above).
            let wording = messages.iter().map(String::as_str).filter(|m| {
                !elevate.contains(*m)
                    && !SUNBIRD_HAS_TOO.contains(m)
                    && !SERDE_WORDS.contains(m)
                    && contains_word(&literal, m)
            });
            for found in codes.into_iter().chain(wording) {
                offenders.push(format!("src/{path}: {found:?} in {literal:?}"));
            }
        }
    }
    assert!(offenders.is_empty(), "Sunbird's strings outside src/http/sunbird/:\n{}", offenders.join("\n"));
}

/// Entity v5's wording, envelope codes and its name in the events' metadata
/// (`entity-v5`) belong to its dialect.
#[test]
fn entity_v5_strings_live_only_in_src_http_entity_v5() {
    let sources = sources();
    let messages = dialect_messages(&sources, "http/entity_v5/");
    assert!(messages.contains("access to users in the organization only."), "the scan found no messages: {messages:?}");
    let others: std::collections::BTreeSet<String> =
        ["http/elevate/", "http/sunbird/"].iter().flat_map(|dir| dialect_messages(&sources, dir)).collect();
    let mut offenders = Vec::new();
    for (path, text) in sources.iter().filter(|(path, _)| !path.starts_with("http/entity_v5/")) {
        for literal in literals(text) {
            let name = (literal == "entity-v5" || literal == "success.").then_some(literal.as_str());
            let wording = messages
                .iter()
                .map(String::as_str)
                .filter(|m| !others.contains(*m) && !SERDE_WORDS.contains(m) && contains_word(&literal, m));
            for found in name.into_iter().chain(wording) {
                offenders.push(format!("src/{path}: {found:?} in {literal:?}"));
            }
        }
    }
    assert!(offenders.is_empty(), "entity v5's strings outside src/http/entity_v5/:\n{}", offenders.join("\n"));
}

/// A dialect reads through the use cases (`crate::services::Services`'
/// methods), never the read models' queries or the stores themselves, so a
/// second dialect finds every read it needs there, with its scoping.
#[test]
fn no_dialect_reads_the_read_models_or_the_stores() {
    let mut offenders = Vec::new();
    for (path, text) in sources().iter().filter(|(path, _)| path.starts_with("http/")) {
        let dialect = ["http/elevate/", "http/sunbird/", "http/entity_v5/"].iter().any(|d| path.starts_with(d));
        for (line_number, line) in code_lines(text) {
            let read_models = line.contains("read_models");
            let stores = ["state.db", "state.reader", "Statement::new", "sqlx::query"].iter().any(|s| line.contains(s));
            if read_models || (dialect && stores) {
                offenders.push(format!("src/{path}:{line_number}: {}", line.trim()));
            }
        }
    }
    assert!(offenders.is_empty(), "HTTP reading below the use cases:\n{}", offenders.join("\n"));
}

/// The use cases ask the read models (`src/read_models/`) for rows and
/// write through the unit of work; the SQL lives below them, so a table
/// change is one module's change.
const USE_CASES: &[&str] = &[
    "accounts.rs",
    "api_keys.rs",
    "audit.rs",
    "catalogue/",
    "client_apps.rs",
    "declarations.rs",
    "forms.rs",
    "managed_users.rs",
    "notifications/",
    "org_scope.rs",
    "organizations.rs",
    "otp.rs",
    "user_tokens.rs",
    "ownership.rs",
    "unverified_users.rs",
    "users.rs",
];

#[test]
fn use_cases_write_no_sql() {
    let sql = ["Statement::new", "sqlx::query", "SELECT ", "INSERT ", "UPDATE ", "DELETE FROM", " WHERE "];
    let mut offenders = Vec::new();
    for (path, text) in sources().iter().filter(|(path, _)| USE_CASES.iter().any(|u| path.starts_with(u))) {
        for (line_number, line) in code_lines(text) {
            if sql.iter().any(|s| line.contains(s)) {
                offenders.push(format!("src/{path}:{line_number}: {}", line.trim()));
            }
        }
    }
    assert!(offenders.is_empty(), "SQL in a use case:\n{}", offenders.join("\n"));
}

/// Lists page through `storage::query` (numbered arguments, escaped `LIKE`
/// patterns, one window): no module numbers its own `LIMIT $n` or escapes
/// its own wildcards.
#[test]
fn list_queries_share_one_builder() {
    let mut offenders = Vec::new();
    for (path, text) in sources().iter().filter(|(path, _)| path.starts_with("read_models/")) {
        for (line_number, line) in code_lines(text) {
            let own_paging = line.contains("OFFSET ${") || line.contains("LIMIT ${");
            let own_escape = line.contains(".replace('%'") || line.contains(".replace('_'");
            if own_paging || own_escape {
                offenders.push(format!("src/{path}:{line_number}: {}", line.trim()));
            }
        }
    }
    assert!(offenders.is_empty(), "a list query building its own paging or LIKE escape:\n{}", offenders.join("\n"));
}

/// The type names a source text imports from the `aggregates` crate.
fn aggregate_imports(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    for (_, line) in code_lines(text) {
        let Some(rest) = line.trim().strip_prefix("use aggregates::") else { continue };
        let rest = rest.trim_end_matches(';');
        let list = rest.strip_prefix('{').and_then(|r| r.strip_suffix('}')).unwrap_or(rest);
        for item in list.split(',') {
            let name = item.trim().rsplit("::").next().unwrap_or_default();
            let name = name.rsplit(" as ").next().unwrap_or_default().trim();
            if name.chars().next().is_some_and(char::is_uppercase) {
                names.push(name.to_string());
            }
        }
    }
    names
}

/// A dialect parses its own request types and maps them onto the commands:
/// an ELEVATE or Sunbird body is never an aggregate's type (a change-set, a definition),
/// so renaming one of a dialect's fields cannot change an event's schema.
#[test]
fn elevate_bodies_are_its_own_types_not_the_aggregates() {
    let mut offenders = Vec::new();
    let dialects =
        |path: &str| ["http/elevate/", "http/sunbird/", "http/entity_v5/"].iter().any(|d| path.starts_with(d));
    for (path, text) in sources().iter().filter(|(path, _)| dialects(path)) {
        let names = aggregate_imports(text);
        let lines: Vec<(usize, &str)> = code_lines(text).collect();
        for (i, (line_number, line)) in lines.iter().enumerate() {
            let extracted = ["JsonBody<", "Query<", "Json<"]
                .iter()
                .any(|extractor| names.iter().any(|name| line.contains(&format!("{extractor}{name}>"))));
            let flattened = line.contains("#[serde(flatten)]")
                && lines.get(i + 1).is_some_and(|(_, field)| {
                    names.iter().any(|name| contains_word(field.split_once(':').map_or("", |(_, t)| t), name))
                });
            if extracted || flattened {
                offenders.push(format!("src/{path}:{line_number}: {}", line.trim()));
            }
        }
    }
    assert!(offenders.is_empty(), "ELEVATE bodies parsed as aggregates' types:\n{}", offenders.join("\n"));
}
