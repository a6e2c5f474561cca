//! A rebuild's batch applied with PostgreSQL's binary `COPY`: each
//! `RowBatch` (`projections::bulk_steps`) goes in as one COPY, encoded here
//! in the binary format, instead of multi-row INSERTs the server has to
//! parse (a 1M-user replay spent most of its load phase parsing them). Rows
//! with a conflict clause go through a temporary table and one
//! `INSERT ... SELECT ... ON CONFLICT DO NOTHING`, in their order, which has
//! the effect of the INSERTs. A batch whose values do not fit the columns'
//! types as the INSERT would take them runs as those INSERTs, so it fails,
//! or not, just as they would. SQLite runs the statements.

use std::collections::HashMap;

use projections::{merge_inserts, Cell, RowBatch, SqlValue, Step};
use sqlx::PgConnection;

use crate::bind_values;

/// The column types COPY writes; any other column sends its rows as INSERTs.
#[derive(Debug, Clone, Copy, PartialEq)]
enum ColumnType {
    BigInt,
    Integer,
    Boolean,
    Text,
}

/// Column types by table, looked up once per table and rebuild, and how
/// many rows went in with COPY.
#[derive(Default)]
pub struct ColumnTypes {
    tables: HashMap<String, HashMap<String, Option<ColumnType>>>,
    copied_rows: u64,
}

impl ColumnTypes {
    async fn of(
        &mut self,
        conn: &mut PgConnection,
        table: &str,
    ) -> Result<&HashMap<String, Option<ColumnType>>, sqlx::Error> {
        if !self.tables.contains_key(table) {
            let rows: Vec<(String, String)> = sqlx::query_as(
                "SELECT attname::text, format_type(atttypid, atttypmod) FROM pg_attribute \
                 WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped",
            )
            .bind(table)
            .fetch_all(&mut *conn)
            .await?;
            let types = rows
                .into_iter()
                .map(|(column, kind)| {
                    let kind = match kind.as_str() {
                        "bigint" => Some(ColumnType::BigInt),
                        "integer" => Some(ColumnType::Integer),
                        "boolean" => Some(ColumnType::Boolean),
                        "text" => Some(ColumnType::Text),
                        _ => None,
                    };
                    (column, kind)
                })
                .collect();
            self.tables.insert(table.to_string(), types);
        }
        Ok(&self.tables[table])
    }

    /// Rows loaded with COPY so far (the rest went in as INSERTs).
    pub fn copied_rows(&self) -> u64 {
        self.copied_rows
    }
}

/// One field in the binary format: its bytes as the column's receive
/// function reads them; `None` when the INSERT would take the value another
/// way (a cast, a coercion, an error), so COPY must not.
fn encode(cell: &Cell, kind: ColumnType, out: &mut Vec<u8>) -> Option<()> {
    let mut field = |bytes: &[u8]| {
        out.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
        out.extend_from_slice(bytes);
    };
    match (cell, kind) {
        (Cell::Value(SqlValue::Null), _) => out.extend_from_slice(&(-1i32).to_be_bytes()),
        (Cell::Value(SqlValue::Int(v)), ColumnType::BigInt) => field(&v.to_be_bytes()),
        (Cell::Value(SqlValue::Int(v)), ColumnType::Integer) => field(&i32::try_from(*v).ok()?.to_be_bytes()),
        (Cell::Value(SqlValue::Bool(v)), ColumnType::Boolean) => field(&[u8::from(*v)]),
        (Cell::Value(SqlValue::Text(v) | SqlValue::Pattern(v)), ColumnType::Text) => field(v.as_bytes()),
        (Cell::Literal(v), ColumnType::Text) => field(v.as_bytes()),
        (Cell::Literal(v), ColumnType::BigInt) => field(&v.parse::<i64>().ok()?.to_be_bytes()),
        (Cell::Literal(v), ColumnType::Integer) => field(&v.parse::<i32>().ok()?.to_be_bytes()),
        (Cell::Literal(v), ColumnType::Boolean) => match v.to_ascii_lowercase().as_str() {
            "true" => field(&[1]),
            "false" => field(&[0]),
            _ => return None,
        },
        _ => return None,
    }
    Some(())
}

const HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";

/// The rows in COPY's binary format, with a leading ordinal column if
/// `numbered`; `None` if a value does not fit its column.
fn encode_rows(batch: &RowBatch, kinds: &[ColumnType], numbered: bool) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(HEADER.len() + batch.rows.len() * 64);
    out.extend_from_slice(HEADER);
    let fields = (kinds.len() + usize::from(numbered)) as i16;
    for (ordinal, row) in batch.rows.iter().enumerate() {
        out.extend_from_slice(&fields.to_be_bytes());
        if numbered {
            out.extend_from_slice(&8i32.to_be_bytes());
            out.extend_from_slice(&(ordinal as i64).to_be_bytes());
        }
        for (cell, kind) in row.iter().zip(kinds) {
            encode(cell, *kind, &mut out)?;
        }
    }
    out.extend_from_slice(&(-1i16).to_be_bytes());
    Some(out)
}

async fn copy_in(conn: &mut PgConnection, statement: &str, data: Vec<u8>) -> Result<u64, sqlx::Error> {
    let mut copy = conn.copy_in_raw(statement).await?;
    if let Err(error) = copy.send(data).await {
        let _ = copy.abort("the rows could not be sent").await;
        return Err(error);
    }
    copy.finish().await
}

/// Loads `batch` with COPY; false (nothing done) if its values do not fit.
async fn copy_batch(conn: &mut PgConnection, batch: &RowBatch, types: &mut ColumnTypes) -> Result<bool, sqlx::Error> {
    let table_types = types.of(conn, &batch.table).await?;
    let Some(kinds) = batch.columns.iter().map(|c| table_types.get(c).copied().flatten()).collect::<Option<Vec<_>>>()
    else {
        return Ok(false);
    };
    let numbered = !batch.on_conflict.is_empty();
    let Some(data) = encode_rows(batch, &kinds, numbered) else {
        return Ok(false);
    };
    let columns = batch.columns.join(", ");
    types.copied_rows += batch.rows.len() as u64;
    if !numbered {
        copy_in(conn, &format!("COPY {} ({columns}) FROM STDIN (FORMAT binary)", batch.table), data).await?;
        return Ok(true);
    }
    let staging = format!("roster_copy_{}", batch.table);
    let create = format!(
        "CREATE TEMPORARY TABLE IF NOT EXISTS {staging} ON COMMIT DROP AS \
         SELECT 0::bigint AS roster_ordinal, {columns} FROM {} WITH NO DATA",
        batch.table
    );
    sqlx::query(&create).execute(&mut *conn).await?;
    copy_in(conn, &format!("COPY {staging} (roster_ordinal, {columns}) FROM STDIN (FORMAT binary)"), data).await?;
    let insert = format!(
        "INSERT INTO {} ({columns}) SELECT {columns} FROM {staging} ORDER BY roster_ordinal {}",
        batch.table, batch.on_conflict
    );
    sqlx::query(&insert).execute(&mut *conn).await?;
    sqlx::query(&format!("TRUNCATE {staging}")).execute(&mut *conn).await?;
    Ok(true)
}

/// Applies a rebuild's steps on either backend (used on the concrete
/// connection types only, so the futures' `Send` is known).
#[allow(async_fn_in_trait)]
pub trait ApplySteps {
    async fn apply_steps(&mut self, steps: &[Step], types: &mut ColumnTypes) -> Result<(), sqlx::Error>;
}

impl ApplySteps for PgConnection {
    async fn apply_steps(&mut self, steps: &[Step], types: &mut ColumnTypes) -> Result<(), sqlx::Error> {
        for step in steps {
            match step {
                Step::Statement(statement) => {
                    bind_values!(sqlx::query(&statement.sql), &statement.args).execute(&mut *self).await?;
                }
                Step::Rows(batch) => {
                    if !copy_batch(self, batch, types).await? {
                        for statement in merge_inserts(batch.statements.clone()) {
                            bind_values!(sqlx::query(&statement.sql), &statement.args).execute(&mut *self).await?;
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

impl ApplySteps for sqlx::SqliteConnection {
    async fn apply_steps(&mut self, steps: &[Step], _types: &mut ColumnTypes) -> Result<(), sqlx::Error> {
        for step in steps {
            let statements = match step {
                Step::Statement(statement) => vec![statement.clone()],
                Step::Rows(batch) => merge_inserts(batch.statements.clone()),
            };
            for statement in &statements {
                bind_values!(sqlx::query(&statement.sql), &statement.args).execute(&mut *self).await?;
            }
        }
        Ok(())
    }
}
