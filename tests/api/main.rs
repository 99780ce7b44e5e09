//! Integration tests: real servers on port 0, real SQLite files, real uploads and SSE streams.

#[path = "../../bench/dataset.rs"]
mod dataset;
mod helpers;
mod imports;
mod rejects;
mod uploads;
