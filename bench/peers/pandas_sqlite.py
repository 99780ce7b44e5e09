"""Peer: pandas read_excel (openpyxl) + to_sql into a SQLite file, the most common Python path."""
import sqlite3
import sys

import pandas as pd

xlsx, db, table = sys.argv[1], sys.argv[2], sys.argv[3]
df = pd.read_excel(xlsx)
with sqlite3.connect(db) as conn:
    df.to_sql(table, conn, if_exists="replace", index=False, chunksize=50_000)
print(len(df))
