//! `vnetlab up` as a user runs it: the binary builds the testbed for the
//! bench scenario (NSG allowing TCP 5201-5202, NAT gateway 198.18.0.50),
//! a connection from the app's namespace reaches the responder through the
//! NAT gateway, a denied one does not, and Ctrl-C (SIGINT) stops it: the
//! namespaces are gone, the flow log has the flow's begin and end records
//! and the counters balance. Needs root; without it the test says so and
//! returns. Every wait is bounded; the child is ended by its PID only.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddrV4, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(30);

/// `vnetlab up`, ended like a user ends it (Ctrl-C) by the test, or on drop
/// if the test fails half-way.
struct Up(Child);

impl Up {
    /// Sends SIGINT and waits (bounded) for the exit; None if it is still running.
    fn interrupt(&mut self) -> Option<ExitStatus> {
        if let Ok(Some(st)) = self.0.try_wait() {
            return Some(st);
        }
        // SAFETY: signalling a child we started, by its PID.
        unsafe { libc::kill(self.0.id() as libc::pid_t, libc::SIGINT) };
        let deadline = Instant::now() + TIMEOUT;
        while Instant::now() < deadline {
            match self.0.try_wait() {
                Ok(Some(st)) => return Some(st),
                Ok(None) => std::thread::sleep(Duration::from_millis(50)),
                Err(_) => return None,
            }
        }
        None
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        if self.interrupt().is_none() {
            let _ = self.0.kill();
        }
    }
}

fn netns_exists(name: &str) -> bool {
    std::path::Path::new("/run/netns").join(name).exists()
}

#[test]
#[ignore = "needs root: network namespaces and TUN devices"]
fn up_carries_traffic_and_ctrl_c_removes_everything() {
    assert!(vnetlab_testbed::is_root(), "needs root: network namespaces and TUN devices");
    let dir = std::env::temp_dir().join(format!("vnetlab-cli-up-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (log, stats) = (dir.join("flows.jsonl"), dir.join("stats.json"));
    let scenario = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/scenarios/datapath.toml");
    let mut up = Up(Command::new(env!("CARGO_BIN_EXE_vnetlab"))
        .args(["up", "-t", scenario, "--ports", "5202", "--flow-log"])
        .arg(&log)
        .arg("--stats")
        .arg(&stats)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("vnetlab up starts"));

    // The banner names the app namespace; lines arrive through a thread so
    // that waiting for them is bounded.
    let (tx, rx) = mpsc::channel();
    let stdout = up.0.stdout.take().expect("piped stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + TIMEOUT;
    let mut app_ns = None;
    while app_ns.is_none() {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx.recv_timeout(left).expect("the banner within 30 s");
        if let Some(ns) = line.trim().strip_prefix("app namespace:") {
            app_ns = Some(ns.trim().to_string());
        }
    }
    let app_ns = app_ns.unwrap_or_default();
    let prefix = app_ns.trim_end_matches("-app").to_string();
    assert!(netns_exists(&app_ns) && netns_exists(&format!("{prefix}-inet")));

    let (seen, denied) = vnetlab_testbed::run_in_netns(&app_ns, || {
        let to = |port| SocketAddrV4::new("198.51.100.20".parse().unwrap_or(std::net::Ipv4Addr::UNSPECIFIED), port);
        let mut seen = String::new();
        if let Ok(mut s) = TcpStream::connect_timeout(&to(5202).into(), Duration::from_secs(5)) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let _ = s.write_all(b"hello\n");
            let _ = s.read_to_string(&mut seen);
        }
        // Port 80 has a responder too, but DenyInternetOut drops it silently.
        let denied = TcpStream::connect_timeout(&to(80).into(), Duration::from_secs(1)).is_err();
        (seen, denied)
    })
    .expect("app namespace");
    assert!(seen.contains("world=inet") && seen.contains("src=198.18.0.50:"), "responder said {seen:?}");
    assert!(denied, "port 80 must be dropped");

    let status = up.interrupt().expect("vnetlab up stops within 30 s of SIGINT");
    let mut err = String::new();
    if let Some(mut e) = up.0.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    assert!(status.success(), "vnetlab up failed: {err}");
    assert!(err.contains("engine: 1 flows allowed, 1 denied"), "{err}");
    assert!(!netns_exists(&app_ns) && !netns_exists(&format!("{prefix}-inet")), "namespaces removed");

    let counters: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&stats).expect("stats written")).expect("stats JSON");
    assert_eq!(counters["unaccounted"], 0, "{counters}");
    assert_eq!(counters["flows_created"], 1, "{counters}");
    let records: Vec<serde_json::Value> =
        std::fs::read_to_string(&log).expect("flow log written").lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
    let allowed: Vec<_> = records.iter().filter(|r| r["dport"] == 5202).collect();
    let states: Vec<_> = allowed.iter().map(|r| r["state"].as_str().unwrap_or("?")).collect();
    assert_eq!(states, ["begin", "end"], "{records:?}");
    assert_eq!(allowed[1]["packets_out"], counters["to_world"]["packets"]);
    assert!(allowed[0]["translated_src"].as_str().is_some_and(|s| s.starts_with("198.18.0.50:")));
    assert!(records.iter().any(|r| r["dport"] == 80 && r["decision"] == "deny" && r["rule"] == "UserRule_DenyInternetOut"));
    let _ = std::fs::remove_dir_all(&dir);
}
