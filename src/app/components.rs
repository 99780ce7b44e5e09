//! Pieces of the page used by more than one route.

mod import_progress;
mod sheet_preview;
mod upload_form;

pub use import_progress::ImportProgress;
pub use sheet_preview::{SheetPreview, cell};
pub use upload_form::UploadForm;
