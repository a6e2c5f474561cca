//! PostgreSQL: a rebuild fills fresh copies of a read model's tables (in
//! the schema `roster_rebuild`, migration 0036) instead of emptying and
//! refilling the live ones. The copies start with their unique indexes only
//! (the constraints `ON CONFLICT` and the updates by key rely on) and no
//! triggers; the other indexes are built once, from the filled table, at
//! the end; then, in the same transaction, the live tables are dropped and
//! the copies take their place with the same names, indexes and triggers.
//!
//! Row by row, a 1M-user replay kept two trigram GIN indexes and five
//! B-trees up to date, deleted the old rows first and built the triggers'
//! transition tables for nothing (docs/performance.md, P6). Readers keep
//! seeing the old tables until the swap, which holds them off only for its
//! last statements (the derived tables are built before it), and a rebuild
//! that fails rolls back with its copies, as before.
//!
//! Views on the tables are copied too (reading the copies, so the derived
//! tables built before the swap see the new rows) and replace theirs. A
//! table whose shape a copy would not keep (identity columns or sequences,
//! foreign keys, views on those views, materialised views, policies,
//! grants, inheritance, extended statistics, publications) is rebuilt in
//! place, as on SQLite.

use sqlx::PgConnection;

/// Where the copies are built (created by migration 0036).
const SCHEMA: &str = "roster_rebuild";

/// `maintenance_work_mem` while the copies' indexes are built, if the
/// server's is lower: GIN builds gather their entries in it.
const INDEX_BUILD_MEMORY_MB: i64 = 256;

/// Anything on `$1`'s tables that a copy made with `LIKE` would lose.
const UNFIT: &str = "SELECT t.name FROM unnest($1::text[]) AS t(name) \
    LEFT JOIN pg_class c ON c.oid = to_regclass(t.name) \
    WHERE c.oid IS NULL OR c.relkind <> 'r' OR c.relacl IS NOT NULL OR c.relrowsecurity \
       OR EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND a.attidentity <> '') \
       OR EXISTS (SELECT 1 FROM pg_attrdef d WHERE d.adrelid = c.oid AND pg_get_expr(d.adbin, d.adrelid) LIKE '%nextval(%') \
       OR EXISTS (SELECT 1 FROM pg_constraint k WHERE (k.conrelid = c.oid OR k.confrelid = c.oid) AND k.contype IN ('f', 'x')) \
       OR EXISTS (SELECT 1 FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid JOIN pg_class v ON v.oid = r.ev_class \
           WHERE d.refobjid = c.oid AND d.classid = 'pg_rewrite'::regclass AND v.oid <> c.oid \
             AND (v.relkind <> 'v' OR v.relacl IS NOT NULL OR EXISTS (SELECT 1 FROM pg_depend d2 \
               JOIN pg_rewrite r2 ON r2.oid = d2.objid WHERE d2.refobjid = v.oid \
                 AND d2.classid = 'pg_rewrite'::regclass AND r2.ev_class <> v.oid))) \
       OR EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = c.oid OR i.inhparent = c.oid) \
       OR EXISTS (SELECT 1 FROM pg_statistic_ext s WHERE s.stxrelid = c.oid) \
       OR EXISTS (SELECT 1 FROM pg_publication_rel p WHERE p.prrelid = c.oid) \
       OR EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid)";

/// A table's schema (quoted), its storage options, its indexes (definition,
/// unique, the constraint it backs and that constraint's kind) and triggers.
const SCHEMA_OF: &str = "SELECT quote_ident(n.nspname), array_to_string(c.reloptions, ', ') \
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass($1)";
const INDEXES_OF: &str = "SELECT pg_get_indexdef(x.indexrelid), x.indisunique, quote_ident(i.relname), \
      quote_ident(k.conname), k.contype::text \
    FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid \
    LEFT JOIN pg_constraint k ON k.conindid = x.indexrelid AND k.conrelid = x.indrelid \
    WHERE x.indrelid = to_regclass($1) ORDER BY i.relname";
/// The views on `$1`'s tables (each read by nothing but queries: `UNFIT`
/// refuses the rest), with their schema and definition.
const VIEWS_ON: &str = "SELECT DISTINCT quote_ident(n.nspname), quote_ident(v.relname), pg_get_viewdef(v.oid) \
    FROM unnest($1::text[]) AS t(name) \
    JOIN pg_depend d ON d.refobjid = to_regclass(t.name) AND d.classid = 'pg_rewrite'::regclass \
    JOIN pg_rewrite r ON r.oid = d.objid JOIN pg_class v ON v.oid = r.ev_class \
    JOIN pg_namespace n ON n.oid = v.relnamespace WHERE v.oid <> to_regclass(t.name) ORDER BY 1, 2";
const TRIGGERS_OF: &str =
    "SELECT pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid = to_regclass($1) AND NOT tgisinternal ORDER BY tgname";

/// An index: definition, unique, name, and the constraint it backs (name, kind).
type IndexRow = (String, bool, String, Option<String>, Option<String>);

/// The copies of one rebuild, and what each needs before it replaces its table.
pub struct ShadowTables {
    tables: Vec<ShadowTable>,
    /// Views on the tables (schema, name): copies read the copies, and
    /// replace them at the swap.
    views: Vec<(String, String)>,
    /// The transaction's `search_path` before the copies went in front.
    search_path: String,
}

struct ShadowTable {
    /// As written in the projection (`users`), and where the live one is.
    name: String,
    schema: String,
    /// Non-unique index definitions, aimed at the copy.
    later_indexes: Vec<String>,
    /// Trigger definitions; they name the live table, which the copy becomes.
    triggers: Vec<String>,
}

/// Makes copies of `tables` and puts them first on the transaction's
/// `search_path`, so the projection's statements write into them. `None`
/// if one of the tables does not fit (see the module comment): the rebuild
/// then works in place.
pub async fn create(conn: &mut PgConnection, tables: &[&str]) -> Result<Option<ShadowTables>, sqlx::Error> {
    let names: Vec<String> = tables.iter().map(|t| t.to_string()).collect();
    let unfit: Vec<String> = sqlx::query_scalar(UNFIT).bind(&names).fetch_all(&mut *conn).await?;
    if !unfit.is_empty() {
        tracing::info!(tables = ?unfit, "rebuilding in place: these tables do not fit a copy");
        return Ok(None);
    }
    let search_path: String = sqlx::query_scalar("SELECT current_setting('search_path')").fetch_one(&mut *conn).await?;
    // Read with the search path as it is, so the definitions name the
    // tables as the copies will be found.
    let views: Vec<(String, String, String)> = sqlx::query_as(VIEWS_ON).bind(&names).fetch_all(&mut *conn).await?;
    let mut shadows = Vec::with_capacity(tables.len());
    for table in tables {
        let (schema, options): (String, Option<String>) =
            sqlx::query_as(SCHEMA_OF).bind(table).fetch_one(&mut *conn).await?;
        let live = format!("{schema}.{table}");
        let copy = format!("{SCHEMA}.{table}");
        sqlx::query(&format!(
            "CREATE TABLE {copy} (LIKE {live} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED \
             INCLUDING STORAGE INCLUDING COMPRESSION INCLUDING COMMENTS)"
        ))
        .execute(&mut *conn)
        .await?;
        if let Some(options) = options.filter(|o| !o.is_empty()) {
            sqlx::query(&format!("ALTER TABLE {copy} SET ({options})")).execute(&mut *conn).await?;
        }
        let indexes: Vec<IndexRow> = sqlx::query_as(INDEXES_OF).bind(table).fetch_all(&mut *conn).await?;
        let mut later_indexes = Vec::new();
        for (definition, unique, index, constraint, kind) in indexes {
            let aimed = definition.replacen(&format!(" ON {live} USING "), &format!(" ON {copy} USING "), 1);
            if aimed == definition {
                // Not the shape `pg_get_indexdef` gives here: leave the table alone.
                tracing::warn!(table, %definition, "rebuilding in place: an index definition is not understood");
                return Ok(None);
            }
            if !unique {
                later_indexes.push(aimed);
                continue;
            }
            sqlx::query(&aimed).execute(&mut *conn).await?;
            let backs = match kind.as_deref() {
                Some("p") => "PRIMARY KEY",
                Some("u") => "UNIQUE",
                _ => continue,
            };
            let constraint = constraint.unwrap_or_else(|| index.clone());
            sqlx::query(&format!("ALTER TABLE {copy} ADD CONSTRAINT {constraint} {backs} USING INDEX {index}"))
                .execute(&mut *conn)
                .await?;
        }
        let triggers: Vec<String> = sqlx::query_scalar(TRIGGERS_OF).bind(table).fetch_all(&mut *conn).await?;
        shadows.push(ShadowTable { name: table.to_string(), schema, later_indexes, triggers });
    }
    sqlx::query("SELECT set_config('search_path', $1, true)")
        .bind(format!("{SCHEMA}, {search_path}"))
        .execute(&mut *conn)
        .await?;
    for (_, view, definition) in &views {
        let definition = definition.trim().trim_end_matches(';');
        sqlx::query(&format!("CREATE VIEW {SCHEMA}.{view} AS {definition}")).execute(&mut *conn).await?;
    }
    let views = views.into_iter().map(|(schema, view, _)| (schema, view)).collect();
    Ok(Some(ShadowTables { tables: shadows, views, search_path }))
}

impl ShadowTables {
    /// Builds the copies' other indexes, from their rows, and analyses them.
    pub async fn build_indexes(&self, conn: &mut PgConnection) -> Result<(), sqlx::Error> {
        let memory_mb: i64 =
            sqlx::query_scalar("SELECT pg_size_bytes(current_setting('maintenance_work_mem')) / (1024 * 1024)")
                .fetch_one(&mut *conn)
                .await?;
        if memory_mb < INDEX_BUILD_MEMORY_MB {
            sqlx::query("SELECT set_config('maintenance_work_mem', $1, true)")
                .bind(format!("{INDEX_BUILD_MEMORY_MB}MB"))
                .execute(&mut *conn)
                .await?;
        }
        for definition in self.tables.iter().flat_map(|t| &t.later_indexes) {
            sqlx::query(definition).execute(&mut *conn).await?;
        }
        // Statistics for the plans that build the derived tables from the
        // copies next; they stay with the tables after the swap.
        let tables: Vec<String> = self.tables.iter().map(|t| format!("{SCHEMA}.{}", t.name)).collect();
        sqlx::query(&format!("ANALYZE {}", tables.join(", "))).execute(&mut *conn).await?;
        Ok(())
    }

    /// Puts the copies in place of the live tables: drops those, moves the
    /// copies (with their indexes) into their schema, and recreates the
    /// triggers; the transaction's `search_path` is as it was before.
    pub async fn swap_in(self, conn: &mut PgConnection) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT set_config('search_path', $1, true)").bind(&self.search_path).execute(&mut *conn).await?;
        for (schema, view) in &self.views {
            sqlx::query(&format!("DROP VIEW {schema}.{view}")).execute(&mut *conn).await?;
        }
        for table in &self.tables {
            let (name, schema) = (&table.name, &table.schema);
            sqlx::query(&format!("DROP TABLE {schema}.{name}")).execute(&mut *conn).await?;
            sqlx::query(&format!("ALTER TABLE {SCHEMA}.{name} SET SCHEMA {schema}")).execute(&mut *conn).await?;
            for trigger in &table.triggers {
                sqlx::query(trigger).execute(&mut *conn).await?;
            }
        }
        for (schema, view) in &self.views {
            sqlx::query(&format!("ALTER VIEW {SCHEMA}.{view} SET SCHEMA {schema}")).execute(&mut *conn).await?;
        }
        Ok(())
    }
}

/// What a rebuild's transaction does with copies, on either backend; SQLite
/// makes none (its rebuild parks indexes and triggers instead).
pub(crate) trait ShadowTablesIn {
    async fn create_shadow_tables(&mut self, tables: &[&str]) -> Result<Option<ShadowTables>, sqlx::Error>;
    async fn build_shadow_indexes(&mut self, shadow: &ShadowTables) -> Result<(), sqlx::Error>;
    async fn swap_in_shadow_tables(&mut self, shadow: ShadowTables) -> Result<(), sqlx::Error>;
}

impl ShadowTablesIn for PgConnection {
    async fn create_shadow_tables(&mut self, tables: &[&str]) -> Result<Option<ShadowTables>, sqlx::Error> {
        create(self, tables).await
    }
    async fn build_shadow_indexes(&mut self, shadow: &ShadowTables) -> Result<(), sqlx::Error> {
        shadow.build_indexes(self).await
    }
    async fn swap_in_shadow_tables(&mut self, shadow: ShadowTables) -> Result<(), sqlx::Error> {
        shadow.swap_in(self).await
    }
}

impl ShadowTablesIn for sqlx::SqliteConnection {
    async fn create_shadow_tables(&mut self, _tables: &[&str]) -> Result<Option<ShadowTables>, sqlx::Error> {
        Ok(None)
    }
    async fn build_shadow_indexes(&mut self, _shadow: &ShadowTables) -> Result<(), sqlx::Error> {
        Ok(())
    }
    async fn swap_in_shadow_tables(&mut self, _shadow: ShadowTables) -> Result<(), sqlx::Error> {
        Ok(())
    }
}
