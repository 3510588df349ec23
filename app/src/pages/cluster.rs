//! Cluster: Milvus' address, version and health, and the storage locations.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::{
    components::common::{ErrorBox, Loading},
    server::{cluster_status, error_text},
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
                    Err(e) => view! { <ErrorBox message=error_text(&e)/> }.into_any(),
                    Ok(c) => view! {
                        <dl class="facts">
                            <dt>"Milvus"</dt><dd>{c.milvus_address.clone()}</dd>
                            <dt>"Version"</dt><dd>{c.milvus_version.clone().unwrap_or_else(|| "unknown (not reachable)".into())}</dd>
                            <dt>"Backups kept in"</dt><dd>{c.backup_location.clone()}</dd>
                            <dt>"Milvus' data in"</dt><dd>{c.milvus_storage_location.clone()}</dd>
                        </dl>
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
