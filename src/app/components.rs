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

/// What only the browser draws: parts that read a browser-only resource (`LocalResource`) under a
/// `<Suspense>`. Drawn by the server inside a page's own `<Suspense>` (an import opened by its
/// address), they did not hydrate: tachys panicked ("entered unreachable code", hydration.rs:163
/// for an ended import's row errors, :195 for a review) and the whole page stayed dead. The
/// server and the hydration draw nothing here; the browser draws `children` once the page is live.
#[component]
pub fn AfterHydration(children: ChildrenFn) -> impl IntoView {
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    move || hydrated.get().then(|| children())
}
