//! The backup history chart: size as bars, duration as a line, drawn as inline SVG on the server
//! (no chart library, no CDN) and sent to the page as markup ([`history_html`]), so that the
//! browser's first WASM module carries no chart code.

use leptos::prelude::*;

use crate::{api::BackupRow, format};

const W: f64 = 720.0;
const H: f64 = 220.0;
const PAD_L: f64 = 70.0;
const PAD_R: f64 = 70.0;
const PAD_T: f64 = 16.0;
const PAD_B: f64 = 34.0;
/// At most this many of the newest backups are drawn.
pub const MAX_POINTS: usize = 60;

/// The chart of `rows` as HTML (an SVG in a figure), for the page to show as it is.
pub fn history_html(rows: &[BackupRow]) -> String {
    let rows = rows.to_vec();
    Owner::new().with(|| view! { <HistoryChart rows/> }.to_html())
}

/// Size and duration of the newest backups, oldest on the left.
#[component]
pub fn HistoryChart(rows: Vec<BackupRow>) -> impl IntoView {
    let mut rows: Vec<BackupRow> = rows.into_iter().take(MAX_POINTS).collect();
    rows.sort_by_key(|r| r.created_ms);
    if rows.is_empty() {
        return view! { <p class="muted">"The chart appears with the first backup."</p> }
            .into_any();
    }
    let n = rows.len();
    let max_size = rows.iter().map(|r| r.size).max().unwrap_or(0).max(1) as f64;
    let max_dur = rows
        .iter()
        .filter_map(|r| r.duration_ms)
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let plot_w = W - PAD_L - PAD_R;
    let plot_h = H - PAD_T - PAD_B;
    let slot = plot_w / n as f64;
    let bar_w = (slot * 0.7).clamp(1.0, 36.0);
    let bars = rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let h = (r.size as f64 / max_size) * plot_h;
            let x = PAD_L + i as f64 * slot + (slot - bar_w) / 2.0;
            let y = PAD_T + plot_h - h;
            let tip = format!(
                "{} · {} · {} · {}",
                r.name,
                format::time(r.created_ms),
                format::bytes(r.size),
                r.duration_ms.map(format::duration_ms).unwrap_or_else(|| "duration unknown".into())
            );
            view! {
                <rect class="bar" x=format::tenths(x) y=format::tenths(y) width=format::tenths(bar_w)
                    height=format::tenths(h.max(1.0))>
                    <title>{tip}</title>
                </rect>
            }
        })
        .collect_view();
    let points: Vec<String> = rows
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            r.duration_ms.map(|d| {
                let x = PAD_L + i as f64 * slot + slot / 2.0;
                let y = PAD_T + plot_h - (d as f64 / max_dur) * plot_h;
                format!("{},{}", format::tenths(x), format::tenths(y))
            })
        })
        .collect();
    let dots = points
        .iter()
        .map(|p| {
            let (x, y) = p.split_once(',').unwrap_or(("0", "0"));
            view! { <circle class="dot" cx=x.to_string() cy=y.to_string() r="3"></circle> }
        })
        .collect_view();
    let label = format!(
        "Backup size and duration of the {n} newest backups, from {} to {}; largest {}, longest {}",
        format::date(rows[0].created_ms),
        format::date(rows[n - 1].created_ms),
        format::bytes(max_size as i64),
        format::duration_ms(max_dur as i64)
    );
    view! {
        <figure class="chart">
            <svg viewBox=format!("0 0 {} {}", format::tenths(W), format::tenths(H)) role="img" aria-label=label.clone()>
                <line class="axis" x1=format::tenths(PAD_L) y1=format::tenths(PAD_T + plot_h) x2=format::tenths(W - PAD_R) y2=format::tenths(PAD_T + plot_h)></line>
                <text class="tick" x=format::tenths(PAD_L - 6.0) y=format::tenths(PAD_T + 10.0) text-anchor="end">{format::bytes(max_size as i64)}</text>
                <text class="tick" x=format::tenths(PAD_L - 6.0) y=format::tenths(PAD_T + plot_h) text-anchor="end">"0"</text>
                <text class="tick dur" x=format::tenths(W - PAD_R + 6.0) y=format::tenths(PAD_T + 10.0)>{format::duration_ms(max_dur as i64)}</text>
                <text class="tick" x=format::tenths(PAD_L) y=format::tenths(H - 10.0)>{format::date(rows[0].created_ms)}</text>
                <text class="tick" x=format::tenths(W - PAD_R) y=format::tenths(H - 10.0) text-anchor="end">{format::date(rows[n - 1].created_ms)}</text>
                {bars}
                <polyline class="line" points=points.join(" ")></polyline>
                {dots}
            </svg>
            <figcaption>
                <span class="key key-size"></span>" size  "
                <span class="key key-dur"></span>" duration"
            </figcaption>
        </figure>
    }
    .into_any()
}
