//! `vnetlab run` as a developer runs it: real commands (curl, sh, python3)
//! behind the engine, with the embedded default scenario. Allowed flows are
//! always mapped to services this test starts on loopback; the denied one
//! (www.example.org, 198.51.100.80) never leaves. Each run must leave
//! nothing: no named namespace, no resolv.conf copy, no child process.
//! Needs root (ignored otherwise; run as non-root they fail saying so).
//! Every wait is bounded; processes are ended by their PID only.

use std::io::{Read, Write};
use std::net::{TcpListener, UdpSocket};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(40);
const ROOT: &str = "needs root: network namespaces and TUN devices";

fn require_root() {
    assert!(vnetlab_testbed::is_root(), "{ROOT} (run the ignored tests as root)");
}

fn netns_list() -> Vec<String> {
    vnetlab_testbed::netns::list().unwrap_or_default()
}

/// A finished `vnetlab run`.
struct Done {
    status: ExitStatus,
    stdout: String,
    stderr: String,
    pid: u32,
}

fn spawn(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_vnetlab"))
        .arg("run")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start vnetlab")
}

/// Waits (bounded) for `child`; kills it by PID on timeout and fails.
fn finish(mut child: Child) -> Done {
    let pid = child.id();
    let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let t_out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + TIMEOUT;
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("vnetlab run did not finish within {TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Done { status, stdout: t_out.join().unwrap(), stderr: t_err.join().unwrap(), pid }
}

/// Runs vnetlab and checks it left nothing behind.
fn run(args: &[&str]) -> Done {
    let before = netns_list();
    let done = finish(spawn(args));
    assert_eq!(netns_list(), before, "named namespaces changed");
    let resolv = std::env::temp_dir().join(format!("vnetlab-run-{}-resolv.conf", done.pid));
    assert!(!resolv.exists(), "{} left behind", resolv.display());
    done
}

/// A one-shot HTTP server on 127.0.0.1; returns its port and a thread that
/// yields the peer address it saw.
fn http_server(body: &'static str) -> (u16, std::thread::JoinHandle<Option<String>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    l.set_nonblocking(true).unwrap();
    let t = std::thread::spawn(move || {
        let deadline = Instant::now() + TIMEOUT;
        while Instant::now() < deadline {
            match l.accept() {
                Ok((mut s, peer)) => {
                    s.set_nonblocking(false).ok()?;
                    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
                    let mut req = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                        let n = s.read(&mut buf).ok()?;
                        if n == 0 {
                            break;
                        }
                        req.extend_from_slice(&buf[..n]);
                    }
                    let resp = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
                    s.write_all(resp.as_bytes()).ok()?;
                    return Some(peer.ip().to_string());
                }
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
        None
    });
    (port, t)
}

#[test]
#[ignore = "needs root: network namespaces and TUN devices"]
fn mapped_private_endpoint_reaches_a_loopback_server() {
    require_root();
    let (port, server) = http_server("hello from the blob twin\n");
    let map = format!("stfuncdata.blob.core.windows.net:443=127.0.0.1:{port}");
    let d = run(&["--map", &map, "--", "curl", "-sS", "-m", "10", "http://stfuncdata.blob.core.windows.net:443/"]);
    assert_eq!(d.stdout, "hello from the blob twin\n", "stderr: {}", d.stderr);
    assert_eq!(d.status.code(), Some(0));
    // The instance's private address 10.0.2.4 (no SNAT to a private endpoint) as 127.0.2.4.
    assert_eq!(server.join().unwrap().as_deref(), Some("127.0.2.4"));
    assert!(d.stderr.contains("10.0.1.4:443") && d.stderr.contains("allowed"), "summary: {}", d.stderr);
}

#[test]
#[ignore = "needs root: network namespaces and TUN devices"]
fn denied_flow_times_out_and_names_the_rule() {
    require_root();
    let d = run(&["--", "curl", "-sS", "-m", "3", "http://www.example.org/"]);
    assert_eq!(d.status.code(), Some(28), "stderr: {}", d.stderr);
    assert!(d.stderr.contains("vnetlab: DENY tcp 10.0.2.4:"), "{}", d.stderr);
    assert!(d.stderr.contains("-> 198.51.100.80:80 by NSG nsg-int rule DenyInternetOut (priority 300)"), "{}", d.stderr);
}

#[test]
#[ignore = "needs root: network namespaces and TUN devices"]
fn denied_flow_with_reject_fails_fast() {
    require_root();
    let d = run(&["--reject", "--", "curl", "-sS", "-m", "10", "http://www.example.org/"]);
    assert_eq!(d.status.code(), Some(7), "stderr: {}", d.stderr);
    assert!(d.stderr.contains("DenyInternetOut"), "{}", d.stderr);
}

#[test]
#[ignore = "needs root: network namespaces and TUN devices"]
fn refused_host_connect_resets_the_app() {
    require_root();
    // A port nothing listens on: bind, note it, close.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let map = format!("10.0.1.4:443=127.0.0.1:{port}");
    let d = run(&["--map", &map, "--", "curl", "-sS", "-m", "10", "http://10.0.1.4:443/"]);
    assert_eq!(d.status.code(), Some(7), "curl should see a refused connect: {}", d.stderr);
    assert!(d.stderr.contains("1 refused"), "{}", d.stderr);
}

#[test]
#[ignore = "needs root: network namespaces and TUN devices"]
fn exit_status_is_the_commands() {
    require_root();
    let d = run(&["--quiet", "--", "sh", "-c", "exit 42"]);
    assert_eq!(d.status.code(), Some(42));
    assert!(!d.stderr.contains("flows by destination"), "--quiet: {}", d.stderr);
}

/// PIDs whose parent is `ppid` and whose command name is `comm` (from /proc).
fn children_of(ppid: u32, comm: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        // "pid (comm) state ppid ...": comm may hold spaces, so split after ')'.
        let parent = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1)).and_then(|p| p.parse::<u32>().ok());
        let name = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if parent == Some(ppid) && name.trim_end() == comm {
            out.push(pid);
        }
    }
    out
}

#[test]
#[ignore = "needs root: network namespaces and TUN devices"]
fn sigterm_reaches_the_command() {
    require_root();
    let before = netns_list();
    let child = spawn(&["--", "sh", "-c", "trap 'exit 7' TERM; while :; do sleep 0.1; done"]);
    let pid = child.id();
    let deadline = Instant::now() + TIMEOUT;
    let cmd = loop {
        // vnetlab's other children are short-lived `ip` commands.
        if let Some(&c) = children_of(pid, "sh").first() {
            break c;
        }
        assert!(Instant::now() < deadline, "the command never started");
        std::thread::sleep(Duration::from_millis(20));
    };
    // Let sh install its trap (it is in the loop once it has a child of its own).
    let deadline = Instant::now() + TIMEOUT;
    while children_of(cmd, "sleep").is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: signalling the vnetlab process this test started, by its PID.
    unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
    let d = finish(child);
    assert_eq!(d.status.code(), Some(7), "stderr: {}", d.stderr);
    assert!(!std::path::Path::new(&format!("/proc/{cmd}")).exists(), "the command {cmd} is still there");
    assert_eq!(netns_list(), before);
}

#[test]
#[ignore = "needs root: network namespaces and TUN devices"]
fn udp_is_relayed_to_a_mapped_echo_server() {
    require_root();
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = sock.local_addr().unwrap().port();
    sock.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let echo = std::thread::spawn(move || {
        let deadline = Instant::now() + TIMEOUT;
        let mut buf = [0u8; 512];
        while Instant::now() < deadline {
            if let Ok((n, peer)) = sock.recv_from(&mut buf) {
                let reply = format!("{} from {}", String::from_utf8_lossy(&buf[..n]), peer.ip());
                let _ = sock.send_to(reply.as_bytes(), peer);
                return true;
            }
        }
        false
    });
    let map = format!("10.0.1.4:5353=127.0.0.1:{port}");
    let script = "import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(5); \
s.sendto(b'ping', ('10.0.1.4', 5353)); print(s.recv(100).decode())";
    let d = run(&["--map", &map, "--", "python3", "-c", script]);
    assert!(echo.join().unwrap(), "the echo server got nothing: {}", d.stderr);
    assert_eq!(d.stdout.trim(), "ping from 127.0.2.4", "stderr: {}", d.stderr);
    assert_eq!(d.status.code(), Some(0));
}
