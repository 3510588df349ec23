//! One backup: its collections (schema, partitions, indexes, rows, bytes), its last restore
//! drill, and the actions on it (restore, downloads, verify, drill, copy to another storage).

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_params_map};

use crate::{
    api::{BackupDetail, CollectionDetail, CopyForm, DrillCollectionView, DrillView, JobView},
    components::{
        common::{
            navigate_on_success, route_title, ErrorBox, ErrorNotice, JobProgress, Loading,
            StateBadge, VerificationBadge,
        },
        live::use_event_stream,
    },
    format,
    server::{
        get_backup_detail, DeleteBackup, GetBackupDetail, StartCopy, StartDrill, StartVerify,
    },
};

/// The backup detail page.
#[component]
pub fn BackupDetailPage() -> impl IntoView {
    let params = use_params_map();
    let name = move || params.read().get("name").unwrap_or_default();
    let detail = Resource::new(name, get_backup_detail);
    view! {
        <Title text=route_title(move || format!("{} · milvault", name()))/>
        <p class="crumbs"><a href=move || format::backups_href(crate::names::split_backup_key(&name()).0)>"Backups"</a>" / "{name}</p>
        <Suspense fallback=|| view! { <Loading what="the backup"/> }>
            {move || Suspend::new(async move {
                match detail.await {
                    Err(e) => view! { <h1>{name()}</h1><ErrorNotice err=e/> }.into_any(),
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
    // how the portal addresses it: `STORAGE:NAME` in a named storage
    let key = s.key();
    // the drill started from this page, followed live, and the last drill (updated when it ends)
    let drill_job = RwSignal::new(None::<String>);
    let drill_live = RwSignal::new(None::<JobView>);
    let last_drill = RwSignal::new(detail.last_drill.clone());
    // parts erased to AnyView: the page's whole view type is too deep for the compiler otherwise
    let head = view! {
        <div class="page-head">
            <h1>{s.name.clone()}
                {(!s.storage.is_empty()).then(|| view! { <span class="storage-of muted">{format!(" in storage {}", s.storage)}</span> })}</h1>
            <div class="actions">
                <a class="button primary" href=format!("/restore/{key}")>"Restore…"</a>
                <a class="button" href=format::meta_href(&key)
                    download=format!("{}.json", s.name)>"Download metadata"</a>
                <a class="button archive-tar" href=format::archive_href(&key, false)
                    download=format::archive_file_name(&s.name, false)
                    title="Every file of the backup in one tar, streamed; upload it on the Backups page of any milvault">
                    "Download archive (.tar)"</a>
                <a class="button archive-zst" href=format::archive_href(&key, true)
                    download=format::archive_file_name(&s.name, true)
                    title="The same archive compressed with zstd">".tar.zst"</a>
                <VerifyButton name=key.clone()/>
                {detail.may_drill.then(|| view! { <DrillButton name=key.clone() job=drill_job live=drill_live/> })}
            </div>
        </div>
    }
    .into_any();
    let facts = view! {
        <dl class="facts">
            <dt>"Made"</dt><dd>{format::time(s.created_ms)}</dd>
            <dt>"Took"</dt><dd>{s.duration_ms.map(format::duration_ms).unwrap_or_else(|| "not recorded".into())}</dd>
            <dt>"Collections"</dt><dd>{detail.collections.len()}</dd>
            <dt title=format::Rows::WHY>"Stored rows"</dt><dd class="stored-rows">{format::Rows::new(s.stored_rows, s.live_rows).stored()}</dd>
            <dt title=format::Rows::WHY>"Live rows"</dt><dd class="live-rows">{format::Rows::new(s.stored_rows, s.live_rows).live()}</dd>
            <dt>"Size"</dt><dd class="size">{format::size_with_base(s.size, s.bytes_from_base, &s.incremental_bases)}</dd>
            <dt>"Format"</dt><dd class="backup-format">{if s.format == "logical" { "logical (rows in Parquet files)".to_string() } else { s.format.clone() }}</dd>
            {(!s.incremental_bases.is_empty()).then(|| view! {
                <dt>"Incremental"</dt>
                <dd class="incremental">
                    {format!("{} files copied from ", format::count(i64::try_from(s.files_from_base).unwrap_or(i64::MAX)))}
                    {s.incremental_bases.iter().enumerate().map(|(i, b)| view! {
                        {(i > 0).then_some(", ")}<a href=format!("/backups/{}", crate::names::backup_key(&s.storage, b))>{b.clone()}</a>
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
    }
    .into_any();
    view! {
        {head}
        {facts}
        {s.verification.clone().filter(|v| !v.problems.is_empty()).map(|v| view! {
            <section class="damage" role="alert">
                <h2>{format!("Damaged files: {}", v.damaged.max(v.problems.len() as u64))}</h2>
                <ul>{v.problems.iter().cloned().map(|p| view! { <li><code>{p}</code></li> }).collect_view()}</ul>
                {(v.damaged > v.problems.len() as u64).then(|| view! {
                    <p>{format!("and {} more (milvault verify -n NAME lists the first {} of them)", v.damaged - v.problems.len() as u64, 1000)}</p>
                })}
                <p>"A restore of this backup is refused unless forced; restore from another backup."</p>
            </section>
        }.into_any())}
        <DrillSection name=key.clone() job=drill_job live=drill_live last=last_drill/>
        {(!detail.copy_targets.is_empty()).then(|| view! { <CopySection name=key.clone() targets=detail.copy_targets.clone()/> }.into_any())}
        <CollectionRows collections=detail.collections.clone()/>
        {detail.collections.into_iter().map(|c| view! { <Collection c=c/> }).collect_view()}
        <DeleteBox name=name key=key/>
    }
}

/// The collections of a backup with their stored and live rows side by side.
#[component]
fn CollectionRows(collections: Vec<CollectionDetail>) -> impl IntoView {
    view! {
        <div class="table-wrap">
        <table class="collection-rows">
            <caption>"Collections"</caption>
            <thead><tr>
                <th>"Collection"</th>
                <th class="num" title=format::Rows::WHY>"Stored rows"</th>
                <th class="num" title=format::Rows::WHY>"Live rows"</th>
                <th class="num">"Segments"</th><th class="num">"Size"</th>
            </tr></thead>
            <tbody>
            {collections.into_iter().map(|c| {
                let rows = format::Rows::new(c.stored_rows, c.live_rows);
                view! {
                    <tr title=rows.title()>
                        <td>{format!("{}.{}", c.db, c.name)}</td>
                        <td class="num stored-rows">{rows.stored()}</td>
                        <td class="num live-rows">{rows.live()}</td>
                        <td class="num">{c.segments}</td>
                        <td class="num">{format::bytes(c.bytes)}</td>
                    </tr>
                }
            }).collect_view()}
            </tbody>
        </table>
        </div>
    }
}

#[component]
fn Collection(c: CollectionDetail) -> impl IntoView {
    view! {
        <section class="collection">
            <h2>{format!("{}.{}", c.db, c.name)}</h2>
            <p class="muted">
                {format!("{} · {} · {} segments · {} shards · consistency {}{}",
                    format::Rows::new(c.stored_rows, c.live_rows).title(), format::bytes(c.bytes), c.segments, c.shards, c.consistency,
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
            Some(Err(e)) => Some(view! { <ErrorNotice err=e/> }),
            _ => None,
        }}
    }
}

/// Starts a restore drill; the Last drill section then follows its job live. Disabled while
/// that job runs.
#[component]
fn DrillButton(
    name: String,
    job: RwSignal<Option<String>>,
    live: RwSignal<Option<JobView>>,
) -> impl IntoView {
    let drill = ServerAction::<StartDrill>::new();
    Effect::new(move |_| {
        if let Some(Ok(id)) = drill.value().get() {
            live.set(None);
            job.set(Some(id));
        }
    });
    let busy = move || {
        drill.pending().get()
            || (job.with(Option::is_some)
                && live.with(|j| j.as_ref().is_none_or(|j| j.state == "running")))
    };
    view! {
        <button class="button drill" disabled=busy
            title="Restore this backup into a scratch database, check its rows, keys and vectors, then drop it"
            on:click=move |_| { drill.dispatch(StartDrill { name: name.clone() }); }>
            "Drill"
        </button>
        {move || match drill.value().get() {
            Some(Err(e)) => Some(view! { <ErrorNotice err=e/> }),
            _ => None,
        }}
    }
}

/// The last drill's report, and the drill started from this page while it runs.
#[component]
fn DrillSection(
    name: String,
    job: RwSignal<Option<String>>,
    live: RwSignal<Option<JobView>>,
    last: RwSignal<Option<DrillView>>,
) -> impl IntoView {
    view! {
        <section class="drill-section">
            <h2>"Last drill"</h2>
            {move || job.get().map(|id| view! { <LiveDrill id=id name=name.clone() live=live last=last/> })}
            {move || match last.get() {
                None => view! {
                    <p class="muted never-drilled">"Never drilled. A drill restores the backup into a scratch database, "
                        "checks that its rows, keys and vectors came back, measures how long that took, and drops it."</p>
                }.into_any(),
                Some(d) => view! { <DrillReportView d=d/> }.into_any(),
            }}
        </section>
    }
    .into_any()
}

/// A running drill's job, live (the progress the job page shows); when it ends the last drill
/// is read again.
#[component]
fn LiveDrill(
    id: String,
    name: String,
    live: RwSignal<Option<JobView>>,
    last: RwSignal<Option<DrillView>>,
) -> impl IntoView {
    let reload = ServerAction::<GetBackupDetail>::new();
    Effect::new(move |_| {
        if let Some(Ok(d)) = reload.value().get() {
            last.set(d.last_drill);
        }
    });
    let url = format!("/events/jobs/{id}");
    use_event_stream(
        move || url.clone(),
        move |j: JobView| {
            let running = j.state == "running";
            live.set(Some(j));
            if !running {
                reload.dispatch(GetBackupDetail { name: name.clone() });
            }
            running
        },
    );
    let job = Signal::derive(move || {
        live.get().unwrap_or_else(|| JobView {
            state: "running".into(),
            step: "starting".into(),
            ..Default::default()
        })
    });
    let state = Signal::derive(move || job.get().state);
    view! {
        <div class="drill-live">
            <p>"Drill job " <a href=format!("/jobs/{id}")>{id.clone()}</a>" " <StateBadge state=state/></p>
            <JobProgress job=job/>
            <p class="muted current-step">{move || job.get().step}</p>
            {move || job.get().error.map(|e| view! { <ErrorBox message=e/> })}
        </div>
    }
}

/// "Copy to another storage": a storage named in the configuration and an optional new name;
/// the copy job started here is followed live below the form.
#[component]
fn CopySection(
    /// The backup's key.
    name: String,
    targets: Vec<String>,
) -> impl IntoView {
    let copy = ServerAction::<StartCopy>::new();
    let to = RwSignal::new(targets.first().cloned().unwrap_or_default());
    let as_name = RwSignal::new(String::new());
    let job = RwSignal::new(None::<String>);
    let live = RwSignal::new(None::<JobView>);
    // where the running copy goes: (storage, name there)
    let sent = RwSignal::new((String::new(), String::new()));
    Effect::new(move |_| {
        if let Some(Ok(id)) = copy.value().get() {
            live.set(None);
            job.set(Some(id));
        }
    });
    let name_problem = move || {
        let n = as_name.get();
        let n = n.trim();
        if n.is_empty() {
            None
        } else {
            format::backup_name_problem(n)
        }
    };
    let busy = move || {
        copy.pending().get()
            || (job.with(Option::is_some)
                && live.with(|j| j.as_ref().is_none_or(|j| j.state == "running")))
    };
    let source = StoredValue::new(name.clone());
    view! {
        <section class="copy-section">
            <h2>"Copy to another storage"</h2>
            <p class="muted">"Copies every file of this backup to a storage named in the configuration, each checked "
                "against the manifest as it lands. The copy is listed there once it is complete; copying again "
                "after a stop keeps the files already copied."</p>
            <form class="copy-form" on:submit=move |ev| {
                ev.prevent_default();
                if busy() || name_problem().is_some() {
                    return;
                }
                let form = CopyForm {
                    backup: source.get_value(),
                    to: to.get_untracked(),
                    as_name: as_name.get_untracked().trim().to_string(),
                };
                let shown = if form.as_name.is_empty() {
                    crate::names::split_backup_key(&form.backup).1.to_string()
                } else {
                    form.as_name.clone()
                };
                sent.set((form.to.clone(), shown));
                copy.dispatch(StartCopy { form });
            }>
                <label>"Storage "
                    <select name="copy-to" prop:value=move || to.get()
                        on:change=move |ev| to.set(event_target_value(&ev))>
                        {targets.into_iter().map(|t| view! { <option value=t.clone()>{t.clone()}</option> }).collect_view()}
                    </select>
                </label>
                <label for="copy-as">"Name there (optional)"</label>
                <input id="copy-as" type="text" name="copy-as" autocomplete="off" placeholder=crate::names::split_backup_key(&name).1.to_string()
                    aria-describedby="copy-as-help"
                    prop:value=move || as_name.get()
                    on:input=move |ev| as_name.set(event_target_value(&ev))/>
                <p id="copy-as-help" class=move || if name_problem().is_some() { "field-error" } else { "muted" }>
                    {move || name_problem().unwrap_or_else(|| "Empty: the backup's own name.".into())}
                </p>
                <div class="actions">
                    <button type="submit" class="primary" disabled=move || busy() || name_problem().is_some()>
                        {move || if copy.pending().get() { "Starting…" } else { "Copy" }}
                    </button>
                </div>
            </form>
            {move || match copy.value().get() {
                Some(Err(e)) => Some(view! { <ErrorNotice err=e/> }),
                _ => None,
            }}
            {move || job.get().map(|id| view! { <LiveCopy id=id live=live sent=sent/> })}
        </section>
    }
    .into_any()
}

/// A running copy's job, live (the progress the job page shows), and where the copy is once it
/// succeeded.
#[component]
fn LiveCopy(
    id: String,
    live: RwSignal<Option<JobView>>,
    sent: RwSignal<(String, String)>,
) -> impl IntoView {
    let url = format!("/events/jobs/{id}");
    use_event_stream(
        move || url.clone(),
        move |j: JobView| {
            let running = j.state == "running";
            live.set(Some(j));
            running
        },
    );
    let job = Signal::derive(move || {
        live.get().unwrap_or_else(|| JobView {
            state: "running".into(),
            step: "starting".into(),
            ..Default::default()
        })
    });
    let state = Signal::derive(move || job.get().state);
    view! {
        <div class="copy-live">
            <p>"Copy job " <a href=format!("/jobs/{id}")>{id.clone()}</a>" " <StateBadge state=state/></p>
            <JobProgress job=job/>
            <p class="muted current-step">{move || job.get().step}</p>
            {move || (state.get() == "succeeded").then(|| {
                let (storage, copy) = sent.get();
                view! { <p class="copy-done">{format!("Copied to storage {storage} as {copy}.")}</p> }
            })}
            {move || job.get().error.map(|e| view! { <ErrorBox message=e/> })}
        </div>
    }
}

/// Milliseconds of a report as the formatter takes them.
fn ms(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A drill's report: passed or failed and why, when, each phase's time, the Milvus it ran on,
/// and each collection's evidence.
#[component]
fn DrillReportView(d: DrillView) -> impl IntoView {
    let s = d.summary;
    let word = if s.passed { "passed" } else { "failed" };
    view! {
        <div class="drill-report">
            <p><span class=format!("badge badge-{word}") title=format::drill_evidence(s.restore_ms, s.recall)>{word}</span>
                " " <span class="drill-at">{format::time(s.at_ms)}</span></p>
            {s.failure.map(|f| view! { <p class="drill-failure" role="alert">{f}</p> })}
            <dl class="facts">
                <dt>"Recovery time"</dt>
                <dd class="recovery-time">{format::duration_ms(ms(s.restore_ms))}" (restore with indexes and loading)"</dd>
                <dt>"Checks"</dt><dd>{format::duration_ms(ms(d.check_ms))}</dd>
                <dt>"Clean-up"</dt><dd>{format::duration_ms(ms(d.cleanup_ms))}</dd>
                <dt>"Started"</dt><dd>{format::time(d.started_ms)}</dd>
                <dt>"Ran on"</dt>
                <dd class="drill-milvus">{format!("Milvus {}, scratch database {} (dropped after)", d.milvus_version, d.database)}</dd>
                <dt>"Recall needed"</dt>
                <dd>{format!("{} of sampled vectors found in their top {}", format::recall(d.min_recall), d.top_k)}</dd>
            </dl>
            <div class="table-wrap">
            <table class="drill-collections">
                <caption>"Collections"</caption>
                <thead><tr><th>"Collection"</th><th>"Restored as"</th><th>"Rows"</th>
                    <th class="num">"Keys found"</th><th>"Vector field"</th><th class="num">"Recall"</th></tr></thead>
                <tbody>
                    {d.collections.into_iter().map(|c| view! { <DrillCollectionRow c=c/> }).collect_view()}
                </tbody>
            </table>
            </div>
        </div>
    }
}

/// One collection's evidence in a drill.
#[component]
fn DrillCollectionRow(c: DrillCollectionView) -> impl IntoView {
    let recall = match c.recall {
        Some(r) => format!(
            "{} ({} of {})",
            format::recall(r),
            c.vectors_found,
            c.vectors_searched
        ),
        None => "—".to_string(),
    };
    view! {
        <tr>
            <td>{c.source}</td>
            <td class="muted">{c.target}</td>
            <td class="drill-rows">{c.rows}</td>
            <td class="num keys">{format!("{} of {}", c.keys_found, c.keys_sampled)}</td>
            <td>{c.vector_field.unwrap_or_else(|| "none".into())}</td>
            <td class="num recall">{recall}</td>
        </tr>
    }
}

/// Delete, behind a confirmation that names the backup.
#[component]
fn DeleteBox(
    /// What the user types to confirm.
    name: String,
    /// The backup's key (`STORAGE:NAME` in a named storage).
    key: String,
) -> impl IntoView {
    let open = RwSignal::new(false);
    let typed = RwSignal::new(String::new());
    let delete = ServerAction::<DeleteBackup>::new();
    let navigate = use_navigate();
    let back = format::backups_href(crate::names::split_backup_key(&key).0);
    Effect::new(move |_| {
        if let Some(Ok(_)) = delete.value().get() {
            navigate(&back, Default::default());
        }
    });
    let expected = StoredValue::new(name.clone());
    let matches = move || expected.with_value(|e| typed.get() == *e);
    let name_for_click = key.clone();
    view! {
        <section class="danger-zone">
            <h2>"Delete"</h2>
            <Show when=move || open.get() fallback=move || view! {
                <button class="danger" on:click=move |_| open.set(true)>"Delete this backup…"</button>
            }>
                <div class="confirm" role="dialog" aria-labelledby="confirm-title">
                    <p id="confirm-title">
                        "This removes the backup " <strong>{name.clone()}</strong>
                        " and all its files from its storage. It cannot be undone. Type its name to confirm."
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
                        Some(Err(e)) => Some(view! { <ErrorNotice err=e/> }),
                        _ => None,
                    }}
                </div>
            </Show>
        </section>
    }
}
