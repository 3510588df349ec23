//! Restore: pick collections from a backup, choose where they go (database, suffix or new names),
//! see the resulting names and which exist already, then start the job.

use std::collections::{BTreeMap, BTreeSet};

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::{
    api::{BackupDetail, RestoreForm, RestorePreview},
    components::common::{route_title, CollectionCheck, ErrorNotice, Loading},
    error::PortalError,
    format,
    server::{get_backup_detail, preview_restore, StartRestore},
};

/// Where the picked collections would go, and which of those exist already: `None` until the
/// browser has asked.
type Preview = Option<Result<Vec<RestorePreview>, PortalError>>;

/// The Restore page.
#[component]
pub fn RestorePage() -> impl IntoView {
    let params = use_params_map();
    let name = move || params.read().get("name").unwrap_or_default();
    let detail = Resource::new(name, get_backup_detail);
    view! {
        <Title text=route_title(move || format!("Restore {} · milvault", name()))/>
        <p class="crumbs"><a href=move || format::backups_href(crate::names::split_backup_key(&name()).0)>"Backups"</a>" / "<a href=move || format!("/backups/{}", name())>{name}</a>" / restore"</p>
        <h1>{move || format!("Restore {}", name())}</h1>
        <Suspense fallback=|| view! { <Loading what="the backup"/> }>
            {move || Suspend::new(async move {
                match detail.await {
                    Err(e) => view! { <ErrorNotice err=e/> }.into_any(),
                    Ok(d) => view! { <RestoreFormView detail=d/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn RestoreFormView(detail: BackupDetail) -> impl IntoView {
    // the backup's key: a backup of a named storage is restored from there
    let backup = detail.summary.key();
    let sources: Vec<(String, i64)> = detail
        .collections
        .iter()
        .map(|c| (format!("{}.{}", c.db, c.name), c.rows))
        .collect();
    let selected = RwSignal::new(
        sources
            .iter()
            .map(|(k, _)| k.clone())
            .collect::<BTreeSet<_>>(),
    );
    let target_db = RwSignal::new(String::new());
    let suffix = RwSignal::new("_restored".to_string());
    let renames = RwSignal::new(BTreeMap::<String, String>::new());
    let drop_existing = RwSignal::new(false);
    let confirm_drop = RwSignal::new(false);
    let meta_only = RwSignal::new(false);
    let restore_index = RwSignal::new(true);
    let load = RwSignal::new(true);
    let force = RwSignal::new(false);
    let rbac = RwSignal::new(false);
    let known_damaged = detail
        .summary
        .verification
        .as_ref()
        .is_some_and(|v| v.state == "damaged");
    let backup_for_form = backup.clone();
    let form = Memo::new(move |_| RestoreForm {
        backup: backup_for_form.clone(),
        collections: selected.get().into_iter().collect(),
        target_db: target_db.get().trim().to_string(),
        suffix: suffix.get().trim().to_string(),
        renames: renames
            .get()
            .into_iter()
            .filter(|(_, v)| !v.trim().is_empty())
            .map(|(k, v)| (k, v.trim().to_string()))
            .collect(),
        drop_existing: drop_existing.get(),
        meta_only: meta_only.get(),
        restore_index: restore_index.get(),
        load: load.get(),
        force: force.get(),
        rbac: rbac.get(),
    });
    // Which targets exist already: it asks Milvus and changes with every keystroke, so only the
    // browser computes it (a LocalResource). The server renders the form as the browser first
    // shows it, the preview not loaded yet, and creates no LocalResource at all: reading one on
    // the server tells the page's <Suspense> that it cannot finish there, and the render then ends
    // and disposes this form's owner while the Suspense's re-check (an effect on another worker
    // thread) may still be walking this form's view, reading its signals (a panic: "already
    // disposed").
    let preview: Signal<Preview> = if cfg!(feature = "ssr") {
        Signal::stored(None)
    } else {
        let preview = LocalResource::new(move || {
            let f = form.get();
            async move {
                if f.collections.is_empty() {
                    return Ok(Vec::new());
                }
                preview_restore(RestoreForm {
                    drop_existing: false,
                    meta_only: false,
                    restore_index: false,
                    load: false,
                    ..f
                })
                .await
            }
        });
        Signal::derive(move || preview.get())
    };
    let start = ServerAction::<StartRestore>::new();
    crate::components::common::open_started_job(start);
    let existing = move || {
        preview
            .get()
            .and_then(|r| r.ok())
            .map(|p| {
                p.into_iter()
                    .filter(|t| t.exists)
                    .map(|t| t.target)
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    let blocked = move || {
        let ex = existing();
        selected.with(|s| s.is_empty())
            || !(ex.is_empty() || drop_existing.get() && confirm_drop.get())
            || start.pending().get()
            || matches!(preview.get(), Some(Err(_)))
    };
    view! {
        <form class="stack" on:submit=move |ev| {
            ev.prevent_default();
            if !blocked() {
                start.dispatch(StartRestore { form: form.get_untracked() });
            }
        }>
            <h2>"Collections"</h2>
            <CollectionPicker sources selected renames/>
            <h2>"Where"</h2>
            <div class="grid2">
                <label>"Target database (empty: each collection's own) "
                    <input type="text" name="target_db" placeholder="e.g. staging"
                        prop:value=move || target_db.get()
                        on:input=move |ev| target_db.set(event_target_value(&ev))/>
                </label>
                <label>"Suffix for names "
                    <input type="text" name="suffix"
                        prop:value=move || suffix.get()
                        on:input=move |ev| suffix.set(event_target_value(&ev))/>
                </label>
            </div>
            <h2>"Result"</h2>
            <RestoreTargets preview/>
            <h2>"Options"</h2>
            <OptionCheck value=restore_index>"Rebuild indexes"</OptionCheck>
            <OptionCheck value=load>"Load the collections afterwards"</OptionCheck>
            <OptionCheck value=meta_only>"Metadata only (create empty collections)"</OptionCheck>
            <label class="check danger-text"><input type="checkbox" name="drop_existing" prop:checked=move || drop_existing.get()
                on:change=move |ev| { drop_existing.set(event_target_checked(&ev)); confirm_drop.set(false); }/>
                "Drop existing collections with the same names"</label>
            <OptionCheck value=rbac name="rbac">
                "Milvus' users, roles and grants too (rbac: only missing ones are created; admins only)"</OptionCheck>
            <Show when=move || drop_existing.get() && !existing().is_empty()>
                <OptionCheck value=confirm_drop name="confirm_drop" class="check confirm">
                    {move || format!("I understand that {} will be dropped and replaced by the backup's data", existing().join(", "))}
                </OptionCheck>
            </Show>
            <Show when=move || known_damaged || start.value().get().is_some_and(|r| r.is_err_and(|e| e.code == "backup_damaged"))>
                <OptionCheck value=force name="force" class="check danger-text">
                    "Restore anyway, although files of this backup are missing or changed (the row check still runs)"
                </OptionCheck>
            </Show>
            <div class="actions">
                <button type="submit" class="primary" disabled=blocked>
                    {move || if start.pending().get() { "Starting…" } else { "Start restore" }}
                </button>
            </div>
            {move || match start.value().get() {
                Some(Err(e)) => Some(view! { <ErrorNotice err=e/> }),
                _ => None,
            }}
        </form>
    }
}

/// The backup's collections, each with a checkbox and a box for its new name.
#[component]
fn CollectionPicker(
    sources: Vec<(String, i64)>,
    selected: RwSignal<BTreeSet<String>>,
    renames: RwSignal<BTreeMap<String, String>>,
) -> impl IntoView {
    let rows = sources
        .into_iter()
        .map(|(key, rows)| {
            let k3 = key.clone();
            let k4 = key.clone();
            let input_id = format!("rename-{}", key.replace('.', "-"));
            view! {
                <tr>
                    <td>
                        <label>
                            <CollectionCheck set=selected item=key.clone()/>
                            " " {key.clone()}
                        </label>
                    </td>
                    <td class="num">{format::count(rows)}</td>
                    <td>
                        <label class="sr-only" for=input_id.clone()>{format!("New name for {key}")}</label>
                        <input id=input_id type="text" placeholder="keep (with suffix)"
                            prop:value=move || renames.with(|r| r.get(&k3).cloned().unwrap_or_default())
                            on:input=move |ev| {
                                let v = event_target_value(&ev);
                                renames.update(|r| { r.insert(k4.clone(), v); });
                            }/>
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-wrap">
        <table class="restore-pick">
            <thead><tr><th>"Collection in the backup"</th><th class="num">"Rows"</th><th>"New name (optional)"</th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
        </div>
    }
}

/// Where each picked collection would be restored, and which of those exist already.
#[component]
fn RestoreTargets(preview: Signal<Preview>) -> impl IntoView {
    view! {
        {move || match preview.get() {
            None => view! { <Loading what="the preview"/> }.into_any(),
            Some(Err(e)) => view! { <ErrorNotice err=e/> }.into_any(),
            Some(Ok(p)) if p.is_empty() => view! { <p class="muted">"Pick at least one collection."</p> }.into_any(),
            Some(Ok(p)) => view! {
                <ul class="preview">
                    {p.into_iter().map(|t| view! {
                        <li class=if t.exists { "exists" } else { "new" }>
                            <span>{t.source}</span>" → "<strong class="target">{t.target.clone()}</strong>
                            {t.exists.then(|| view! { <span class="warn">" exists already: it is dropped only if you tick Drop existing below"</span> })}
                        </li>
                    }).collect_view()}
                </ul>
            }.into_any(),
        }}
    }
}

/// A checkbox bound to `value`, labelled by its children.
#[component]
fn OptionCheck(
    value: RwSignal<bool>,
    #[prop(optional)] name: &'static str,
    #[prop(default = "check")] class: &'static str,
    children: Children,
) -> impl IntoView {
    view! {
        <label class=class>
            <input type="checkbox" name=name prop:checked=move || value.get()
                on:change=move |ev| value.set(event_target_checked(&ev))/>
            {children()}
        </label>
    }
}
