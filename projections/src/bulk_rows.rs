//! A rebuild's batch as rows to bulk-load: its single-row INSERTs become
//! one `RowBatch` per table (each row its column values), which the
//! runner can send with PostgreSQL's `COPY`, and everything else stays a
//! statement. The same rules as `batching` keep the effect of running the
//! statements one by one: only `INSERT INTO t (...) VALUES (...)`
//! (optionally `ON CONFLICT ... DO NOTHING`) is gathered, rows of one table
//! keep their order and may pass INSERTs into other tables only, and any
//! other statement first flushes what was gathered.

use crate::batching::parse_insert;
use crate::{SqlValue, Statement};

/// One column value of a gathered row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// A bound argument, typed as the statement would bind it.
    Value(SqlValue),
    /// A literal written in the SQL (`'ACTIVE'`, `0`, `true`): the column's
    /// type reads it, as PostgreSQL reads an untyped literal.
    Literal(String),
}

/// Rows for one table, all with the same columns and conflict clause.
#[derive(Debug, Clone, PartialEq)]
pub struct RowBatch {
    pub table: String,
    pub columns: Vec<String>,
    /// `ON CONFLICT ... DO NOTHING`, or empty.
    pub on_conflict: String,
    pub rows: Vec<Vec<Cell>>,
    /// The statements the rows came from, to run instead if the rows
    /// cannot be loaded as they are.
    pub statements: Vec<Statement>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Statement(Statement),
    Rows(RowBatch),
}

/// The column names of `INSERT INTO t (a, b) VALUES `.
fn columns(head: &str) -> Option<Vec<String>> {
    let open = head.find('(')?;
    let close = head[open..].find(')')? + open;
    let names: Vec<String> = head[open + 1..close].split(',').map(|c| c.trim().to_string()).collect();
    names.iter().all(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')).then_some(names)
}

/// The cells of a row tuple `($1, 'ACTIVE', NULL, $2)`; `None` if an
/// element is anything else (a call, a cast, an expression).
fn cells(row: &str, args: &[SqlValue]) -> Option<Vec<Cell>> {
    let inner = row.trim().strip_prefix('(')?.strip_suffix(')')?;
    let mut elements = Vec::new();
    let (mut current, mut in_literal) = (String::new(), false);
    for c in inner.chars() {
        match c {
            '\'' => {
                in_literal = !in_literal;
                current.push(c);
            }
            ',' if !in_literal => elements.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    elements.push(current);
    elements
        .iter()
        .map(|element| {
            let element = element.trim();
            if let Some(n) = element.strip_prefix('$') {
                let index: usize = n.parse().ok()?;
                return args.get(index.checked_sub(1)?).cloned().map(Cell::Value);
            }
            if let Some(quoted) = element.strip_prefix('\'').and_then(|e| e.strip_suffix('\'')) {
                return Some(Cell::Literal(quoted.replace("''", "'")));
            }
            if element.eq_ignore_ascii_case("NULL") {
                return Some(Cell::Value(SqlValue::Null));
            }
            let plain = element.eq_ignore_ascii_case("true")
                || element.eq_ignore_ascii_case("false")
                || element.parse::<i64>().is_ok();
            plain.then(|| Cell::Literal(element.to_string()))
        })
        .collect()
}

struct Gathering {
    batch: RowBatch,
}

/// The same effect as `statements` in order, with INSERT rows gathered.
pub fn bulk_steps(statements: Vec<Statement>) -> Vec<Step> {
    let mut out = Vec::new();
    let mut pending: Vec<Gathering> = Vec::new();
    let flush = |pending: &mut Vec<Gathering>, out: &mut Vec<Step>| {
        out.extend(pending.drain(..).map(|g| Step::Rows(g.batch)));
    };
    for statement in statements {
        let parsed = parse_insert(&statement.sql).and_then(|insert| {
            let columns = columns(insert.head)?;
            let row = cells(insert.row, &statement.args).filter(|row| row.len() == columns.len())?;
            Some((insert.table.to_string(), columns, insert.tail.trim().to_string(), row))
        });
        let Some((table, columns, on_conflict, row)) = parsed else {
            flush(&mut pending, &mut out);
            out.push(Step::Statement(statement));
            continue;
        };
        if let Some(i) = pending.iter().position(|g| g.batch.table == table) {
            let batch = &pending[i].batch;
            if batch.columns == columns && batch.on_conflict == on_conflict {
                let batch = &mut pending[i].batch;
                batch.rows.push(row);
                batch.statements.push(statement);
                continue;
            }
            // Another shape for the same table: earlier rows go first.
            flush(&mut pending, &mut out);
        }
        pending.push(Gathering {
            batch: RowBatch { table, columns, on_conflict, rows: vec![row], statements: vec![statement] },
        });
    }
    flush(&mut pending, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str) -> Statement {
        Statement::new(
            "INSERT INTO users (user_uuid, status, note, created_at, updated_at) VALUES ($1, 'ACTIVE', 'it''s, ok', $2, $2)",
            vec![id.into(), "t".into()],
        )
    }

    fn role(id: &str) -> Statement {
        Statement::new(
            "INSERT INTO user_roles (user_uuid, role_id) VALUES ($1, $2) ON CONFLICT (user_uuid, role_id) DO NOTHING",
            vec![id.into(), 3.into()],
        )
    }

    #[test]
    fn inserts_become_rows_per_table_with_literals_and_repeated_placeholders() {
        let steps = bulk_steps(vec![user("a"), role("a"), user("b"), role("b")]);
        assert_eq!(steps.len(), 2);
        let Step::Rows(users) = &steps[0] else { panic!("{steps:?}") };
        assert_eq!(users.columns, ["user_uuid", "status", "note", "created_at", "updated_at"]);
        assert_eq!(users.on_conflict, "");
        assert_eq!(
            users.rows[1],
            vec![
                Cell::Value("b".into()),
                Cell::Literal("ACTIVE".into()),
                Cell::Literal("it's, ok".into()),
                Cell::Value("t".into()),
                Cell::Value("t".into()),
            ]
        );
        assert_eq!(users.statements, vec![user("a"), user("b")]);
        let Step::Rows(roles) = &steps[1] else { panic!("{steps:?}") };
        assert_eq!(roles.on_conflict, "ON CONFLICT (user_uuid, role_id) DO NOTHING");
        let row = |id: &str| vec![Cell::Value(id.into()), Cell::Value(3.into())];
        assert_eq!(roles.rows, vec![row("a"), row("b")]);
    }

    #[test]
    fn rows_never_jump_over_another_statement() {
        let update = Statement::new("UPDATE users SET name = $2 WHERE user_uuid = $1", vec!["a".into(), "x".into()]);
        let steps = bulk_steps(vec![user("a"), update.clone(), user("b")]);
        assert_eq!(steps.len(), 3);
        assert_eq!(steps[1], Step::Statement(update));
        assert!(matches!(&steps[2], Step::Rows(rows) if rows.rows.len() == 1));
    }

    #[test]
    fn expressions_upserts_and_other_shapes_stay_statements_in_order() {
        let cast = Statement::new("INSERT INTO t (a, b) VALUES ($1, lower($2))", vec!["x".into(), "Y".into()]);
        let upsert =
            Statement::new("INSERT INTO t (a) VALUES ($1) ON CONFLICT (a) DO UPDATE SET a = $1", vec!["x".into()]);
        let other = Statement::new("INSERT INTO user_roles (user_uuid) VALUES ($1)", vec!["z".into()]);
        let steps = bulk_steps(vec![cast.clone(), upsert.clone(), role("a"), other, role("b")]);
        assert_eq!(steps[0], Step::Statement(cast));
        assert_eq!(steps[1], Step::Statement(upsert));
        assert_eq!(steps.len(), 5);
        assert!(steps[2..].iter().all(|s| matches!(s, Step::Rows(rows) if rows.rows.len() == 1)));
    }

    #[test]
    fn null_numbers_and_booleans_are_cells() {
        let s = Statement::new("INSERT INTO t (a, b, c, d) VALUES (NULL, 0, true, $1)", vec![SqlValue::Null]);
        let [Step::Rows(rows)] = &bulk_steps(vec![s])[..] else { panic!() };
        assert_eq!(
            rows.rows[0],
            vec![
                Cell::Value(SqlValue::Null),
                Cell::Literal("0".into()),
                Cell::Literal("true".into()),
                Cell::Value(SqlValue::Null)
            ]
        );
    }
}
