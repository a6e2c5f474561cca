//! Probes: the valid example of each route and its malformed variants
//! (body at every depth, raw bodies, query and path parameters, tokens,
//! methods).

use super::*;

#[derive(Clone)]
pub(super) enum Auth {
    /// As the caller the run assigns.
    Caller,
    /// This `X-auth-token` header instead.
    Header(String),
}

pub(super) struct Probe {
    pub(super) route: usize,
    pub(super) class: &'static str,
    pub(super) detail: String,
    pub(super) method: Method,
    pub(super) url: String,
    pub(super) content_type: Option<String>,
    pub(super) body: Option<Vec<u8>>,
    pub(super) auth: Auth,
    /// Always sent; optional probes fill the budget.
    pub(super) required: bool,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Caller {
    Anonymous,
    User,
    OrgAdmin,
    Admin,
}

#[derive(Clone)]
pub(super) enum Step {
    Key(String),
    Index(usize),
}

pub(super) fn pointer(path: &[Step]) -> String {
    path.iter()
        .map(|s| match s {
            Step::Key(k) => format!(".{k}"),
            Step::Index(i) => format!("[{i}]"),
        })
        .collect()
}

pub(super) fn nodes(value: &Value, path: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                path.push(Step::Key(k.clone()));
                out.push(path.clone());
                nodes(v, path, out);
                path.pop();
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                path.push(Step::Index(i));
                out.push(path.clone());
                nodes(v, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

pub(super) fn at_mut<'a>(value: &'a mut Value, path: &[Step]) -> &'a mut Value {
    path.iter().fold(value, |v, step| match step {
        Step::Key(k) => &mut v[k.as_str()],
        Step::Index(i) => &mut v[*i],
    })
}

pub(super) fn replaced(base: &Value, path: &[Step], new: Value) -> Value {
    let mut body = base.clone();
    *at_mut(&mut body, path) = new;
    body
}

pub(super) fn removed(base: &Value, path: &[Step]) -> Value {
    let mut body = base.clone();
    let (last, parent) = path.split_last().unwrap();
    match (at_mut(&mut body, parent), last) {
        (Value::Object(map), Step::Key(k)) => {
            map.remove(k);
        }
        (Value::Array(items), Step::Index(i)) => {
            items.remove(*i);
        }
        _ => unreachable!(),
    }
    body
}

pub(super) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Characters other than NUL that a store, a log or a terminal may mishandle.
pub(super) const CONTROLS: [(&str, &str); 10] = [
    ("\u{1}", "U+0001"),
    ("\u{8}", "U+0008"),
    ("\u{b}", "U+000B"),
    ("\u{1b}", "ESC"),
    ("\r\n", "CRLF"),
    ("\u{7f}", "DEL"),
    ("\u{85}", "NEL"),
    ("\u{2028}", "U+2028"),
    ("\u{feff}", "BOM"),
    ("\u{fffe}", "U+FFFE"),
];

/// (class, detail, value, required) for one string value.
pub(super) fn string_values(current: &str) -> Vec<(&'static str, String, Value, bool)> {
    let mid = current.len() / 2;
    let mid = (0..=mid).rev().find(|i| current.is_char_boundary(*i)).unwrap_or(0);
    let (head, tail) = current.split_at(mid);
    let mut out = vec![
        ("NUL in string", "inside".to_string(), json!(format!("{head}\u{0}{tail}")), true),
        ("NUL in string", "alone".to_string(), json!("\u{0}"), false),
        ("NUL in string", "at the end".to_string(), json!(format!("{current}\u{0}")), false),
        ("long string", format!("{LONG} bytes"), json!("x".repeat(LONG)), true),
        ("long string", format!("{} two-byte characters", LONG / 2), json!("é".repeat(LONG / 2)), false),
        ("odd string", "empty".to_string(), json!(""), false),
        ("odd string", "blank".to_string(), json!("   "), false),
        ("odd string", "emoji and RTL override".to_string(), json!(format!("{current}😀\u{202e}x")), false),
        ("odd string", "SQL quote".to_string(), json!(format!("{current}' OR '1'='1")), false),
        ("odd string", "percent-encoded NUL".to_string(), json!(format!("{current}%00")), false),
    ];
    for (i, (c, name)) in CONTROLS.iter().enumerate() {
        out.push(("control character in string", name.to_string(), json!(format!("{head}{c}{tail}")), i == 0));
    }
    out
}

pub(super) fn number_values() -> Vec<(String, Value)> {
    vec![
        ("-1".into(), json!(-1)),
        ("0".into(), json!(0)),
        ("i64::MAX".into(), json!(i64::MAX)),
        ("i64::MIN".into(), json!(i64::MIN)),
        ("u64::MAX".into(), json!(u64::MAX)),
        ("2^31".into(), json!(2_147_483_648_i64)),
        ("-2^31-1".into(), json!(-2_147_483_649_i64)),
        ("1e308".into(), json!(1e308)),
        ("-1e308".into(), json!(-1e308)),
        ("1.5".into(), json!(1.5)),
    ]
}

/// Mutations of a JSON body: every node at every depth, then the body as a whole.
pub(super) fn body_mutations(base: &Value) -> Vec<(&'static str, String, Value, bool)> {
    let mut paths = Vec::new();
    nodes(base, &mut Vec::new(), &mut paths);
    let swaps = [json!(987_654_321), json!("fuzz"), json!(true), Value::Null, json!(["fuzz"]), json!({"fuzz": 1})];
    let mut out = Vec::new();
    for path in &paths {
        let mut probe = base.clone();
        let current = at_mut(&mut probe, path).clone();
        let at = pointer(path);
        for swap in &swaps {
            if kind(swap) != kind(&current) {
                out.push(("wrong type", format!("{at} = {}", kind(swap)), replaced(base, path, swap.clone()), true));
            }
        }
        out.push(("missing field", at.clone(), removed(base, path), true));
        match &current {
            Value::String(s) => {
                for (class, detail, value, required) in string_values(s) {
                    out.push((class, format!("{at}: {detail}"), replaced(base, path, value), required));
                }
            }
            Value::Number(_) => {
                for (i, (detail, value)) in number_values().into_iter().enumerate() {
                    out.push(("extreme number", format!("{at} = {detail}"), replaced(base, path, value), i < 3));
                }
            }
            Value::Array(items) => {
                out.push(("odd array", format!("{at} = []"), replaced(base, path, json!([])), false));
                if let Some(first) = items.first() {
                    let many = Value::Array(vec![first.clone(); 2_000]);
                    out.push(("odd array", format!("{at}: 2000 elements"), replaced(base, path, many), false));
                }
                out.push(("odd array", format!("{at} = [[[]]]"), replaced(base, path, json!([[[]]])), false));
            }
            Value::Object(_) => {
                let mut extra = current.clone();
                extra["zzz_unknown"] = json!("\u{0}");
                out.push(("unknown field", format!("{at}.zzz_unknown"), replaced(base, path, extra), true));
            }
            _ => {}
        }
    }
    if base.is_object() {
        let mut extra = base.clone();
        extra["zzz_unknown"] = json!("x");
        out.push(("unknown field", ".zzz_unknown".into(), extra, true));
        let mut proto = base.clone();
        proto["__proto__"] = json!({"admin": true});
        out.push(("unknown field", ".__proto__".into(), proto, false));
        let mut nul_key = base.clone();
        nul_key["a\u{0}b"] = json!(1);
        out.push(("NUL in string", "in a key".into(), nul_key, true));
    }
    out
}

/// (class, detail, content type, bytes, required).
pub(super) type RawBody = (&'static str, String, Option<String>, Vec<u8>, bool);

/// Bodies that are not what the route parses.
pub(super) fn raw_bodies(base: Option<&Value>) -> Vec<RawBody> {
    let json_ct = || Some("application/json".to_string());
    let text = base.map_or_else(|| "{}".to_string(), Value::to_string);
    let bytes = text.clone().into_bytes();
    let deep = format!("{}{}", "[".repeat(5_000), "]".repeat(5_000));
    let with_first_key = |extra: &str| -> Vec<u8> {
        match text.strip_prefix('{') {
            Some(rest) if rest != "}" => format!("{{{extra},{rest}").into_bytes(),
            Some(_) => format!("{{{extra}}}").into_bytes(),
            None => format!("{{{extra}}}").into_bytes(),
        }
    };
    let mut out = vec![
        ("malformed JSON", "truncated".to_string(), json_ct(), bytes[..bytes.len() / 2].to_vec(), true),
        ("malformed JSON", "trailing brace".to_string(), json_ct(), format!("{text}}}").into_bytes(), false),
        ("malformed JSON", "open key".to_string(), json_ct(), b"{\"a\":".to_vec(), false),
        ("malformed JSON", "nested 5000 deep".to_string(), json_ct(), deep.into_bytes(), true),
        ("malformed JSON", "lone surrogate".to_string(), json_ct(), with_first_key("\"zzz\":\"\\ud800\""), false),
        ("malformed JSON", "number out of range".to_string(), json_ct(), with_first_key("\"zzz\":1e999999"), false),
        (
            "non-UTF-8 body",
            "0xFF 0xFE in a string".to_string(),
            json_ct(),
            with_first_key("\"zzz\":\"\u{1}\"").into_iter().map(|b| if b == 1 { 0xff } else { b }).collect(),
            false,
        ),
        (
            "malformed JSON",
            "raw NUL byte in a string".to_string(),
            json_ct(),
            with_first_key("\"zzz\":\"a\u{0}b\""),
            false,
        ),
        ("non-UTF-8 body", "latin-1 bytes".to_string(), json_ct(), b"{\"name\": \"caf\xe9\"}".to_vec(), true),
        ("wrong content type", "text/plain".to_string(), Some("text/plain".into()), bytes.clone(), true),
        (
            "wrong content type",
            "form".to_string(),
            Some("application/x-www-form-urlencoded".into()),
            b"name=x&email=y".to_vec(),
            false,
        ),
        (
            "wrong content type",
            "multipart".to_string(),
            Some("multipart/form-data; boundary=zz".into()),
            b"--zz\r\n\r\nx\r\n--zz--".to_vec(),
            false,
        ),
        (
            "wrong content type",
            "UTF-16 charset".to_string(),
            Some("application/json; charset=utf-16".into()),
            bytes.clone(),
            false,
        ),
        ("wrong content type", "+json".to_string(), Some("application/vnd.fuzz+json".into()), bytes.clone(), false),
        ("wrong content type", "garbage".to_string(), Some("fuzz/\u{e9};;=".into()), bytes.clone(), false),
        ("wrong content type", "none".to_string(), None, bytes.clone(), false),
    ];
    if base.is_some() {
        let bom: Vec<u8> = b"\xef\xbb\xbf".iter().copied().chain(bytes.iter().copied()).collect();
        out.extend([
            ("empty body", "with a JSON content type".to_string(), json_ct(), vec![], true),
            ("empty body", "without a content type".to_string(), None, vec![], false),
            ("wrong JSON", "null".to_string(), json_ct(), b"null".to_vec(), true),
            ("wrong JSON", "array".to_string(), json_ct(), b"[1,2]".to_vec(), true),
            ("wrong JSON", "string".to_string(), json_ct(), b"\"fuzz\"".to_vec(), false),
            ("wrong JSON", "number".to_string(), json_ct(), b"-1e400".to_vec(), false),
            ("wrong JSON", "duplicate keys".to_string(), json_ct(), with_first_key("\"zzz\":1,\"zzz\":2"), false),
            ("malformed JSON", "byte-order mark".to_string(), json_ct(), bom, false),
        ]);
    }
    out
}

/// Query and path values as sent on the wire (percent-encoded): (detail, value, required).
pub(super) fn url_values() -> Vec<(&'static str, String, bool)> {
    vec![
        ("%00", "%00".into(), true),
        ("NUL inside", "a%00b".into(), true),
        ("non-UTF-8 %FF%FE", "%FF%FE".into(), true),
        ("huge number", "99999999999999999999".into(), true),
        ("negative", "-1".into(), true),
        ("8 KB", "x".repeat(8 * 1024), true),
        ("overlong NUL %C0%80", "%C0%80".into(), false),
        ("control %01", "%01".into(), false),
        ("newline", "%0D%0A".into(), false),
        ("bad escape %ZZ", "%ZZ".into(), false),
        ("lone %", "%".into(), false),
        ("40 KB", "y".repeat(40 * 1024), false),
        ("1e400", "1e400".into(), false),
        ("zero", "0".into(), false),
        ("empty", String::new(), false),
        ("blank", "%20%20".into(), false),
        ("RTL override", "%E2%80%AE".into(), false),
        ("SQL quote", "%27%20OR%20%271%27%3D%271".into(), false),
        ("brackets", "%5B%5D".into(), false),
        ("slash", "..%2F..%2Fetc".into(), false),
        ("fraction", "1.5".into(), false),
        ("nil uuid", "00000000-0000-0000-0000-000000000000".into(), false),
        ("emoji", "%F0%9F%98%80".into(), false),
    ]
}

/// `body` with its unique fields, where still strings, made unique by `n`:
/// an email before its `@`, a phone in its last digits, anything else by a suffix.
pub(super) fn uniquely(body: &Value, fields: &[&str], n: usize) -> Value {
    let mut body = body.clone();
    for field in fields {
        if let Some(Value::String(s)) = body.get_mut(*field) {
            let digits = s.len() - s.trim_end_matches(|c: char| c.is_ascii_digit()).len();
            *s = match s.find('@') {
                Some(at) => format!("{}+{n}{}", &s[..at], &s[at..]),
                None if digits >= 6 => format!("{}{:06}", &s[..s.len() - 6], n % 1_000_000),
                None => format!("{s}_{n}"),
            };
        }
    }
    body
}

pub(super) fn probes(routes: &[Route], tokens: &Tokens) -> Vec<Probe> {
    let mut out = Vec::new();
    let serial = std::cell::Cell::new(0);
    for (index, r) in routes.iter().enumerate() {
        let url = r.url(&r.params, &r.valid_query());
        let body_of = |v: &Value| {
            serial.set(serial.get() + 1);
            Some(uniquely(v, &r.unique, serial.get()).to_string().into_bytes())
        };
        let json_ct = || Some("application/json".to_string());
        let mut push = |class, detail: String, url: String, content_type, body, auth, required| {
            out.push(Probe {
                route: index,
                class,
                detail,
                method: r.method.clone(),
                url,
                content_type,
                body,
                auth,
                required,
            });
        };
        push("valid", "example".into(), url.clone(), json_ct(), r.body.as_ref().and_then(body_of), Auth::Caller, true);
        if let Some(base) = &r.body {
            for (class, detail, body, required) in body_mutations(base) {
                push(class, detail, url.clone(), json_ct(), body_of(&body), Auth::Caller, required);
            }
        }
        for (class, detail, content_type, body, required) in raw_bodies(r.body.as_ref()) {
            // Routes without a body ignore it: a few of these suffice there.
            let required = required && (r.body.is_some() || class == "malformed JSON");
            push(class, detail, url.clone(), content_type, Some(body), Auth::Caller, required);
        }
        for (name, _) in &r.query {
            for (detail, value, required) in url_values() {
                let query: Vec<(String, String)> = r
                    .valid_query()
                    .into_iter()
                    .map(|(k, v)| if k == *name { (k, value.clone()) } else { (k, v) })
                    .collect();
                push(
                    "query parameter",
                    format!("{name} = {detail}"),
                    r.url(&r.params, &query),
                    json_ct(),
                    r.body.as_ref().and_then(body_of),
                    Auth::Caller,
                    required,
                );
            }
            // Alone, so that no other parameter takes precedence over it; and
            // under its aliases.
            let names = std::iter::once(*name).chain(r.aliases.iter().filter(|(_, of)| of == name).map(|(a, _)| *a));
            for (spelling, (detail, value, value_required)) in
                names.flat_map(|n| url_values().into_iter().map(move |v| (n, v)))
            {
                if detail.contains("KB") {
                    continue;
                }
                push(
                    "query parameter",
                    format!("{spelling} = {detail}, alone"),
                    r.url(&r.params, &[(spelling.to_string(), value)]),
                    json_ct(),
                    r.body.as_ref().and_then(body_of),
                    Auth::Caller,
                    value_required && (spelling != *name || r.query.len() > 1),
                );
            }
            let without: Vec<(String, String)> = r.valid_query().into_iter().filter(|(k, _)| k != name).collect();
            push(
                "query parameter",
                format!("{name} missing"),
                r.url(&r.params, &without),
                json_ct(),
                r.body.as_ref().and_then(body_of),
                Auth::Caller,
                false,
            );
        }
        let mut extra = r.valid_query();
        extra.push(("zzz_unknown".into(), "%00".into()));
        push(
            "query parameter",
            "unknown parameter = %00".into(),
            r.url(&r.params, &extra),
            json_ct(),
            r.body.as_ref().and_then(body_of),
            Auth::Caller,
            true,
        );
        if let Some((name, _)) = r.query.first() {
            let mut twice = r.valid_query();
            twice.push((name.to_string(), "%00".into()));
            push(
                "query parameter",
                format!("{name} twice"),
                r.url(&r.params, &twice),
                json_ct(),
                r.body.as_ref().and_then(body_of),
                Auth::Caller,
                true,
            );
        }
        for (name, _) in &r.params {
            for (detail, value, required) in url_values() {
                let params: Vec<(&str, String)> =
                    r.params.iter().map(|(k, v)| (*k, if k == name { value.clone() } else { v.clone() })).collect();
                push(
                    "path parameter",
                    format!("{name} = {detail}"),
                    r.url(&params, &r.valid_query()),
                    json_ct(),
                    r.body.as_ref().and_then(body_of),
                    Auth::Caller,
                    required,
                );
            }
        }
        let wrong_method = if r.method == Method::PUT { Method::TRACE } else { Method::PUT };
        out.push(Probe {
            route: index,
            class: "wrong method",
            detail: wrong_method.to_string(),
            method: wrong_method,
            url: url.clone(),
            content_type: json_ct(),
            body: r.body.as_ref().and_then(body_of),
            auth: Auth::Caller,
            required: true,
        });
        for (detail, header) in tokens.bad_headers() {
            out.push(Probe {
                route: index,
                class: "bad token",
                detail,
                method: r.method.clone(),
                url: url.clone(),
                content_type: json_ct(),
                body: r.body.as_ref().and_then(body_of),
                auth: Auth::Header(header),
                required: false,
            });
        }
    }
    out
}

pub(super) struct Tokens {
    pub(super) user: String,
    pub(super) org_admin: String,
    pub(super) admin: String,
    pub(super) admin_refresh: String,
}

impl Tokens {
    pub(super) fn of(&self, caller: Caller) -> Option<String> {
        match caller {
            Caller::Anonymous => None,
            Caller::User => Some(format!("bearer {}", self.user)),
            Caller::OrgAdmin => Some(format!("bearer {}", self.org_admin)),
            Caller::Admin => Some(format!("bearer {}", self.admin)),
        }
    }

    pub(super) fn bad_headers(&self) -> Vec<(String, String)> {
        let mut tampered = self.admin.clone();
        let last = if tampered.ends_with('A') { 'B' } else { 'A' };
        tampered.pop();
        tampered.push(last);
        vec![
            ("garbage".into(), "bearer abc.def.ghi".into()),
            ("tampered signature".into(), format!("bearer {tampered}")),
            ("refresh token as access token".into(), format!("bearer {}", self.admin_refresh)),
            ("16 KB".into(), format!("bearer {}", "x".repeat(16 * 1024))),
            ("scheme only".into(), "bearer".into()),
        ]
    }
}
