//! Small building blocks: error and empty states, progress bars, badges, the clock.

use leptos::prelude::*;

use crate::{
    api::{JobView, PortalError},
    format,
};

/// A server function's error, shown by its kind: a heading and class of its own per kind
/// (`error-notice kind-not-found`...), the message, and what to do (the hint). Keeps the `error`
/// and `error-text` classes of [`ErrorBox`] for what looks for any error.
#[component]
pub fn ErrorNotice(#[prop(into)] err: PortalError) -> impl IntoView {
    let kind = err.kind;
    view! {
        <div class=format!("error error-notice {}", kind.css_class()) role="alert"
            data-kind=kind.as_str() data-code=err.code.clone()>
            <strong class="error-heading">{kind.heading()}". "</strong>
            <span class="error-text">{err.message.clone()}</span>
            {err.hint.clone().map(|h| view! { <p class="error-hint">{h}</p> })}
        </div>
    }
    // erased, so that the pages' view types (and the compiler's query depth) stay as they were
    .into_any()
}

/// An error the user can act on, as text (a failed job's error, a refused upload).
#[component]
pub fn ErrorBox(#[prop(into)] message: String) -> impl IntoView {
    view! {
        <div class="error" role="alert">
            <strong>"Something went wrong. "</strong>
            <span class="error-text">{message}</span>
        </div>
    }
}

/// What shows while data loads.
#[component]
pub fn Loading(#[prop(into, optional)] what: String) -> impl IntoView {
    let what = if what.is_empty() {
        "Loading".to_string()
    } else {
        format!("Loading {what}")
    };
    view! { <p class="loading" aria-busy="true">{what}"…"</p> }
}

/// A job's state as a coloured word.
#[component]
pub fn StateBadge(#[prop(into)] state: Signal<String>) -> impl IntoView {
    view! { <span class=move || format!("badge badge-{}", state.get())>{move || state.get()}</span> }
}

/// A progress bar with its numbers.
#[component]
pub fn JobProgress(#[prop(into)] job: Signal<JobView>) -> impl IntoView {
    let pct = move || (job.get().fraction() * 100.0).round() as i64;
    view! {
        <div class="progress" role="progressbar" aria-valuemin="0" aria-valuemax="100"
            aria-valuenow=move || pct().to_string()>
            <div class=move || format!("progress-fill progress-{}", job.get().state)
                style=move || format!("width: {}%", pct())></div>
        </div>
        <p class="progress-numbers">
            <span class="pct">{move || format!("{}%", pct())}</span>
            " · "
            <span class="bytes">{move || {
                let j = job.get();
                format!("{} of {}", format::bytes(j.bytes_done as i64), format::bytes(j.bytes_total as i64))
            }}</span>
            " · "
            <span class="segments">{move || {
                let j = job.get();
                format!("{} of {} segments", j.segments_done, j.segments_total)
            }}</span>
        </p>
    }
}

/// Now, in Unix milliseconds, on either side.
pub fn now_ms() -> i64 {
    #[cfg(feature = "hydrate")]
    {
        js_sys::Date::now() as i64
    }
    #[cfg(not(feature = "hydrate"))]
    {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }
}

/// Goes to `to(value)` once an action succeeds (e.g. to the job page of the job it started).
pub fn navigate_on_success<T, N>(
    value: impl Get<Value = Option<Result<T, PortalError>>> + 'static,
    navigate: N,
    to: impl Fn(&T) -> String + 'static,
) where
    T: Clone + Send + Sync + 'static,
    N: Fn(&str, leptos_router::NavigateOptions) + 'static,
{
    Effect::new(move |_| {
        if let Some(Ok(v)) = value.get() {
            navigate(&to(&v), Default::default());
        }
    });
}

/// A backup's verification state: intact, damaged, unverifiable, or not verified yet.
#[component]
pub fn VerificationBadge(v: Option<crate::api::Verification>) -> impl IntoView {
    match v {
        None => view! { <span class="badge badge-unverified" title="never verified">"not verified"</span> }.into_any(),
        Some(v) => {
            let title = if v.problems.is_empty() {
                format!("{} files checked {}", v.files, format::time(v.at_ms))
            } else {
                let more = v.damaged.saturating_sub(v.problems.len() as u64);
                let mut t = v.problems.join("\n");
                if more > 0 {
                    t.push_str(&format!("\nand {more} more"));
                }
                t
            };
            view! { <span class=format!("badge badge-{}", v.state) title=title>{v.state.clone()}</span> }.into_any()
        }
    }
}

/// A backup's last restore drill: passed or failed with when it ended, its recovery time and
/// recall on hover; `never` when it was never drilled.
#[component]
pub fn DrillBadge(d: Option<crate::api::DrillSummary>) -> impl IntoView {
    match d {
        None => view! { <span class="badge badge-undrilled" title="never drilled">"never"</span> }
            .into_any(),
        Some(d) => {
            let mut title = format::drill_evidence(d.restore_ms, d.recall);
            if let Some(f) = &d.failure {
                title.push('\n');
                title.push_str(f);
            }
            let word = if d.passed { "passed" } else { "failed" };
            view! {
                <span class=format!("badge badge-{word}") title=title>{word}</span>
                <div class="muted small drill-at">{format::time(d.at_ms)}</div>
            }
            .into_any()
        }
    }
}

/// Opens the page of the job `action` started, once it answers with the job's id.
pub fn open_started_job<S>(action: ServerAction<S>)
where
    S: leptos::server_fn::ServerFn<Output = String> + Clone + Send + Sync + 'static,
    S::Error: Clone + Send + Sync + 'static,
{
    let navigate = leptos_router::hooks::use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(id)) = action.value().get() {
            navigate(&format!("/jobs/{id}"), Default::default());
        }
    });
}

/// A checkbox (named `collection`, valued `item`) that is ticked while `item` is in `set`, and
/// puts it in or takes it out.
#[component]
pub fn CollectionCheck(
    set: RwSignal<std::collections::BTreeSet<String>>,
    item: String,
) -> impl IntoView {
    let (shown, toggled) = (item.clone(), item.clone());
    view! {
        <input type="checkbox" name="collection" value=item
            prop:checked=move || set.with(|s| s.contains(&shown))
            on:change=move |ev| {
                let on = event_target_checked(&ev);
                set.update(|s| { if on { s.insert(toggled.clone()); } else { s.remove(&toggled); } });
            }/>
    }
}

/// A page title that follows the route (the backup's name in it). In the browser it is `text`
/// itself, so the title changes with the route's parameters. On the server it is the text made
/// now: leptos_meta asks for the title only once the page's first chunk is out, and by then the
/// route's view may be rendered and dropped, disposing the parameters `text` reads (a read of a
/// disposed signal, a panic).
pub fn route_title(text: impl Fn() -> String + Send + Sync + 'static) -> TextProp {
    if cfg!(feature = "ssr") {
        text().into()
    } else {
        text.into()
    }
}
