//! Backups: the history, newest first, with a filter and the size/duration chart; an archive
//! upload for users who may make backups.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::{
    api::BackupRow,
    components::{
        chart::HistoryChart,
        common::{DrillBadge, ErrorBox, Loading, VerificationBadge},
        upload::ArchiveUpload,
    },
    format,
    server::{error_text, list_backups, whoami},
};

fn matches(row: &BackupRow, filter: &str) -> bool {
    let f = filter.trim().to_lowercase();
    f.is_empty()
        || row.name.to_lowercase().contains(&f)
        || row
            .collections
            .iter()
            .any(|c| c.to_lowercase().contains(&f))
}

/// The backup history.
#[component]
pub fn BackupsPage() -> impl IntoView {
    let backups = Resource::new(|| (), |_| list_backups());
    let me = Resource::new(|| (), |_| whoami());
    let filter = RwSignal::new(String::new());
    view! {
        <Title text="Backups · milvault"/>
        <div class="page-head">
            <h1>"Backups"</h1>
            <a class="button primary" href="/new">"New backup"</a>
        </div>
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                me.await.ok().filter(|m| m.can_write()).map(|_| view! {
                    <ArchiveUpload on_imported=move |_: String| backups.refetch()/>
                })
            })}
        </Suspense>
        <Suspense fallback=|| view! { <Loading what="backups"/> }>
            {move || Suspend::new(async move {
                match backups.await {
                    Err(e) => view! { <ErrorBox message=error_text(&e)/> }.into_any(),
                    Ok(rows) if rows.is_empty() => view! {
                        <section class="empty">
                            <h2>"No backups yet"</h2>
                            <p>"Make the first one on the " <a href="/new">"New backup"</a>
                               " page: pick collections, give it a name, and follow it on the Jobs page."</p>
                            <p class="muted">"From a shell: " <code>"milvault create -n first_backup -c my_collection"</code></p>
                        </section>
                    }.into_any(),
                    Ok(rows) => {
                        let total: i64 = rows.iter().map(|r| r.size).sum();
                        let count = rows.len();
                        let all = rows.clone();
                        view! {
                            <p class="muted">{format!("{count} backups, {} in all", format::bytes(total))}</p>
                            <HistoryChart rows=rows/>
                            <label class="filter">"Filter by name or collection "
                                <input type="search" placeholder="e.g. nightly or shop.reviews"
                                    prop:value=move || filter.get()
                                    on:input=move |ev| filter.set(event_target_value(&ev))/>
                            </label>
                            <div class="table-wrap">
                            <table class="backups">
                                <thead><tr>
                                    <th>"Name"</th><th>"Time"</th><th>"Collections"</th>
                                    <th class="num" title=format::Rows::WHY>"Rows"</th><th class="num">"Size"</th>
                                    <th>"Status"</th><th>"Verified"</th><th>"Last drill"</th><th>"Milvus"</th>
                                </tr></thead>
                                <tbody>
                                    {move || {
                                        let f = filter.get();
                                        let shown: Vec<BackupRow> = all.iter().filter(|r| matches(r, &f)).cloned().collect();
                                        if shown.is_empty() {
                                            return view! { <tr><td colspan="9" class="muted">"No backup matches this filter."</td></tr> }.into_any();
                                        }
                                        shown.into_iter().map(|r| {
                                            let href = format!("/backups/{}", r.name);
                                            view! {
                                                <tr>
                                                    <td><a href=href>{r.name.clone()}</a></td>
                                                    <td>{format::time(r.created_ms)}</td>
                                                    <td class="colls">{r.collections.join(", ")}</td>
                                                    <td class="num rows" title=format::Rows::new(r.stored_rows, r.live_rows).title()>{format::Rows::new(r.stored_rows, r.live_rows).shown()}</td>
                                                    <td class="num">{format::bytes(r.size)}
                                                        {format::from_base(r.bytes_from_base, &r.incremental_bases).map(|t| view! { <div class="muted small from-base">{t}</div> })}</td>
                                                    <td>{if r.meta_only { "complete (metadata only)" } else { "complete" }}
                                                        <div class="muted small backup-format">{r.format.clone()}</div></td>
                                                    <td class="verification"><VerificationBadge v=r.verification.clone()/></td>
                                                    <td class="drill"><DrillBadge d=r.drill.clone()/></td>
                                                    <td>{r.milvus_version.clone()}</td>
                                                </tr>
                                            }
                                        }).collect_view().into_any()
                                    }}
                                </tbody>
                            </table>
                            </div>
                        }.into_any()
                    }
                }
            })}
        </Suspense>
    }
}
