//! Policies: scheduled backups with retention and verification. The list shows each policy's
//! schedule, next runs and last run; the form shows the next runs of the schedule as you type.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_navigate;

use crate::{
    api::{PolicyForm, PolicyView},
    components::common::{navigate_on_success, ErrorNotice, Loading},
    format,
    server::{
        error_text, list_policies, notifications, schedule_preview, AddPolicy, RemovePolicy,
        RunPolicy, SetPolicyEnabled,
    },
};

/// The Policies page.
#[component]
pub fn PoliciesPage() -> impl IntoView {
    let add = ServerAction::<AddPolicy>::new();
    let toggle = ServerAction::<SetPolicyEnabled>::new();
    let remove = ServerAction::<RemovePolicy>::new();
    let run = ServerAction::<RunPolicy>::new();
    navigate_on_success(run.value(), use_navigate(), |id: &String| {
        format!("/jobs/{id}")
    });
    let policies = Resource::new(
        move || {
            (
                add.version().get(),
                toggle.version().get(),
                remove.version().get(),
            )
        },
        |_| list_policies(),
    );
    view! {
        <Title text="Policies · milvault"/>
        <div class="page-head">
            <h1>"Policies"</h1>
        </div>
        <p class="muted">"Backups on a schedule. Each run backs up, verifies when asked, then prunes the policy's own older backups by its retention; the newest intact backup is never pruned, and backups made by hand or by another policy are never touched."</p>
        <Suspense fallback=|| view! { <Loading what="policies"/> }>
            {move || Suspend::new(async move {
                match policies.await {
                    Err(e) => view! { <ErrorNotice err=e/> }.into_any(),
                    Ok(list) if list.is_empty() => view! {
                        <p class="empty-policies">"No policies yet. Add one below."</p>
                    }.into_any(),
                    Ok(list) => view! {
                        <div class="table-wrap">
                        <table class="policies">
                            <thead><tr>
                                <th>"Name"</th><th>"Schedule"</th><th>"Backs up"</th><th>"Keeps"</th>
                                <th>"Next runs"</th><th>"Last run"</th><th>"Actions"</th>
                            </tr></thead>
                            <tbody>
                                {list.into_iter().map(|p| view! { <PolicyRow p=p toggle=toggle remove=remove run=run/> }).collect_view()}
                            </tbody>
                        </table>
                        </div>
                    }.into_any(),
                }
            })}
        </Suspense>
        {move || [toggle.value().get().and_then(|r| r.err()), remove.value().get().and_then(|r| r.err()), run.value().get().and_then(|r| r.err())]
            .into_iter().flatten().next().map(|e| view! { <ErrorNotice err=e/> })}
        <NewPolicy add=add/>
        <Notifications/>
    }
}

/// The webhooks told of failures, and what was sent to them.
#[component]
fn Notifications() -> impl IntoView {
    let data = Resource::new(|| (), |_| notifications());
    view! {
        <section class="notifications">
            <h2>"Notifications"</h2>
            <Suspense fallback=|| view! { <Loading what="notifications"/> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Err(e) => view! { <ErrorNotice err=e/> }.into_any(),
                        Ok(n) if n.webhooks.is_empty() => view! {
                            <p class="muted no-webhooks">"No webhooks: add them under notifications.webhooks in backup.yaml to be told of failed jobs, damaged backups and failed, skipped or missed policy runs."</p>
                        }.into_any(),
                        Ok(n) => view! {
                            <div class="table-wrap">
                            <table class="webhooks">
                                <thead><tr><th>"Webhook"</th><th>"Address"</th><th>"Form"</th><th>"Told of"</th><th>"Signed"</th></tr></thead>
                                <tbody>
                                    {n.webhooks.into_iter().map(|w| view! {
                                        <tr>
                                            <td>{w.name}</td>
                                            <td><code>{w.url}</code></td>
                                            <td>{w.format}</td>
                                            <td>{format!("{}{}",
                                                if w.events.is_empty() { "every event".to_string() } else { w.events.join(", ") },
                                                if w.global { "" } else { ", of the policies naming it" })}</td>
                                            <td>{if w.signed { "HMAC-SHA256" } else { "no" }}</td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                            </div>
                            <h3>"Last deliveries"</h3>
                            {if n.deliveries.is_empty() {
                                view! { <p class="muted">"Nothing sent yet."</p> }.into_any()
                            } else {
                                view! {
                                    <div class="table-wrap">
                                    <table class="deliveries">
                                        <thead><tr><th>"When"</th><th>"Webhook"</th><th>"Event"</th><th>"State"</th><th>"Tries"</th><th>"What"</th></tr></thead>
                                        <tbody>
                                            {n.deliveries.into_iter().map(|d| view! {
                                                <tr class=format!("delivery-{}", d.state.clone())>
                                                    <td>{format::time(d.at_ms)}</td>
                                                    <td>{d.webhook}</td>
                                                    <td><code>{d.event}</code></td>
                                                    <td title=d.last_error.clone()>{d.state.clone()}{(d.last_status > 0).then(|| format!(" ({})", d.last_status))}</td>
                                                    <td>{d.attempts}</td>
                                                    <td class="small">{d.summary}</td>
                                                </tr>
                                            }).collect_view()}
                                        </tbody>
                                    </table>
                                    </div>
                                }.into_any()
                            }}
                        }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn PolicyRow(
    p: PolicyView,
    toggle: ServerAction<SetPolicyEnabled>,
    remove: ServerAction<RemovePolicy>,
    run: ServerAction<RunPolicy>,
) -> impl IntoView {
    let name = p.name.clone();
    let (n1, n2, n3) = (name.clone(), name.clone(), name.clone());
    let enabled = p.enabled;
    let confirming = RwSignal::new(false);
    let next = if p.next_runs_ms.is_empty() {
        view! { <span class="muted">"paused"</span> }.into_any()
    } else {
        view! { <ul class="next-runs">{p.next_runs_ms.iter().map(|t| view! { <li>{format::time(*t)}</li> }).collect_view()}</ul> }.into_any()
    };
    let last = match &p.last_run {
        None => view! { <span class="muted">"never"</span> }.into_any(),
        Some(r) => {
            let href = format!("/jobs/{}", r.job_id);
            view! {
                <span class=format!("badge badge-{}", r.state)>{r.state.clone()}</span>
                " " <a href=href>{r.backup.clone()}</a>
                <div class="muted small">{format!("{} · {}", format::time(r.slot_ms), r.detail)}</div>
            }.into_any()
        }
    };
    view! {
        <tr data-policy=name.clone()>
            <td><strong>{name.clone()}</strong>{(!enabled).then(|| view! { " " <span class="badge badge-paused">"paused"</span> })}</td>
            <td><code>{p.cron.clone()}</code><div class="muted small">{p.time_zone.clone()}</div></td>
            <td class="colls">{p.targets.clone()}{p.verify_after.then(|| view! { <div class="muted small">"verified after each run"</div> })}
                {format::policy_modes(p.logical, p.full_every, p.drill_every).map(|m| view! { <div class="muted small policy-modes">{m}</div> })}</td>
            <td>{p.retention.clone()}</td>
            <td>{next}</td>
            <td class="last-run">{last}</td>
            <td class="row-actions">
                <button on:click=move |_| { run.dispatch(RunPolicy { name: n1.clone() }); }>"Run now"</button>
                <button on:click=move |_| { toggle.dispatch(SetPolicyEnabled { name: n2.clone(), enabled: !enabled }); }>
                    {if enabled { "Pause" } else { "Resume" }}
                </button>
                <Show when=move || confirming.get() fallback=move || view! {
                    <button class="danger" on:click=move |_| confirming.set(true)>"Remove…"</button>
                }>
                    {
                        let n = n3.clone();
                        view! {
                            <button class="danger" on:click=move |_| { remove.dispatch(RemovePolicy { name: n.clone() }); }>"Remove policy (backups stay)"</button>
                            <button on:click=move |_| confirming.set(false)>"Cancel"</button>
                        }
                    }
                </Show>
            </td>
        </tr>
    }
}

#[component]
fn NewPolicy(add: ServerAction<AddPolicy>) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let collections = RwSignal::new(String::new());
    let databases = RwSignal::new(String::new());
    let cron = RwSignal::new("0 2 * * *".to_string());
    let tz = RwSignal::new("UTC".to_string());
    let template = RwSignal::new("{policy}_{time}".to_string());
    let keep_last = RwSignal::new(String::new());
    let keep_daily = RwSignal::new("7".to_string());
    let keep_weekly = RwSignal::new(String::new());
    let keep_monthly = RwSignal::new(String::new());
    let max_age = RwSignal::new(String::new());
    let verify_after = RwSignal::new(true);
    let logical = RwSignal::new(false);
    let full_every = RwSignal::new("0".to_string());
    let notify = RwSignal::new(String::new());
    let full_every_n = move || format::full_every(&full_every.get());
    let drill_every = RwSignal::new("0".to_string());
    let drill_every_n = move || format::drill_every(&drill_every.get());
    // computed in the browser as you type (a server-side resource here would block the render)
    let preview = LocalResource::new(move || schedule_preview(cron.get(), tz.get()));
    let num = |s: RwSignal<String>| s.get_untracked().trim().parse::<u32>().ok();
    let text_field = |id: &'static str,
                      label: &'static str,
                      sig: RwSignal<String>,
                      hint: &'static str| {
        view! {
            <label for=id>{label}</label>
            <input id=id name=id type="text" autocomplete="off" placeholder=hint
                prop:value=move || sig.get() on:input=move |ev| sig.set(event_target_value(&ev))/>
        }
    };
    let num_field = |id: &'static str, label: &'static str, sig: RwSignal<String>| {
        view! {
            <label class="inline">{label}" "
                <input id=id name=id type="number" min="1" inputmode="numeric"
                    prop:value=move || sig.get() on:input=move |ev| sig.set(event_target_value(&ev))/>
            </label>
        }
    };
    Effect::new(move |_| {
        if let Some(Ok(())) = add.value().get() {
            name.set(String::new());
        }
    });
    view! {
        <form class="stack new-policy" on:submit=move |ev| {
            ev.prevent_default();
            add.dispatch(AddPolicy { form: PolicyForm {
                name: name.get_untracked(),
                collections: collections.get_untracked(),
                databases: databases.get_untracked(),
                cron: cron.get_untracked(),
                time_zone: tz.get_untracked(),
                name_template: template.get_untracked(),
                keep_last: num(keep_last),
                keep_daily: num(keep_daily),
                keep_weekly: num(keep_weekly),
                keep_monthly: num(keep_monthly),
                max_age_days: num(max_age),
                verify_after: verify_after.get_untracked(),
                logical: logical.get_untracked(),
                full_every: format::full_every(&full_every.get_untracked()).unwrap_or(0),
                drill_every: format::drill_every(&drill_every.get_untracked()).unwrap_or(0),
                notify: notify.get_untracked(),
            }});
        }>
            <h2>"New policy"</h2>
            {text_field("policy-name", "Name", name, "e.g. nightly")}
            {text_field("policy-collections", "Collections (comma separated, NAME or DB.NAME; empty: all)", collections, "demo_products, shop.reviews")}
            {text_field("policy-databases", "Whole databases (comma separated)", databases, "")}
            {text_field("policy-cron", "Schedule (cron: minute hour day month weekday, or seconds first)", cron, "0 2 * * *")}
            {text_field("policy-tz", "Time zone (IANA)", tz, "UTC, Europe/Berlin…")}
            <div class="schedule-preview" aria-live="polite">
                <Suspense fallback=|| view! { <span class="muted">"…"</span> }>
                    {move || Suspend::new(async move {
                        match preview.await {
                            Ok(p) => match p.error {
                                Some(e) => view! { <p class="field-error">{e}</p> }.into_any(),
                                None => view! {
                                    <span class="muted">"Next runs: "</span>
                                    <ul class="next-runs">{p.runs.into_iter().map(|t| view! { <li>{format::time(t)}</li> }).collect_view()}</ul>
                                }.into_any(),
                            },
                            Err(e) => view! { <p class="field-error">{error_text(&e)}</p> }.into_any(),
                        }
                    })}
                </Suspense>
            </div>
            {text_field("policy-template", "Backup name template ({policy}, {time}, {date})", template, "{policy}_{time}")}
            <fieldset class="retention">
                <legend>"Retention (empty: no limit)"</legend>
                {num_field("keep-last", "Keep last", keep_last)}
                {num_field("keep-daily", "daily", keep_daily)}
                {num_field("keep-weekly", "weekly", keep_weekly)}
                {num_field("keep-monthly", "monthly", keep_monthly)}
                {num_field("max-age", "Max age (days)", max_age)}
            </fieldset>
            <label class="check">
                <input type="checkbox" name="verify_after" prop:checked=move || verify_after.get()
                    on:change=move |ev| verify_after.set(event_target_checked(&ev))/>
                "Verify each backup against its manifest after making it"
            </label>
            <label class="check">
                <input id="policy-logical" type="checkbox" name="logical" prop:checked=move || logical.get()
                    on:change=move |ev| logical.set(event_target_checked(&ev))/>
                "Logical backup (rows through the API into Parquet)"
            </label>
            <label class="inline" for="policy-full-every">"Full every N runs (others incremental; 0 = all full)"" "
                <input id="policy-full-every" name="full_every" type="number" min="0" step="1" inputmode="numeric"
                    prop:value=move || full_every.get() on:input=move |ev| full_every.set(event_target_value(&ev))/>
            </label>
            {move || full_every_n().err().map(|e| view! { <p class="field-error">{e}</p> })}
            <label class="inline" for="policy-drill-every">"Drill every N backups (restore into a scratch database, check, drop; 0 = never)"" "
                <input id="policy-drill-every" name="drill_every" type="number" min="0" step="1" inputmode="numeric"
                    prop:value=move || drill_every.get() on:input=move |ev| drill_every.set(event_target_value(&ev))/>
            </label>
            {move || drill_every_n().err().map(|e| view! { <p class="field-error">{e}</p> })}
            {text_field("policy-notify", "Also tell these webhooks of failed runs (comma separated names from notifications.webhooks; global ones are always told)", notify, "oncall")}
            <div class="actions">
                <button type="submit" class="primary" disabled=move || add.pending().get() || name.get().trim().is_empty() || full_every_n().is_err() || drill_every_n().is_err()>
                    {move || if add.pending().get() { "Adding…" } else { "Add policy" }}
                </button>
            </div>
            {move || match add.value().get() {
                Some(Err(e)) => Some(view! { <ErrorNotice err=e/> }),
                _ => None,
            }}
        </form>
    }
}
