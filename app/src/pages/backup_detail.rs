//! One backup: its collections (schema, partitions, indexes, rows, bytes) and the actions on it.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_params_map};

use crate::{
    api::{BackupDetail, CollectionDetail},
    components::common::{navigate_on_success, ErrorBox, Loading, VerificationBadge},
    format,
    server::{error_text, get_backup_detail, DeleteBackup, StartVerify},
};

/// The backup detail page.
#[component]
pub fn BackupDetailPage() -> impl IntoView {
    let params = use_params_map();
    let name = move || params.read().get("name").unwrap_or_default();
    let detail = Resource::new(name, get_backup_detail);
    view! {
        <Title text=move || format!("{} · milvault", name())/>
        <p class="crumbs"><a href="/">"Backups"</a>" / "{name}</p>
        <Suspense fallback=|| view! { <Loading what="the backup"/> }>
            {move || Suspend::new(async move {
                match detail.await {
                    Err(e) => view! { <h1>{name()}</h1><ErrorBox message=error_text(&e)/> }.into_any(),
                    Ok(d) => view! { <Detail detail=d/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Detail(detail: BackupDetail) -> impl IntoView {
    let s = detail.summary.clone();
    let name = s.name.clone();
    view! {
        <div class="page-head">
            <h1>{s.name.clone()}</h1>
            <div class="actions">
                <a class="button primary" href=format!("/restore/{}", s.name)>"Restore…"</a>
                <a class="button" href=format!("/download/backups/{}/backup.json", s.name)
                    download=format!("{}.json", s.name)>"Download metadata"</a>
                <VerifyButton name=s.name.clone()/>
            </div>
        </div>
        <dl class="facts">
            <dt>"Made"</dt><dd>{format::time(s.created_ms)}</dd>
            <dt>"Took"</dt><dd>{s.duration_ms.map(format::duration_ms).unwrap_or_else(|| "not recorded".into())}</dd>
            <dt>"Collections"</dt><dd>{detail.collections.len()}</dd>
            <dt>"Rows"</dt><dd>{format::count(s.rows)}</dd>
            <dt>"Size"</dt><dd class="size">{format::size_with_base(s.size, s.bytes_from_base, &s.incremental_bases)}</dd>
            <dt>"Format"</dt><dd class="backup-format">{if s.format == "logical" { "logical (rows in Parquet files)".to_string() } else { s.format.clone() }}</dd>
            {(!s.incremental_bases.is_empty()).then(|| view! {
                <dt>"Incremental"</dt>
                <dd class="incremental">
                    {format!("{} files copied from ", format::count(i64::try_from(s.files_from_base).unwrap_or(i64::MAX)))}
                    {s.incremental_bases.iter().enumerate().map(|(i, b)| view! {
                        {(i > 0).then_some(", ")}<a href=format!("/backups/{b}")>{b.clone()}</a>
                    }).collect_view()}
                    <div class="muted small">"This backup holds its own copy of every file: deleting a base does not affect it."</div>
                </dd>
            })}
            <dt>"Milvus"</dt><dd>{s.milvus_version.clone()}</dd>
            <dt>"Kind"</dt><dd>{if s.meta_only { "metadata only" } else { "metadata and data" }}</dd>
            <dt>"Verified"</dt><dd><VerificationBadge v=s.verification.clone()/>
                {s.verification.as_ref().map(|v| format!(" {}", format::time(v.at_ms)))}</dd>
            {s.policy.clone().map(|p| view! { <dt>"Policy"</dt><dd>{p}</dd> })}
        </dl>
        {s.verification.clone().filter(|v| !v.problems.is_empty()).map(|v| view! {
            <section class="damage" role="alert">
                <h2>{format!("Damaged files: {}", v.damaged.max(v.problems.len() as u64))}</h2>
                <ul>{v.problems.iter().cloned().map(|p| view! { <li><code>{p}</code></li> }).collect_view()}</ul>
                {(v.damaged > v.problems.len() as u64).then(|| view! {
                    <p>{format!("and {} more (milvault verify -n NAME lists the first {} of them)", v.damaged - v.problems.len() as u64, 1000)}</p>
                })}
                <p>"A restore of this backup is refused unless forced; restore from another backup."</p>
            </section>
        })}
        {detail.collections.into_iter().map(|c| view! { <Collection c=c/> }).collect_view()}
        <DeleteBox name=name/>
    }
}

#[component]
fn Collection(c: CollectionDetail) -> impl IntoView {
    view! {
        <section class="collection">
            <h2>{format!("{}.{}", c.db, c.name)}</h2>
            <p class="muted">
                {format!("{} rows · {} · {} segments · {} shards · consistency {}{}",
                    format::count(c.rows), format::bytes(c.bytes), c.segments, c.shards, c.consistency,
                    if c.dynamic_fields { " · dynamic fields" } else { "" })}
            </p>
            {(!c.description.is_empty()).then(|| view! { <p>{c.description.clone()}</p> })}
            <div class="cols">
            <div class="table-wrap">
            <table class="fields">
                <caption>"Schema"</caption>
                <thead><tr><th>"Field"</th><th>"Type"</th><th>"Notes"</th></tr></thead>
                <tbody>
                {c.fields.into_iter().map(|f| view! {
                    <tr><td>{f.name}</td><td>{f.data_type}</td><td>{f.notes}</td></tr>
                }).collect_view()}
                </tbody>
            </table>
            </div>
            <div class="table-wrap">
            <table class="partitions">
                <caption>"Partitions"</caption>
                <thead><tr><th>"Partition"</th><th class="num">"Segments"</th><th class="num">"Rows"</th><th class="num">"Size"</th></tr></thead>
                <tbody>
                {c.partitions.into_iter().map(|p| view! {
                    <tr><td>{p.name}</td><td class="num">{p.segments}</td>
                        <td class="num">{format::count(p.rows)}</td><td class="num">{format::bytes(p.bytes)}</td></tr>
                }).collect_view()}
                </tbody>
            </table>
            </div>
            </div>
            <p class="indexes">"Indexes: "
                {if c.indexes.is_empty() { "none".to_string() } else { c.indexes.join("; ") }}
            </p>
        </section>
    }
}

/// Starts a verification and goes to its job.
#[component]
fn VerifyButton(name: String) -> impl IntoView {
    let verify = ServerAction::<StartVerify>::new();
    navigate_on_success(verify.value(), use_navigate(), |id: &String| {
        format!("/jobs/{id}")
    });
    view! {
        <button class="button" disabled=move || verify.pending().get()
            on:click=move |_| { verify.dispatch(StartVerify { name: name.clone() }); }>
            "Verify files"
        </button>
        {move || match verify.value().get() {
            Some(Err(e)) => Some(view! { <ErrorBox message=error_text(&e)/> }),
            _ => None,
        }}
    }
}

/// Delete, behind a confirmation that names the backup.
#[component]
fn DeleteBox(name: String) -> impl IntoView {
    let open = RwSignal::new(false);
    let typed = RwSignal::new(String::new());
    let delete = ServerAction::<DeleteBackup>::new();
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(_)) = delete.value().get() {
            navigate("/", Default::default());
        }
    });
    let expected = StoredValue::new(name.clone());
    let matches = move || expected.with_value(|e| typed.get() == *e);
    let name_for_click = name.clone();
    view! {
        <section class="danger-zone">
            <h2>"Delete"</h2>
            <Show when=move || open.get() fallback=move || view! {
                <button class="danger" on:click=move |_| open.set(true)>"Delete this backup…"</button>
            }>
                <div class="confirm" role="dialog" aria-labelledby="confirm-title">
                    <p id="confirm-title">
                        "This removes the backup " <strong>{name.clone()}</strong>
                        " and all its files from the backup storage. It cannot be undone. Type its name to confirm."
                    </p>
                    <label>"Backup name "
                        <input type="text" name="confirm-name" autocomplete="off"
                            prop:value=move || typed.get()
                            on:input=move |ev| typed.set(event_target_value(&ev))/>
                    </label>
                    <div class="actions">
                        <button class="danger" disabled=move || !matches() || delete.pending().get()
                            on:click={
                                let n = name_for_click.clone();
                                move |_| { delete.dispatch(DeleteBackup { name: n.clone() }); }
                            }>
                            {format!("Delete {}", name.clone())}
                        </button>
                        <button on:click=move |_| { open.set(false); typed.set(String::new()); }>"Cancel"</button>
                    </div>
                    {move || match delete.value().get() {
                        Some(Err(e)) => Some(view! { <ErrorBox message=error_text(&e)/> }),
                        _ => None,
                    }}
                </div>
            </Show>
        </section>
    }
}
