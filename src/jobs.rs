//! Background import jobs. The queue is the `imports` table (claimed with `FOR UPDATE SKIP
//! LOCKED` on PostgreSQL, so several instances share one queue and each job runs exactly once);
//! each instance runs one job at a time on a task tracker, outliving the request that started it;
//! progress reaches watchers on any instance through the hub (a `watch` channel per job) and the
//! bus (LISTEN/NOTIFY); a job whose instance died is run again from the start.

mod bus;
mod hub;
mod queue;
mod registry;
mod run;

pub use queue::MAX_ATTEMPTS;
pub use registry::{JobError, JobOptions, Jobs, NewImport};
