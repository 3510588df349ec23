//! Which process holds a row of the `servers` table, so that a process that has certainly ended
//! (killed, crashed) on this machine is known at once instead of after [`super::STALE_AFTER`]
//! without a heartbeat.
//!
//! A process is recorded as `boot id / pid namespace / pid / start time` (Linux; elsewhere as
//! `""`, and only the heartbeat counts). Another process can tell that one has ended only when
//! it runs in the same boot and the same pid namespace: then the pid is gone or belongs to a
//! process that started at another time. A process on another machine or in another container
//! is never judged by this, only by its heartbeat.

/// This process, as recorded in the `servers` table; `""` when it cannot be told.
pub(crate) fn this_process() -> String {
    identity(std::process::id()).unwrap_or_default()
}

/// Whether the process recorded as `recorded` has certainly ended.
pub(crate) fn certainly_gone(recorded: &str) -> bool {
    let Some((namespace, pid, started)) = split(recorded) else {
        return false;
    };
    let Some(ours) = namespace_of_this_boot() else {
        return false;
    };
    if namespace != ours {
        return false;
    }
    match start_time(pid) {
        None => true,
        Some(now) => now != started,
    }
}

/// `boot/pidns`, `pid`, `start time` of a recorded process.
fn split(recorded: &str) -> Option<(&str, u32, &str)> {
    let (rest, started) = recorded.rsplit_once('/')?;
    let (namespace, pid) = rest.rsplit_once('/')?;
    Some((namespace, pid.parse().ok()?, started))
}

fn identity(pid: u32) -> Option<String> {
    Some(format!(
        "{}/{pid}/{}",
        namespace_of_this_boot()?,
        start_time(pid)?
    ))
}

/// `boot id/pid namespace` of this process.
fn namespace_of_this_boot() -> Option<String> {
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    let ns = std::fs::read_link("/proc/self/ns/pid").ok()?;
    Some(format!("{}/{}", boot.trim(), ns.to_string_lossy()).replace('/', "|"))
}

/// The start time of `pid` (clock ticks after boot, field 22 of `/proc/PID/stat`).
fn start_time(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // the command name (field 2) is in parentheses and may hold spaces: count after it
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(19).map(str::to_string)
}

/// A process of this machine that has ended, as recorded (`None` off Linux).
#[cfg(test)]
pub(crate) fn an_ended_process() -> Option<String> {
    let mut child = std::process::Command::new("sleep").arg("30").spawn().ok()?;
    let recorded = identity(child.id());
    let _ = child.kill();
    let _ = child.wait();
    recorded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_process_is_not_gone_and_an_ended_one_is() {
        let me = this_process();
        if me.is_empty() {
            return; // not Linux: only heartbeats count
        }
        assert!(!certainly_gone(&me), "{me}");
        let (namespace, _, started) = split(&me).unwrap();
        // the same pid with another start time: the pid was reused, the recorded process ended
        let reused = format!("{namespace}/{}/{}0", std::process::id(), started);
        assert!(certainly_gone(&reused));
        // a child that was killed and reaped
        let ended = an_ended_process().unwrap();
        assert!(certainly_gone(&ended), "{ended}");
        // another boot or container, or nothing recorded: never judged
        assert!(!certainly_gone(&format!(
            "other|boot/{}/{started}1",
            std::process::id()
        )));
        assert!(!certainly_gone(""));
        assert!(!certainly_gone("garbage"));
    }
}
