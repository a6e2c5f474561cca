//! Queries on the read tables the projections maintain. Dialects render
//! these rows in their own shapes.

use projections::{SqlValue, Statement};
use serde_json::Value;

use crate::storage::{Count, Db, Reader};
use crate::visibility::ContactScope;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub user_uuid: String,
    pub id: i64,
    pub email: Option<String>,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub username: Option<String>,
    pub status: String,
    pub organization_id: i64,
    pub about: Option<String>,
    pub gender: Option<String>,
    pub location: Option<String>,
    pub image: Option<String>,
    pub languages: Option<String>,
    pub share_link: Option<String>,
    pub preferred_language: Option<String>,
    pub has_accepted_terms_and_conditions: bool,
    pub last_logged_in_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub deleted_at: Option<String>,
    /// The user who manages this one (a Sunbird managed user), if anyone does.
    pub managed_by: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct RoleRow {
    pub id: i64,
    pub title: String,
    pub user_type: i64,
    pub status: String,
}

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct OrganizationRow {
    pub id: i64,
    pub name: String,
    pub code: String,
}

const USER_COLUMNS: &str = "u.user_uuid, u.id, u.email, u.name, u.phone, u.username, u.status, u.organization_id, \
    u.about, u.gender, u.location, u.image, u.languages, u.share_link, u.preferred_language, \
    u.has_accepted_terms_and_conditions, u.last_logged_in_at, u.created_at, u.updated_at, u.deleted_at, u.managed_by";

/// A user is addressed by numeric id or UUID.
#[derive(Debug, Clone)]
pub enum UserKey {
    Numeric(i64),
    Uuid(String),
}

impl UserKey {
    pub fn parse(raw: &str) -> Option<UserKey> {
        let raw = raw.trim();
        if let Ok(id) = raw.parse::<i64>() {
            return Some(UserKey::Numeric(id));
        }
        uuid::Uuid::parse_str(raw).ok().map(|u| UserKey::Uuid(u.to_string()))
    }
}

pub async fn user(db: &Db, key: &UserKey) -> Result<Option<UserRow>, sqlx::Error> {
    let (condition, arg) = match key {
        UserKey::Numeric(id) => ("u.id = $1", SqlValue::Int(*id)),
        UserKey::Uuid(uuid) => ("u.user_uuid = $1", SqlValue::Text(uuid.clone())),
    };
    let sql = format!("SELECT {USER_COLUMNS} FROM users u WHERE {condition} AND u.status <> 'DELETED'");
    db.fetch_optional(&Statement::new(sql, vec![arg])).await
}

pub async fn roles_of(db: &Db, user_uuid: &str) -> Result<Vec<RoleRow>, sqlx::Error> {
    db.fetch_all(&Statement::new(
        "SELECT r.id, r.title, CAST(r.user_type AS BIGINT) AS user_type, r.status FROM user_roles ur \
         JOIN roles r ON r.id = ur.role_id WHERE ur.user_uuid = $1 ORDER BY r.id",
        vec![user_uuid.into()],
    ))
    .await
}

pub async fn organization(db: &Db, id: i64) -> Result<Option<OrganizationRow>, sqlx::Error> {
    db.fetch_optional(&Statement::new("SELECT id, name, code FROM organizations WHERE id = $1", vec![id.into()])).await
}

pub async fn role_by_title(db: &Db, title: &str, organization_id: i64) -> Result<Option<RoleRow>, sqlx::Error> {
    db.fetch_optional(&Statement::new(
        "SELECT id, title, CAST(user_type AS BIGINT) AS user_type, status FROM roles \
         WHERE title = $1 AND (organization_id = $2 OR organization_id = 1) ORDER BY organization_id DESC LIMIT 1",
        vec![title.into(), organization_id.into()],
    ))
    .await
}

/// A user with everything a profile shows.
pub struct Profile {
    pub user: UserRow,
    pub roles: Vec<RoleRow>,
    pub organization: Option<OrganizationRow>,
}

/// One row per role of the user (one with no role if it has none): the
/// profile in one round trip instead of three.
#[derive(sqlx::FromRow)]
struct ProfileRow {
    #[sqlx(flatten)]
    user: UserRow,
    organization_name: Option<String>,
    organization_code: Option<String>,
    role_id: Option<i64>,
    role_title: Option<String>,
    role_user_type: Option<i64>,
    role_status: Option<String>,
}

impl ProfileRow {
    fn role(&self) -> Option<RoleRow> {
        Some(RoleRow {
            id: self.role_id?,
            title: self.role_title.clone()?,
            user_type: self.role_user_type?,
            status: self.role_status.clone()?,
        })
    }
}

pub async fn profile(db: &Db, key: &UserKey) -> Result<Option<Profile>, sqlx::Error> {
    let (condition, arg) = match key {
        UserKey::Numeric(id) => ("u.id = $1", SqlValue::Int(*id)),
        UserKey::Uuid(uuid) => ("u.user_uuid = $1", SqlValue::Text(uuid.clone())),
    };
    profile_query(db, "", "users u", condition, vec![arg]).await
}

/// The profile query (a user joined with its organisation and roles) over
/// `FROM {from}` and `WHERE {condition}`, after an optional `WITH` clause:
/// a refresh puts its session compare-and-set there (`auth::sessions`).
pub(crate) async fn profile_query(
    db: &Db,
    with: &str,
    from: &str,
    condition: &str,
    args: Vec<SqlValue>,
) -> Result<Option<Profile>, sqlx::Error> {
    let sql = format!(
        "{with}SELECT {USER_COLUMNS}, o.name AS organization_name, o.code AS organization_code, \
           r.id AS role_id, r.title AS role_title, CAST(r.user_type AS BIGINT) AS role_user_type, \
           r.status AS role_status \
         FROM {from} \
         LEFT JOIN organizations o ON o.id = u.organization_id \
         LEFT JOIN user_roles ur ON ur.user_uuid = u.user_uuid \
         LEFT JOIN roles r ON r.id = ur.role_id \
         WHERE {condition} AND u.status <> 'DELETED' ORDER BY r.id"
    );
    let rows: Vec<ProfileRow> = db.fetch_all(&Statement::new(sql, args)).await?;
    let mut rows = rows.into_iter();
    let Some(first) = rows.next() else {
        return Ok(None);
    };
    let rest: Vec<ProfileRow> = rows.collect();
    let organization = match (&first.organization_name, &first.organization_code) {
        (Some(name), Some(code)) => {
            Some(OrganizationRow { id: first.user.organization_id, name: name.clone(), code: code.clone() })
        }
        _ => None,
    };
    let roles = std::iter::once(&first).chain(&rest).filter_map(ProfileRow::role).collect();
    let user = first.user;
    Ok(Some(Profile { user, roles, organization }))
}

/// A JSON text column, parsed (`null` when empty or unreadable).
pub fn json_column(text: &Option<String>) -> Value {
    text.as_deref().and_then(|t| serde_json::from_str(t).ok()).unwrap_or(Value::Null)
}

/// A user as lists show it: what ELEVATE's list items hold, and no more.
#[derive(Debug, Clone)]
pub struct ListedUser {
    pub id: i64,
    pub user_uuid: String,
    pub name: Option<String>,
    pub email: Option<String>,
    image: Option<String>,
    pub organization_id: i64,
    pub roles: Vec<RoleRow>,
}

impl ListedUser {
    pub fn image(&self) -> Value {
        json_column(&self.image)
    }
}

/// One row per role of a listed user (one with no role if it has none).
#[derive(sqlx::FromRow)]
struct ListedRow {
    user_uuid: String,
    id: i64,
    name: Option<String>,
    email: Option<String>,
    image: Option<String>,
    organization_id: i64,
    role_id: Option<i64>,
    role_title: Option<String>,
    role_user_type: Option<i64>,
    role_status: Option<String>,
}

/// Folds the rows, ordered by user, into users with their roles.
fn listed_users(rows: Vec<ListedRow>) -> Vec<ListedUser> {
    let mut users: Vec<ListedUser> = Vec::new();
    for row in rows {
        let role = match (row.role_id, row.role_title, row.role_user_type, row.role_status) {
            (Some(id), Some(title), Some(user_type), Some(status)) => Some(RoleRow { id, title, user_type, status }),
            _ => None,
        };
        match users.last_mut() {
            Some(last) if last.id == row.id => last.roles.extend(role),
            _ => users.push(ListedUser {
                id: row.id,
                user_uuid: row.user_uuid,
                name: row.name,
                email: row.email,
                image: row.image,
                organization_id: row.organization_id,
                roles: role.into_iter().collect(),
            }),
        }
    }
    users
}

/// Filters shared by every list and search endpoint.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    /// A search term (`Term`).
    pub search: Option<String>,
    /// Role title, e.g. "mentor".
    pub role: Option<String>,
    pub organization_id: Option<i64>,
    pub include_ids: Vec<UserKey>,
    pub include_emails: Vec<String>,
    pub exclude_ids: Vec<UserKey>,
    /// Whose emails the search term and `include_emails` may match: the
    /// users whose contact data the caller may see (`visibility`). Others
    /// are found by name only, so a search cannot tell what their email is.
    pub contacts: ContactScope,
    pub page: i64,
    pub limit: i64,
}

fn like_escaped(search: &str) -> String {
    search.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

fn like_pattern(search: &str) -> String {
    format!("%{}%", like_escaped(search))
}

/// The users whose email a search may match, or `None` for every user.
fn contact_condition(scope: &ContactScope, args: &mut Vec<SqlValue>) -> Option<String> {
    match *scope {
        ContactScope::Everyone => None,
        ContactScope::Organization { organization_id, caller_id } => {
            args.push(organization_id.into());
            args.push(caller_id.into());
            Some(format!("(u.organization_id = ${} OR u.id = ${})", args.len() - 1, args.len()))
        }
        ContactScope::Themselves { caller_id } => {
            args.push(caller_id.into());
            Some(format!("u.id = ${}", args.len()))
        }
        ContactScope::Nobody => Some("1 = 0".into()),
    }
}

/// The name part of `search_text` (the lower-cased name, a space, the
/// email): what a term may match of users whose email the caller may not
/// see. PostgreSQL indexes this very expression (migration 0016).
pub const SEARCH_NAME: &str =
    "substr(u.search_text, 1, CASE WHEN length(u.search_text) > length(coalesce(u.email, '')) \
     THEN length(u.search_text) - length(coalesce(u.email, '')) - 1 ELSE 0 END)";

/// Whether `term` matches the name as `search_condition` matches name or email.
fn name_condition(term: &Term, args: &mut Vec<SqlValue>) -> String {
    match term {
        Term::Prefix(prefix) => {
            args.push(format!("% {}%", like_escaped(prefix)).into());
            format!("(' ' || {SEARCH_NAME}) LIKE ${} ESCAPE '\\'", args.len())
        }
        Term::Substring(search) => {
            args.push(like_pattern(search).into());
            format!("{SEARCH_NAME} LIKE ${} ESCAPE '\\'", args.len())
        }
    }
}

/// A term's condition `matched` (name or email), limited to what
/// `contacts` lets match an email: users in scope by either, the others by
/// `name` alone (which implies `matched`). PostgreSQL answers a substring
/// term's name part from its own trigram index (migration 0016), so it asks
/// for the name matches or the matches in scope; otherwise the term's own
/// index finds the candidates and the rest is a filter on them.
fn term_within_contacts(db: &Db, term: &Term, matched: String, contacts: &str, name: String) -> String {
    match (db, term) {
        (Db::Postgres(_), Term::Substring(_)) => format!("({name} OR ({contacts} AND {matched}))"),
        _ => format!("({matched} AND ({contacts} OR {name}))"),
    }
}

/// How a user search term matches (README, "Search"). Lower-cased, its
/// words joined by single spaces as in `search_text`. One or two characters
/// match the start of a word of the name or the start of the email
/// (ELEVATE's own search is a prefix search, and a trigram index cannot
/// serve fewer than three characters); longer terms match anywhere in the
/// name or the email.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Term {
    Prefix(String),
    Substring(String),
}

impl Term {
    fn parse(raw: &str) -> Option<Term> {
        let term = raw.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
        match term.chars().count() {
            0 => None,
            1 | 2 => Some(Term::Prefix(term)),
            _ => Some(Term::Substring(term)),
        }
    }
}

/// A short term is a lookup in `user_search_prefixes` (migration 0013), a
/// longer one a case-insensitive substring of name or email. PostgreSQL
/// answers the `LIKE` from the trigram index on `search_text`. SQLite
/// answers it from the FTS5 trigram table `users_search` (sqlite migration
/// 0010), which cannot take an ESCAPE clause, so a term holding a wildcard
/// character scans `users` instead.
fn search_condition(db: &Db, term: &Term, args: &mut Vec<SqlValue>) -> String {
    let search = match term {
        Term::Prefix(prefix) => {
            args.push(prefix.clone().into());
            return format!(
                "u.id IN (SELECT p.id FROM user_search_prefixes p WHERE p.role_id = 0 AND p.prefix = ${})",
                args.len()
            );
        }
        Term::Substring(search) => search,
    };
    if matches!(db, Db::Sqlite(_)) && !search.contains(['%', '_', '\\']) {
        args.push(format!("%{search}%").into());
        return format!("u.id IN (SELECT rowid FROM users_search WHERE search_text LIKE ${})", args.len());
    }
    args.push(like_pattern(search).into());
    format!("u.search_text LIKE ${} ESCAPE '\\'", args.len())
}

fn key_lists(keys: &[UserKey], args: &mut Vec<SqlValue>, negate: bool) -> Option<String> {
    if keys.is_empty() {
        return None;
    }
    let mut numeric = Vec::new();
    let mut uuids = Vec::new();
    for key in keys {
        match key {
            UserKey::Numeric(id) => {
                args.push(SqlValue::Int(*id));
                numeric.push(format!("${}", args.len()));
            }
            UserKey::Uuid(u) => {
                args.push(SqlValue::Text(u.clone()));
                uuids.push(format!("${}", args.len()));
            }
        }
    }
    let mut parts = Vec::new();
    if !numeric.is_empty() {
        parts.push(format!("u.id IN ({})", numeric.join(", ")));
    }
    if !uuids.is_empty() {
        parts.push(format!("u.user_uuid IN ({})", uuids.join(", ")));
    }
    let any = format!("({})", parts.join(" OR "));
    Some(if negate { format!("NOT {any}") } else { any })
}

/// The count a page tells by itself: one that is not full ends the list
/// (unless it is empty past the first page), the usual case for a narrow
/// search.
fn count_from_page(shown: usize, limit: i64, offset: i64) -> Option<Count> {
    let shown = i64::try_from(shown).unwrap_or(i64::MAX);
    (shown < limit && (shown > 0 || offset == 0)).then(|| Count::exact(offset + shown))
}

/// The page of users `ORDER BY name, id` after `where_clause`, and how many
/// users it matches (`Reader::count`). The page query selects only ids (an
/// index-only scan of `users_listing` when there is no search), then reads
/// the few rows it keeps.
async fn filtered_page(
    reader: &Reader,
    where_clause: &str,
    args: Vec<SqlValue>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<ListedUser>, Count), sqlx::Error> {
    let ids = format!("SELECT u.id FROM users u WHERE {where_clause} ORDER BY u.name, u.id {}", window(limit, offset));
    let users = page_of(reader.db(), &ids, args.clone()).await?;
    let count = match count_from_page(users.len(), limit, offset) {
        Some(count) => count,
        None => reader.count(&format!("users u WHERE {where_clause}"), args).await?,
    };
    Ok((users, count))
}

/// `LIMIT .. OFFSET ..` of a page, written into the SQL (both are whole
/// numbers `paging` checked). As parameters, PostgreSQL plans with a guess
/// of a tenth of the rows, finds that plan dearer than one made for the
/// values, and so plans every execution anew: about 1 ms of a 3 ms page.
fn window(limit: i64, offset: i64) -> String {
    format!("LIMIT {limit} OFFSET {offset}")
}

/// The users of `ids` (a query of user ids, a page of them) in name order,
/// with their roles, in one query.
async fn page_of(db: &Db, ids: &str, args: Vec<SqlValue>) -> Result<Vec<ListedUser>, sqlx::Error> {
    let sql = format!(
        "SELECT u.user_uuid, u.id, u.name, u.email, u.image, u.organization_id, r.id AS role_id, \
           r.title AS role_title, CAST(r.user_type AS BIGINT) AS role_user_type, r.status AS role_status \
         FROM ({ids}) page JOIN users u ON u.id = page.id \
         LEFT JOIN user_roles ur ON ur.user_uuid = u.user_uuid LEFT JOIN roles r ON r.id = ur.role_id \
         WHERE u.status = 'ACTIVE' ORDER BY u.name, u.id, r.id"
    );
    Ok(listed_users(db.fetch_all(&Statement::new(sql, args)).await?))
}

/// PostgreSQL, no search and no id lists: the page and the exact count come
/// from `role_listing` and `user_list_counts` (migration 0007), which triggers
/// keep in step with `users` and `user_roles`. Role 0: every active user.
async fn listing_page(db: &Db, role_id: i64, limit: i64, offset: i64) -> Result<(Vec<ListedUser>, Count), sqlx::Error> {
    let count = db
        .fetch_count(&Statement::new(
            "SELECT coalesce((SELECT active FROM user_list_counts WHERE role_id = $1), 0)",
            vec![role_id.into()],
        ))
        .await?;
    let window = window(limit, offset);
    let (ids, args) = if role_id == 0 {
        (format!("SELECT u.id FROM users u WHERE u.status = 'ACTIVE' ORDER BY u.name, u.id {window}"), vec![])
    } else {
        (
            format!("SELECT l.id FROM role_listing l WHERE l.role_id = $1 ORDER BY l.name, l.id {window}"),
            vec![role_id.into()],
        )
    };
    let users = page_of(db, &ids, args).await?;
    Ok((users, Count::exact(count)))
}

/// A short term and at most a role (0: none): the page is one range of
/// `user_search_prefixes_order`, read in name order and stopped at the
/// page. PostgreSQL counts from `user_search_prefix_counts`, exactly;
/// SQLite reads that range up to the bound.
///
/// `contacts` (the users whose email the term may match) filters the
/// range on the rows themselves (migration 0018): a row from a word of the
/// name, or of a user in scope. The filter columns ride in the index, so a
/// member's page is the same index-only read as an admin's, and its count
/// is the by-name count plus the email-only rows in scope.
async fn prefix_page(
    reader: &Reader,
    role_id: i64,
    prefix: &str,
    contacts: &ContactScope,
    limit: i64,
    offset: i64,
) -> Result<(Vec<ListedUser>, Count), sqlx::Error> {
    let mut args: Vec<SqlValue> = vec![role_id.into(), prefix.into()];
    let in_scope = prefix_row_in_scope(contacts, &mut args);
    let range = match &in_scope {
        None => "user_search_prefixes p WHERE p.role_id = $1 AND p.prefix = $2".to_string(),
        Some(in_scope) => {
            format!("user_search_prefixes p WHERE p.role_id = $1 AND p.prefix = $2 AND (p.by_name OR {in_scope})")
        }
    };
    let ids = format!("SELECT p.id FROM {range} ORDER BY p.name, p.id {}", window(limit, offset));
    let users = page_of(reader.db(), &ids, args.clone()).await?;
    if let Some(count) = count_from_page(users.len(), limit, offset) {
        return Ok((users, count));
    }
    let count = match reader.db() {
        Db::Postgres(_) => {
            let (column, email_rows) = match &in_scope {
                None => ("active", "0".to_string()),
                Some(in_scope) => (
                    "named",
                    format!(
                        "(SELECT count(*) FROM user_search_prefixes p \
                         WHERE p.role_id = $1 AND p.prefix = $2 AND NOT p.by_name AND {in_scope})"
                    ),
                ),
            };
            Count::exact(
                reader
                    .db()
                    .fetch_count(&Statement::new(
                        format!(
                            "SELECT coalesce((SELECT {column} FROM user_search_prefix_counts \
                             WHERE role_id = $1 AND prefix = $2), 0) + {email_rows}"
                        ),
                        args,
                    ))
                    .await?,
            )
        }
        Db::Sqlite(_) => reader.count(&range, args).await?,
    };
    Ok((users, count))
}

/// Which prefix rows of users whose email the caller may not see still
/// count: the condition on a row `p` that its user is in `contacts`
/// (`None`: everyone is).
fn prefix_row_in_scope(scope: &ContactScope, args: &mut Vec<SqlValue>) -> Option<String> {
    match *scope {
        ContactScope::Everyone => None,
        ContactScope::Organization { organization_id, caller_id } => {
            args.push(organization_id.into());
            args.push(caller_id.into());
            Some(format!("(p.organization_id = ${} OR p.id = ${})", args.len() - 1, args.len()))
        }
        ContactScope::Themselves { caller_id } => {
            args.push(caller_id.into());
            Some(format!("p.id = ${}", args.len()))
        }
        ContactScope::Nobody => Some("1 = 0".into()),
    }
}

/// The ids of the roles a title names: one per organisation that has it.
/// Filters use the ids, not the title: the planner then knows from its
/// statistics how many users hold them (the title hides that, and it took
/// a hash of every mentee to count "mentees whose name holds haddad").
async fn role_ids(db: &Db, title: &str) -> Result<Vec<i64>, sqlx::Error> {
    let ids: Vec<RoleId> =
        db.fetch_all(&Statement::new("SELECT id FROM roles WHERE title = $1 ORDER BY id", vec![title.into()])).await?;
    Ok(ids.into_iter().map(|r| r.id).collect())
}

#[derive(sqlx::FromRow)]
struct RoleId {
    id: i64,
}

/// One page of active users matching `filter`, and how many match.
pub async fn list_users(reader: &Reader, filter: &UserFilter) -> Result<(Vec<ListedUser>, Count), sqlx::Error> {
    let db = reader.db();
    let term = filter.search.as_deref().and_then(Term::parse);
    let roles = match &filter.role {
        None => None,
        Some(title) => match role_ids(db, title).await?.as_slice() {
            [] => return Ok((Vec::new(), Count::exact(0))),
            ids => Some(ids.to_vec()),
        },
    };
    let mut conditions = vec!["u.status = 'ACTIVE'".to_string()];
    let mut args: Vec<SqlValue> = Vec::new();
    let contacts = match term.is_some() || !filter.include_emails.is_empty() {
        true => contact_condition(&filter.contacts, &mut args),
        false => None,
    };
    if let Some(term) = &term {
        let matched = search_condition(db, term, &mut args);
        conditions.push(match &contacts {
            None => matched,
            Some(contacts) => {
                let name = name_condition(term, &mut args);
                term_within_contacts(db, term, matched, contacts, name)
            }
        });
    }
    if let Some(ids) = &roles {
        let mut marks = Vec::new();
        for id in ids {
            args.push((*id).into());
            marks.push(format!("${}", args.len()));
        }
        conditions.push(format!(
            // Uncorrelated, so the planner may find the holders from the
            // role's side (`user_roles_role`) once, or probe for each user.
            "u.user_uuid IN (SELECT ur.user_uuid FROM user_roles ur WHERE ur.role_id IN ({}))",
            marks.join(", ")
        ));
    }
    if let Some(org) = filter.organization_id {
        args.push(org.into());
        conditions.push(format!("u.organization_id = ${}", args.len()));
    }
    let mut includes = Vec::new();
    if let Some(ids) = key_lists(&filter.include_ids, &mut args, false) {
        includes.push(ids);
    }
    if !filter.include_emails.is_empty() {
        let mut marks = Vec::new();
        for email in &filter.include_emails {
            args.push(email.trim().to_lowercase().into());
            marks.push(format!("${}", args.len()));
        }
        let listed = format!("u.email IN ({})", marks.join(", "));
        includes.push(match &contacts {
            None => listed,
            Some(contacts) => format!("({listed} AND {contacts})"),
        });
    }
    if !includes.is_empty() {
        conditions.push(format!("({})", includes.join(" OR ")));
    }
    if let Some(excluded) = key_lists(&filter.exclude_ids, &mut args, true) {
        conditions.push(excluded);
    }
    let where_clause = conditions.join(" AND ");
    let offset = (filter.page.max(1) - 1) * filter.limit;
    let narrowed = filter.organization_id.is_some()
        || !filter.include_ids.is_empty()
        || !filter.include_emails.is_empty()
        || !filter.exclude_ids.is_empty();
    // Role and short term, or role alone on PostgreSQL: a derived table
    // holds the page in order.
    let derived = !narrowed
        && match &term {
            Some(Term::Prefix(_)) => true,
            Some(Term::Substring(_)) => false,
            None => matches!(db, Db::Postgres(_)),
        };
    // Role 0: every active user. A title that several roles share goes to
    // the general query, which counts a user holding two of them once.
    let role_id = match roles.as_deref() {
        None => Some(0),
        Some([only]) => Some(*only),
        Some(_) => None,
    };
    let mut found = None;
    if let (true, Some(role_id)) = (derived, role_id) {
        found = Some(match &term {
            Some(Term::Prefix(prefix)) => {
                prefix_page(reader, role_id, prefix, &filter.contacts, filter.limit, offset).await?
            }
            _ => listing_page(db, role_id, filter.limit, offset).await?,
        });
    }
    Ok(match found {
        Some(found) => found,
        None => filtered_page(reader, &where_clause, args, filter.limit, offset).await?,
    })
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OrganizationDetails {
    pub id: i64,
    pub org_uuid: String,
    pub name: String,
    pub code: String,
    pub description: String,
    pub status: String,
    pub related_orgs: String,
    pub created_at: String,
    pub updated_at: String,
}

const ORGANIZATION_COLUMNS: &str =
    "id, org_uuid, name, code, description, status, related_orgs, created_at, updated_at";

pub enum OrganizationKey {
    Id(i64),
    Code(String),
}

pub async fn organization_details(db: &Db, key: &OrganizationKey) -> Result<Option<OrganizationDetails>, sqlx::Error> {
    let (condition, arg) = match key {
        OrganizationKey::Id(id) => ("id = $1", SqlValue::Int(*id)),
        OrganizationKey::Code(code) => ("code = $1", SqlValue::Text(code.clone())),
    };
    db.fetch_optional(&Statement::new(
        format!("SELECT {ORGANIZATION_COLUMNS} FROM organizations WHERE {condition}"),
        vec![arg],
    ))
    .await
}

pub async fn list_organizations(
    reader: &Reader,
    search: Option<&str>,
    page: i64,
    limit: i64,
) -> Result<(Vec<OrganizationDetails>, Count), sqlx::Error> {
    let mut args = Vec::new();
    let mut condition = "1 = 1".to_string();
    if let Some(search) = search.map(str::trim).filter(|s| !s.is_empty()) {
        args.push(like_pattern(search).into());
        condition = "(lower(name) LIKE $1 ESCAPE '\\' OR lower(code) LIKE $1 ESCAPE '\\')".to_string();
    }
    let count = reader.count(&format!("organizations WHERE {condition}"), args.clone()).await?;
    let n = args.len();
    args.push(limit.into());
    args.push(((page - 1) * limit).into());
    let rows = reader
        .db()
        .fetch_all(&Statement::new(
            format!(
                "SELECT {ORGANIZATION_COLUMNS} FROM organizations WHERE {condition} ORDER BY id LIMIT ${} OFFSET ${}",
                n + 1,
                n + 2
            ),
            args,
        ))
        .await?;
    Ok((rows, count))
}

pub async fn active_users_of_organization(db: &Db, organization_id: i64) -> Result<Vec<String>, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Id {
        user_uuid: String,
    }
    let rows: Vec<Id> = db
        .fetch_all(&Statement::new(
            "SELECT user_uuid FROM users WHERE organization_id = $1 AND status = 'ACTIVE' ORDER BY id",
            vec![organization_id.into()],
        ))
        .await?;
    Ok(rows.into_iter().map(|r| r.user_uuid).collect())
}

/// The UUIDs of the users `manager_uuid` manages who are not deleted, oldest first.
pub async fn managed_users(db: &Db, manager_uuid: &str) -> Result<Vec<String>, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Id {
        user_uuid: String,
    }
    let rows: Vec<Id> = db
        .fetch_all(&Statement::new(
            "SELECT user_uuid FROM users WHERE managed_by = $1 AND status <> 'DELETED' ORDER BY id",
            vec![manager_uuid.into()],
        ))
        .await?;
    Ok(rows.into_iter().map(|r| r.user_uuid).collect())
}

pub async fn user_by_email(db: &Db, email: &str) -> Result<Option<UserRow>, sqlx::Error> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users u WHERE u.email = $1 AND u.status <> 'DELETED'");
    db.fetch_optional(&Statement::new(sql, vec![email.trim().to_lowercase().into()])).await
}

pub async fn role(db: &Db, id: i64) -> Result<Option<RoleRow>, sqlx::Error> {
    db.fetch_optional(&Statement::new(
        "SELECT id, title, CAST(user_type AS BIGINT) AS user_type, status FROM roles WHERE id = $1",
        vec![id.into()],
    ))
    .await
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RoleRequestRow {
    pub id: i64,
    pub request_uuid: String,
    pub requester_uuid: String,
    pub requester_id: i64,
    pub role_id: i64,
    pub organization_id: i64,
    pub status: String,
    pub handled_by: Option<i64>,
    pub form_data: String,
    pub created_at: String,
    pub updated_at: String,
    pub requester_name: Option<String>,
    pub requester_email: Option<String>,
    pub requester_organization_id: Option<i64>,
    pub role_title: Option<String>,
}

const REQUEST_SELECT: &str = "SELECT q.id, q.request_uuid, q.requester_uuid, q.requester_id, q.role_id, q.organization_id, \
    q.status, q.handled_by, q.form_data, q.created_at, q.updated_at, u.name AS requester_name, u.email AS requester_email, \
    u.organization_id AS requester_organization_id, r.title AS role_title FROM role_requests q LEFT JOIN users u ON u.user_uuid = q.requester_uuid \
    LEFT JOIN roles r ON r.id = q.role_id";

pub async fn role_request(db: &Db, id: i64) -> Result<Option<RoleRequestRow>, sqlx::Error> {
    db.fetch_optional(&Statement::new(format!("{REQUEST_SELECT} WHERE q.id = $1"), vec![id.into()])).await
}

pub async fn role_request_comments(db: &Db, request_uuid: &str) -> Result<Vec<String>, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Comment {
        comment: String,
    }
    let rows: Vec<Comment> = db
        .fetch_all(&Statement::new(
            "SELECT comment FROM role_request_comments WHERE request_uuid = $1 ORDER BY sequence, position",
            vec![request_uuid.into()],
        ))
        .await?;
    Ok(rows.into_iter().map(|c| c.comment).collect())
}

#[derive(Debug, Default)]
pub struct RequestFilter {
    pub organization_id: i64,
    pub roles: Vec<i64>,
    pub statuses: Vec<String>,
    pub handled_by: Vec<i64>,
    pub page: i64,
    pub limit: i64,
}

pub async fn role_requests(
    reader: &Reader,
    filter: &RequestFilter,
) -> Result<(Vec<RoleRequestRow>, Count), sqlx::Error> {
    let mut args: Vec<SqlValue> = vec![filter.organization_id.into()];
    let mut conditions = vec!["q.organization_id = $1".to_string()];
    let mut any_of = |column: &str, values: Vec<SqlValue>, args: &mut Vec<SqlValue>| {
        if values.is_empty() {
            return;
        }
        let mut marks = Vec::new();
        for value in values {
            args.push(value);
            marks.push(format!("${}", args.len()));
        }
        conditions.push(format!("{column} IN ({})", marks.join(", ")));
    };
    any_of("q.role_id", filter.roles.iter().map(|r| SqlValue::Int(*r)).collect(), &mut args);
    any_of("q.status", filter.statuses.iter().map(|s| SqlValue::Text(s.to_uppercase())).collect(), &mut args);
    any_of("q.handled_by", filter.handled_by.iter().map(|h| SqlValue::Int(*h)).collect(), &mut args);
    let where_clause = conditions.join(" AND ");
    let count = reader.count(&format!("role_requests q WHERE {where_clause}"), args.clone()).await?;
    let n = args.len();
    args.push(filter.limit.into());
    args.push(((filter.page - 1) * filter.limit).into());
    let rows = reader
        .db()
        .fetch_all(&Statement::new(
            format!("{REQUEST_SELECT} WHERE {where_clause} ORDER BY q.id DESC LIMIT ${} OFFSET ${}", n + 1, n + 2),
            args,
        ))
        .await?;
    Ok((rows, count))
}

/// The aggregate id of a user, deleted or not: their history outlives them.
pub async fn user_uuid_of(db: &Db, key: &UserKey) -> Result<Option<String>, sqlx::Error> {
    let (condition, arg) = match key {
        UserKey::Numeric(id) => ("id = $1", SqlValue::Int(*id)),
        UserKey::Uuid(uuid) => ("user_uuid = $1", SqlValue::Text(uuid.clone())),
    };
    let row: Option<AggregateId> = db
        .fetch_optional(&Statement::new(format!("SELECT user_uuid AS id FROM users WHERE {condition}"), vec![arg]))
        .await?;
    Ok(row.map(|r| r.id))
}

#[derive(sqlx::FromRow)]
struct AggregateId {
    id: String,
}

/// The aggregate id of an organisation given its numeric id or UUID.
pub async fn organization_uuid_of(db: &Db, raw: &str) -> Result<Option<String>, sqlx::Error> {
    let raw = raw.trim();
    let (condition, arg) = match (raw.parse::<i64>(), uuid::Uuid::parse_str(raw)) {
        (Ok(id), _) => ("id = $1", SqlValue::Int(id)),
        (_, Ok(uuid)) => ("org_uuid = $1", SqlValue::Text(uuid.to_string())),
        _ => return Ok(None),
    };
    let sql = format!("SELECT org_uuid AS id FROM organizations WHERE {condition}");
    let row: Option<AggregateId> = db.fetch_optional(&Statement::new(sql, vec![arg])).await?;
    Ok(row.map(|r| r.id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_under_three_characters_are_prefixes() {
        assert_eq!(Term::parse("  A "), Some(Term::Prefix("a".into())));
        assert_eq!(Term::parse("Él"), Some(Term::Prefix("él".into())));
        assert_eq!(Term::parse("%"), Some(Term::Prefix("%".into())));
        assert_eq!(Term::parse("a  b"), Some(Term::Substring("a b".into())), "spaces count, once");
        assert_eq!(Term::parse("ola"), Some(Term::Substring("ola".into())));
        assert_eq!(Term::parse(" \t "), None);
    }

    #[test]
    fn a_page_tells_the_count_only_when_it_ends_the_list() {
        assert_eq!(count_from_page(3, 10, 0), Some(Count::exact(3)));
        assert_eq!(count_from_page(3, 10, 20), Some(Count::exact(23)));
        assert_eq!(count_from_page(0, 10, 0), Some(Count::exact(0)));
        assert_eq!(count_from_page(0, 10, 20), None, "empty past the end: how far is the end?");
        assert_eq!(count_from_page(10, 10, 0), None, "a full page: more may follow");
    }
}
