//! One builder for the list endpoints' SQL: conditions with numbered
//! arguments, `LIKE` patterns escaped, and the page of a `WHERE` clause
//! with its count. Every list query goes through it, so an argument number
//! or an escape cannot drift between modules.

use projections::{SqlValue, Statement};

use super::{Count, Reader};

/// `s` lower-cased with `LIKE`'s wildcards and its escape character
/// escaped, for `... LIKE $n ESCAPE '\'`.
pub fn like_escaped(s: &str) -> String {
    s.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

/// The pattern matching `s` anywhere: `%s%`, escaped.
pub fn like_anywhere(s: &str) -> String {
    format!("%{}%", like_escaped(s))
}

/// A page: `limit` rows after skipping `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub limit: i64,
    pub offset: i64,
}

impl Window {
    /// Page `page` (from 1; lower counts as 1) of `limit` rows.
    pub fn page(page: i64, limit: i64) -> Window {
        Window { limit, offset: (page.max(1) - 1) * limit }
    }

    /// `LIMIT .. OFFSET ..`, written into the SQL: both are whole numbers
    /// the dialect checked. As parameters, PostgreSQL plans with a guess of
    /// a tenth of the rows, finds that plan dearer than one made for the
    /// values, and so plans every execution anew: about 1 ms of a 3 ms page.
    pub fn sql(&self) -> String {
        format!("LIMIT {} OFFSET {}", self.limit, self.offset)
    }
}

/// An `ORDER BY` list: columns, each ascending or descending, the last a
/// unique tie-break so pages never overlap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    columns: Vec<(String, bool)>,
}

impl Order {
    /// Ascending by `column`.
    pub fn by(column: &str, descending: bool) -> Order {
        Order { columns: vec![(column.to_string(), descending)] }
    }

    pub fn then(mut self, column: &str, descending: bool) -> Order {
        self.columns.push((column.to_string(), descending));
        self
    }

    /// `a, b DESC, ...` (without `ORDER BY`).
    pub fn sql(&self) -> String {
        self.columns
            .iter()
            .map(|(c, desc)| if *desc { format!("{c} DESC") } else { c.clone() })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// One end of a range: the value, and whether it is itself inside.
#[derive(Debug, Clone, PartialEq)]
pub struct Bound {
    pub value: SqlValue,
    pub inclusive: bool,
}

/// `WHERE` conditions joined by `AND`, and their arguments numbered `$1`,
/// `$2`, ... in the order they are added.
#[derive(Debug, Clone, Default)]
pub struct Conditions {
    clauses: Vec<String>,
    args: Vec<SqlValue>,
}

impl Conditions {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `value` as the next argument and returns its mark (`$n`), for
    /// a condition that uses it.
    pub fn arg(&mut self, value: impl Into<SqlValue>) -> String {
        self.args.push(value.into());
        format!("${}", self.args.len())
    }

    /// Adds the marks of `values`, comma-separated (for `IN (...)`).
    pub fn args<V: Into<SqlValue>>(&mut self, values: impl IntoIterator<Item = V>) -> String {
        values.into_iter().map(|v| self.arg(v)).collect::<Vec<_>>().join(", ")
    }

    /// The placeholder of a `LIKE` pattern (`SqlValue::Pattern`).
    pub fn pattern(&mut self, pattern: String) -> String {
        self.arg(SqlValue::Pattern(pattern))
    }

    /// Adds a condition with no argument of its own (or whose marks came
    /// from `arg`).
    pub fn push(&mut self, clause: impl Into<String>) {
        self.clauses.push(clause.into());
    }

    /// Adds `clause` with `$?` standing for `value`'s mark.
    pub fn with(&mut self, clause: &str, value: impl Into<SqlValue>) {
        let mark = self.arg(value);
        self.clauses.push(clause.replace("$?", &mark));
    }

    /// `column IN (values)`; nothing when `values` is empty.
    pub fn any_of<V: Into<SqlValue>>(&mut self, column: &str, values: impl IntoIterator<Item = V>) {
        let marks = self.args(values);
        if !marks.is_empty() {
            self.clauses.push(format!("{column} IN ({marks})"));
        }
    }

    /// A case-insensitive substring `term` of any of `columns`; nothing for
    /// a blank term.
    pub fn contains(&mut self, columns: &[&str], term: Option<&str>) {
        let Some(term) = term.map(str::trim).filter(|t| !t.is_empty()) else {
            return;
        };
        let mark = self.pattern(like_anywhere(term));
        let any =
            columns.iter().map(|c| format!("lower({c}) LIKE {mark} ESCAPE '\\'")).collect::<Vec<_>>().join(" OR ");
        self.clauses.push(format!("({any})"));
    }

    /// `column` between `lower` and `upper` (either may be open); nothing
    /// when both are.
    pub fn range(&mut self, column: &str, lower: Option<Bound>, upper: Option<Bound>) {
        if let Some(lower) = lower {
            let op = if lower.inclusive { ">=" } else { ">" };
            self.with(&format!("{column} {op} $?"), lower.value);
        }
        if let Some(upper) = upper {
            let op = if upper.inclusive { "<=" } else { "<" };
            self.with(&format!("{column} {op} $?"), upper.value);
        }
    }

    /// Alternatives of which any may hold, as one condition: `(a OR b)`;
    /// no alternative holds nothing (`1 = 0`).
    pub fn any(&mut self, alternatives: Vec<String>) {
        if alternatives.is_empty() {
            self.clauses.push("1 = 0".into());
        } else {
            self.clauses.push(format!("({})", alternatives.join(" OR ")));
        }
    }

    /// The conditions joined by `AND` (`1 = 1` when there are none).
    pub fn clause(&self) -> String {
        if self.clauses.is_empty() {
            "1 = 1".to_string()
        } else {
            self.clauses.join(" AND ")
        }
    }

    pub fn arguments(&self) -> &[SqlValue] {
        &self.args
    }

    pub fn into_arguments(self) -> Vec<SqlValue> {
        self.args
    }

    /// `SELECT {select} WHERE ... ORDER BY {order} LIMIT .. OFFSET ..`
    /// (`select` holds the column list and the FROM), and the count of
    /// `FROM {from} WHERE ...` (`Reader::count`, so bounded as configured).
    pub async fn page<T>(
        self,
        reader: &Reader,
        select: &str,
        from: &str,
        order: &str,
        window: Window,
    ) -> Result<(Vec<T>, Count), sqlx::Error>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
            + for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
            + Send
            + Unpin,
    {
        let clause = self.clause();
        let count = reader.count(&format!("{from} WHERE {clause}"), self.args.clone()).await?;
        let sql = format!("{select} WHERE {clause} ORDER BY {order} {}", window.sql());
        Ok((reader.db().fetch_all(&Statement::new(sql, self.args)).await?, count))
    }
}

/// One value of a grouped count and how many rows hold it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct GroupCount {
    pub value: String,
    pub count: i64,
}

impl Conditions {
    /// How many rows of `from` that meet the conditions hold each value of
    /// `key` (an expression over `from`, counted as text), most first.
    /// `distinct` counts that expression once per value instead of rows.
    pub async fn counts_by(
        self,
        reader: &Reader,
        key: &str,
        from: &str,
        distinct: Option<&str>,
    ) -> Result<Vec<GroupCount>, sqlx::Error> {
        let counted = distinct.map_or("*".to_string(), |d| format!("DISTINCT {d}"));
        let sql = format!(
            "SELECT CAST({key} AS TEXT) AS value, count({counted}) AS count FROM {from} WHERE {} \
             GROUP BY {key} ORDER BY count DESC, value",
            self.clause()
        );
        reader.db().fetch_all(&Statement::new(sql, self.args)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_and_the_escape_character_are_escaped() {
        assert_eq!(like_escaped(r"50%_OFF\x"), r"50\%\_off\\x");
        assert_eq!(like_anywhere("Ab"), "%ab%");
    }

    #[test]
    fn marks_follow_the_order_arguments_are_added() {
        let mut c = Conditions::new();
        c.with("a = $?", 1i64);
        c.any_of("b", vec![2i64, 3]);
        c.any_of::<i64>("never", vec![]);
        c.contains(&["name", "code"], Some("  X "));
        c.contains(&["name"], Some("   "));
        let mark = c.arg("tail");
        c.push(format!("d = {mark}"));
        assert_eq!(
            c.clause(),
            r"a = $1 AND b IN ($2, $3) AND (lower(name) LIKE $4 ESCAPE '\' OR lower(code) LIKE $4 ESCAPE '\') AND d = $5"
        );
        assert_eq!(c.arguments().len(), 5);
        // A pattern: PostgreSQL plans its statement per call (`Db::kept_prepared`).
        assert_eq!(c.arguments()[3], SqlValue::Pattern("%x%".into()));
    }

    #[test]
    fn ranges_alternatives_and_orders_are_written_as_asked() {
        let mut c = Conditions::new();
        c.range(
            "t",
            Some(Bound { value: "a".into(), inclusive: true }),
            Some(Bound { value: "b".into(), inclusive: false }),
        );
        c.range("open", None, None);
        let mark = c.arg(7i64);
        c.any(vec![format!("x = {mark}"), "y".into()]);
        c.any(vec![]);
        assert_eq!(c.clause(), "t >= $1 AND t < $2 AND (x = $3 OR y) AND 1 = 0");
        assert_eq!(Order::by("u.created_at", true).then("u.id", true).sql(), "u.created_at DESC, u.id DESC");
        assert_eq!(Order::by("u.name", false).then("u.id", false).sql(), "u.name, u.id");
    }

    #[test]
    fn no_condition_is_every_row() {
        assert_eq!(Conditions::new().clause(), "1 = 1");
    }

    #[test]
    fn pages_count_from_one() {
        assert_eq!(Window::page(3, 20), Window { limit: 20, offset: 40 });
        assert_eq!(Window::page(0, 20).offset, 0);
        assert_eq!(Window::page(1, 5).sql(), "LIMIT 5 OFFSET 0");
    }
}
