//! Cluster: Milvus' address, version and health, and the storages backups are kept in.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::{
    api::StorageRow,
    components::common::{ErrorNotice, Loading},
    server::cluster_status,
};

/// The Cluster page.
#[component]
pub fn ClusterPage() -> impl IntoView {
    let info = Resource::new(|| (), |_| cluster_status());
    view! {
        <Title text="Cluster · milvault"/>
        <h1>"Cluster"</h1>
        <Suspense fallback=|| view! { <Loading what="cluster health"/> }>
            {move || Suspend::new(async move {
                match info.await {
                    Err(e) => view! { <ErrorNotice err=e/> }.into_any(),
                    Ok(c) => view! {
                        <dl class="facts">
                            <dt>"Milvus"</dt><dd>{c.milvus_address.clone()}</dd>
                            <dt>"Version"</dt><dd>{c.milvus_version.clone().unwrap_or_else(|| "unknown (not reachable)".into())}</dd>
                            <dt>"Backups kept in"</dt><dd>{c.backup_location.clone()}</dd>
                            <dt>"Milvus' data in"</dt><dd>{c.milvus_storage_location.clone()}</dd>
                        </dl>
                        <Storages rows=c.storages.clone()/>
                        <h2>"Health"</h2>
                        <ul class="checks">
                            {c.checks.into_iter().map(|k| view! {
                                <li class=if k.ok { "ok" } else { "fail" }>
                                    <span class="mark" aria-hidden="true">{if k.ok { "✔" } else { "✘" }}</span>
                                    <strong>{k.what}</strong>" "
                                    <span class="sr-only">{if k.ok { "reachable" } else { "problem" }}</span>
                                    <span>{k.detail}</span>
                                </li>
                            }).collect_view()}
                        </ul>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// Where backups are kept: the backup storage and each named storage (`storages:` in the
/// configuration; copies go there), with whether it answered the check.
#[component]
fn Storages(rows: Vec<StorageRow>) -> impl IntoView {
    view! {
        <h2>"Storages"</h2>
        <p class="muted">"Backups are made in " <code>"default"</code>
            "; a backup can be copied to each storage named under " <code>"storages:"</code>
            " in the configuration."</p>
        <div class="table-wrap">
        <table class="storages">
            <thead><tr><th>"Storage"</th><th>"Location"</th><th>"Health"</th></tr></thead>
            <tbody>
                {rows.into_iter().map(|r| {
                    let word = if r.ok { "answers" } else { "problem" };
                    let key = r.name.clone();
                    view! {
                        <tr data-storage=key class=if r.ok { "ok" } else { "fail" }>
                            <td class="storage-name"><strong>{r.name}</strong></td>
                            <td class="storage-location">{r.location}</td>
                            <td class="storage-health">
                                <span class=format!("badge badge-{}", if r.ok { "succeeded" } else { "failed" })>{word}</span>
                                {(!r.ok).then(|| view! { <div class="storage-error small">{r.detail}</div> })}
                            </td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
        </div>
    }
}
