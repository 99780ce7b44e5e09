"""Peer: pandas read_excel + to_sql into a SQLite file, the most common Python path. It reads with
the calamine engine (python-calamine), several times faster than pandas' default openpyxl."""
import sqlite3
import sys

import pandas as pd

xlsx, db, table = sys.argv[1], sys.argv[2], sys.argv[3]
df = pd.read_excel(xlsx, engine="calamine")
with sqlite3.connect(db) as conn:
    df.to_sql(table, conn, if_exists="replace", index=False, chunksize=50_000)
print(len(df))
