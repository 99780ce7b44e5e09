//! Indexes a person asks for so a large table sorts by a column at once: which columns lead an
//! index (the table browser offers one for the others), and making one. Without one, every page of
//! a sorted view sorts the whole table again (1,048,575 rows: 150 ms on SQLite, 190 ms on
//! PostgreSQL); with one, a page is read off it.
//!
//! Made on request, not on the first sort: a sort is a read anyone who may read the table can ask
//! for, and an index costs disk and time on every later import into the table (measured in
//! BENCHMARKS.md), so only someone who may write the table decides.

use super::{Db, Pool, on_pool};
use crate::import::names::quote;
use sqlx::AssertSqlSafe;

/// The columns that lead an index of `table` (its key's, and those made here), in no order.
pub async fn leading_columns(db: &Db, table: &str) -> Result<Vec<String>, sqlx::Error> {
    let sql = match db.pool() {
        Pool::Sqlite(_) => {
            "SELECT DISTINCT ii.name FROM pragma_index_list($1, $2) AS il, pragma_index_info(il.name, $2) AS ii \
             WHERE ii.seqno = 0 AND ii.name IS NOT NULL"
        }
        Pool::Postgres(_) => {
            "SELECT DISTINCT a.attname::text FROM pg_index i \
             JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
             JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = i.indkey[0] \
             WHERE c.relname = $1 AND n.nspname = $2"
        }
    };
    on_pool!(db, p => sqlx::query_scalar(sql).bind(table).bind(db.data_schema()).fetch_all(p).await)
}

/// The name of the index on `column` of `table`: the table's and column's names, cut to PostgreSQL's
/// 63 bytes with a hash of both so two long names that share a start stay apart. SQLite's index
/// names are file-wide; the table's name in it keeps them apart.
fn index_name(table: &str, column: &str) -> String {
    fit_name(format!("{table}_{column}_sort"))
}

/// `name`, or when longer than PostgreSQL's 63 bytes, its start and a hash of all of it.
pub(super) fn fit_name(name: String) -> String {
    if name.len() <= 63 {
        return name;
    }
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    let mut cut = 63 - 17;
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}_{:016x}", &name[..cut], hash)
}

/// Makes an index on `column` of `table` (the caller has checked both exist and who asks); one that
/// is there already is left as it is.
pub async fn make(db: &Db, table: &str, column: &str) -> Result<(), sqlx::Error> {
    let index = quote(&index_name(table, column));
    let sql = match db.pool() {
        // SQLite names the schema on the index, not the table.
        Pool::Sqlite(_) => format!(
            "CREATE INDEX IF NOT EXISTS {}.{index} ON {} ({})",
            quote(db.data_schema()),
            quote(table),
            quote(column)
        ),
        Pool::Postgres(_) => {
            format!("CREATE INDEX IF NOT EXISTS {index} ON {} ({})", db.data_table(table), quote(column))
        }
    };
    match db.pool() {
        Pool::Sqlite(p) => sqlx::query(AssertSqlSafe(sql)).execute(p).await.map(drop),
        // Two at once for the same index both pass IF NOT EXISTS and one fails on the catalogue's
        // unique name (six requests at once: five 500s); one at a time per index, the rest find it.
        Pool::Postgres(p) => {
            let mut tx = p.begin().await?;
            sqlx::query("SELECT pg_advisory_xact_lock(hashtext('sheetport: index ' || $1))")
                .bind(&index)
                .execute(&mut *tx)
                .await?;
            sqlx::query(AssertSqlSafe(sql)).execute(&mut *tx).await?;
            tx.commit().await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::index_name;

    #[test]
    fn index_names_fit_postgres_and_stay_apart() {
        assert_eq!(index_name("people", "age"), "people_age_sort");
        let (a, b) = (index_name(&"t".repeat(60), "first"), index_name(&"t".repeat(60), "second"));
        assert!(a.len() <= 63 && b.len() <= 63 && a != b, "{a} {b}");
        let wide = index_name(&"é".repeat(40), "c");
        assert!(wide.len() <= 63, "{wide}");
    }
}
