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
    input.files()?.get(0).map(picked)
}

/// The file dropped on the drop zone.
pub fn dropped_file(ev: &leptos::ev::DragEvent) -> Option<PickedFile> {
    #[cfg(feature = "hydrate")]
    return ev.data_transfer()?.files()?.get(0).map(picked);
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = ev;
        None
    }
}

/// POSTs the file to `/api/uploads` as multipart, calling `on_progress(sent, total)` as bytes go.
/// The error is a sentence for the person.
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
    let form = FormData::new().map_err(js)?;
    form.append_with_blob_and_filename("file", &file.file, &file.name).map_err(js)?;
    xhr.send_with_opt_form_data(Some(&form)).map_err(js)?;
    let _ = rx.await;
    drop((progress, done));
    let status = xhr.status().unwrap_or(0);
    let body = xhr.response_text().ok().flatten().unwrap_or_default();
    match status {
        201 => serde_json::from_str(&body).map_err(|_| "the server's answer could not be read".to_string()),
        0 => Err("the connection was lost during the upload; check the network and try again".into()),
        _ => Err(serde_json::from_str::<crate::model::ApiError>(&body)
            .map_or_else(|_| format!("the server answered {status}"), |e| e.error)),
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
    let streams: Vec<_> =
        ["progress", "done", "failed", "cancelled"].iter().filter_map(|kind| source.subscribe(*kind).ok()).collect();
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
