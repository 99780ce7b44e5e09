//! The few things only a browser can do: upload a file with byte progress (XMLHttpRequest, since
//! `fetch` reports no upload progress), follow an import's SSE stream with gloo-net's EventSource,
//! and read the clock. On the server these compile to inert stand-ins that are never called.

use crate::model::{ImportId, Progress, UploadInfo};

/// A file the person picked or dropped.
#[derive(Clone)]
pub struct PickedFile {
    #[cfg(feature = "hydrate")]
    file: web_sys::File,
    pub name: String,
    pub size: u64,
}

/// Milliseconds since the Unix epoch, by the clock of whoever renders.
pub fn now_ms() -> f64 {
    #[cfg(feature = "hydrate")]
    return js_sys::Date::now();
    #[cfg(not(feature = "hydrate"))]
    return std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_millis() as f64);
}

/// Sets `data-hydrated` on `<body>` so browser tests know the page is live.
pub fn mark_hydrated() {
    #[cfg(feature = "hydrate")]
    if let Some(body) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.body()) {
        let _ = body.set_attribute("data-hydrated", "true");
    }
}

/// Moves the focus to `<main>` (the skip link's target), so the next Tab is inside the content.
pub fn focus_main() {
    #[cfg(feature = "hydrate")]
    if let Some(main) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id("main"))
        .and_then(|e| wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlElement>(e).ok())
    {
        let _ = main.focus();
    }
}

/// Moves the focus to the element `id` once the page has drawn what is changing now (a grid's
/// cell that is about to be drawn again).
pub fn focus_soon(id: String) {
    #[cfg(feature = "hydrate")]
    leptos::prelude::request_animation_frame(move || focus_now(&id));
    #[cfg(not(feature = "hydrate"))]
    let _ = id;
}

/// Moves the focus to the element `id`, when it is in the page.
pub fn focus_now(id: &str) {
    #[cfg(feature = "hydrate")]
    if let Some(el) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id(id))
        .and_then(|e| wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlElement>(e).ok())
    {
        let _ = el.focus();
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = id;
}

#[cfg(feature = "hydrate")]
fn picked(file: web_sys::File) -> PickedFile {
    PickedFile { name: file.name(), size: file.size() as u64, file }
}

/// The file chosen in an `<input type=file>` change event.
pub fn input_file(ev: &leptos::ev::Event) -> Option<PickedFile> {
    #[cfg(feature = "hydrate")]
    return input_file_web(ev);
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = ev;
        None
    }
}

#[cfg(feature = "hydrate")]
fn input_file_web(ev: &leptos::ev::Event) -> Option<PickedFile> {
    use wasm_bindgen::JsCast;
    let input: web_sys::HtmlInputElement = ev.target()?.dyn_into().ok()?;
    let file = input.files()?.get(0).map(picked);
    // Emptied, so choosing the same file again (after an error, say) is a change and uploads it.
    input.set_value("");
    file
}

/// A file the person chose before the page was interactive: the browser kept it in the input,
/// but no change event reached the app. Taken (and the input emptied) once it is.
pub fn pending_file(input: &leptos::prelude::NodeRef<leptos::html::Input>) -> Option<PickedFile> {
    #[cfg(feature = "hydrate")]
    {
        use leptos::prelude::GetUntracked;
        let input = input.get_untracked()?;
        let file = input.files()?.get(0).map(picked)?;
        input.set_value("");
        Some(file)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = input;
        None
    }
}

/// What was dropped on the drop zone: the first file, and how many files there were.
pub fn dropped_files(ev: &leptos::ev::DragEvent) -> (Option<PickedFile>, u32) {
    #[cfg(feature = "hydrate")]
    {
        let Some(files) = ev.data_transfer().and_then(|d| d.files()) else { return (None, 0) };
        (files.get(0).map(picked), files.length())
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = ev;
        (None, 0)
    }
}

#[cfg(feature = "hydrate")]
thread_local! {
    /// The upload in flight (a page sends one at a time), for [`cancel_upload`].
    static IN_FLIGHT: std::cell::RefCell<Option<web_sys::XmlHttpRequest>> = const { std::cell::RefCell::new(None) };
}

/// Stops the upload in flight, if any; [`upload`] then ends with [`CANCELLED`].
pub fn cancel_upload() {
    #[cfg(feature = "hydrate")]
    IN_FLIGHT.with(|x| {
        if let Some(xhr) = x.borrow().as_ref() {
            let _ = xhr.abort();
        }
    });
}

/// What [`upload`] returns when the person cancelled it.
pub const CANCELLED: &str = "cancelled";

/// POSTs the file to `/api/uploads` as multipart, calling `on_progress(sent, total)` as bytes go.
/// The error is a sentence for the person.
/// [`cancel_upload`] stops it.
pub async fn upload(file: PickedFile, on_progress: impl Fn(u64, u64) + 'static) -> Result<UploadInfo, String> {
    #[cfg(feature = "hydrate")]
    return xhr_upload(file, on_progress).await;
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = (file, on_progress);
        Err("uploading needs a browser".into())
    }
}

#[cfg(feature = "hydrate")]
async fn xhr_upload(file: PickedFile, on_progress: impl Fn(u64, u64) + 'static) -> Result<UploadInfo, String> {
    use std::cell::RefCell;
    use std::rc::Rc;
    use wasm_bindgen::JsCast;
    use wasm_bindgen::closure::Closure;
    use web_sys::{FormData, ProgressEvent, XmlHttpRequest};

    let js = |_| "the browser refused to start the upload".to_string();
    let xhr = XmlHttpRequest::new().map_err(js)?;
    xhr.open("POST", "/api/uploads").map_err(js)?;
    let progress = Closure::<dyn FnMut(ProgressEvent)>::new(move |e: ProgressEvent| {
        if e.length_computable() {
            on_progress(e.loaded() as u64, e.total() as u64);
        }
    });
    xhr.upload().map_err(js)?.set_onprogress(Some(progress.as_ref().unchecked_ref()));
    let (tx, rx) = futures::channel::oneshot::channel::<()>();
    let tx = Rc::new(RefCell::new(Some(tx)));
    let done = Closure::<dyn FnMut()>::new(move || {
        if let Some(tx) = tx.borrow_mut().take() {
            let _ = tx.send(());
        }
    });
    xhr.set_onloadend(Some(done.as_ref().unchecked_ref()));
    let aborted = Rc::new(std::cell::Cell::new(false));
    let seen_abort = aborted.clone();
    let on_abort = Closure::<dyn FnMut()>::new(move || seen_abort.set(true));
    xhr.set_onabort(Some(on_abort.as_ref().unchecked_ref()));
    let form = FormData::new().map_err(js)?;
    form.append_with_blob_and_filename("file", &file.file, &file.name).map_err(js)?;
    xhr.send_with_opt_form_data(Some(&form)).map_err(js)?;
    IN_FLIGHT.with(|x| *x.borrow_mut() = Some(xhr.clone()));
    let _ = rx.await;
    IN_FLIGHT.with(|x| *x.borrow_mut() = None);
    drop((progress, done, on_abort));
    if aborted.get() {
        return Err(CANCELLED.into());
    }
    let status = xhr.status().unwrap_or(0);
    let body = xhr.response_text().ok().flatten().unwrap_or_default();
    match status {
        201 => serde_json::from_str(&body).map_err(|_| "the server's answer could not be read".to_string()),
        0 => Err("the connection was lost during the upload; check the network and try again".into()),
        // A proxy in front of the server answers in HTML of its own: said in words here.
        _ => Err(serde_json::from_str::<crate::model::ApiError>(&body).map_or_else(
            |_| match status {
                413 => {
                    "the file is larger than the server (or a proxy in front of it) takes; split it, or ask whoever \
                        runs the server to raise the limit"
                        .to_string()
                }
                502..=504 => "the server could not be reached; try again in a moment".to_string(),
                _ => format!("the upload failed (the server answered {status}); try again"),
            },
            |e| e.error,
        )),
    }
}

/// Follows `/api/imports/{id}/events`, calling `on_event` with every state until the final one.
/// Returns a handle that stops following when aborted (the page left).
pub fn follow(id: &ImportId, on_event: impl Fn(Progress) + 'static) -> Option<futures::future::AbortHandle> {
    #[cfg(feature = "hydrate")]
    return follow_web(id, on_event);
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = (id, on_event);
        None
    }
}

#[cfg(feature = "hydrate")]
fn follow_web(id: &ImportId, on_event: impl Fn(Progress) + 'static) -> Option<futures::future::AbortHandle> {
    use futures::StreamExt;
    use gloo_net::eventsource::futures::EventSource;
    let mut source = EventSource::new(&format!("/api/imports/{id}/events")).ok()?;
    let streams: Vec<_> = ["progress", "done", "failed", "cancelled", "review"]
        .iter()
        .filter_map(|kind| source.subscribe(*kind).ok())
        .collect();
    let mut events = futures::stream::select_all(streams);
    let (task, handle) = futures::future::abortable(async move {
        while let Some(item) = events.next().await {
            // Connection errors are retried by the browser itself; keep listening.
            let Ok((_, message)) = item else { continue };
            let Some(text) = message.data().as_string() else { continue };
            let Ok(progress) = serde_json::from_str::<Progress>(&text) else { continue };
            let is_final = progress.status.is_final();
            on_event(progress);
            if is_final {
                break;
            }
        }
        source.close();
    });
    leptos::task::spawn_local(async move {
        let _ = task.await;
    });
    Some(handle)
}
