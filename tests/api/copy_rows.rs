//! A rebuild's rows loaded with binary COPY (PostgreSQL) must be what the
//! INSERTs they replace would have stored: the same values, byte for byte,
//! the same rows kept under `ON CONFLICT DO NOTHING`, and the same refusal
//! of a value the INSERT refuses. SQLite runs the INSERTs themselves.

use projections::{bulk_steps, SqlValue, Statement};
use roster::storage::copy_rows::{ApplySteps, ColumnTypes};
use roster::storage::Db;

use crate::helpers::*;
use crate::on_both_backends;

const TEXTS: &[&str] = &[
    "plain",
    "tab\there",
    "new\nline and\r\ncarriage",
    "back\\slash \\N \\.",
    "quote 'single' \"double\"",
    "ünïcødé 😀 — ✓",
    "",
    "comma, (paren)",
];

fn statements(table: &str, on_conflict: &str) -> Vec<Statement> {
    let mut out = Vec::new();
    for (i, text) in TEXTS.iter().enumerate() {
        let i = i as i64;
        out.push(Statement::new(
            format!("INSERT INTO {table} (k, n, i, b, s, lit, absent) VALUES ($1, $2, $3, $4, $5, 'ACTIVE', NULL){on_conflict}"),
            vec![
                format!("key {}", i % 5).into(),
                (i64::MAX - i).into(),
                SqlValue::Int(-i * 1000),
                (i % 2 == 0).into(),
                if i == 3 { SqlValue::Null } else { (*text).into() },
            ],
        ));
    }
    out
}

async fn rows(db: &Db, table: &str) -> Vec<Vec<Option<String>>> {
    let sql = format!(
        "SELECT k, CAST(n AS TEXT), CAST(i AS TEXT), CAST(b AS TEXT), s, lit, absent FROM {table} ORDER BY k, n"
    );
    text_rows(db, &sql).await
}

async fn copy_stores_what_the_inserts_would(backend: Backend) {
    let database = fresh_database(backend).await;
    let db = Db::connect(&database.url, 2).await.unwrap();
    for table in ["copied", "inserted", "copied_once", "inserted_once"] {
        let create = format!(
            "CREATE TABLE {table} (k TEXT NOT NULL, n BIGINT NOT NULL, i INTEGER NOT NULL, b BOOLEAN NOT NULL, \
             s TEXT, lit TEXT NOT NULL, absent TEXT, UNIQUE (k, n))"
        );
        db.execute(&Statement::new(create, vec![])).await.unwrap();
    }
    // Rows with distinct keys, then rows whose keys repeat under DO NOTHING.
    let once = " ON CONFLICT (k, n) DO NOTHING";
    let mut repeated = statements("copied_once", once);
    repeated.extend(statements("copied_once", once).into_iter().map(|mut s| {
        s.args[1] = SqlValue::Int(i64::MAX - 2);
        s
    }));
    let mut types = ColumnTypes::default();
    roster::on_pool!(&db, pool => {
        let mut tx = pool.begin().await.unwrap();
        tx.apply_steps(&bulk_steps(statements("copied", "")), &mut types).await.unwrap();
        tx.apply_steps(&bulk_steps(repeated.clone()), &mut types).await.unwrap();
        tx.commit().await.unwrap();
    });
    for statement in statements("inserted", "")
        .into_iter()
        .chain(repeated.into_iter().map(|s| Statement::new(s.sql.replace("copied_once", "inserted_once"), s.args)))
    {
        db.execute(&statement).await.unwrap();
    }
    let copied = rows(&db, "copied").await;
    assert_eq!(copied.len(), TEXTS.len());
    assert_eq!(copied, rows(&db, "inserted").await);
    assert_eq!(rows(&db, "copied_once").await, rows(&db, "inserted_once").await);
    match backend {
        Backend::Postgres => assert_eq!(types.copied_rows(), 3 * TEXTS.len() as u64, "the rows went in with COPY"),
        Backend::Sqlite => assert_eq!(types.copied_rows(), 0),
    }

    // A value the INSERT refuses (a number too large for an integer
    // column) is refused the same way, and nothing of the batch stays.
    let mut too_large = statements("copied", "");
    for (i, statement) in too_large.iter_mut().enumerate() {
        statement.args[0] = format!("new key {i}").into();
    }
    too_large[2].args[2] = SqlValue::Int(i64::from(i32::MAX) + 1);
    let refused = roster::on_pool!(&db, pool => {
        let mut tx = pool.begin().await.unwrap();
        tx.apply_steps(&bulk_steps(too_large), &mut ColumnTypes::default()).await
    });
    let inserted = db
        .execute(&Statement::new(
            "INSERT INTO inserted (k, n, i, b, lit) VALUES ('a new key', 1, $1, true, 'x')",
            vec![SqlValue::Int(i64::from(i32::MAX) + 1)],
        ))
        .await;
    assert_eq!(refused.is_err(), inserted.is_err(), "COPY: {refused:?}, INSERT: {inserted:?}");
    if backend == Backend::Postgres {
        assert!(format!("{refused:?}").contains("out of range"), "{refused:?}");
    }
    assert_eq!(rows(&db, "copied").await, copied);
}

on_both_backends!(copy_stores_what_the_inserts_would);
