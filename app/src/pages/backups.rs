//! Backups: the history, newest first, a page at a time (paged and filtered on the server, so a
//! cluster with 10,000 backups sends 50 rows), with the size/duration chart of the page shown; an
//! archive upload for users who may make backups.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::{
    api::{BackupPageQuery, BackupRow},
    components::{
        common::{DrillBadge, ErrorNotice, Loading, VerificationBadge},
        upload::ArchiveUpload,
    },
    format,
    names::DEFAULT_STORAGE,
    server::{backups_page, whoami},
};

/// Rows per page.
pub const PAGE: usize = 50;

/// The offset of the last page of `total` rows.
fn last_page(total: u64) -> usize {
    (total.saturating_sub(1) as usize / PAGE) * PAGE
}

/// The backup history.
#[component]
pub fn BackupsPage() -> impl IntoView {
    let filter = RwSignal::new(String::new());
    let offset = RwSignal::new(0usize);
    // `/?storage=NAME` lists a named storage's backups (a backup page's crumb links back so)
    let query = use_query_map();
    let storage = RwSignal::new(query.with_untracked(|q| q.get("storage").unwrap_or_default()));
    let backups = Resource::new(
        move || (filter.get(), offset.get(), storage.get()),
        |(filter, offset, storage)| {
            backups_page(BackupPageQuery {
                offset,
                limit: PAGE,
                filter,
                storage,
            })
        },
    );
    let me = Resource::new(|| (), |_| whoami());
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
        <label class="filter">"Filter by name or collection "
            <input type="search" placeholder="e.g. nightly or shop.reviews"
                prop:value=move || filter.get()
                on:input=move |ev| { offset.set(0); filter.set(event_target_value(&ev)); }/>
        </label>
        // the table stays while the next page or filter loads
        <Transition fallback=|| view! { <Loading what="backups"/> }>
            {move || Suspend::new(async move {
                match backups.await {
                    Err(e) => view! { <ErrorNotice err=e/> }.into_any(),
                    Ok(page) if page.total == 0 && filter.get_untracked().trim().is_empty() => view! {
                        <StoragePicker storages=page.storages.clone() storage=storage offset=offset/>
                        <section class="empty">
                            <h2>"No backups yet"</h2>
                            <p>"Make the first one on the " <a href="/new">"New backup"</a>
                               " page: pick collections, give it a name, and follow it on the Jobs page."</p>
                            <p class="muted">"From a shell: " <code>"milvault create -n first_backup -c my_collection"</code></p>
                        </section>
                    }.into_any(),
                    Ok(page) => {
                        let shown = format::page_span(page.offset, page.rows.len(), page.total);
                        let older = page.offset + page.rows.len() < page.total as usize;
                        let newer = page.offset > 0;
                        let rows = page.rows.clone();
                        view! {
                            <StoragePicker storages=page.storages.clone() storage=storage offset=offset/>
                            <p class="muted">{format!("{} backups, {} in all", page.total, format::bytes(page.total_bytes))}</p>
                            <div class="history" inner_html=page.chart_html.clone()></div>
                            <div class="table-wrap">
                            <table class="backups">
                                <thead><tr>
                                    <th>"Name"</th><th>"Time"</th><th>"Collections"</th>
                                    <th class="num" title=format::Rows::WHY>"Rows"</th><th class="num">"Size"</th>
                                    <th>"Status"</th><th>"Verified"</th><th>"Last drill"</th><th>"Milvus"</th>
                                </tr></thead>
                                <tbody>
                                    {if rows.is_empty() {
                                        view! { <tr><td colspan="9" class="muted">"No backup matches this filter."</td></tr> }.into_any()
                                    } else {
                                        rows.into_iter().map(backup_line).collect_view().into_any()
                                    }}
                                </tbody>
                            </table>
                            </div>
                            <nav class="pager">
                                <button type="button" class="newest" disabled=!newer
                                    on:click=move |_| offset.set(0)>"Newest"</button>
                                <button type="button" class="newer" disabled=!newer
                                    on:click=move |_| offset.update(|o| *o = o.saturating_sub(PAGE))>"Newer"</button>
                                <span class="muted page-span">{shown}</span>
                                <button type="button" class="older" disabled=!older
                                    on:click=move |_| offset.update(|o| *o += PAGE)>"Older"</button>
                                <button type="button" class="oldest" disabled=!older
                                    on:click=move |_| offset.set(last_page(page.total))>"Oldest"</button>
                            </nav>
                        }.into_any()
                    }
                }
            })}
        </Transition>
    }
}

/// Which storage's backups are listed, when there are several: the configured backup storage
/// (`default`) or a named one; changing it starts again at the first page.
#[component]
fn StoragePicker(
    storages: Vec<String>,
    storage: RwSignal<String>,
    offset: RwSignal<usize>,
) -> impl IntoView {
    (!storages.is_empty()).then(|| {
        let options = storages
            .into_iter()
            .map(|s| {
                let value = if s == DEFAULT_STORAGE {
                    String::new()
                } else {
                    s.clone()
                };
                let selected = storage.get_untracked() == value;
                view! { <option value=value selected=selected>{s}</option> }
            })
            .collect_view();
        view! {
            <label class="storage-picker">"Storage "
                <select name="storage" on:change=move |ev| {
                    offset.set(0);
                    storage.set(event_target_value(&ev));
                }>{options}</select>
            </label>
        }
    })
}

/// One backup's line of the history table.
fn backup_line(r: BackupRow) -> impl IntoView {
    // a key is URL-safe as it is (names and storages are letters, digits, `_`, `-`, `.`)
    let href = format!("/backups/{}", r.key());
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_page_starts_at_the_last_whole_page() {
        assert_eq!(last_page(0), 0);
        assert_eq!(last_page(50), 0);
        assert_eq!(last_page(51), 50);
        assert_eq!(last_page(10_000), 9_950);
        assert_eq!(last_page(10_001), 10_000);
    }
}
