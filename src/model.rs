//! The shared vocabulary, compiled for the server and the browser alike: import ids, statuses,
//! the progress record every surface shows (status endpoint, SSE, page, CLI), column types, and the
//! shapes of table listings. It imports nothing else from the crate; everything may import it.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Declares an id newtype: a UUID in its simple form (32 lowercase hex digits), as JSON a plain
/// string (anything else is refused when deserialised), in SQL a text column.
macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "ssr", derive(sqlx::Type), sqlx(transparent))]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl TryFrom<String> for $name {
            type Error = String;

            fn try_from(s: String) -> Result<Self, String> {
                Self::parse(&s).ok_or_else(|| format!("{} is not an id sheetport handed out", crate::format::quoted(&s)))
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl $name {
            /// The id in `s`, when `s` has the shape of the ids we hand out, so a path segment or
            /// a form field can be refused before anything looks it up.
            pub fn parse(s: &str) -> Option<Self> {
                (s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())).then(|| Self(s.to_ascii_lowercase()))
            }

            /// A new, random id.
            #[cfg(feature = "ssr")]
            pub fn random() -> Self {
                Self(uuid::Uuid::new_v4().simple().to_string())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(
    /// Identifies one import job.
    ImportId
);
id_type!(
    /// Identifies one stored upload.
    UploadId
);

/// Where a job stands. A job never leaves succeeded, failed, cancelled or undone; a review waits
/// for a person, who commits it (it is queued again) or discards it (cancelled).
#[derive(Clone, Default, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::Type), sqlx(type_name = "text", rename_all = "lowercase"))]
#[serde(rename_all = "lowercase")]
pub enum ImportStatus {
    #[default]
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
    /// It succeeded, and was then taken back (see `import::undo`).
    Undone,
    /// Every row was read and staged and nothing in the table changed: what it would do waits for
    /// a person to see it and commit it (see `import::review`).
    Review,
}

impl ImportStatus {
    /// True once the job's run has ended, one way or another: nothing moves until a person acts
    /// (a review waits for its commit, which is a run of its own).
    pub fn is_final(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Cancelled | Self::Undone | Self::Review)
    }

    /// Every status, in the order the history's filter offers them.
    pub const ALL: [ImportStatus; 7] =
        [Self::Queued, Self::Running, Self::Review, Self::Succeeded, Self::Failed, Self::Cancelled, Self::Undone];
}

/// What undoing an import does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UndoKind {
    /// It made the table: the table goes.
    Drop,
    /// It replaced the table: the table as it was comes back.
    Restore,
    /// It added rows: they go.
    Remove,
    /// It changed rows (and perhaps added some): they get their earlier values back (and the
    /// added ones go).
    Revert,
}

/// An import that can be undone now: how, and until when (Unix ms; `None`: for as long as it is
/// the last import into its table).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UndoOffer {
    pub kind: UndoKind,
    pub until: Option<i64>,
}

/// The history as `/imports` shows it: the server's clock (so "3 minutes ago" reads the same in
/// the page as on the server that rendered it), the imports the filter lets through, newest first,
/// and the tables the viewer's imports went into (for the filter).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    pub now: i64,
    pub imports: Vec<Progress>,
    pub tables: Vec<String>,
}

/// Which imports the history shows.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryFilter {
    pub status: Option<ImportStatus>,
    pub table: Option<String>,
}

/// What a running job is doing right now, in the words the page shows.
#[derive(Clone, Default, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::Type), sqlx(type_name = "text", rename_all = "lowercase"))]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Waiting for a free import slot.
    #[default]
    Queued,
    /// Opening the file, reading the header and a sample to infer column types.
    Inspecting,
    /// Rows are being parsed and committed into the staging table.
    Loading,
    /// The staging table is being swapped into place in one transaction.
    Finalizing,
    /// Nothing more will happen.
    Finished,
}

/// How an import meets a table that may already exist.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::Type, clap::ValueEnum), sqlx(type_name = "text", rename_all = "lowercase"))]
#[serde(rename_all = "lowercase")]
pub enum ImportMode {
    /// Make a new table; fail if the name is taken.
    #[default]
    Create,
    /// Add rows to the table, creating it if it does not exist.
    Append,
    /// Drop the table if it exists and put the new one in its place.
    Replace,
    /// Insert rows with new keys and update the rows whose key the table already has.
    Upsert,
    /// Insert rows with new keys and leave the rows whose key the table already has as they are.
    #[serde(rename = "insert-new")]
    #[cfg_attr(feature = "ssr", sqlx(rename = "insert-new"), value(name = "insert-new"))]
    InsertNew,
}

impl ImportMode {
    /// Whether the mode needs key columns (and meets rows already in the table by them).
    pub fn keyed(self) -> bool {
        matches!(self, Self::Upsert | Self::InsertNew)
    }

    /// Whether the mode writes into the existing table's rows, so an import reads its columns
    /// first (create refuses a table that exists; replace takes its place whatever it holds).
    pub fn meets_table(self) -> bool {
        matches!(self, Self::Append | Self::Upsert | Self::InsertNew)
    }

    /// Whether the mode keeps the table it takes the place of, for an undo (replace): its bytes
    /// count in its starter's share of stored bytes.
    pub fn keeps_table(self) -> bool {
        self == Self::Replace
    }
}

/// What an import does with a row that has a value its column cannot take.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum OnError {
    /// Write nothing; say which rows were wrong.
    #[default]
    Fail,
    /// Write the good rows and leave the bad ones out; the report lists them.
    Skip,
}

/// A spreadsheet format the engine reads, named by its usual file extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::Type), sqlx(type_name = "text", rename_all = "lowercase"))]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Xlsx,
    Xlsm,
    Xlsb,
    Xls,
    Ods,
    Csv,
    Tsv,
}

/// The type a column was given after looking at its values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnType {
    Integer,
    Real,
    Boolean,
    Date,
    Datetime,
    Text,
}

impl ColumnType {
    /// The type as the page says it ("whole number", not `integer`).
    pub fn words(self) -> &'static str {
        match self {
            ColumnType::Integer => "whole number",
            ColumnType::Real => "number",
            ColumnType::Boolean => "true/false",
            ColumnType::Date => "date",
            ColumnType::Datetime => "date and time",
            ColumnType::Text => "text",
        }
    }
}

// The text forms (JSON, SQL, forms, the page's CSS classes) are serde's, in one place.
serde_plain::derive_display_from_serialize!(ImportStatus);
serde_plain::derive_fromstr_from_deserialize!(ImportStatus);
serde_plain::derive_display_from_serialize!(Phase);
serde_plain::derive_display_from_serialize!(ImportMode);
serde_plain::derive_fromstr_from_deserialize!(ImportMode);
serde_plain::derive_display_from_serialize!(Format);
serde_plain::derive_fromstr_from_deserialize!(Format);
serde_plain::derive_display_from_serialize!(ColumnType);
serde_plain::derive_fromstr_from_deserialize!(ColumnType);
serde_plain::derive_display_from_serialize!(OnError);
serde_plain::derive_fromstr_from_deserialize!(OnError);

/// One column of an imported table: its SQL name, the header text it came from, and its type.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnInfo {
    /// Safe SQL identifier (always quoted in SQL anyway).
    pub name: String,
    /// The header cell as the file had it.
    pub label: String,
    #[serde(rename = "type")]
    pub ty: ColumnType,
    /// The table's own type for it, when sheetport does not make that type (PostgreSQL's uuid, json,
    /// an enum, a domain): its values are staged as text, checked, then turned into it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declared: Option<String>,
}

/// What an import's rows did to its table. The four add up to the data rows read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Rows that became new rows of the table.
    pub inserted: u64,
    /// Rows whose key the table had, and whose values changed it (upsert).
    pub updated: u64,
    /// Rows whose key the table had, left as they were (insert-new; upsert when nothing differed).
    pub unchanged: u64,
    /// Rows left out for a value their column could not take (see the error report).
    pub rejected: u64,
}

/// What the person chose for one column of the sheet. A column no choice names is imported under
/// its preview name (a new table) or into the table's column that matches it (an existing table).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnChoice {
    /// The sheet's column: its header text, or the name the preview gave it (`column_3`).
    pub source: String,
    /// Leave the column out.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub skip: bool,
    /// The table's column it goes into (a new table's column name; an existing table's column).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// The type it gets instead of the inferred one (a new table only: an existing table's
    /// columns keep theirs). Values that cannot be read as that type are row errors.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub ty: Option<ColumnType>,
    /// How its text dates are written (`%d/%m/%Y`, `%m/%d/%Y %H:%M`): the order of the day and
    /// the month. Its values are read with it (a text that is not so written is a row error); a
    /// new table's column becomes a date (or date and time) unless `ty` says otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// Values replaced before the cell is read as its column's type (`N/A` → empty, `12 pcs` →
    /// `12`): made while fixing a review's rejected rows, remembered with the table's mapping and
    /// offered for the next file into it (see `import::value_map`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<ValueMap>,
}

/// One value of a column replaced by another before it is read: a cell whose text is `from`
/// (spaces around it ignored) is read as `to` (empty: no value).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValueMap {
    pub from: String,
    #[serde(default)]
    pub to: String,
}

impl ValueMap {
    /// `"N/A" → empty`, `"12 pcs" → "12"`: as the page and the audit log say it.
    pub fn words(&self) -> String {
        let to = if self.to.trim().is_empty() { "empty".to_owned() } else { crate::format::quoted(&self.to) };
        format!("{} → {to}", crate::format::quoted(&self.from))
    }
}

impl ColumnChoice {
    /// A choice written as the CLI and the HTTP form fields take it: `Source=target:type`,
    /// `Source=target`, `Source=:type` or `Source:type` (the type one of text, integer, real,
    /// boolean, date, datetime), and after a type a date format: `Source:date:%d/%m/%Y`. The
    /// source is the sheet's header text, which may itself hold `=` or `:`; only a last `:type`
    /// that names a type (followed by a `:` and a format holding a `%`, or by nothing) and a last
    /// `=` split it. The format itself is checked where it is used.
    pub fn parse(spec: &str) -> Result<Self, String> {
        // A format may hold colons itself (`%H:%M`): the last `:type:` followed by one is it.
        let with_format = spec.match_indices(':').rev().find_map(|(at, _)| {
            let (ty, format) = spec[at + 1..].split_once(':')?;
            let ty = ty.trim().to_ascii_lowercase().parse::<ColumnType>().ok()?;
            format.contains('%').then(|| (&spec[..at], Some(ty), Some(format.trim().to_owned())))
        });
        let (rest, ty, format) = with_format.unwrap_or_else(|| match spec.rsplit_once(':') {
            Some((rest, ty)) => match ty.trim().to_ascii_lowercase().parse::<ColumnType>() {
                Ok(ty) => (rest, Some(ty), None),
                Err(_) => (spec, None, None),
            },
            None => (spec, None, None),
        });
        let (source, target) = match rest.rsplit_once('=') {
            Some((source, target)) => (source, Some(target.trim()).filter(|t| !t.is_empty()).map(str::to_owned)),
            None => (rest, None),
        };
        let source = source.trim();
        if source.is_empty() {
            return Err(format!(
                "{} names no column: write it as 'Column name=new_name:type'",
                crate::format::quoted(spec)
            ));
        }
        Ok(Self { source: source.to_owned(), skip: false, target, ty, format, values: Vec::new() })
    }
}

/// How a sheet's columns become a table's, beyond the file, the table and the mode: the person's
/// column choices, the key, and what a bad row does. Stored with each import, and the last one
/// that went into a table is offered again for the next file into it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mapping {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<ColumnChoice>,
    /// The table columns that identify a row (upsert, insert-new; create and replace make a
    /// unique index on them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub key: Vec<String>,
    #[serde(default)]
    pub on_error: OnError,
    /// Make the unique index the key needs when an existing table has none.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub add_unique_index: bool,
}

/// One column of a table that exists, as an import into it sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableColumn {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: ColumnType,
    /// NOT NULL without a default: every imported row needs a value for it.
    pub required: bool,
    /// Its declared type, when sheetport does not make that type (see [`ColumnInfo::declared`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declared: Option<String>,
}

/// A table that exists: its columns, and the column sets a unique index (or primary key) covers,
/// which are the keys an upsert can use.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableShape {
    pub columns: Vec<TableColumn>,
    pub unique: Vec<Vec<String>>,
}

/// One value an import could not take: the sheet's own row number, the column (its header
/// text), the value as the sheet had it (shortened past 200 characters) and why, in words.
/// What an import in review would do to its table, computed in the database against the table as
/// it was when the review was made (issue 28). Committing it does exactly this, or nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewSummary {
    /// Rows that would become new rows of the table.
    pub inserted: u64,
    /// Rows whose key the table has and whose values would change it.
    pub updated: u64,
    /// Rows whose key the table has, which would leave it as it is.
    pub unchanged: u64,
    /// Rows left out for a value their column cannot take (see the error report), those a person
    /// chose to skip included; fixing one moves it to `inserted`, `updated` or `unchanged`.
    pub rejected: u64,
    /// Of the rejected rows, those a person chose to leave out; the others are still to fix (with
    /// `on_error: fail` a commit waits for each to be fixed or skipped).
    #[serde(default)]
    pub skipped: u64,
    /// Rows of the table that would be gone (a replace: every row it has now).
    pub removed: u64,
    /// The columns an update would change, in the table's order, with how many cells of each.
    pub changed: Vec<ChangedColumn>,
    /// When the review was made, and when it ends unless committed (Unix milliseconds).
    pub made_at: i64,
    pub ends_at: i64,
}

/// One column's changed cells in a review.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangedColumn {
    pub column: String,
    pub cells: u64,
}

impl ReviewSummary {
    /// Rejected rows nobody has fixed or skipped yet.
    pub fn to_fix(&self) -> u64 {
        self.rejected.saturating_sub(self.skipped)
    }
}

/// One rejected cell of a review, as its grid shows it: the table's column (`column`) and the
/// sheet's header text (`label`), the value as read (cut at 200 characters) and why it cannot go in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectedCell {
    pub column: String,
    pub label: String,
    pub value: String,
    pub reason: String,
}

/// One rejected row of a review: its number in the sheet and its rejected cells. `editable`: the
/// row was kept whole, so a cell can be corrected; a row refused after staging (a key seen before,
/// a rule of the table) can only be skipped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectedRow {
    pub row: u64,
    pub cells: Vec<RejectedCell>,
    pub editable: bool,
}

/// A page of a review's rejected rows still to fix, in sheet order
/// (`GET /api/imports/{id}/rejects`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectPage {
    /// Rejected rows still to fix, and those skipped.
    pub total: u64,
    pub skipped: u64,
    pub offset: u64,
    pub rows: Vec<RejectedRow>,
}

/// A review's rejected cells of one column for one reason, counted, with their most common values
/// (`GET /api/imports/{id}/rejects/groups`): where "apply to every equal value" and "skip every
/// row with this error" act.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectGroup {
    pub column: String,
    pub label: String,
    pub reason: String,
    pub rows: u64,
    pub common: Vec<CommonValue>,
}

/// A corrected cell of a rejected row (`POST /api/imports/{id}/rejects/cell`): `column` is the
/// table's column (or the sheet's header text), `value` the new text (empty: no value).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CellFix {
    pub row: u64,
    pub column: String,
    pub value: String,
}

/// Every rejected cell of `column` whose text is `from` read as `to` (`POST
/// /api/imports/{id}/rejects/map`); remembered with the table's mapping.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValueFix {
    pub column: String,
    #[serde(flatten)]
    pub map: ValueMap,
}

/// Rows to leave out (`POST /api/imports/{id}/rejects/skip`): one `row`, or every row with a
/// rejected cell in `column` for `reason`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SkipFix {
    pub row: Option<u64>,
    pub column: Option<String>,
    pub reason: Option<String>,
}

/// A rejected row that passes now, and what it will do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MovedRow {
    pub row: u64,
    pub kind: DiffKind,
}

/// What a fix did: the review's counts after it, the rows that pass now (`fixed`, the first few
/// listed in `moved`), those still rejected (`still`, the first few in `rejected` with their
/// reasons now), those skipped, and all of it in words.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FixOutcome {
    pub summary: ReviewSummary,
    pub fixed: u64,
    pub moved: Vec<MovedRow>,
    pub still: u64,
    pub rejected: Vec<RejectedRow>,
    pub skipped: u64,
    pub words: String,
}

/// What one row of a review would do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DiffKind {
    Insert,
    Update,
    Unchanged,
}

serde_plain::derive_display_from_serialize!(DiffKind);
serde_plain::derive_fromstr_from_deserialize!(DiffKind);

/// One row of a review's diff: the sheet's row, what it would do, its values as they would be,
/// and for an update, the values it would change as the table has them now (`null` where a cell
/// stays as it is).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DiffRow {
    pub row: u64,
    pub kind: DiffKind,
    pub values: Vec<serde_json::Value>,
    pub old: Option<Vec<Option<serde_json::Value>>>,
}

/// A page of a review's diff (`GET /api/imports/{id}/diff`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DiffPage {
    /// The table's columns the values are for, in order.
    pub columns: Vec<String>,
    pub key: Vec<String>,
    /// Rows of the kind asked for (every row without one).
    pub total: u64,
    pub offset: u64,
    pub rows: Vec<DiffRow>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowError {
    pub row: u64,
    pub column: String,
    pub value: String,
    pub reason: String,
}

/// Row errors of one column for one reason, counted, with the values most of them held: a
/// million bad rows are a handful of decisions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorGroup {
    pub column: String,
    pub reason: String,
    pub rows: u64,
    /// The most common values, most rows first (at most [`ErrorGroup::COMMON`]).
    pub common: Vec<CommonValue>,
}

impl ErrorGroup {
    /// How many of a group's most common values are named.
    pub const COMMON: usize = 3;
    /// How many groups an import's summary names (the largest).
    pub const MOST: usize = 50;
}

/// A value and how many rows of an [`ErrorGroup`] held it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommonValue {
    pub value: String,
    pub rows: u64,
}

/// Everything known about one import at one moment: the body of `GET /api/imports/{id}` and of
/// every SSE event. `rows_done` counts rows committed to the database, never rows merely parsed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    pub id: ImportId,
    pub status: ImportStatus,
    pub phase: Phase,
    pub file_name: String,
    pub sheet: Option<String>,
    pub table: String,
    pub mode: ImportMode,
    /// Known up front (xlsx `dimension`, xls) or estimated (CSV bytes); null when unknown.
    pub rows_total: Option<u64>,
    /// True when `rows_total` is an estimate that may still move.
    pub rows_total_estimated: bool,
    /// Rows read from the file so far.
    pub rows_parsed: u64,
    /// Rows durably committed (into the staging table while loading, into the target at the end).
    pub rows_done: u64,
    pub bytes_total: Option<u64>,
    pub elapsed_ms: u64,
    /// Rows per second since the import started.
    pub rows_per_sec: Option<f64>,
    /// Rows committed per second over the last two seconds, once steady (`import::pace`); null
    /// until then. The time left is reckoned from it.
    #[serde(default)]
    pub pace: Option<f64>,
    /// The time left at `pace`; null while there is no steady pace or no total.
    pub eta_ms: Option<u64>,
    /// The reason, in words the user can act on, when `status` is `failed`.
    pub error: Option<String>,
    /// Error cells (`#DIV/0!`, `#N/A`, ...) stored as NULL.
    pub error_cells: u64,
    /// Rows left out (or, with `on_error: fail`, that failed the import): a value its column
    /// cannot take, a missing required value, a key seen before. Moves while the file is read.
    #[serde(default)]
    pub rows_rejected: u64,
    /// What the rows would do to the table, while the import waits in review.
    #[serde(default)]
    pub review: Option<ReviewSummary>,
    /// What the rows did to the table, once the import succeeded.
    #[serde(default)]
    pub counts: Option<Counts>,
    /// Known once the header and a sample have been read.
    pub columns: Vec<ColumnInfo>,
    /// Unix milliseconds when the job was created.
    pub created_at: i64,
    /// Unix milliseconds when the job started running (left its queue).
    pub started_at: Option<i64>,
    /// Unix milliseconds when it ended.
    #[serde(default)]
    pub finished_at: Option<i64>,
    /// Who started it, by name, on a server with accounts.
    #[serde(default)]
    pub owner: Option<String>,
    /// What undoing it would do, while it can be undone (the history says; live states do not).
    #[serde(default)]
    pub undo: Option<UndoOffer>,
}

impl Progress {
    /// Committed fraction in `0.0..=1.0`, when there is a total to measure against. Below 1 (at
    /// most 0.99) until the import has succeeded: with every row in, the merge or the swap can
    /// still fail, and "100 %" beside "Running" would say otherwise.
    pub fn fraction(&self) -> Option<f64> {
        self.part_of(self.rows_done)
    }

    /// Read fraction, for a bar that moves on every event: rows read move between commits (every
    /// 150 ms), rows committed only at them. Held below 1 as [`Progress::fraction`] is.
    pub fn read_fraction(&self) -> Option<f64> {
        self.part_of(self.rows_parsed.max(self.rows_done))
    }

    fn part_of(&self, rows: u64) -> Option<f64> {
        match self.status {
            ImportStatus::Succeeded | ImportStatus::Undone => Some(1.0),
            ImportStatus::Failed | ImportStatus::Cancelled | ImportStatus::Review => None,
            ImportStatus::Queued | ImportStatus::Running => {
                let total = self.rows_total? as f64;
                (total > 0.0).then(|| (rows as f64 / total).clamp(0.0, 0.99))
            }
        }
    }

    /// The same state with the clock-derived fields (`elapsed_ms`, `rows_per_sec`, `eta_ms`)
    /// computed for `now_ms`. Final states keep the elapsed time they ended with.
    pub fn at(mut self, now_ms: i64) -> Self {
        if !self.status.is_final() {
            self.elapsed_ms = self.started_at.map_or(0, |s| (now_ms - s).max(0) as u64);
        }
        let secs = self.elapsed_ms as f64 / 1000.0;
        self.rows_per_sec = (secs > 0.05 && self.rows_done > 0).then(|| self.rows_done as f64 / secs);
        self.eta_ms = match (self.status.is_final(), self.rows_total, self.pace) {
            (false, Some(total), Some(rate)) if rate > 0.0 => {
                Some((total.saturating_sub(self.rows_done) as f64 / rate * 1000.0) as u64)
            }
            _ => None,
        };
        self
    }

    /// The SSE event name for this state: `progress` while the job lives, then its final status.
    pub fn event_name(&self) -> &'static str {
        match self.status {
            ImportStatus::Succeeded => "done",
            ImportStatus::Failed => "failed",
            ImportStatus::Cancelled => "cancelled",
            ImportStatus::Undone => "undone",
            ImportStatus::Review => "review",
            ImportStatus::Queued | ImportStatus::Running => "progress",
        }
    }
}

/// A file stored by `POST /api/uploads`, ready to be imported.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UploadInfo {
    pub upload_id: UploadId,
    pub file_name: String,
    pub bytes: u64,
    /// Detected from the content, never from the name.
    pub format: Format,
}

/// A first look at a stored upload, before anything is imported: its sheets, the header, the
/// column types inferred from the first rows, and those rows. Body of `GET /api/uploads/{id}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Inspection {
    pub upload: UploadInfo,
    /// Sheet names in workbook order; empty for CSV/TSV.
    pub sheets: Vec<String>,
    /// The sheet shown (the first unless another was asked for); `None` for CSV/TSV.
    pub sheet: Option<String>,
    /// The text encoding a CSV/TSV file is read in (detected unless one was asked for), by its
    /// WHATWG name (`UTF-8`, `UTF-16LE`, `windows-1252`, ...); `None` for workbooks.
    pub encoding: Option<String>,
    /// Columns as an import would create them, typed from the sampled rows.
    pub columns: Vec<ColumnInfo>,
    /// The first data rows, each an array of JSON values in column order.
    pub rows: Vec<Vec<serde_json::Value>>,
    /// Data rows the sheet declares (xlsx `dimension`, xls), when it declares them.
    pub rows_total: Option<u64>,
    /// The sheet's row the column names came from (found, unless the person chose); `None`: the
    /// person chose no header row.
    pub header_row: Option<u64>,
    /// Whether the rows end at the first empty row below the data (as the person asked).
    pub stop_at_blank: bool,
    /// The table an import would create by default.
    pub table: String,
    /// The table asked about (or the default one), when it exists and the person may read it:
    /// its shape, and how the sheet's columns would go into it.
    #[serde(default)]
    pub target: Option<TargetPreview>,
    /// The last import of the same content (a file with the same SHA-256) that landed, when
    /// there is one the person may see.
    #[serde(default)]
    pub imported: Option<EarlierImport>,
    /// The columns of dates written as text with the day and the month in either order
    /// (`03/04/2024`), each checked over every row of the sheet.
    #[serde(default)]
    pub dates: Vec<DateColumn>,
}

/// A column of dates written as text with the day and the month in an order the values may not
/// say (`03/04/2024`: 3 April or 4 March?), as a preview found it over every value of the column.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DateColumn {
    /// The column, as the preview names it (`ColumnInfo::name`).
    pub column: String,
    /// Values read as dates in one order or the other.
    pub dates: u64,
    /// Dates that fit both day/month and month/day as two different days: the choice decides them.
    pub ambiguous: u64,
    /// Dates only day/month reads (`25/03/2024`), and only month/day reads (`03/25/2024`).
    pub day_first: u64,
    pub month_first: u64,
    /// Values of the column that are not dates written so (read as dates, they are rejected).
    pub other: u64,
    /// The column's date format read day first, and month first (`%d/%m/%Y`, `%m/%d/%Y`, with
    /// the separator, year and time its values have).
    pub day_first_format: String,
    pub month_first_format: String,
    /// The format the values decide (a value fits only one order, and none only the other), or
    /// `None`: the person chooses.
    pub decided: Option<String>,
    /// What was found, in words: how many are ambiguous and the question, or what decided it.
    pub note: String,
}

/// An earlier import of the same content (the same bytes, whatever the file was called) that
/// landed in its table: where, when, by whom, and which import it was.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EarlierImport {
    pub id: ImportId,
    pub table: String,
    /// The file's name then.
    pub file_name: String,
    /// When it ended (Unix milliseconds).
    pub finished_at: i64,
    /// Who started it, by name, on a server with accounts.
    pub owner: Option<String>,
}

impl EarlierImport {
    /// `imported into the table "sales" on 5 Dec 2026 by ana, import 0f3c… (from "week-49.csv")`:
    /// what the preview and the command line say after "this file was already".
    pub fn words(&self) -> String {
        format!(
            "imported into the table {} on {}{}, import {}{}",
            crate::format::quoted(&self.table),
            crate::format::day(self.finished_at),
            self.owner.as_deref().map(|o| format!(" by {o}")).unwrap_or_default(),
            self.id,
            if self.file_name.is_empty() {
                String::new()
            } else {
                format!(" (from {})", crate::format::quoted(&self.file_name))
            },
        )
    }
}

/// What the page asks for when it starts importing a stored upload (blank text or a missing
/// field: the default).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ImportRequest {
    pub upload_id: UploadId,
    pub table: Option<String>,
    pub sheet: Option<String>,
    pub encoding: Option<String>,
    pub mode: ImportMode,
    pub header_row: HeaderRow,
    pub stop_at_blank: bool,
    pub mapping: Mapping,
    /// Stop before the table changes, for a person to review what the import would do.
    pub review: bool,
}

/// An existing table a sheet may go into, as the preview shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetPreview {
    pub table: String,
    pub shape: TableShape,
    /// For each column of the sheet, in order, where it goes: the last mapping into this table
    /// when there is one, then columns matched by name; unmatched columns come skipped.
    pub columns: Vec<ColumnChoice>,
    /// The key offered: the last one used with this table, else its only unique column set.
    pub key: Vec<String>,
    /// Whether `columns` and `key` start from the last mapping into this table.
    pub remembered: bool,
}

/// The text encodings the page offers for CSV/TSV files, by WHATWG name, with words for people.
/// The server takes any WHATWG label; these are the ones spreadsheet programs write.
pub const TEXT_ENCODINGS: &[(&str, &str)] = &[
    ("UTF-8", "Unicode (UTF-8)"),
    ("UTF-16LE", "Unicode (UTF-16, Excel's \"Unicode Text\")"),
    ("UTF-16BE", "Unicode (UTF-16 big-endian)"),
    ("windows-1252", "Western European (Windows-1252, Latin-1)"),
    ("ISO-8859-15", "Western European (ISO-8859-15)"),
    ("macintosh", "Western European (Mac OS Roman)"),
    ("windows-1250", "Central European (Windows-1250)"),
    ("ISO-8859-2", "Central European (ISO-8859-2)"),
    ("windows-1257", "Baltic (Windows-1257)"),
    ("windows-1251", "Cyrillic (Windows-1251)"),
    ("KOI8-R", "Cyrillic (KOI8-R)"),
    ("IBM866", "Cyrillic (DOS 866)"),
    ("windows-1253", "Greek (Windows-1253)"),
    ("windows-1254", "Turkish (Windows-1254)"),
    ("windows-1255", "Hebrew (Windows-1255)"),
    ("windows-1256", "Arabic (Windows-1256)"),
    ("windows-1258", "Vietnamese (Windows-1258)"),
    ("windows-874", "Thai (Windows-874)"),
    ("Shift_JIS", "Japanese (Shift_JIS)"),
    ("EUC-JP", "Japanese (EUC-JP)"),
    ("GBK", "Chinese, simplified (GBK)"),
    ("gb18030", "Chinese, simplified (GB18030)"),
    ("Big5", "Chinese, traditional (Big5)"),
    ("EUC-KR", "Korean (EUC-KR)"),
];

/// Why a request was refused or failed, in words for the person: the body of every error response
/// of the HTTP API (`{"error": "..."}`) and the error of every server function, made from the
/// server's one error type. An internal failure arrives as a plain sentence; its detail is logged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{error}")]
pub struct ApiError {
    pub error: String,
}

impl ApiError {
    pub fn new(error: impl Into<String>) -> Self {
        Self { error: error.into() }
    }
}

/// What `POST /api/imports` answers with `202 Accepted`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImportCreated {
    pub id: ImportId,
    pub status: ImportStatus,
    pub status_url: String,
    pub events_url: String,
}

/// One table made by an import, for `GET /api/tables` and the page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TableSummary {
    pub name: String,
    pub rows: u64,
    pub columns: Vec<ColumnInfo>,
    /// The import that last wrote this table.
    pub import_id: ImportId,
    pub file_name: String,
}

/// A page of rows from an imported table: `GET /api/tables/{name}/rows`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RowsPage {
    pub columns: Vec<ColumnInfo>,
    /// Each row is an array of JSON values in column order (numbers, booleans, strings, null).
    pub rows: Vec<Vec<serde_json::Value>>,
    /// Rows the view holds (those the search finds, or all).
    pub total: u64,
    pub offset: u64,
    pub limit: u64,
    /// Rows the table holds, whatever the search.
    #[serde(default)]
    pub table_rows: u64,
    /// The search found more than `total` rows (it counts up to a bound, 10,000).
    #[serde(default)]
    pub more: bool,
    /// Columns an index starts with: sorting by one of them reads a page off the index, by any
    /// other sorts the whole view again for each page.
    #[serde(default)]
    pub indexed: Vec<String>,
    /// The table has a search index: a search of three characters or more reads it instead of
    /// every row.
    #[serde(default)]
    pub search_index: bool,
    /// The person asking may write the table, so may make an index on it.
    #[serde(default)]
    pub may_write: bool,
}

/// Which rows of a table to show: sorted by a column (insertion order when `None`), only those
/// with a value containing `search` (any column, ignoring case), from `offset`, `limit` of them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowsView {
    #[serde(default)]
    pub offset: u64,
    #[serde(default)]
    pub limit: Option<u64>,
    #[serde(default)]
    pub sort: Option<String>,
    #[serde(default)]
    pub desc: bool,
    #[serde(default)]
    pub search: Option<String>,
}

impl RowsView {
    /// Longest search text taken, in characters.
    pub const MAX_SEARCH: usize = 200;

    /// The query string that shows this view at `offset` (`?sort=...&desc=1&q=...&offset=...`).
    pub fn query(&self, offset: u64) -> String {
        let mut parts = Vec::new();
        if let Some(s) = &self.sort {
            parts.push(format!("sort={}", encode(s)));
            if self.desc {
                parts.push("desc=1".to_owned());
            }
        }
        if let Some(q) = self.search.as_deref().filter(|q| !q.is_empty()) {
            parts.push(format!("q={}", encode(q)));
        }
        if offset > 0 {
            parts.push(format!("offset={offset}"));
        }
        if parts.is_empty() { String::new() } else { format!("?{}", parts.join("&")) }
    }
}

/// Percent-encodes everything but unreserved characters (RFC 3986), for a query string.
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Who the page is showing things to (`GET /api/session`): a signed-in person, or, on a server
/// without accounts, no one in particular (`name` is `None`) with every right.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub name: Option<String>,
    pub admin: bool,
    /// Whether this server has accounts at all (otherwise there is nothing to sign out of).
    pub accounts: bool,
}

/// A person with an account, as admins see them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    pub id: i64,
    pub name: String,
    pub admin: bool,
    pub disabled: bool,
    pub created_at: i64,
}

/// An API token as its owner sees it: never its secret, which is shown once, when it is made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    pub id: i64,
    pub name: String,
    pub user: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// A new API token: its record, and the secret to send as `Authorization: Bearer …`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewToken {
    pub token: TokenInfo,
    pub secret: String,
}

/// Who may write an imported table: its owner (`None`: made before accounts, or not by an import:
/// admins only), the people the owner gave write access, and whether the asker may change that.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableAccess {
    pub owner: Option<String>,
    pub writers: Vec<String>,
    pub may_change: bool,
}

/// One line of the audit log: who did what, to what, when and from where.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct AuditEntry {
    pub id: i64,
    pub at: i64,
    pub user_name: Option<String>,
    pub action: String,
    pub target: Option<String>,
    pub detail: Option<String>,
    pub address: Option<String>,
}

/// Which row of a sheet holds the column names: found by sheetport (`auto`, the default), the
/// sheet's row `N` as a spreadsheet numbers it (the rows above it are skipped), or `none` (every
/// row is data; columns are named column_1, column_2, ...). As text: `auto`, `none` or a number.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum HeaderRow {
    #[default]
    Auto,
    At(u64),
    None,
}

impl std::str::FromStr for HeaderRow {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "auto" => Ok(HeaderRow::Auto),
            "none" | "no" => Ok(HeaderRow::None),
            n => match n.parse::<u64>() {
                Ok(row) if row >= 1 => Ok(HeaderRow::At(row)),
                _ => Err(format!(
                    "{} is not a header row: use auto, none, or a row number such as 3",
                    crate::format::quoted(s)
                )),
            },
        }
    }
}

impl TryFrom<String> for HeaderRow {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl From<HeaderRow> for String {
    fn from(h: HeaderRow) -> String {
        h.to_string()
    }
}

impl fmt::Display for HeaderRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeaderRow::Auto => f.write_str("auto"),
            HeaderRow::At(n) => write!(f, "{n}"),
            HeaderRow::None => f.write_str("none"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn choice(spec: &str) -> (String, Option<String>, Option<ColumnType>) {
        let c = ColumnChoice::parse(spec).expect("parses");
        (c.source, c.target, c.ty)
    }

    #[test]
    fn a_date_format_follows_the_type_and_may_hold_colons() {
        let s = |v: &str| v.to_owned();
        let parsed = |spec: &str| {
            let c = ColumnChoice::parse(spec).expect("parses");
            (c.source, c.target, c.ty, c.format)
        };
        assert_eq!(parsed("Sold on:date:%d/%m/%Y"), (s("Sold on"), None, Some(ColumnType::Date), Some(s("%d/%m/%Y"))));
        assert_eq!(
            parsed("At: time=at:datetime:%m/%d/%Y %H:%M"),
            (s("At: time"), Some(s("at")), Some(ColumnType::Datetime), Some(s("%m/%d/%Y %H:%M")))
        );
        assert_eq!(parsed("Sold on:date"), (s("Sold on"), None, Some(ColumnType::Date), None));
        assert_eq!(parsed("Ratio: 50%"), (s("Ratio: 50%"), None, None, None), "no type before it: no format");
        let json: ColumnChoice =
            serde_json::from_str(r#"{"source":"Sold on","type":"date","format":"%d/%m/%Y"}"#).expect("json");
        assert_eq!(json.format.as_deref(), Some("%d/%m/%Y"));
        assert!(!serde_json::to_string(&ColumnChoice::parse("a:date").expect("ok")).expect("json").contains("format"));
    }

    #[test]
    fn column_choices_are_read_from_the_right_so_headers_may_hold_colons_and_equals() {
        let s = |v: &str| v.to_owned();
        assert_eq!(choice("Zip Code=zip:text"), (s("Zip Code"), Some(s("zip")), Some(ColumnType::Text)));
        assert_eq!(choice("Units=qty"), (s("Units"), Some(s("qty")), None));
        assert_eq!(choice("Sold on:date"), (s("Sold on"), None, Some(ColumnType::Date)));
        assert_eq!(choice("Sold on=:Date"), (s("Sold on"), None, Some(ColumnType::Date)));
        assert_eq!(choice("Ratio: a:b"), (s("Ratio: a:b"), None, None), "a last part that is no type is the header's");
        assert_eq!(choice("x=1=y"), (s("x=1"), Some(s("y")), None));
        assert!(ColumnChoice::parse("=qty").is_err());
        assert!(ColumnChoice::parse("  :integer").is_err());
    }
}
