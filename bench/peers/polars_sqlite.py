"""Peer: polars read_excel (its default calamine engine, through fastexcel) + write_database into a
SQLite file through ADBC, the fastest writer polars offers."""
import sys

import polars as pl

xlsx, db, table = sys.argv[1], sys.argv[2], sys.argv[3]
df = pl.read_excel(xlsx)
df.write_database(table, f"sqlite:///{db}", if_table_exists="replace", engine="adbc")
print(df.height)
