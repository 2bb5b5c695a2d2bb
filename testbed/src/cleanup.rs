//! Run prefixes, state files and the removal of leftovers.
//!
//! Every testbed gets a prefix `vl` + 6 hex digits; all its namespaces are
//! named `<prefix>-<role>`. Before creating anything, a run claims its
//! prefix with a state file `/run/vnetlab/<prefix>.pid` holding the owner's
//! pid and start time (so a recycled pid is not mistaken for the owner).
//! `cleanup_stale` removes what belongs to prefixes whose owner is gone;
//! `remove_all` removes every testbed (`vnetlab down`). Both only ever touch
//! names in that exact format, and running them twice is harmless.

use std::collections::BTreeSet;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::netns;

/// Where state files live.
pub const STATE_DIR: &str = "/run/vnetlab";

/// What a cleanup removed (and what it left because its owner still runs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CleanupReport {
    pub namespaces: Vec<String>,
    pub etc_dirs: Vec<String>,
    pub state_files: Vec<String>,
    /// Prefixes whose owner is alive (left alone by `cleanup_stale`; removed
    /// anyway by `remove_all`, which still reports them here).
    pub live_owners: Vec<(String, u32)>,
}

/// Whether `s` is a run prefix: `vl` followed by exactly 6 lowercase hex digits.
pub fn is_prefix(s: &str) -> bool {
    s.len() == 8 && s.starts_with("vl") && s[2..].bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The run prefix of a testbed namespace name `<prefix>-<role>`, if it is one.
pub fn prefix_of(name: &str) -> Option<&str> {
    let (prefix, role) = name.split_once('-')?;
    let role_ok = !role.is_empty() && role.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    (is_prefix(prefix) && role_ok).then_some(prefix)
}

/// The state file of a prefix.
pub fn state_path(prefix: &str) -> PathBuf {
    Path::new(STATE_DIR).join(format!("{prefix}.pid"))
}

/// A claimed prefix; dropping it removes the state file.
#[derive(Debug)]
pub struct Claim {
    pub prefix: String,
    path: PathBuf,
}

impl Claim {
    /// The state file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// Picks a fresh prefix from pid, time and a counter and claims it with an
/// exclusively created state file. Bounded: gives up after 64 collisions.
pub fn claim_prefix() -> io::Result<Claim> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    fs::create_dir_all(STATE_DIR).map_err(|e| io::Error::new(e.kind(), format!("creating {STATE_DIR}: {e}")))?;
    let pid = std::process::id();
    let start = process_start_ticks(pid).unwrap_or(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
    for _ in 0..64 {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let mixed = splitmix(u64::from(pid) ^ nanos.rotate_left(17) ^ splitmix(n));
        let prefix = format!("vl{:06x}", mixed & 0xff_ffff);
        if netns::list()?.iter().any(|ns| prefix_of(ns) == Some(prefix.as_str())) {
            continue;
        }
        let path = state_path(&prefix);
        match fs::OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(mut f) => {
                writeln!(f, "pid={pid}\nstart={start}").map_err(|e| io::Error::new(e.kind(), format!("writing {}: {e}", path.display())))?;
                return Ok(Claim { prefix, path });
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io::Error::new(e.kind(), format!("creating {}: {e}", path.display()))),
        }
    }
    Err(io::Error::other("no free testbed prefix after 64 attempts"))
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Start time of a process in clock ticks since boot (field 22 of
/// /proc/PID/stat), which tells a live owner from a recycled pid.
pub fn process_start_ticks(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces and parentheses: fields resume after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// The owner recorded in a prefix's state file, if the file is readable.
pub fn recorded_owner(prefix: &str) -> Option<(u32, u64)> {
    let text = fs::read_to_string(state_path(prefix)).ok()?;
    let mut pid = None;
    let mut start = None;
    for line in text.lines() {
        match line.split_once('=') {
            Some(("pid", v)) => pid = v.trim().parse().ok(),
            Some(("start", v)) => start = v.trim().parse().ok(),
            _ => {}
        }
    }
    Some((pid?, start?))
}

/// The live owner of a prefix: its recorded pid, if that process still runs
/// and started when the state file says.
pub fn live_owner(prefix: &str) -> Option<u32> {
    let (pid, start) = recorded_owner(prefix)?;
    (process_start_ticks(pid) == Some(start)).then_some(pid)
}

/// Every prefix that has a state file, a namespace or an /etc/netns directory.
pub fn known_prefixes() -> io::Result<BTreeSet<String>> {
    let mut prefixes = BTreeSet::new();
    for ns in netns::list()? {
        if let Some(p) = prefix_of(&ns) {
            prefixes.insert(p.to_string());
        }
    }
    for name in dir_names(Path::new(netns::NETNS_ETC_DIR))? {
        if let Some(p) = prefix_of(&name) {
            prefixes.insert(p.to_string());
        }
    }
    for name in dir_names(Path::new(STATE_DIR))? {
        if let Some(p) = name.strip_suffix(".pid").filter(|p| is_prefix(p)) {
            prefixes.insert(p.to_string());
        }
    }
    Ok(prefixes)
}

fn dir_names(dir: &Path) -> io::Result<Vec<String>> {
    match fs::read_dir(dir) {
        Ok(entries) => {
            let mut names = Vec::new();
            for e in entries {
                if let Some(n) = e?.file_name().to_str() {
                    names.push(n.to_string());
                }
            }
            Ok(names)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(io::Error::new(e.kind(), format!("listing {}: {e}", dir.display()))),
    }
}

/// Removes everything of one prefix (namespaces, /etc/netns dirs, state file).
pub fn remove_prefix(prefix: &str, report: &mut CleanupReport) -> io::Result<()> {
    for name in dir_names(Path::new(netns::NETNS_ETC_DIR))? {
        if prefix_of(&name) == Some(prefix) {
            let dir = Path::new(netns::NETNS_ETC_DIR).join(&name);
            fs::remove_dir_all(&dir).map_err(|e| io::Error::new(e.kind(), format!("removing {}: {e}", dir.display())))?;
            report.etc_dirs.push(name);
        }
    }
    for ns in netns::list()? {
        if prefix_of(&ns) == Some(prefix) {
            netns::remove(&ns)?;
            report.namespaces.push(ns);
        }
    }
    let state = state_path(prefix);
    match fs::remove_file(&state) {
        Ok(()) => report.state_files.push(state.display().to_string()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io::Error::new(e.kind(), format!("removing {}: {e}", state.display()))),
    }
    Ok(())
}

/// Removes the leftovers of crashed runs: every prefix whose owner is not
/// running (or was never recorded). Testbeds of live processes are kept.
pub fn cleanup_stale() -> io::Result<CleanupReport> {
    let mut report = CleanupReport::default();
    for prefix in known_prefixes()? {
        match live_owner(&prefix) {
            Some(pid) => report.live_owners.push((prefix, pid)),
            None => remove_prefix(&prefix, &mut report)?,
        }
    }
    Ok(report)
}

/// Removes every testbed, running or not (`vnetlab down`). Owners still
/// running are listed in the report; their processes are not signalled.
pub fn remove_all() -> io::Result<CleanupReport> {
    let mut report = CleanupReport::default();
    for prefix in known_prefixes()? {
        if let Some(pid) = live_owner(&prefix) {
            report.live_owners.push((prefix.clone(), pid));
        }
        remove_prefix(&prefix, &mut report)?;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_format_is_strict() {
        assert!(is_prefix("vl0a1b2c"));
        assert!(!is_prefix("vl0A1b2c"));
        assert!(!is_prefix("vl0a1b2"));
        assert!(!is_prefix("xl0a1b2c"));
        assert_eq!(prefix_of("vl0a1b2c-app"), Some("vl0a1b2c"));
        assert_eq!(prefix_of("vl0a1b2c-"), None);
        assert_eq!(prefix_of("vl0a1b2c-App"), None);
        assert_eq!(prefix_of("vlzzzzzz-app"), None);
        assert_eq!(prefix_of("docker-app"), None);
    }

    #[test]
    fn own_process_start_time_is_readable() {
        let me = std::process::id();
        assert!(process_start_ticks(me).is_some());
        assert_eq!(process_start_ticks(me), process_start_ticks(me));
    }
}
