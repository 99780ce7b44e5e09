//! Pieces of the page used by more than one route.

mod import_progress;
mod upload_form;

pub use import_progress::ImportProgress;
pub use upload_form::UploadForm;
