//! Erasure in an append-only log, by crypto-shredding.
//!
//! Personal fields of user events (email, name, phone, …) are written to the
//! log encrypted with a key that belongs to that user and lives outside the
//! log (`personal_data_keys`). Every reader decrypts them on the way out.
//! Deleting a user destroys the key: from then on the same events read as
//! erased everywhere — aggregate loads, projections and replays, the audit
//! API, exports and Kafka re-publishes — while the log itself is never
//! rewritten.

use std::collections::HashMap;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use serde_json::Value;

use crate::storage::Db;

/// Aggregate types whose events carry personal data: users, and the
/// messages of the outbox (sealed under a key per message, destroyed once
/// it is delivered: `crate::notifications`).
const PERSONAL_TYPES: &[&str] = &["user", "notification"];
/// Marks an encrypted value: `pii:v1:` + base64(nonce ‖ ciphertext of the value's JSON).
const SEALED_PREFIX: &str = "pii:v1:";

/// Where personal values sit in a user event, and what an erased one reads as
/// (an empty string where the domain type needs a string, null otherwise).
/// Fields are opened before old versions are upcast (`storage::log::bring_out`),
/// so when an upcaster moves a personal field, list both its places here.
/// (event variant, the container in it, the container's personal fields).
type PersonalFields = (&'static str, &'static str, &'static [(&'static str, Erased)]);

const PERSONAL_FIELDS: &[PersonalFields] = &[
    (
        "UserRegistered",
        "registration",
        &[
            ("email", Erased::Empty),
            ("name", Erased::Empty),
            ("phone", Erased::Null),
            ("username", Erased::Null),
            ("password_hash", Erased::Empty),
            ("extension", Erased::Null),
        ],
    ),
    (
        "ProfileUpdated",
        "changes",
        &[
            ("name", Erased::Null),
            ("about", Erased::Null),
            ("gender", Erased::Null),
            ("location", Erased::Null),
            ("image", Erased::Null),
            ("share_link", Erased::Null),
            ("extension", Erased::Null),
        ],
    ),
    // The declarations, organisations and personas included: as one value.
    ("DeclarationsChanged", "declarations", &[("entries", Erased::EmptyList)]),
    ("ContactChanged", "changes", &[("email", Erased::Null), ("phone", Erased::Null), ("username", Erased::Null)]),
    ("PasswordChanged", "credentials", &[("password_hash", Erased::Empty)]),
    // The external id an organisation knows the user by (Sunbird's migration).
    ("MigrationProspectAdded", "prospect", &[("expected_external_id", Erased::Empty)]),
    ("UserMigrated", "migration", &[("external_id", Erased::Empty)]),
    (
        "NotificationQueued",
        "message",
        &[("mail_to", Erased::Empty), ("mail_subject", Erased::Empty), ("mail_body", Erased::Empty)],
    ),
];

/// Marks a value sealed for a user named beside it rather than for the
/// event's own aggregate: `pii:v2:<subject>:` + base64(nonce ‖ ciphertext).
/// The subject is a user id, as public as the ids the events already carry.
const SEALED_FOR_PREFIX: &str = "pii:v2:";

/// Personal values in other aggregates' events, each sealed for the user it
/// is about: (aggregate type, variant, container, field, the container's
/// field naming that user, what an erased value reads as).
const FOREIGN_FIELDS: &[ForeignField] = &[ForeignField {
    aggregate_type: "role_request",
    variant: "RoleRequested",
    container: "details",
    field: "form_data",
    subject: "requester_uuid",
}];

struct ForeignField {
    aggregate_type: &'static str,
    variant: &'static str,
    container: &'static str,
    field: &'static str,
    subject: &'static str,
}

/// The metadata key holding the caller's network address.
const CLIENT_ADDR: &str = "client_addr";

/// Whom an event's client address belongs to: the acting user, or else the
/// user the event is about. `None` (system actions, an anonymous caller's
/// claims): the address is not stored at all.
fn address_owner<'a>(aggregate_type: &str, aggregate_id: &'a str, metadata: &'a Value) -> Option<&'a str> {
    let actor = metadata.get("actor_id").and_then(Value::as_str).filter(|a| uuid::Uuid::parse_str(a).is_ok());
    actor.or((aggregate_type == "user").then_some(aggregate_id))
}

/// The users whose keys sealing this event's foreign values needs.
pub fn foreign_subjects<'a>(
    aggregate_type: &str,
    aggregate_id: &'a str,
    payload: &'a Value,
    metadata: &'a Value,
) -> Vec<&'a str> {
    let mut subjects = Vec::new();
    if metadata.get(CLIENT_ADDR).is_some_and(|a| !a.is_null()) {
        subjects.extend(address_owner(aggregate_type, aggregate_id, metadata));
    }
    for f in FOREIGN_FIELDS.iter().filter(|f| f.aggregate_type == aggregate_type) {
        if let Some(inner) = payload.get(f.variant).and_then(|v| v.get(f.container)) {
            if inner.get(f.field).is_some_and(|v| !v.is_null()) {
                subjects.extend(inner.get(f.subject).and_then(Value::as_str));
            }
        }
    }
    subjects
}

/// Seals the client address in `metadata` and the foreign fields of
/// `payload` for the users they belong to (`keys` holds theirs). A value
/// whose owner is unknown or whose key is destroyed is not stored.
pub fn seal_foreign(
    aggregate_type: &str,
    aggregate_id: &str,
    payload: &mut Value,
    metadata: &mut Value,
    keys: &HashMap<String, PersonalKey>,
) -> Result<(), SealError> {
    let key_of = |subject: &str| keys.get(subject).copied().flatten();
    if metadata.get(CLIENT_ADDR).is_some() {
        let owner = address_owner(aggregate_type, aggregate_id, metadata).map(str::to_string);
        let sealed = match owner {
            Some(owner) => match (key_of(&owner), metadata.get(CLIENT_ADDR)) {
                (Some(key), Some(addr)) => Some(seal_for(&key, &owner, addr).ok_or(SealError)?),
                _ => None,
            },
            None => None,
        };
        if let Some(object) = metadata.as_object_mut() {
            match sealed {
                Some(sealed) => object.insert(CLIENT_ADDR.into(), Value::String(sealed)),
                None => object.remove(CLIENT_ADDR),
            };
        }
    }
    for f in FOREIGN_FIELDS.iter().filter(|f| f.aggregate_type == aggregate_type) {
        let Some(inner) =
            payload.get_mut(f.variant).and_then(|v| v.get_mut(f.container)).and_then(Value::as_object_mut)
        else {
            continue;
        };
        let Some(subject) = inner.get(f.subject).and_then(Value::as_str).map(str::to_string) else { continue };
        let Some(value) = inner.get(f.field).filter(|v| !v.is_null()) else { continue };
        let sealed = match key_of(&subject) {
            Some(key) => Value::String(seal_for(&key, &subject, value).ok_or(SealError)?),
            None => Value::Object(Default::default()),
        };
        inner.insert(f.field.into(), sealed);
    }
    Ok(())
}

/// The users whose keys opening this event's foreign values needs.
pub fn sealed_subjects<'a>(payload: &'a Value, metadata: &'a Value) -> Vec<&'a str> {
    let subject = |v: Option<&'a Value>| {
        v.and_then(Value::as_str)
            .and_then(|s| s.strip_prefix(SEALED_FOR_PREFIX))
            .and_then(|rest| rest.split_once(':'))
            .map(|(subject, _)| subject)
    };
    let mut subjects: Vec<&str> = subject(metadata.get(CLIENT_ADDR)).into_iter().collect();
    for f in FOREIGN_FIELDS {
        subjects.extend(subject(payload.get(f.variant).and_then(|v| v.get(f.container)).and_then(|c| c.get(f.field))));
    }
    subjects
}

/// Opens what `seal_foreign` sealed, in place: an address whose owner's key
/// is destroyed is dropped, a foreign field reads as `{}`.
pub fn open_foreign(payload: &mut Value, metadata: &mut Value, keys: &HashMap<String, PersonalKey>) {
    let open = |value: &Value| -> Option<Option<Value>> {
        let rest = value.as_str()?.strip_prefix(SEALED_FOR_PREFIX)?;
        let (subject, sealed) = rest.split_once(':')?;
        let key = keys.get(subject).copied().flatten();
        Some(key.and_then(|key| decrypt(&key, subject, sealed)))
    };
    if let Some(object) = metadata.as_object_mut() {
        if let Some(opened) = object.get(CLIENT_ADDR).and_then(open) {
            match opened {
                Some(addr) => object.insert(CLIENT_ADDR.into(), addr),
                None => object.remove(CLIENT_ADDR),
            };
        }
    }
    for f in FOREIGN_FIELDS {
        let Some(inner) =
            payload.get_mut(f.variant).and_then(|v| v.get_mut(f.container)).and_then(Value::as_object_mut)
        else {
            continue;
        };
        if let Some(opened) = inner.get(f.field).and_then(open) {
            inner.insert(f.field.into(), opened.unwrap_or_else(|| Value::Object(Default::default())));
        }
    }
}

fn seal_for(key: &[u8; 32], subject: &str, value: &Value) -> Option<String> {
    let sealed = encrypt(key, subject, value)?;
    Some(format!("{SEALED_FOR_PREFIX}{subject}:{}", sealed.strip_prefix(SEALED_PREFIX)?))
}

/// Credential material the log keeps for the aggregates' own use (a login
/// checks the hash) and nothing outside the service may receive: Kafka
/// records, exports, `events tail` and the audit API all drop these keys,
/// at any depth (GUIDE §11). A message's body may carry an OTP, so it is
/// one: only the notification sender reads it. An API key's `secret_hash`
/// is one too: only the key check (`crate::api_keys`) reads it.
/// A migration prospect's `expected_external_id` is one: shown, it would
/// answer the question the prospect asks the user (`crate::migration_prospects`).
const CREDENTIAL_FIELDS: &[&str] =
    &["password_hash", "otp_hash", "reset_token_hash", "mail_body", "secret_hash", "expected_external_id"];

/// `payload` without credential material, for anything that leaves the service.
pub fn without_credentials(payload: &Value) -> Value {
    let mut payload = payload.clone();
    strip_credentials(&mut payload);
    payload
}

fn strip_credentials(value: &mut Value) {
    match value {
        Value::Object(fields) => {
            fields.retain(|key, _| !CREDENTIAL_FIELDS.contains(&key.as_str()));
            fields.values_mut().for_each(strip_credentials);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_credentials),
        _ => {}
    }
}

#[derive(Clone, Copy)]
enum Erased {
    Empty,
    Null,
    EmptyList,
}

impl Erased {
    fn value(self) -> Value {
        match self {
            Erased::Empty => Value::String(String::new()),
            Erased::Null => Value::Null,
            Erased::EmptyList => Value::Array(Vec::new()),
        }
    }
}

/// A user's key as the store holds it: `None` once destroyed.
pub type PersonalKey = Option<[u8; 32]>;

/// Whether an event's aggregate type carries personal data at all.
pub fn carries_personal_data(aggregate_type: &str) -> bool {
    PERSONAL_TYPES.contains(&aggregate_type)
}

/// Whether `payload` holds any personal value (most events, such as logins, hold none).
pub fn holds_personal_data(payload: &Value) -> bool {
    PERSONAL_FIELDS.iter().any(|(variant, container, fields)| {
        payload
            .get(*variant)
            .and_then(|v| v.get(*container))
            .is_some_and(|inner| fields.iter().any(|(name, _)| inner.get(*name).is_some_and(|field| !field.is_null())))
    })
}

#[derive(Debug, thiserror::Error)]
#[error("a personal value could not be encrypted")]
pub struct SealError;

/// Encrypts the personal fields of `payload` in place. With a destroyed key
/// the fields are dropped (erased) rather than stored readable. On failure
/// the payload must not be stored: some fields may still be plaintext.
pub fn seal(subject: &str, key: &PersonalKey, payload: &mut Value) -> Result<(), SealError> {
    let mut result = Ok(());
    for_each_personal_field(payload, |field, erased| {
        if field.is_null() || result.is_err() {
            return;
        }
        match key {
            Some(key) => match encrypt(key, subject, field) {
                Some(sealed) => *field = Value::String(sealed),
                None => result = Err(SealError),
            },
            None => *field = erased.value(),
        }
    });
    result
}

/// Decrypts the personal fields of `payload` in place; returns whether any
/// field was erased (its key destroyed or the value unreadable).
pub fn open(subject: &str, key: &PersonalKey, payload: &mut Value) -> bool {
    let mut erased_any = false;
    for_each_personal_field(payload, |field, erased| {
        let Some(sealed) = field.as_str().and_then(|s| s.strip_prefix(SEALED_PREFIX)) else {
            return;
        };
        *field = match key.as_ref().and_then(|key| decrypt(key, subject, sealed)) {
            Some(value) => value,
            None => {
                erased_any = true;
                erased.value()
            }
        };
    });
    erased_any
}

fn for_each_personal_field(payload: &mut Value, mut visit: impl FnMut(&mut Value, Erased)) {
    let Some(object) = payload.as_object_mut() else { return };
    for (variant, container, fields) in PERSONAL_FIELDS {
        let Some(inner) = object.get_mut(*variant).and_then(|v| v.get_mut(*container)).and_then(Value::as_object_mut)
        else {
            continue;
        };
        for (name, erased) in fields.iter() {
            if let Some(field) = inner.get_mut(*name) {
                visit(field, *erased);
            }
        }
    }
}

/// The subject is bound as associated data, so a value cannot be moved to
/// another user's events and still open.
fn encrypt(key: &[u8; 32], subject: &str, value: &Value) -> Option<String> {
    let cipher = XChaCha20Poly1305::new(key.into());
    let mut nonce = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut nonce);
    let plaintext = value.to_string().into_bytes();
    let ciphertext = cipher.encrypt(&XNonce::from(nonce), Payload { msg: &plaintext, aad: subject.as_bytes() }).ok()?;
    let mut sealed = nonce.to_vec();
    sealed.extend_from_slice(&ciphertext);
    Some(format!("{SEALED_PREFIX}{}", B64.encode(sealed)))
}

fn decrypt(key: &[u8; 32], subject: &str, sealed: &str) -> Option<Value> {
    let bytes = B64.decode(sealed).ok()?;
    if bytes.len() < 24 {
        return None;
    }
    let (nonce, ciphertext) = bytes.split_at(24);
    let nonce = XNonce::from(<[u8; 24]>::try_from(nonce).ok()?);
    let cipher = XChaCha20Poly1305::new(key.into());
    let plaintext = cipher.decrypt(&nonce, Payload { msg: ciphertext, aad: subject.as_bytes() }).ok()?;
    serde_json::from_slice(&plaintext).ok()
}

fn decode_key(secret: &str) -> PersonalKey {
    B64.decode(secret).ok().and_then(|bytes| bytes.try_into().ok())
}

/// A key as `personal_data_keys.secret` stores it (NULL once destroyed).
pub fn key_from_secret(secret: Option<&str>) -> PersonalKey {
    secret.and_then(decode_key)
}

impl Db {
    /// The keys of many subjects, each created on first use (a destroyed
    /// key stays destroyed: it is never created again): one round trip when
    /// they all exist, three when some must be created.
    pub async fn personal_keys_for_writing(
        &self,
        subjects: &[&str],
    ) -> Result<HashMap<String, PersonalKey>, sqlx::Error> {
        let mut keys = self.stored_personal_keys(subjects).await?;
        let missing: Vec<&str> = subjects.iter().copied().filter(|s| !keys.contains_key(*s)).collect();
        if !missing.is_empty() {
            self.create_personal_keys(&missing).await?;
            keys.extend(self.stored_personal_keys(&missing).await?);
        }
        for subject in subjects {
            keys.entry(subject.to_string()).or_insert(None);
        }
        Ok(keys)
    }

    /// Creates a fresh key for each subject that has no row yet.
    async fn create_personal_keys(&self, subjects: &[&str]) -> Result<(), sqlx::Error> {
        let now = chrono::Utc::now().to_rfc3339();
        let fresh: Vec<String> = subjects
            .iter()
            .map(|_| {
                let mut key = [0u8; 32];
                rand::thread_rng().fill_bytes(&mut key);
                B64.encode(key)
            })
            .collect();
        match self {
            Db::Postgres(pool) => {
                sqlx::query(
                    "INSERT INTO personal_data_keys (subject, secret, created_at) \
                     SELECT s, k, $3 FROM unnest($1::text[], $2::text[]) AS fresh(s, k) \
                     ON CONFLICT (subject) DO NOTHING",
                )
                .bind(subjects)
                .bind(&fresh)
                .bind(&now)
                .execute(pool)
                .await?;
            }
            Db::Sqlite(pool) => {
                // Three parameters per row, well below SQLite's limit.
                for (chunk, keys) in subjects.chunks(1_000).zip(fresh.chunks(1_000)) {
                    let sql = format!(
                        "INSERT INTO personal_data_keys (subject, secret, created_at) VALUES {} \
                         ON CONFLICT (subject) DO NOTHING",
                        crate::storage::values_placeholders(chunk.len(), 3)
                    );
                    let mut query = sqlx::query(&sql);
                    for (subject, key) in chunk.iter().zip(keys) {
                        query = query.bind(*subject).bind(key).bind(&now);
                    }
                    query.execute(pool).await?;
                }
            }
        }
        Ok(())
    }

    /// Keys of several subjects at once (a batch of the log); a subject with
    /// no row or a destroyed key maps to `None`.
    pub async fn personal_keys(&self, subjects: &[&str]) -> Result<HashMap<String, PersonalKey>, sqlx::Error> {
        let mut keys = self.stored_personal_keys(subjects).await?;
        for subject in subjects {
            keys.entry(subject.to_string()).or_insert(None);
        }
        Ok(keys)
    }

    /// The key rows that exist among `subjects` (`None`: destroyed).
    async fn stored_personal_keys(&self, subjects: &[&str]) -> Result<HashMap<String, PersonalKey>, sqlx::Error> {
        let mut keys = HashMap::new();
        if subjects.is_empty() {
            return Ok(keys);
        }
        let rows: Vec<(String, Option<String>)> = match self {
            Db::Postgres(pool) => {
                sqlx::query_as("SELECT subject, secret FROM personal_data_keys WHERE subject = ANY($1)")
                    .bind(subjects.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                    .fetch_all(pool)
                    .await?
            }
            Db::Sqlite(pool) => {
                let mut rows = Vec::with_capacity(subjects.len());
                // SQLite has no arrays; chunks stay below its bound-parameter limit.
                for chunk in subjects.chunks(500) {
                    let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
                    let sql = format!(
                        "SELECT subject, secret FROM personal_data_keys WHERE subject IN ({})",
                        marks.join(",")
                    );
                    let mut query = sqlx::query_as(&sql);
                    for subject in chunk {
                        query = query.bind(*subject);
                    }
                    rows.extend(query.fetch_all(pool).await?);
                }
                rows
            }
        };
        for (subject, secret) in rows {
            keys.insert(subject, key_from_secret(secret.as_deref()));
        }
        Ok(keys)
    }

    /// Destroys the key of `subject`: every personal value sealed with it is
    /// unreadable from now on. Idempotent.
    pub async fn destroy_personal_key(&self, subject: &str) -> Result<(), sqlx::Error> {
        let now = chrono::Utc::now().to_rfc3339();
        crate::on_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO personal_data_keys (subject, secret, created_at, destroyed_at) VALUES ($1, NULL, $2, $2) \
                 ON CONFLICT (subject) DO UPDATE SET secret = NULL, \
                 destroyed_at = coalesce(personal_data_keys.destroyed_at, excluded.destroyed_at)",
            )
            .bind(subject)
            .bind(&now)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Finishes erasures a crash interrupted: users the read model shows as
    /// deleted whose key still exists.
    pub async fn destroy_keys_of_deleted_users(&self) -> Result<u64, sqlx::Error> {
        let subjects: Vec<String> = crate::on_pool!(self, pool => {
            sqlx::query_scalar(
                "SELECT k.subject FROM personal_data_keys k JOIN users u ON u.user_uuid = k.subject \
                 WHERE u.status = 'DELETED' AND k.secret IS NOT NULL",
            )
            .fetch_all(pool)
            .await?
        });
        for subject in &subjects {
            self.destroy_personal_key(subject).await?;
        }
        Ok(subjects.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn foreign_values_are_sealed_for_their_owner_and_erased_with_them() {
        let owner = "0b9d4f3e-4c57-4a53-9f0e-2b6f3c1d9a11";
        let mut payload =
            serde_json::json!({"RoleRequested": {"details": {"requester_uuid": owner, "form_data": {"a": 1}}}});
        let mut metadata = serde_json::json!({"actor_id": owner, "client_addr": "10.1.2.3"});
        assert_eq!(foreign_subjects("role_request", "req-1", &payload, &metadata), vec![owner, owner]);
        let keys: HashMap<String, PersonalKey> = [(owner.to_string(), Some([7u8; 32]))].into();
        seal_foreign("role_request", "req-1", &mut payload, &mut metadata, &keys).unwrap();
        let stored = format!("{payload}{metadata}");
        assert!(!stored.contains("10.1.2.3") && !stored.contains("\"a\""), "{stored}");
        assert_eq!(sealed_subjects(&payload, &metadata), vec![owner, owner]);
        let (mut opened_payload, mut opened_metadata) = (payload.clone(), metadata.clone());
        open_foreign(&mut opened_payload, &mut opened_metadata, &keys);
        assert_eq!(opened_metadata["client_addr"], "10.1.2.3");
        assert_eq!(opened_payload["RoleRequested"]["details"]["form_data"], serde_json::json!({"a": 1}));
        let destroyed: HashMap<String, PersonalKey> = [(owner.to_string(), None)].into();
        open_foreign(&mut payload, &mut metadata, &destroyed);
        assert!(metadata.get("client_addr").is_none());
        assert_eq!(payload["RoleRequested"]["details"]["form_data"], serde_json::json!({}));
    }

    #[test]
    fn an_address_with_no_user_to_own_it_is_not_stored() {
        let mut payload = serde_json::json!({"Claimed": {}});
        let mut metadata = serde_json::json!({"actor_id": "system", "client_addr": "10.1.2.3"});
        assert!(foreign_subjects("claim", "c-1", &payload, &metadata).is_empty());
        seal_foreign("claim", "c-1", &mut payload, &mut metadata, &HashMap::new()).unwrap();
        assert!(metadata.get("client_addr").is_none());
        // On a user's own events, the user owns it.
        let mut metadata = serde_json::json!({"client_addr": "10.1.2.3"});
        assert_eq!(foreign_subjects("user", "u-1", &payload, &metadata), vec!["u-1"]);
        let keys: HashMap<String, PersonalKey> = [("u-1".to_string(), Some([1u8; 32]))].into();
        seal_foreign("user", "u-1", &mut payload, &mut metadata, &keys).unwrap();
        assert!(metadata["client_addr"].as_str().unwrap().starts_with("pii:v2:u-1:"));
    }
    use serde_json::json;

    /// Fields of the personal containers that are not personal data, so a
    /// field added to `Registration` or `ProfileChanges` must be classified.
    const NOT_PERSONAL: &[&str] = &[
        "numeric_id",
        "organization_id",
        "role_ids",
        "has_accepted_terms_and_conditions",
        "preferred_language",
        "languages",
        "how",
        "template",
    ];

    /// `PERSONAL_FIELDS` names fields of real serialised `UserEvent`s: a
    /// renamed field or variant would otherwise silently stop its encryption.
    #[test]
    fn personal_fields_match_the_serialised_user_events() {
        use aggregates::user::{ProfileChanges, Registration, UserEvent};
        let at = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").unwrap().with_timezone(&chrono::Utc);
        let registered = UserEvent::UserRegistered {
            registration: Registration {
                numeric_id: 7,
                email: Some("ada@example.com".into()),
                name: "Ada".into(),
                phone: Some("+100".into()),
                username: Some("ada".into()),
                password_hash: Some("$argon2id$x".into()),
                organization_id: 1,
                role_ids: vec![3],
                has_accepted_terms_and_conditions: true,
                preferred_language: "en".into(),
                managed_by: None,
                extension: Some(json!({"dob": "2000-12-31"}).as_object().cloned().unwrap()),
            },
            at,
        };
        let some = || Some(json!("x"));
        let updated = UserEvent::ProfileUpdated {
            changes: ProfileChanges {
                name: Some("Ada".into()),
                about: some(),
                gender: some(),
                location: some(),
                image: some(),
                languages: some(),
                share_link: some(),
                preferred_language: some(),
                has_accepted_terms_and_conditions: Some(true),
                extension: Some(json!({"framework": {"id": ["f"]}}).as_object().cloned().unwrap()),
            },
            at,
        };
        let declared = UserEvent::DeclarationsChanged {
            declarations: aggregates::DeclarationSet {
                entries: vec![aggregates::Declaration {
                    org_id: "9".into(),
                    persona: "teacher".into(),
                    info: json!({"declared-email": "ada@example.com"}).as_object().cloned().unwrap(),
                    status: "SUBMITTED".into(),
                    error_type: None,
                }],
            },
            at,
        };
        let contact = UserEvent::ContactChanged {
            changes: aggregates::ContactChanges {
                email: Some("ada@new.example".into()),
                phone: Some("+200".into()),
                username: Some("ada2".into()),
            },
            at,
        };
        let changed = UserEvent::PasswordChanged {
            credentials: aggregates::NewPassword { password_hash: "$argon2id$y".into(), how: "reset".into() },
            at,
        };
        let queued = aggregates::NotificationEvent::NotificationQueued {
            message: aggregates::Message {
                template: "reset_otp".into(),
                mail_to: "ada@example.com".into(),
                mail_subject: "s".into(),
                mail_body: "123456".into(),
            },
            at,
        };
        let events = [registered, updated, changed, contact, declared].map(|e| serde_json::to_value(&e).unwrap());
        for value in events.into_iter().chain([serde_json::to_value(&queued).unwrap()]) {
            let (variant, body) = value.as_object().unwrap().iter().next().unwrap();
            let (_, container, fields) = PERSONAL_FIELDS
                .iter()
                .find(|(name, _, _)| name == variant)
                .unwrap_or_else(|| panic!("{variant} carries personal data but is not in PERSONAL_FIELDS"));
            let serialised = body[*container].as_object().unwrap_or_else(|| panic!("{variant} has no {container}"));
            for (field, _) in fields.iter() {
                assert!(
                    serialised.contains_key(*field),
                    "{variant}.{container}.{field} is not in the serialised event"
                );
            }
            for field in serialised.keys() {
                assert!(
                    fields.iter().any(|(personal, _)| personal == field) || NOT_PERSONAL.contains(&field.as_str()),
                    "{variant}.{container}.{field} is neither personal nor listed as not personal"
                );
            }
        }
    }

    fn registered() -> Value {
        json!({"UserRegistered": {"registration": {
            "numeric_id": 7, "email": "ada@example.com", "name": "Ada", "phone": null,
            "username": "ada", "password_hash": "$argon2id$x", "organization_id": 1
        }, "at": "2026-01-01T00:00:00Z"}})
    }

    #[test]
    fn credentials_never_leave_at_any_depth() {
        let payload = json!({"UserRegistered": {"registration": {"email": "a@b.c", "password_hash": "$argon2id$x"}},
                             "list": [{"otp_hash": "h", "kept": 1}]});
        let out = without_credentials(&payload);
        assert_eq!(out, json!({"UserRegistered": {"registration": {"email": "a@b.c"}}, "list": [{"kept": 1}]}));
        assert!(!out.to_string().contains("argon2"));
    }

    #[test]
    fn sealed_fields_open_with_the_key_and_leave_no_plaintext() {
        let key = Some([7u8; 32]);
        let mut payload = registered();
        seal("u1", &key, &mut payload).unwrap();
        let text = payload.to_string();
        for secret in ["ada@example.com", "Ada", "\"ada\"", "argon2id"] {
            assert!(!text.contains(secret), "{secret} left in {text}");
        }
        assert_eq!(payload["UserRegistered"]["registration"]["numeric_id"], 7);
        assert_eq!(payload["UserRegistered"]["registration"]["phone"], Value::Null);
        assert!(!open("u1", &key, &mut payload));
        assert_eq!(payload, registered());
    }

    #[test]
    fn a_destroyed_key_or_another_subject_reads_as_erased() {
        let key = Some([7u8; 32]);
        let mut payload = registered();
        seal("u1", &key, &mut payload).unwrap();
        let mut moved = payload.clone();
        assert!(open("u2", &key, &mut moved), "bound to its subject");
        assert!(open("u1", &None, &mut payload));
        let registration = &payload["UserRegistered"]["registration"];
        assert_eq!(registration["email"], "");
        assert_eq!(registration["username"], Value::Null);
        assert_eq!(registration["numeric_id"], 7);
    }

    #[test]
    fn only_events_with_personal_values_need_a_key() {
        assert!(holds_personal_data(&registered()));
        assert!(!holds_personal_data(&json!({"LoginSucceeded": {"session_id": "s", "at": "x"}})));
        assert!(!holds_personal_data(&json!({"ProfileUpdated": {"changes": {"languages": ["en"]}, "at": "x"}})));
    }

    #[test]
    fn sealing_without_a_key_drops_the_values() {
        let mut payload = json!({"ProfileUpdated": {"changes": {"name": "Bob", "about": "hi"}, "at": "x"}});
        seal("u1", &None, &mut payload).unwrap();
        assert_eq!(payload["ProfileUpdated"]["changes"], json!({"name": null, "about": null}));
    }
}
