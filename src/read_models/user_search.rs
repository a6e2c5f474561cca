//! The user list and search: one page of users (active ones unless asked
//! otherwise) matching a filter, how many match, and counts per value of a
//! few columns over the matches (README, "Search").

use projections::{SqlValue, Statement};
use serde_json::Value;

use super::users::{json_column, RoleRow, UserKey};
use crate::storage::query::{like_anywhere, like_escaped, Bound, Conditions, GroupCount, Order, Window};
use crate::storage::{Count, Db, Reader};
use crate::visibility::ContactScope;

/// A user as lists show it: what ELEVATE's list items hold, and no more.
#[derive(Debug, Clone)]
pub struct ListedUser {
    pub id: i64,
    pub user_uuid: String,
    pub name: Option<String>,
    pub email: Option<String>,
    image: Option<String>,
    pub organization_id: i64,
    pub status: ListedStatus,
    /// When the user registered, as the read model keeps it.
    pub created_at: String,
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
    status: String,
    created_at: String,
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
                status: if row.status == "ACTIVE" { ListedStatus::Active } else { ListedStatus::Inactive },
                created_at: row.created_at,
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
    /// The statuses listed; empty lists active users only.
    pub statuses: Vec<ListedStatus>,
    /// Ranges of dates, all of which a user must be in.
    pub ranges: Vec<DateRange>,
    /// Groups of alternatives: of each group, at least one must hold.
    pub any_of: Vec<Vec<Alternative>>,
    /// The order of the list; empty is by name.
    pub sort: Vec<Sort>,
    pub page: i64,
    pub limit: i64,
}

/// A status a list can show (erased users are never listed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListedStatus {
    Active,
    Inactive,
}

impl ListedStatus {
    fn column_value(self) -> &'static str {
        match self {
            ListedStatus::Active => "ACTIVE",
            ListedStatus::Inactive => "INACTIVE",
        }
    }
}

/// A date of a user a range or an order can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateField {
    /// When the user registered (indexed: `users_created`, migration 0027).
    Created,
}

/// A date range: after `from` and before `to`, either end open.
#[derive(Debug, Clone, PartialEq)]
pub struct DateRange {
    pub field: DateField,
    pub from: Option<(chrono::DateTime<chrono::Utc>, bool)>,
    pub to: Option<(chrono::DateTime<chrono::Utc>, bool)>,
}

/// What a list can be ordered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortField {
    Name,
    Created,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort {
    pub field: SortField,
    pub descending: bool,
}

/// One alternative of an any-of group.
#[derive(Debug, Clone, PartialEq)]
pub enum Alternative {
    /// One of these users (by UUID; none: no user).
    Users(Vec<String>),
    Organization(i64),
    /// Holds a role of this title.
    Role(String),
    Status(ListedStatus),
}

/// A column whose values a search counts over its matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FacetField {
    /// Role titles (a user with two roles counts once for each).
    Role,
    Organization,
    Status,
}

impl UserFilter {
    /// Whether the filter asks only what ELEVATE's lists ask (active users
    /// in name order), which the derived tables can answer.
    fn plain(&self) -> bool {
        matches!(self.statuses.as_slice(), [] | [ListedStatus::Active])
            && self.ranges.is_empty()
            && self.any_of.is_empty()
            && self.sort.iter().all(|s| s.field == SortField::Name && !s.descending)
    }

    /// Whether the filter asks for every active user and nothing else.
    fn everyone_active(&self) -> bool {
        self.plain()
            && self.search.as_deref().and_then(Term::parse).is_none()
            && self.role.is_none()
            && self.organization_id.is_none()
            && self.include_ids.is_empty()
            && self.include_emails.is_empty()
            && self.exclude_ids.is_empty()
    }

    fn statuses(&self) -> Vec<ListedStatus> {
        match self.statuses.is_empty() {
            true => vec![ListedStatus::Active],
            false => self.statuses.clone(),
        }
    }

    /// The list's order, with the id as tie-break (in the first key's direction).
    fn order(&self, alias: &str) -> Order {
        let mut order: Option<Order> = None;
        for sort in &self.sort {
            let column = match sort.field {
                SortField::Name => format!("{alias}.name"),
                SortField::Created => format!("{alias}.created_at"),
            };
            order = Some(match order {
                None => Order::by(&column, sort.descending),
                Some(order) => order.then(&column, sort.descending),
            });
        }
        let descending = self.sort.first().is_some_and(|s| s.descending);
        match order {
            None => Order::by(&format!("{alias}.name"), false).then(&format!("{alias}.id"), false),
            Some(order) => order.then(&format!("{alias}.id"), descending),
        }
    }
}

/// The users whose email a search may match, as a condition on the rows
/// of `alias` (`users u`, or `user_search_prefixes p`, which carry the
/// user's id and organisation), or `None` for every user.
fn contact_condition(scope: &ContactScope, alias: &str, q: &mut Conditions) -> Option<String> {
    match *scope {
        ContactScope::Everyone => None,
        ContactScope::Organization { organization_id, caller_id } => {
            let (organization, caller) = (q.arg(organization_id), q.arg(caller_id));
            Some(format!("({alias}.organization_id = {organization} OR {alias}.id = {caller})"))
        }
        ContactScope::Themselves { caller_id } => Some(format!("{alias}.id = {}", q.arg(caller_id))),
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
fn name_condition(term: &Term, q: &mut Conditions) -> String {
    match term {
        Term::Prefix(prefix) => {
            // A filter beside the prefix table, which decides the plan.
            let mark = q.arg(format!("% {}%", like_escaped(prefix)));
            format!("(' ' || {SEARCH_NAME}) LIKE {mark} ESCAPE '\\'")
        }
        Term::Substring(search) => format!("{SEARCH_NAME} LIKE {} ESCAPE '\\'", q.pattern(like_anywhere(search))),
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
fn search_condition(db: &Db, term: &Term, q: &mut Conditions) -> String {
    let search = match term {
        Term::Prefix(prefix) => {
            let mark = q.arg(prefix.as_str());
            return format!(
                "u.id IN (SELECT p.id FROM user_search_prefixes p WHERE p.role_id = 0 AND p.prefix = {mark})"
            );
        }
        Term::Substring(search) => search,
    };
    if matches!(db, Db::Sqlite(_)) && !search.contains(['%', '_', '\\']) {
        let mark = q.arg(format!("%{search}%"));
        return format!("u.id IN (SELECT rowid FROM users_search WHERE search_text LIKE {mark})");
    }
    format!("u.search_text LIKE {} ESCAPE '\\'", q.pattern(like_anywhere(search)))
}

/// The users `keys` name (or, negated, every other user); `None` for no key.
fn key_lists(keys: &[UserKey], q: &mut Conditions, negate: bool) -> Option<String> {
    if keys.is_empty() {
        return None;
    }
    let numeric = q.args(keys.iter().filter_map(|k| match k {
        UserKey::Numeric(id) => Some(*id),
        UserKey::Uuid(_) => None,
    }));
    let uuids = q.args(keys.iter().filter_map(|k| match k {
        UserKey::Uuid(u) => Some(u.as_str()),
        UserKey::Numeric(_) => None,
    }));
    let mut parts = Vec::new();
    if !numeric.is_empty() {
        parts.push(format!("u.id IN ({numeric})"));
    }
    if !uuids.is_empty() {
        parts.push(format!("u.user_uuid IN ({uuids})"));
    }
    let any = format!("({})", parts.join(" OR "));
    Some(if negate { format!("NOT {any}") } else { any })
}

/// The count a page tells by itself: one that is not full ends the list
/// (unless it is empty past the first page), the usual case for a narrow
/// search.
fn count_from_page(shown: usize, window: Window) -> Option<Count> {
    let shown = i64::try_from(shown).unwrap_or(i64::MAX);
    (shown < window.limit && (shown > 0 || window.offset == 0)).then(|| Count::exact(window.offset + shown))
}

/// The page of users in `order` after `where_clause`, and how many users
/// it matches (`Reader::count`). The page query selects only ids (an
/// index-only scan of `users_listing` when there is no search), then reads
/// the few rows it keeps.
async fn filtered_page(
    reader: &Reader,
    where_clause: &str,
    args: Vec<SqlValue>,
    order: &Order,
    window: Window,
) -> Result<(Vec<ListedUser>, Count), sqlx::Error> {
    let ids = format!("SELECT u.id FROM users u WHERE {where_clause} ORDER BY {} {}", order.sql(), window.sql());
    let users = page_of_in(reader.db(), &ids, args.clone(), order, "u.status <> 'DELETED'").await?;
    let count = match count_from_page(users.len(), window) {
        Some(count) => count,
        None => reader.count(&format!("users u WHERE {where_clause}"), args).await?,
    };
    Ok((users, count))
}

/// The users of `ids` (a query of active users' ids, a page of them) in
/// name order, with their roles, in one query.
async fn page_of(db: &Db, ids: &str, args: Vec<SqlValue>) -> Result<Vec<ListedUser>, sqlx::Error> {
    let order = Order::by("u.name", false).then("u.id", false);
    page_of_in(db, ids, args, &order, "u.status = 'ACTIVE'").await
}

/// `page_of` in `order`, of the users `status` admits.
async fn page_of_in(
    db: &Db,
    ids: &str,
    args: Vec<SqlValue>,
    order: &Order,
    status: &str,
) -> Result<Vec<ListedUser>, sqlx::Error> {
    let sql = format!(
        "SELECT u.user_uuid, u.id, u.name, u.email, u.image, u.organization_id, u.status, u.created_at, \
           r.id AS role_id, r.title AS role_title, CAST(r.user_type AS BIGINT) AS role_user_type, \
           r.status AS role_status \
         FROM ({ids}) page JOIN users u ON u.id = page.id \
         LEFT JOIN user_roles ur ON ur.user_uuid = u.user_uuid LEFT JOIN roles r ON r.id = ur.role_id \
         WHERE {status} ORDER BY {}, r.id",
        order.sql()
    );
    Ok(listed_users(db.fetch_all(&Statement::new(sql, args)).await?))
}

/// PostgreSQL, no search and no id lists: the page and the exact count come
/// from `role_listing` and `user_list_counts` (migration 0007), which triggers
/// keep in step with `users` and `user_roles`. Role 0: every active user.
async fn listing_page(db: &Db, role_id: i64, window: Window) -> Result<(Vec<ListedUser>, Count), sqlx::Error> {
    let count = db
        .fetch_count(&Statement::new(
            "SELECT CAST(coalesce(sum(active), 0) AS BIGINT) FROM user_list_counts WHERE role_id = $1",
            vec![role_id.into()],
        ))
        .await?;
    let window = window.sql();
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
    window: Window,
) -> Result<(Vec<ListedUser>, Count), sqlx::Error> {
    let mut q = Conditions::new();
    q.with("p.role_id = $?", role_id);
    q.with("p.prefix = $?", prefix);
    let in_scope = contact_condition(contacts, "p", &mut q);
    let range = match &in_scope {
        None => "user_search_prefixes p WHERE p.role_id = $1 AND p.prefix = $2".to_string(),
        Some(in_scope) => {
            format!("user_search_prefixes p WHERE p.role_id = $1 AND p.prefix = $2 AND (p.by_name OR {in_scope})")
        }
    };
    let args = q.into_arguments();
    let ids = format!("SELECT p.id FROM {range} ORDER BY p.name, p.id {}", window.sql());
    let users = page_of(reader.db(), &ids, args.clone()).await?;
    if let Some(count) = count_from_page(users.len(), window) {
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
                            "SELECT CAST(coalesce(sum({column}), 0) AS BIGINT) + {email_rows} FROM user_search_prefix_counts \
                             WHERE role_id = $1 AND prefix = $2"
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

/// The `WHERE` conditions of `filter` on `users u`, or `None` when no user
/// can match (a role title no role has).
async fn conditions(reader: &Reader, filter: &UserFilter) -> Result<Option<Conditions>, sqlx::Error> {
    let db = reader.db();
    let term = filter.search.as_deref().and_then(Term::parse);
    let mut q = Conditions::new();
    let statuses = filter.statuses();
    let active_only = statuses == [ListedStatus::Active];
    let listed = statuses.iter().map(|s| format!("'{}'", s.column_value())).collect::<Vec<_>>().join(", ");
    q.push(format!("u.status IN ({listed})"));
    let contacts = match term.is_some() || !filter.include_emails.is_empty() {
        true => contact_condition(&filter.contacts, "u", &mut q),
        false => None,
    };
    if let Some(term) = &term {
        let matched = match (term, active_only) {
            // The prefix table holds active users only: others are matched
            // on the words of their search text.
            (Term::Prefix(prefix), false) => {
                format!("(' ' || u.search_text) LIKE {} ESCAPE '\\'", q.pattern(format!("% {}%", like_escaped(prefix))))
            }
            _ => search_condition(db, term, &mut q),
        };
        let condition = match &contacts {
            None => matched,
            Some(contacts) => {
                let name = name_condition(term, &mut q);
                term_within_contacts(db, term, matched, contacts, name)
            }
        };
        q.push(condition);
    }
    if let Some(title) = &filter.role {
        let ids = role_ids(db, title).await?;
        if ids.is_empty() {
            return Ok(None);
        }
        let condition = holders(&ids, &mut q);
        q.push(condition);
    }
    if let Some(org) = filter.organization_id {
        q.with("u.organization_id = $?", org);
    }
    let mut includes = Vec::new();
    if let Some(ids) = key_lists(&filter.include_ids, &mut q, false) {
        includes.push(ids);
    }
    if !filter.include_emails.is_empty() {
        let marks = q.args(filter.include_emails.iter().map(|e| e.trim().to_lowercase()));
        let listed = format!("u.email IN ({marks})");
        includes.push(match &contacts {
            None => listed,
            Some(contacts) => format!("({listed} AND {contacts})"),
        });
    }
    if !includes.is_empty() {
        q.push(format!("({})", includes.join(" OR ")));
    }
    if let Some(excluded) = key_lists(&filter.exclude_ids, &mut q, true) {
        q.push(excluded);
    }
    for range in &filter.ranges {
        let column = match range.field {
            DateField::Created => "u.created_at",
        };
        // The column's own format (fixed width, UTC), so text order is time order.
        let bound = |end: &Option<(chrono::DateTime<chrono::Utc>, bool)>| {
            end.map(|(at, inclusive)| Bound { value: projections::format_time(&at).into(), inclusive })
        };
        q.range(column, bound(&range.from), bound(&range.to));
    }
    for group in &filter.any_of {
        let mut alternatives = Vec::new();
        for alternative in group {
            alternatives.push(match alternative {
                Alternative::Users(uuids) if uuids.is_empty() => "1 = 0".to_string(),
                Alternative::Users(uuids) => format!("u.user_uuid IN ({})", q.args(uuids.iter().map(String::as_str))),
                Alternative::Organization(id) => format!("u.organization_id = {}", q.arg(*id)),
                Alternative::Role(title) => match role_ids(db, title).await?.as_slice() {
                    [] => "1 = 0".to_string(),
                    ids => holders(ids, &mut q),
                },
                Alternative::Status(status) => format!("u.status = '{}'", status.column_value()),
            });
        }
        q.any(alternatives);
    }
    Ok(Some(q))
}

/// The holders of any of the roles `ids`, as a condition on `users u`.
/// Uncorrelated, so the planner may find the holders from the role's side
/// (`user_roles_role`) once, or probe for each user.
fn holders(ids: &[i64], q: &mut Conditions) -> String {
    let marks = q.args(ids.iter().copied());
    format!("u.user_uuid IN (SELECT ur.user_uuid FROM user_roles ur WHERE ur.role_id IN ({marks}))")
}

/// One page of the users matching `filter`, and how many match.
pub async fn list_users(reader: &Reader, filter: &UserFilter) -> Result<(Vec<ListedUser>, Count), sqlx::Error> {
    let db = reader.db();
    let term = filter.search.as_deref().and_then(Term::parse);
    let window = Window::page(filter.page, filter.limit);
    let narrowed = filter.organization_id.is_some()
        || !filter.include_ids.is_empty()
        || !filter.include_emails.is_empty()
        || !filter.exclude_ids.is_empty()
        || !filter.plain();
    // Role and short term, or role alone on PostgreSQL: a derived table
    // holds the page in order.
    let derived = !narrowed
        && match &term {
            Some(Term::Prefix(_)) => true,
            Some(Term::Substring(_)) => false,
            None => matches!(db, Db::Postgres(_)),
        };
    if derived {
        // Role 0: every active user. A title that several roles share goes
        // to the general query, which counts a user holding two of them once.
        let role_id = match &filter.role {
            None => Some(0),
            Some(title) => match role_ids(db, title).await?.as_slice() {
                [only] => Some(*only),
                _ => None,
            },
        };
        if let Some(role_id) = role_id {
            return match &term {
                Some(Term::Prefix(prefix)) => prefix_page(reader, role_id, prefix, &filter.contacts, window).await,
                _ => listing_page(db, role_id, window).await,
            };
        }
    }
    let Some(q) = conditions(reader, filter).await? else { return Ok((Vec::new(), Count::exact(0))) };
    filtered_page(reader, &q.clause(), q.into_arguments(), &filter.order("u"), window).await
}

/// How many of the users matching `filter` hold each value of `field`,
/// most first (exact counts, as Elasticsearch's terms aggregation gives).
pub async fn user_facet(
    reader: &Reader,
    filter: &UserFilter,
    field: FacetField,
) -> Result<Vec<GroupCount>, sqlx::Error> {
    if filter.everyone_active() && matches!(reader.db(), Db::Postgres(_)) {
        if let Some(counted) = counted_facet(reader.db(), field).await? {
            return Ok(counted);
        }
    }
    let Some(q) = conditions(reader, filter).await? else { return Ok(Vec::new()) };
    match field {
        FacetField::Organization => q.counts_by(reader, "u.organization_id", "users u", None).await,
        FacetField::Status => q.counts_by(reader, "u.status", "users u", None).await,
        FacetField::Role => {
            let from = "users u JOIN user_roles ur ON ur.user_uuid = u.user_uuid JOIN roles r ON r.id = ur.role_id";
            q.counts_by(reader, "r.title", from, Some("u.id")).await
        }
    }
}

/// A facet over every active user from the counters the listing keeps
/// (`user_list_counts`, migration 0007), instead of reading every user:
/// statuses and roles. `None` where the counters cannot tell: organisations,
/// and roles when two counted roles share a title (a user holding both
/// counts once under it, which per-role counters cannot know).
async fn counted_facet(db: &Db, field: FacetField) -> Result<Option<Vec<GroupCount>>, sqlx::Error> {
    match field {
        FacetField::Organization => Ok(None),
        FacetField::Status => {
            let active = db
                .fetch_count(&Statement::new(
                    "SELECT CAST(coalesce(sum(active), 0) AS BIGINT) FROM user_list_counts WHERE role_id = 0",
                    vec![],
                ))
                .await?;
            let counted = (active > 0).then(|| GroupCount { value: "ACTIVE".into(), count: active });
            Ok(Some(counted.into_iter().collect()))
        }
        FacetField::Role => {
            const COUNTED: &str =
                "(SELECT role_id, sum(active) AS active FROM user_list_counts WHERE role_id > 0 GROUP BY role_id) c \
                 JOIN roles r ON r.id = c.role_id WHERE c.active > 0";
            let shared = db
                .fetch_count(&Statement::new(
                    format!(
                        "SELECT count(*) FROM (SELECT r.title FROM {COUNTED} GROUP BY r.title HAVING count(*) > 1) s"
                    ),
                    vec![],
                ))
                .await?;
            if shared > 0 {
                return Ok(None);
            }
            let sql = format!(
                "SELECT CAST(r.title AS TEXT) AS value, CAST(c.active AS BIGINT) AS count FROM {COUNTED} \
                 ORDER BY count DESC, value"
            );
            Ok(Some(db.fetch_all(&Statement::new(sql, vec![])).await?))
        }
    }
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
        assert_eq!(count_from_page(3, Window { limit: 10, offset: 0 }), Some(Count::exact(3)));
        assert_eq!(count_from_page(3, Window { limit: 10, offset: 20 }), Some(Count::exact(23)));
        assert_eq!(count_from_page(0, Window { limit: 10, offset: 0 }), Some(Count::exact(0)));
        assert_eq!(
            count_from_page(0, Window { limit: 10, offset: 20 }),
            None,
            "empty past the end: how far is the end?"
        );
        assert_eq!(count_from_page(10, Window { limit: 10, offset: 0 }), None, "a full page: more may follow");
    }
}
