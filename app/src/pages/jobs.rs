//! Jobs: every backup, restore, verification and drill with live progress pushed by the server.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::{
    api::JobView,
    components::{
        common::{now_ms, ErrorBox, ErrorNotice, JobProgress, Loading, StateBadge},
        live::use_event_stream,
    },
    format,
    server::{get_job, list_jobs, CancelJob, ResumeJob},
};

/// The job list.
#[component]
pub fn JobsPage() -> impl IntoView {
    let jobs = Resource::new(|| (), |_| list_jobs());
    let live = RwSignal::new(None::<Vec<JobView>>);
    use_event_stream(
        || "/events/jobs".to_string(),
        move |list: Vec<JobView>| {
            live.set(Some(list));
            true
        },
    );
    view! {
        <Title text="Jobs · milvault"/>
        <h1>"Jobs"</h1>
        <Suspense fallback=|| view! { <Loading what="jobs"/> }>
            {move || Suspend::new(async move {
                match jobs.await {
                    Err(e) => view! { <ErrorNotice err=e/> }.into_any(),
                    Ok(first) => {
                        let list = Signal::derive(move || live.get().unwrap_or_else(|| first.clone()));
                        view! { <JobTable jobs=list/> }.into_any()
                    }
                }
            })}
        </Suspense>
    }
}

#[component]
fn JobTable(jobs: Signal<Vec<JobView>>) -> impl IntoView {
    view! {
        {move || jobs.with(|j| j.is_empty()).then(|| view! {
            <p class="empty">"No jobs yet. Start one from " <a href="/new">"New backup"</a> " or a backup's Restore page."</p>
        })}
        <div class="table-wrap">
        <table class="jobs">
            <thead><tr><th>"Job"</th><th>"Backup"</th><th>"State"</th><th>"Progress"</th><th>"Step"</th><th>"Started"</th></tr></thead>
            <tbody>
                <For each=move || jobs.get() key=|j| (j.id.clone(), j.state.clone(), j.bytes_done, j.segments_done, j.step.clone()) let:j>
                    <tr class=format!("job job-{}", j.state)>
                        <td><a href=format!("/jobs/{}", j.id)>{j.kind.clone()}</a></td>
                        <td>{j.backup_name.clone()}</td>
                        <td><StateBadge state=Signal::stored(j.state.clone())/></td>
                        <td class="num">{format!("{:.0}%", j.fraction() * 100.0)}</td>
                        <td class="step">{j.error.clone().unwrap_or_else(|| j.step.clone())}</td>
                        <td>{format::time(j.started_ms)}</td>
                    </tr>
                </For>
            </tbody>
        </table>
        </div>
    }
}

/// One job, live.
#[component]
pub fn JobPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let job = Resource::new(id, get_job);
    let live = RwSignal::new(None::<JobView>);
    use_event_stream(
        move || format!("/events/jobs/{}", id()),
        move |j: JobView| {
            let running = j.state == "running";
            live.set(Some(j));
            running
        },
    );
    view! {
        <Title text="Job · milvault"/>
        <p class="crumbs"><a href="/jobs">"Jobs"</a>" / "{id}</p>
        <Suspense fallback=|| view! { <Loading what="the job"/> }>
            {move || Suspend::new(async move {
                match job.await {
                    Err(e) => view! { <ErrorNotice err=e/> }.into_any(),
                    Ok(first) => {
                        let j = Signal::derive(move || live.get().unwrap_or_else(|| first.clone()));
                        view! { <JobCard job=j/> }.into_any()
                    }
                }
            })}
        </Suspense>
    }
}

#[component]
fn JobCard(job: Signal<JobView>) -> impl IntoView {
    let state = Signal::derive(move || job.get().state);
    view! {
        <div class="page-head">
            <h1>{move || { let j = job.get(); format::job_title(&j.kind, &j.backup_name) }}</h1>
            <StateBadge state=state/>
        </div>
        <JobProgress job=job/>
        {move || { let j = job.get(); (j.state == "running").then(|| view! { <CancelButton id=j.id.clone()/> }) }}
        {move || { let j = job.get(); resumable(&j).then(|| view! { <ResumeButton id=j.id.clone() kind=j.kind.clone()/> }) }}
        <dl class="facts">
            <dt>"Step"</dt><dd class="current-step">{move || job.get().step}</dd>
            <dt>"Rate"</dt><dd>{move || format::rate(job.get().rate(now_ms()))}</dd>
            <dt>"Time left"</dt><dd>{move || job.get().eta_secs(now_ms()).map(|s| format::duration_ms((s * 1000.0) as i64)).unwrap_or_else(|| "—".into())}</dd>
            <dt>"Started"</dt><dd>{move || format::time(job.get().started_ms)}</dd>
            <dt>"Took"</dt><dd>{move || { let j = job.get(); j.finished_ms.map(|f| format::duration_ms(f - j.started_ms)).unwrap_or_else(|| "running".into()) }}</dd>
        </dl>
        {move || job.get().error.map(|e| view! { <ErrorBox message=e/> })}
        {move || { let j = job.get(); (j.state == "succeeded" && j.kind == "backup").then(|| view! {
            <p><a class="button" href=format!("/backups/{}", j.backup_name)>"Open the backup"</a></p>
        })}}
        <h2>"Log"</h2>
        <ol class="log">
            {move || job.get().log.into_iter().map(|(at, line)| view! {
                <li><time>{format::time(at)}</time>" "{line}</li>
            }).collect_view()}
        </ol>
    }
}

/// Asks the running job to stop; the live state then shows it cleaning up and ending
/// `cancelled`.
#[component]
fn CancelButton(id: String) -> impl IntoView {
    let cancel = ServerAction::<CancelJob>::new();
    view! {
        <p>
            <button class="button danger cancel-job" disabled=move || cancel.pending().get() || matches!(cancel.value().get(), Some(Ok(())))
                on:click=move |_| { cancel.dispatch(CancelJob { id: id.clone() }); }>
                {move || if matches!(cancel.value().get(), Some(Ok(()))) { "Cancelling…" } else { "Cancel" }}
            </button>
        </p>
        {move || match cancel.value().get() {
            Some(Err(e)) => Some(view! { <ErrorNotice err=e/> }),
            _ => None,
        }}
    }
}

/// Whether a job can be resumed: a backup that failed (its process died, or a step failed), or
/// a restore that failed or was cancelled.
fn resumable(j: &JobView) -> bool {
    match j.kind.as_str() {
        "backup" => j.state == "failed",
        "restore" => j.state == "failed" || j.state == "cancelled",
        _ => false,
    }
}

/// Continues an interrupted job as a new one: a backup keeps the files it finished and copies
/// the rest; a restore keeps the collections it finished and restores the one it was filling
/// again.
#[component]
fn ResumeButton(id: String, kind: String) -> impl IntoView {
    let resume = ServerAction::<ResumeJob>::new();
    crate::components::common::open_started_job(resume);
    view! {
        <p>
            <button class="button resume-job" disabled=move || resume.pending().get()
                on:click=move |_| { resume.dispatch(ResumeJob { id: id.clone() }); }>
                "Resume"
            </button>
            " "<span class="muted">{if kind == "restore" {
                "Continues the interrupted restore: collections it finished are kept, the one it was filling is restored again."
            } else {
                "Continues the interrupted backup: files it finished are kept."
            }}</span>
        </p>
        {move || match resume.value().get() {
            Some(Err(e)) => Some(view! { <ErrorNotice err=e/> }),
            _ => None,
        }}
    }
}
