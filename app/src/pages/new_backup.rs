//! New backup: a collection picker fed live from Milvus, a validated name, meta-only.

use std::collections::BTreeSet;

use leptos::prelude::*;
use leptos_meta::Title;

use crate::{
    api::{LiveCollection, NewBackup},
    components::common::{CollectionCheck, ErrorNotice, Loading},
    format,
    server::{live_collections, StartBackup},
};

/// The New backup page.
#[component]
pub fn NewBackupPage() -> impl IntoView {
    let collections = Resource::new(|| (), |_| live_collections());
    view! {
        <Title text="New backup · milvault"/>
        <h1>"New backup"</h1>
        <Suspense fallback=|| view! { <Loading what="collections from Milvus"/> }>
            {move || Suspend::new(async move {
                match collections.await {
                    Err(e) => view! {
                        <ErrorNotice err=e/>
                        <p>"The picker needs Milvus. See the " <a href="/cluster">"Cluster"</a> " page for what is reachable."</p>
                    }.into_any(),
                    Ok(list) => view! { <BackupForm collections=list/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn BackupForm(collections: Vec<LiveCollection>) -> impl IntoView {
    let selected = RwSignal::new(BTreeSet::<String>::new());
    let search = RwSignal::new(String::new());
    let name = RwSignal::new(String::new());
    let meta_only = RwSignal::new(false);
    let logical = RwSignal::new(false);
    let incremental = RwSignal::new(false);
    let rbac = RwSignal::new(false);
    let start = ServerAction::<StartBackup>::new();
    crate::components::common::open_started_job(start);
    let name_problem = move || {
        let n = name.get();
        if n.is_empty() {
            None
        } else {
            format::backup_name_problem(&n)
        }
    };
    let can_submit =
        move || !selected.get().is_empty() && name_problem().is_none() && !start.pending().get();
    let mut dbs: Vec<String> = collections.iter().map(|c| c.db.clone()).collect();
    dbs.dedup();
    let all = StoredValue::new(collections);
    let groups = dbs
        .into_iter()
        .map(|db| {
            let db_all: Vec<String> = all.with_value(|cs| {
                cs.iter().filter(|c| c.db == db).map(|c| format!("{}.{}", c.db, c.name)).collect()
            });
            let db_all = StoredValue::new(db_all);
            let all_checked = move || db_all.with_value(|a| !a.is_empty() && selected.with(|s| a.iter().all(|k| s.contains(k))));
            let db_label = db.clone();
            let db_for_rows = db.clone();
            view! {
                <fieldset class="db-group">
                    <legend>{db.clone()}</legend>
                    <label class="select-all">
                        <input type="checkbox" prop:checked=all_checked
                            on:change=move |ev| {
                                let on = event_target_checked(&ev);
                                selected.update(|s| db_all.with_value(|a| for k in a {
                                    if on { s.insert(k.clone()); } else { s.remove(k); }
                                }));
                            }/>
                        {format!("Select all in {db_label}")}
                    </label>
                    <ul class="picker">
                        {move || {
                            let q = search.get().to_lowercase();
                            all.with_value(|cs| cs.iter()
                                .filter(|c| c.db == db_for_rows && (q.is_empty() || c.name.to_lowercase().contains(&q)))
                                .cloned()
                                .collect::<Vec<_>>())
                                .into_iter()
                                .map(|c| {
                                    let key = format!("{}.{}", c.db, c.name);
                                    view! {
                                        <li>
                                            <label>
                                                <CollectionCheck set=selected item=key/>
                                                <span class="coll-name">{c.name.clone()}</span>
                                                <span class="muted">{format!(" {} rows · {}", format::count(c.rows), c.load_state)}</span>
                                            </label>
                                        </li>
                                    }
                                })
                                .collect_view()
                        }}
                    </ul>
                </fieldset>
            }
        })
        .collect_view();
    let empty = all.with_value(|a| a.is_empty());
    view! {
        <form class="stack" on:submit=move |ev| {
            ev.prevent_default();
            if can_submit() {
                start.dispatch(StartBackup { form: NewBackup {
                    name: name.get_untracked(),
                    collections: selected.get_untracked().into_iter().collect(),
                    meta_only: meta_only.get_untracked(),
                    logical: logical.get_untracked(),
                    incremental: incremental.get_untracked(),
                    rbac: rbac.get_untracked(),
                }});
            }
        }>
            <h2>"Collections"</h2>
            {empty.then(|| view! { <p class="muted">"Milvus has no collections yet: there is nothing to back up."</p> })}
            <label class="filter">"Search collections "
                <input type="search" placeholder="name contains…"
                    prop:value=move || search.get()
                    on:input=move |ev| search.set(event_target_value(&ev))/>
            </label>
            {groups}
            <p class="muted selected-count">{move || format!("{} selected", selected.with(|s| s.len()))}</p>
            <h2>"Options"</h2>
            <label for="backup-name">"Backup name"</label>
            <input id="backup-name" type="text" name="name" autocomplete="off"
                placeholder=move || format!("leave empty for {}", format::suggested_name(crate::components::common::now_ms()))
                aria-describedby="name-help"
                prop:value=move || name.get()
                on:input=move |ev| name.set(event_target_value(&ev))/>
            <p id="name-help" class=move || if name_problem().is_some() { "field-error" } else { "muted" }>
                {move || name_problem().unwrap_or_else(|| "Letters, digits, '_', '-' and '.'; must be new.".into())}
            </p>
            <label class="check">
                <input type="checkbox" prop:checked=move || meta_only.get()
                    on:change=move |ev| meta_only.set(event_target_checked(&ev))/>
                "Metadata only (schemas, partitions, indexes; no data)"
            </label>
            <label class="check">
                <input type="checkbox" name="logical" prop:checked=move || logical.get()
                    on:change=move |ev| logical.set(event_target_checked(&ev))/>
                "Logical (rows through the API into Parquet files: for managed Milvus, Milvus Lite or another Milvus version)"
                <input type="checkbox" name="incremental" prop:checked=move || incremental.get()
                    on:change=move |ev| incremental.set(event_target_checked(&ev))/>
                "Incremental (files an earlier backup holds are copied from it, not read from Milvus again)"
            </label>
            <label class="check">
                <input type="checkbox" name="rbac" prop:checked=move || rbac.get()
                    on:change=move |ev| rbac.set(event_target_checked(&ev))/>
                "Milvus' users, roles and grants too (rbac)"
            </label>
            <div class="actions">
                <button type="submit" class="primary" disabled=move || !can_submit()>
                    {move || if start.pending().get() { "Starting…" } else { "Start backup" }}
                </button>
            </div>
            {move || match start.value().get() {
                Some(Err(e)) => Some(view! { <ErrorNotice err=e/> }),
                _ => None,
            }}
        </form>
    }
}
