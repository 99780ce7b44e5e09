"""Peer: DuckDB's read_xlsx into a DuckDB database file. The excel extension comes from the PyPI
package duckdb-ext-excel (a namespace package holding the extension binary), so nothing downloads."""
import sys

import duckdb
import duckdb_ext

xlsx, db, table = sys.argv[1], sys.argv[2], sys.argv[3]
con = duckdb.connect(db)
con.execute("SET autoinstall_known_extensions = false")
con.execute("SET extension_directory = ?", [f"{list(duckdb_ext.__path__)[0]}/extensions"])
con.execute("LOAD excel")
con.execute(f'CREATE OR REPLACE TABLE "{table}" AS SELECT * FROM read_xlsx(?, header = true)', [xlsx])
print(con.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])
