//! Background import jobs: a registry of the live ones (their progress `watch` channels and
//! cancellation tokens), a queue bounded by import slots, and recovery of jobs a previous process
//! left unfinished. Jobs run on a task tracker, outliving the request that started them.

mod registry;
mod run;

pub use registry::{JobError, Jobs, NewImport};
