//! The audit log (admins): who did or tried what, when, from where, and how it ended; filters
//! and CSV/JSON export.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::{
    api::AuditQuery,
    audit_action,
    components::common::{ErrorNotice, Loading},
    format,
    server::audit_log,
};

fn export_href(q: &AuditQuery, format: &str) -> String {
    let mut parts = vec![format!("format={format}"), "limit=10000".to_string()];
    for (k, v) in [
        ("actor", &q.actor),
        ("action", &q.action),
        ("outcome", &q.outcome),
    ] {
        if !v.trim().is_empty() {
            let enc: String = v
                .trim()
                .bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || b"-_.".contains(&b) {
                        (b as char).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect();
            parts.push(format!("{k}={enc}"));
        }
    }
    format!("/api/v2/audit?{}", parts.join("&"))
}

/// The Audit page.
#[component]
pub fn AuditPage() -> impl IntoView {
    let actor = RwSignal::new(String::new());
    let action = RwSignal::new(String::new());
    let outcome = RwSignal::new(String::new());
    let query = move || AuditQuery {
        actor: actor.get(),
        action: action.get(),
        outcome: outcome.get(),
    };
    let entries = Resource::new(query, audit_log);
    view! {
        <Title text="Audit · milvault"/>
        <div class="page-head">
            <h1>"Audit log"</h1>
            <div class="actions">
                <a class="button export-csv" rel="external" href=move || export_href(&query(), "csv")>"Export CSV"</a>
                <a class="button export-json" rel="external" href=move || export_href(&query(), "json")>"Export JSON"</a>
            </div>
        </div>
        <form class="audit-filters" on:submit=|ev| ev.prevent_default()>
            <label for="f-actor">"User"</label>
            <input id="f-actor" placeholder="any" prop:value=move || actor.get() on:change=move |ev| actor.set(event_target_value(&ev))/>
            <label for="f-action">"Action"</label>
            <select id="f-action" on:change=move |ev| action.set(event_target_value(&ev)) prop:value=move || action.get()>
                <option value="">"any"</option>
                {audit_action::filters().into_iter().map(|(value, label)| view! {
                    <option value=value>{label}</option>
                }).collect_view()}
            </select>
            <label for="f-outcome">"Outcome"</label>
            <select id="f-outcome" on:change=move |ev| outcome.set(event_target_value(&ev)) prop:value=move || outcome.get()>
                <option value="">"any"</option>
                <option value="ok">"ok"</option>
                <option value="denied">"denied"</option>
                <option value="failed">"failed"</option>
            </select>
        </form>
        <Transition fallback=|| view! { <Loading what="the audit log"/> }>
            {move || Suspend::new(async move {
                match entries.await {
                    Err(e) => view! { <ErrorNotice err=e/> }.into_any(),
                    Ok(list) if list.is_empty() => view! { <p class="muted empty-audit">"No entries match."</p> }.into_any(),
                    Ok(list) => view! {
                        <div class="table-wrap"><table class="audit">
                            <thead><tr><th>"When"</th><th>"Who"</th><th>"Action"</th><th>"Target"</th><th>"From"</th><th>"Outcome"</th><th>"Detail"</th></tr></thead>
                            <tbody>{list.into_iter().map(|e| view! {
                                <tr class=format!("audit-{}", e.outcome)>
                                    <td>{format::time(e.at_ms)}</td>
                                    <td class="actor">{e.actor.clone()}<div class="muted small">{e.via.clone()}</div></td>
                                    <td class="action"><code>{e.action.clone()}</code></td>
                                    <td class="target">{e.target.clone()}</td>
                                    <td>{e.source.clone()}</td>
                                    <td><span class=format!("badge badge-{}", match e.outcome.as_str() { "ok" => "succeeded", "denied" => "failed", _ => "paused" })>{e.outcome.clone()}</span></td>
                                    <td class="detail small">{e.detail.clone()}</td>
                                </tr>
                            }).collect_view()}</tbody>
                        </table></div>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}
