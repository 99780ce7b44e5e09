-- Which row holds the column names (issue 13): `auto` (NULL), `none`, or the sheet's row number.
ALTER TABLE imports ADD COLUMN header_row TEXT;
