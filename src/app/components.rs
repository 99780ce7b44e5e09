//! Pieces of the page used by more than one route.

mod column_map;
mod import_progress;
mod reject_grid;
mod review;
mod sheet_preview;
mod upload_form;

pub use import_progress::ImportProgress;
pub use reject_grid::RejectGrid;
pub use review::ReviewPanel;
pub use sheet_preview::{SheetPreview, cell};
pub use upload_form::UploadForm;

use leptos::prelude::*;

/// A failure in words, announced to screen readers.
#[component]
pub fn Alert(#[prop(into)] text: String) -> impl IntoView {
    view! { <p class="outcome error" role="alert">{text}</p> }
}
