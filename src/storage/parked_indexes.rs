//! A full replay refills the read tables from empty. Keeping their secondary
//! indexes up to date row by row costs more than building them once at the
//! end, so a replay parks them: it records each index's definition and drops
//! it, just before the table is emptied. The definitions stay in
//! `parked_indexes` until the index is built again, so a replay that dies
//! midway leaves them recorded and the next start of the runners puts them
//! back. Unique indexes are never parked: they are constraints the
//! projections rely on (`ON CONFLICT`).
//!
//! On SQLite a table's triggers are parked too: they maintain its FTS5
//! search index (`<table>_search`, sqlite migration 0010), which is then
//! rebuilt from the table in one pass after the triggers are back, and the
//! tables derived from it (`DERIVED_SQLITE`), which are emptied when the
//! triggers are parked and refilled from their `_source` view after.

use futures::future::try_join_all;

use super::{begin_write, Db};
use crate::on_pool;

/// The non-unique indexes of one table: name, kind and definition.
const PARKABLE_POSTGRES: &str = "SELECT i.relname::text, 'INDEX', pg_get_indexdef(i.oid) \
     FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid \
     WHERE t.relname = $1 AND t.relnamespace = current_schema()::regnamespace AND NOT x.indisunique";
/// Indexes behind PRIMARY KEY and UNIQUE have no `sql`; explicit unique
/// ones are left out by their text. Then the table's triggers, and the
/// rebuild of its search index, which has nothing to drop.
const PARKABLE_SQLITE: &str = "SELECT name, upper(type), sql FROM sqlite_master \
     WHERE tbl_name = $1 AND ((type = 'index' AND sql IS NOT NULL AND upper(sql) NOT LIKE 'CREATE UNIQUE%') \
       OR type = 'trigger') \
     UNION ALL \
     SELECT name, 'REBUILD', 'INSERT INTO ' || name || ' (' || name || ') VALUES (''rebuild'')' \
     FROM sqlite_master WHERE type = 'table' AND name = $1 || '_search'";

/// Tables that SQLite triggers on a read table keep in step, emptied when
/// those triggers are parked and refilled from `<derived>_source` (a view
/// in the derived table's migration) when they are back. PostgreSQL
/// rebuilds its own with the stale listing (`listing.rs`).
const DERIVED_SQLITE: &[(&str, &str)] = &[("users", "user_search_prefixes")];

impl Db {
    /// Records and drops the secondary indexes of `tables` (and on SQLite
    /// their triggers), in one transaction. Parking twice keeps the first
    /// record.
    pub async fn park_indexes(&self, tables: &[&str]) -> Result<(), sqlx::Error> {
        let parkable = match self {
            Db::Postgres(_) => PARKABLE_POSTGRES,
            Db::Sqlite(_) => PARKABLE_SQLITE,
        };
        on_pool!(self, pool => {
            let mut tx = begin_write(pool).await?;
            for table in tables {
                let parkable: Vec<(String, String, String)> =
                    sqlx::query_as(parkable).bind(table).fetch_all(&mut *tx).await?;
                for (name, kind, definition) in parkable {
                    sqlx::query(
                        "INSERT INTO parked_indexes (name, table_name, definition) VALUES ($1, $2, $3) \
                         ON CONFLICT (name) DO NOTHING",
                    )
                    .bind(&name)
                    .bind(table)
                    .bind(&definition)
                    .execute(&mut *tx)
                    .await?;
                    if kind != "REBUILD" {
                        sqlx::query(&format!("DROP {kind} \"{name}\"")).execute(&mut *tx).await?;
                    }
                }
                if matches!(self, Db::Sqlite(_)) {
                    for (_, derived) in DERIVED_SQLITE.iter().filter(|(source, _)| source == table) {
                        let refill = format!("INSERT OR IGNORE INTO {derived} SELECT * FROM {derived}_source");
                        sqlx::query(
                            "INSERT INTO parked_indexes (name, table_name, definition) VALUES ($1, $2, $3) \
                             ON CONFLICT (name) DO NOTHING",
                        )
                        .bind(derived)
                        .bind(table)
                        .bind(&refill)
                        .execute(&mut *tx)
                        .await?;
                        sqlx::query(&format!("DELETE FROM {derived}")).execute(&mut *tx).await?;
                    }
                }
            }
            tx.commit().await
        })
    }

    /// Builds every parked index (and trigger) again. Each is built and its
    /// record removed in one transaction; on PostgreSQL they are built side
    /// by side.
    pub async fn restore_parked_indexes(&self) -> Result<(), sqlx::Error> {
        match self {
            Db::Postgres(pool) => {
                let parked: Vec<(String, String)> =
                    sqlx::query_as("SELECT name, definition FROM parked_indexes").fetch_all(pool).await?;
                let builds = parked.into_iter().map(|(name, definition)| async move {
                    let mut tx = pool.begin().await?;
                    sqlx::query(&definition).execute(&mut *tx).await?;
                    sqlx::query("DELETE FROM parked_indexes WHERE name = $1").bind(&name).execute(&mut *tx).await?;
                    tx.commit().await
                });
                try_join_all(builds).await?;
            }
            Db::Sqlite(pool) => {
                // Triggers before the search index is rebuilt, so no write
                // between the two is missed.
                let parked: Vec<(String, String)> = sqlx::query_as(
                    "SELECT name, definition FROM parked_indexes ORDER BY definition LIKE 'INSERT%', name",
                )
                .fetch_all(pool)
                .await?;
                for (name, definition) in parked {
                    let mut tx = begin_write(pool).await?;
                    // The record goes first: that statement reads the schema
                    // afresh if another connection changed it (the park). A
                    // CREATE compiled against a connection's stale schema
                    // fails with "already exists".
                    sqlx::query("DELETE FROM parked_indexes WHERE name = $1").bind(&name).execute(&mut *tx).await?;
                    sqlx::query(&definition).execute(&mut *tx).await?;
                    tx.commit().await?;
                }
            }
        }
        Ok(())
    }
}

impl Db {
    /// On SQLite, the secondary indexes and triggers of `tables` with the
    /// statements that create them again, then the rebuild of their search
    /// index (kind `REBUILD`) and the refill of the tables their triggers
    /// keep (kind `REFILL`: emptied first), in the order to run them;
    /// nothing on PostgreSQL. A replay runs them inside its transaction.
    pub async fn parkable_sqlite(&self, tables: &[&str]) -> Result<Vec<(String, String, String)>, sqlx::Error> {
        let Db::Sqlite(pool) = self else { return Ok(Vec::new()) };
        let mut parkable = Vec::new();
        for table in tables {
            parkable.extend(
                sqlx::query_as::<_, (String, String, String)>(PARKABLE_SQLITE).bind(table).fetch_all(pool).await?,
            );
            for (_, derived) in DERIVED_SQLITE.iter().filter(|(source, _)| source == table) {
                let refill = format!("INSERT OR IGNORE INTO {derived} SELECT * FROM {derived}_source");
                parkable.push((derived.to_string(), "REFILL".to_string(), refill));
            }
        }
        parkable.sort_by_key(|(_, kind, _)| matches!(kind.as_str(), "REBUILD" | "REFILL"));
        Ok(parkable)
    }
}
