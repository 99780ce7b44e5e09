//! Moving the app's tables out of the data's way, once, for databases an earlier version made:
//! until 2026-12 the app's tables (`uploads`, `imports` and sqlx's `_sqlx_migrations`) lived beside
//! imported tables, where an import named `uploads` could write them. A database counts as such
//! only when its `_sqlx_migrations` records this app's first migration with its exact checksum,
//! so another program's tables of the same names are never touched.

use super::APP_SCHEMA;
use crate::import::names::{qualify, quote};
use sqlx::migrate::Migrator;
use sqlx::{AssertSqlSafe, PgPool, SqlitePool};

/// The app's tables, in the order they are moved (the migrations' record last: it is the marker).
const TABLES: [&str; 3] = ["uploads", "imports", "_sqlx_migrations"];

/// The checksum of this app's first migration, which marks a database as one the app made.
fn first_checksum(migrator: &Migrator) -> Vec<u8> {
    migrator.iter().find(|m| m.version == 1).map(|m| m.checksum.to_vec()).unwrap_or_default()
}

/// SQLite: copies the rows of the app's tables from the data file (attached as `data`) into the
/// state file, which the migrations have just created, and drops them from the data file, in one
/// transaction. Rows are matched by column name; a rerun after a crash ignores rows already copied.
pub(super) async fn sqlite(pool: &SqlitePool) -> Result<(), sqlx::Error> {
    let checksum = first_checksum(&sqlx::migrate!("./migrations/sqlite"));
    let mut tx = pool.begin().await?;
    let marked: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM data.sqlite_schema WHERE type = 'table' AND name = '_sqlx_migrations'",
    )
    .fetch_one(&mut *tx)
    .await?;
    if marked == 0 {
        return Ok(());
    }
    let ours: i64 =
        sqlx::query_scalar("SELECT count(*) FROM data._sqlx_migrations WHERE version = 1 AND checksum = $1")
            .bind(&checksum)
            .fetch_one(&mut *tx)
            .await?;
    if ours == 0 {
        return Ok(());
    }
    for table in TABLES {
        let old: Vec<String> = sqlx::query_scalar("SELECT name FROM pragma_table_info($1, 'data')")
            .bind(table)
            .fetch_all(&mut *tx)
            .await?;
        if old.is_empty() {
            continue;
        }
        if table != "_sqlx_migrations" {
            let new: Vec<String> = sqlx::query_scalar("SELECT name FROM pragma_table_info($1, 'main')")
                .bind(table)
                .fetch_all(&mut *tx)
                .await?;
            let cols: Vec<String> = old.iter().filter(|c| new.contains(c)).map(|c| quote(c)).collect();
            let cols = cols.join(", ");
            let copy = format!("INSERT OR IGNORE INTO main.{t} ({cols}) SELECT {cols} FROM data.{t}", t = quote(table));
            sqlx::query(AssertSqlSafe(copy)).execute(&mut *tx).await?;
        }
        sqlx::query(AssertSqlSafe(format!("DROP TABLE data.{}", quote(table)))).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    tracing::info!("moved sheetport's own tables out of the data file into a file of their own");
    Ok(())
}

/// PostgreSQL: creates the app's schema and the data schema, and moves the app's tables from the
/// data schema into the app's (`ALTER TABLE ... SET SCHEMA` keeps rows, indexes and constraints).
/// Instances starting together take turns on an advisory lock.
pub(super) async fn postgres(pool: &PgPool, data_schema: &str) -> Result<(), sqlx::Error> {
    let checksum = first_checksum(&sqlx::migrate!("./migrations/postgres"));
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('sheetport: schemas'))").execute(&mut *tx).await?;
    for schema in [APP_SCHEMA, data_schema] {
        sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA IF NOT EXISTS {}", quote(schema)))).execute(&mut *tx).await?;
    }
    let old_marker = qualify(data_schema, "_sqlx_migrations");
    let moved: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL AND to_regclass($2) IS NULL")
        .bind(&old_marker)
        .bind(qualify(APP_SCHEMA, "_sqlx_migrations"))
        .fetch_one(&mut *tx)
        .await?;
    if moved {
        let ours: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT count(*) FROM {old_marker} WHERE version = 1 AND checksum = $1"
        )))
        .bind(&checksum)
        .fetch_one(&mut *tx)
        .await?;
        if ours == 1 {
            for table in TABLES {
                let old = qualify(data_schema, table);
                let exists: bool =
                    sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL").bind(&old).fetch_one(&mut *tx).await?;
                if exists {
                    let sql = format!("ALTER TABLE {old} SET SCHEMA {}", quote(APP_SCHEMA));
                    sqlx::query(AssertSqlSafe(sql)).execute(&mut *tx).await?;
                }
            }
            tracing::info!(data_schema, "moved sheetport's own tables out of the data schema into {APP_SCHEMA}");
        }
    }
    tx.commit().await
}
