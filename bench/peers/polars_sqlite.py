"""Peer: polars read_excel (fastexcel/calamine engine) + write_database into a SQLite file."""
import sys

import polars as pl

xlsx, db, table = sys.argv[1], sys.argv[2], sys.argv[3]
df = pl.read_excel(xlsx)
df.write_database(table, f"sqlite:///{db}", if_table_exists="replace", engine="sqlalchemy")
print(df.height)
