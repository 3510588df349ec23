//! The Backups page's "Upload archive" form: the chosen file is posted as it is (streamed by the
//! browser, not read into memory) to the REST v2 import endpoint, the way the portal's server
//! functions post: same origin, the session cookie, and a JSON-free body typed
//! `application/octet-stream` (a content type the cross-site guard does not refuse, unlike a
//! multipart form).

use crate::{components::common::ErrorBox, format};
use leptos::prelude::*;

/// What the import endpoint answers for an accepted archive (`ImportReport`).
#[cfg(feature = "hydrate")]
#[derive(Debug, Clone, serde::Deserialize)]
struct Imported {
    backup: String,
    #[serde(default)]
    renamed_from: Option<String>,
    files: u64,
    bytes: u64,
}

/// The "Upload archive" disclosure; `on_imported` gets the new backup's name. The form inside, with
/// its upload code (web-sys fetch, the answer's parsing), is a lazy function: in the browser its
/// code is a separate WASM module, fetched the first time the disclosure is opened, so the Backups
/// page's first load does not carry it.
#[component]
pub fn ArchiveUpload(#[prop(into)] on_imported: Callback<String>) -> impl IntoView {
    // set once, by the first opening; closed on every server render (nothing to hydrate inside)
    let opened = RwSignal::new(false);
    view! {
        <details class="upload-archive" on:toggle=move |_| if !opened.get_untracked() { opened.set(true) }>
            <summary>"Upload archive"</summary>
            {move || opened.get().then(|| view! {
                <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                    {Suspend::new(async move { upload_form(on_imported).await })}
                </Suspense>
            })}
        </details>
    }
}

/// The form, loaded lazily (see [`ArchiveUpload`]).
#[lazy]
fn upload_form(on_imported: Callback<String>) -> AnyView {
    view! { <UploadForm on_imported/> }.into_any()
}

/// The upload form itself.
#[component]
fn UploadForm(on_imported: Callback<String>) -> impl IntoView {
    let file_input = NodeRef::<leptos::html::Input>::new();
    let name = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    // Ok: what was imported; Err: why it was refused
    let outcome = RwSignal::new(None::<Result<String, String>>);
    let name_problem = move || {
        let n = name.get();
        let n = n.trim();
        if n.is_empty() {
            None
        } else {
            format::backup_name_problem(n)
        }
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() || name_problem().is_some() {
            return;
        }
        let url = format::archive_import_href(&name.get_untracked());
        send(file_input, url, busy, outcome, on_imported);
    };
    view! {
            <form class="upload-form" on:submit=submit>
                <p class="muted">"A backup's archive (" <code>".tar"</code> " or " <code>".tar.zst"</code>
                    ", from \"Download archive\" on a backup's page or " <code>"milvault export"</code>
                    "). Every file is checked against the backup's manifest before the backup is listed."</p>
                <label for="archive-file">"Archive file"</label>
                <input id="archive-file" type="file" name="archive" accept=".tar,.zst,.tar.zst" node_ref=file_input/>
                <label for="archive-name">"Backup name (optional)"</label>
                <input id="archive-name" type="text" name="archive-name" autocomplete="off"
                    placeholder="leave empty for the name in the archive" aria-describedby="archive-name-help"
                    prop:value=move || name.get()
                    on:input=move |ev| name.set(event_target_value(&ev))/>
                <p id="archive-name-help" class=move || if name_problem().is_some() { "field-error" } else { "muted" }>
                    {move || name_problem().unwrap_or_else(|| "Must be new here.".into())}
                </p>
                <div class="actions">
                    <button type="submit" class="primary" disabled=move || busy.get() || name_problem().is_some()>
                        {move || if busy.get() { "Uploading…" } else { "Upload" }}
                    </button>
                </div>
                {move || match outcome.get() {
                    Some(Ok(m)) => view! { <p class="upload-done" role="status">{m}</p> }.into_any(),
                    Some(Err(e)) => view! { <div class="upload-refused"><ErrorBox message=e/></div> }.into_any(),
                    None => ().into_any(),
                }}
            </form>
    }
}

/// Posts the chosen file (in the browser; nothing happens during the server render).
#[allow(unused_variables)]
fn send(
    input: NodeRef<leptos::html::Input>,
    url: String,
    busy: RwSignal<bool>,
    outcome: RwSignal<Option<Result<String, String>>>,
    on_imported: Callback<String>,
) {
    #[cfg(feature = "hydrate")]
    {
        let Some(file) = input
            .get_untracked()
            .and_then(|i| i.files())
            .and_then(|f| f.get(0))
        else {
            outcome.set(Some(Err(
                "Choose an archive file (.tar or .tar.zst) first.".into(),
            )));
            return;
        };
        busy.set(true);
        outcome.set(None);
        leptos::task::spawn_local(async move {
            let answer = match post(&url, &file).await {
                Err(e) => Err(format!(
                    "The server could not be reached ({e}). Check that milvault is running."
                )),
                Ok((201, body)) => match serde_json::from_str::<Imported>(&body) {
                    Ok(r) => {
                        on_imported.run(r.backup.clone());
                        Ok(format::archive_imported(
                            &r.backup,
                            r.renamed_from.as_deref(),
                            r.files,
                            r.bytes,
                        ))
                    }
                    Err(e) => Err(format!("The server's answer was not understood: {e}")),
                },
                Ok((status, body)) => Err(format::archive_refusal(status, &body)),
            };
            busy.set(false);
            outcome.set(Some(answer));
        });
    }
}

/// `POST url` with `file` as the body; answers the status and the body's text.
#[cfg(feature = "hydrate")]
async fn post(url: &str, file: &web_sys::File) -> Result<(u16, String), String> {
    use wasm_bindgen::JsCast;
    use wasm_bindgen_futures::JsFuture;
    let text = |e: wasm_bindgen::JsValue| {
        e.as_string()
            .or_else(|| {
                e.dyn_ref::<js_sys::Error>()
                    .map(|e| String::from(e.message()))
            })
            .unwrap_or_else(|| "request failed".into())
    };
    let window = web_sys::window().ok_or("no window")?;
    let headers = web_sys::Headers::new().map_err(text)?;
    headers
        .set("content-type", "application/octet-stream")
        .map_err(text)?;
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    init.set_headers(&headers);
    init.set_body(file);
    let resp = JsFuture::from(window.fetch_with_str_and_init(url, &init))
        .await
        .map_err(text)?;
    let resp: web_sys::Response = resp.dyn_into().map_err(text)?;
    let body = JsFuture::from(resp.text().map_err(text)?)
        .await
        .map_err(text)?;
    Ok((resp.status(), body.as_string().unwrap_or_default()))
}
