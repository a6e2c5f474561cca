//! Folding a batch's single-row INSERTs into multi-row ones, so a runner
//! applying thousands of events (a replay, a seeding) makes a few round
//! trips instead of one per row.
//!
//! Rules that keep the result equal to running the statements one by one:
//! - only `INSERT INTO t (...) VALUES (...)`, optionally `ON CONFLICT ... DO
//!   NOTHING`, is folded (`DO UPDATE` cannot touch one row twice in a
//!   statement, and `INSERT ... SELECT` reads other tables);
//! - an INSERT may be deferred past INSERTs into *other* tables only (read
//!   tables have no foreign keys or triggers), and rows of one table keep
//!   their order;
//! - any other statement first flushes everything deferred, so UPDATEs and
//!   DELETEs see every earlier row.

use crate::{SqlValue, Statement};

/// Both backends accept far more (PostgreSQL 65,535, SQLite 32,766); this
/// keeps each statement a reasonable size.
const MAX_ARGS_PER_STATEMENT: usize = 8_000;

pub(crate) struct Insert<'a> {
    pub(crate) table: &'a str,
    /// `INSERT INTO t (cols) VALUES `
    pub(crate) head: &'a str,
    /// The row tuple, `(...)`, placeholders numbered from `$1`.
    pub(crate) row: &'a str,
    /// What follows the tuple (`ON CONFLICT ... DO NOTHING` or nothing).
    pub(crate) tail: &'a str,
}

pub(crate) fn parse_insert(sql: &str) -> Option<Insert<'_>> {
    let rest = sql.strip_prefix("INSERT INTO ")?;
    let table = rest.split([' ', '(']).next().filter(|t| !t.is_empty())?;
    let values_at = sql.find(" VALUES (")? + " VALUES ".len();
    let mut depth = 0usize;
    let mut in_literal = false;
    let mut row_end = None;
    for (offset, c) in sql[values_at..].char_indices() {
        match c {
            // A doubled quote inside a literal toggles twice: still inside.
            '\'' => in_literal = !in_literal,
            '(' if !in_literal => depth += 1,
            ')' if !in_literal => {
                depth -= 1;
                if depth == 0 {
                    row_end = Some(values_at + offset + 1);
                    break;
                }
            }
            _ => {}
        }
    }
    let row_end = row_end?;
    let tail = &sql[row_end..];
    let trimmed = tail.trim();
    let foldable = trimmed.is_empty() || (trimmed.starts_with("ON CONFLICT") && trimmed.ends_with("DO NOTHING"));
    foldable.then_some(Insert { table, head: &sql[..values_at], row: &sql[values_at..row_end], tail })
}

/// `row` with every `$n` outside string literals shifted by `offset`.
fn renumber(row: &str, offset: usize) -> String {
    let mut out = String::with_capacity(row.len() + 8);
    let mut in_literal = false;
    let mut chars = row.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        out.push(c);
        if c == '\'' {
            in_literal = !in_literal;
        }
        if c != '$' || in_literal {
            continue;
        }
        let mut digits = String::new();
        while let Some((_, d)) = chars.peek().filter(|(_, d)| d.is_ascii_digit()) {
            digits.push(*d);
            chars.next();
        }
        match digits.parse::<usize>() {
            Ok(n) => out.push_str(&(n + offset).to_string()),
            Err(_) => out.push_str(&digits),
        }
    }
    out
}

/// Rows waiting to become one statement.
struct Pending {
    table: String,
    sql: String,
    head: String,
    rows: Vec<String>,
    tail: String,
    args: Vec<SqlValue>,
}

impl Pending {
    fn into_statement(self) -> Statement {
        Statement::new(format!("{}{}{}", self.head, self.rows.join(", "), self.tail), self.args)
    }
}

/// The same effect as `statements` in order, with fewer statements.
pub fn merge_inserts(statements: Vec<Statement>) -> Vec<Statement> {
    let mut out = Vec::with_capacity(statements.len());
    let mut pending: Vec<Pending> = Vec::new();
    let flush = |pending: &mut Vec<Pending>, out: &mut Vec<Statement>| {
        out.extend(pending.drain(..).map(Pending::into_statement));
    };
    for statement in statements {
        let Some(insert) = parse_insert(&statement.sql) else {
            flush(&mut pending, &mut out);
            out.push(statement);
            continue;
        };
        let slot = pending.iter().position(|p| p.table == insert.table);
        if let Some(i) = slot {
            let fits = pending[i].args.len() + statement.args.len() <= MAX_ARGS_PER_STATEMENT;
            if pending[i].sql == statement.sql && fits {
                let group = &mut pending[i];
                group.rows.push(renumber(insert.row, group.args.len()));
                group.args.extend(statement.args);
                continue;
            }
            // Another shape for the same table: earlier rows go first.
            flush(&mut pending, &mut out);
        }
        pending.push(Pending {
            table: insert.table.to_string(),
            head: insert.head.to_string(),
            rows: vec![insert.row.to_string()],
            tail: insert.tail.to_string(),
            args: statement.args,
            sql: statement.sql,
        });
    }
    flush(&mut pending, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn insert_role(id: &str) -> Statement {
        Statement::new(
            "INSERT INTO user_roles (user_uuid, role_id) VALUES ($1, $2) ON CONFLICT (user_uuid, role_id) DO NOTHING",
            vec![id.into(), 3.into()],
        )
    }

    #[test]
    fn interleaved_inserts_into_two_tables_become_two_statements() {
        let merged = merge_inserts(vec![insert_role("a"), insert_role("b"), insert_role("c")]);
        assert_eq!(merged.len(), 1);
        assert_eq!(
            merged[0].sql,
            "INSERT INTO user_roles (user_uuid, role_id) VALUES ($1, $2), ($3, $4), ($5, $6) \
             ON CONFLICT (user_uuid, role_id) DO NOTHING"
        );
        assert_eq!(merged[0].args, vec!["a".into(), 3.into(), "b".into(), 3.into(), "c".into(), 3.into()]);
    }

    #[test]
    fn rows_never_jump_over_an_update() {
        let update = Statement::new("UPDATE users SET name = $2 WHERE user_uuid = $1", vec!["a".into(), "x".into()]);
        let merged = merge_inserts(vec![insert_role("a"), update.clone(), insert_role("b"), insert_role("c")]);
        assert_eq!(merged.len(), 3);
        assert_eq!(merged[0], insert_role("a"));
        assert_eq!(merged[1], update);
        assert!(merged[2].sql.contains("VALUES ($1, $2), ($3, $4)"));
    }

    #[test]
    fn repeated_placeholders_are_renumbered_per_row() {
        let row =
            |id: &str| Statement::new("INSERT INTO t (a, b, c) VALUES ($1, $2, $2)", vec![id.into(), "at".into()]);
        let merged = merge_inserts(vec![row("x"), row("y")]);
        assert_eq!(merged.len(), 1);
        assert_eq!(merged[0].sql, "INSERT INTO t (a, b, c) VALUES ($1, $2, $2), ($3, $4, $4)");
        assert_eq!(renumber("(lower($10), $9)", 10), "(lower($20), $19)");
    }

    #[test]
    fn literals_are_copied_untouched() {
        let row =
            |id: &str| Statement::new("INSERT INTO t (a, b, c) VALUES ($1, 'it''s ($1)', 'ACTIVE')", vec![id.into()]);
        let merged = merge_inserts(vec![row("x"), row("y")]);
        assert_eq!(merged.len(), 1);
        assert_eq!(
            merged[0].sql,
            "INSERT INTO t (a, b, c) VALUES ($1, 'it''s ($1)', 'ACTIVE'), ($2, 'it''s ($1)', 'ACTIVE')"
        );
    }

    #[test]
    fn upserts_and_insert_selects_are_never_folded() {
        let upsert =
            Statement::new("INSERT INTO t (a) VALUES ($1) ON CONFLICT (a) DO UPDATE SET a = $1", vec!["x".into()]);
        let select = Statement::new("INSERT INTO t (a) SELECT id FROM roles WHERE role_uuid = $1", vec!["x".into()]);
        let input = vec![upsert.clone(), upsert.clone(), select.clone(), select.clone()];
        assert_eq!(merge_inserts(input.clone()), input);
    }

    #[test]
    fn a_different_shape_for_the_same_table_flushes_first() {
        let other = Statement::new("INSERT INTO user_roles (user_uuid) VALUES ($1)", vec!["z".into()]);
        let merged = merge_inserts(vec![insert_role("a"), other.clone(), insert_role("b")]);
        assert_eq!(merged, vec![insert_role("a"), other, insert_role("b")]);
    }

    #[test]
    fn statements_are_split_before_the_argument_cap() {
        let many: Vec<Statement> = (0..MAX_ARGS_PER_STATEMENT).map(|i| insert_role(&i.to_string())).collect();
        let merged = merge_inserts(many);
        assert_eq!(merged.len(), 2);
        assert!(merged.iter().all(|s| s.args.len() <= MAX_ARGS_PER_STATEMENT));
        assert_eq!(merged.iter().map(|s| s.args.len()).sum::<usize>(), 2 * MAX_ARGS_PER_STATEMENT);
    }

    #[test]
    fn a_users_insert_folds_with_its_role_rows_interleaved() {
        let user = |id: &str| {
            Statement::new(
                "INSERT INTO users (user_uuid, status, created_at, updated_at) VALUES ($1, 'ACTIVE', $2, $2)",
                vec![id.into(), "t".into()],
            )
        };
        let merged = merge_inserts(vec![user("a"), insert_role("a"), user("b"), insert_role("b")]);
        assert_eq!(merged.len(), 2);
        assert!(merged[0].sql.starts_with("INSERT INTO users") && merged[0].args.len() == 4);
        assert!(merged[1].sql.starts_with("INSERT INTO user_roles") && merged[1].args.len() == 4);
    }
}
