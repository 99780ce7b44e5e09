//! Integration tests: real servers on port 0, real SQLite files (or PostgreSQL databases with
//! `SHEETPORT_TEST_DB=postgres`), real uploads and SSE streams, real `sheetport serve` processes.

mod access;
mod authority;
mod bounded;
mod browse;
mod cells;
mod cli;
mod connections;
mod corpus;
#[path = "../../bench/dataset.rs"]
mod dataset;
mod dates;
mod disk;
mod duplicates;
mod header;
mod helpers;
mod history;
mod hostile;
mod imports;
mod instances;
mod lifecycle;
mod loss;
mod mapping;
mod messy;
mod process;
mod proxy;
mod reach;
mod rejects;
mod retention;
mod review;
mod rules;
mod served;
mod share;
mod signin;
mod sse;
mod uploads;
mod valid;
mod views;
