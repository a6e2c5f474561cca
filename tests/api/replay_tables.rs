//! `roster replay` rebuilds the read tables (on PostgreSQL into copies that
//! replace them, `storage::shadow_tables`): afterwards the tables hold what
//! they held, keep every index, constraint, trigger and view they had, and
//! the tables derived from them (search prefixes) are rebuilt too, even
//! where they had drifted.

use std::process::Command;

use roster::storage::Db;
use sqlx::Row;

use crate::helpers::*;
use crate::on_both_backends;

/// Every index, constraint, trigger and view definition on the read
/// tables, as the catalogue prints them.
async fn shape(db: &Db) -> Vec<String> {
    let sql = match db {
        Db::Postgres(_) => {
            "SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = current_schema() \
             UNION ALL SELECT 'constraint ' || conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid) \
               FROM pg_constraint WHERE connamespace = current_schema()::regnamespace \
             UNION ALL SELECT 'trigger ' || pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal \
             UNION ALL SELECT 'view ' || viewname || ' ' || definition FROM pg_views WHERE schemaname = current_schema() \
             UNION ALL SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable \
               || ' ' || coalesce(column_default, '') FROM information_schema.columns WHERE table_schema = current_schema() \
             UNION ALL SELECT 'left in roster_rebuild: ' || relname FROM pg_class \
               WHERE relnamespace = 'roster_rebuild'::regnamespace \
             ORDER BY 1"
        }
        Db::Sqlite(_) => "SELECT type || ' ' || name || ' ' || coalesce(sql, '') FROM sqlite_master ORDER BY 1",
    };
    roster::on_pool!(db, pool => {
        sqlx::query(sql).fetch_all(pool).await.unwrap().iter().map(|row| row.get::<String, _>(0)).collect()
    })
}

/// Prefix rows missing from the table, and rows the table has that its
/// source no longer gives.
async fn prefix_drift(db: &Db) -> (i64, i64) {
    let columns = "role_id, prefix, name, id";
    let count = |from: &str, except: &str| {
        format!("SELECT count(*) FROM (SELECT {columns} FROM {from} EXCEPT SELECT {columns} FROM {except}) d")
    };
    let missing = count("user_search_prefixes_source", "user_search_prefixes");
    let extra = count("user_search_prefixes", "user_search_prefixes_source");
    roster::on_pool!(db, pool => {
        (
            sqlx::query_scalar::<_, i64>(&missing).fetch_one(pool).await.unwrap(),
            sqlx::query_scalar::<_, i64>(&extra).fetch_one(pool).await.unwrap(),
        )
    })
}

async fn replay_rebuilds_tables_with_their_shape_and_what_derives_from_them(backend: Backend) {
    let stoppable = spawn_stoppable(fresh_database(backend).await, |_| {}).await;
    let app = &stoppable.app;
    let admin = app.admin_session().await;
    for (i, name) in ["Ada Lovelace", "Grace Hopper", "Alan Turing", "Edsger Dijkstra"].iter().enumerate() {
        app.sign_up(name, &format!("replay{i}@example.com")).await;
    }
    let body = serde_json::json!({"identifier": "replay1@example.com", "role_id": 6});
    let assigned = app.post("/user/v1/admin/assignRole", Some(&admin.access_token), body).await;
    assert_eq!(assigned.status, 200, "{}", assigned.body);
    let database = stoppable.stop().await;
    let url = database.url.clone();
    let db = Db::connect(&url, 2).await.unwrap();
    let live = dump(&db).await;
    let shape_before = shape(&db).await;
    assert_eq!(prefix_drift(&db).await, (0, 0), "the live prefixes follow their source");

    // Drift in the derived table: one user's prefix rows gone, a stray one added.
    let drift = [
        "DELETE FROM user_search_prefixes WHERE id = (SELECT id FROM users WHERE email = 'replay2@example.com')",
        "INSERT INTO user_search_prefixes (role_id, prefix, name, id) VALUES (0, 'zz', 'Nobody', 999999)",
    ];
    for sql in drift {
        db.execute(&projections::Statement::new(sql, vec![])).await.unwrap();
    }
    assert_ne!(prefix_drift(&db).await, (0, 0));

    let replay = Command::new(env!("CARGO_BIN_EXE_roster")).arg("replay").env("DATABASE_URL", &url).output().unwrap();
    assert!(replay.status.success(), "replay failed: {}", String::from_utf8_lossy(&replay.stderr));
    assert_eq!(dump(&db).await, live, "replay must rebuild the read tables exactly");
    assert_eq!(shape(&db).await, shape_before, "replay must keep every index, constraint, trigger and view");
    assert_eq!(prefix_drift(&db).await, (0, 0), "replay must rebuild the search prefixes");
    drop(database);
}

on_both_backends!(replay_rebuilds_tables_with_their_shape_and_what_derives_from_them);
