//! `vnetlab run --publish`: an HTTP server started as CMD in the app's
//! namespace (python3 -m http.server on 0.0.0.0:7071), called from this
//! machine through the published port, with the site's access
//! restrictions in a template written to a temporary file. Clients bind to
//! 127.0.0.N before connecting and `--client-source` says which public
//! address each stands for. Needs root (ignored otherwise).
//!
//! Every wait is bounded: the app is ready when the allowed client gets
//! its page (vnetlab answers 502 until the app listens); vnetlab is ended
//! by SIGTERM to its own PID, which it forwards to CMD.

mod common;

use common::{require_root, NO_UPSTREAM};

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::fd::FromRawFd;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const TIMEOUT: Duration = Duration::from_secs(40);
const BODY: &str = "hello from the app\n";

/// A directory for this test: the template and the app's index.html.
fn workdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("vnetlab-publish-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("index.html"), BODY).unwrap();
    d
}

/// An integrated site `app` (instance 10.0.2.4) with `site_config`.
fn template(dir: &std::path::Path, site_config: Value) -> PathBuf {
    let t = json!({"resources": [
        {"type": "Microsoft.Network/virtualNetworks", "name": "vnet", "properties": {
            "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
            "subnets": [{"name": "integration", "properties": {"addressPrefix": "10.0.2.0/24"}}]}},
        {"type": "Microsoft.Web/serverfarms", "name": "plan", "sku": {"name": "P1v3", "tier": "PremiumV3"}},
        {"type": "Microsoft.Web/sites", "name": "app", "kind": "app", "properties": {
            "serverFarmId": "[resourceId('Microsoft.Web/serverfarms', 'plan')]",
            "virtualNetworkSubnetId": "[resourceId('Microsoft.Network/virtualNetworks/subnets', 'vnet', 'integration')]",
            "outboundIpAddresses": "198.51.100.10",
            "siteConfig": site_config}}
    ]});
    let p = dir.join("template.json");
    std::fs::write(&p, serde_json::to_string_pretty(&t).unwrap()).unwrap();
    p
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `vnetlab run` serving `dir` with python3 on 0.0.0.0:7071 in the app's namespace.
fn spawn(template: &std::path::Path, dir: &std::path::Path, extra: &[String]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_vnetlab"))
        .arg("run")
        .args(["--dns-upstream", NO_UPSTREAM])
        .arg("-t")
        .arg(template)
        .args(extra)
        .args(["--", "python3", "-m", "http.server", "7071", "--bind", "0.0.0.0", "--directory"])
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start vnetlab")
}

/// Ends vnetlab (SIGTERM, forwarded to CMD) and returns its stderr.
fn stop(mut child: Child) -> String {
    // SAFETY: signalling the vnetlab process this test started, by its PID.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let mut err = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + TIMEOUT;
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("vnetlab did not stop within {TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    reader.join().unwrap()
}

/// GET / on 127.0.0.1:`port` from a socket bound to `from`: the status code and body.
fn get(from: Ipv4Addr, port: u16) -> std::io::Result<(u16, String)> {
    let sin = |a: Ipv4Addr, p: u16| libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: p.to_be(),
        sin_addr: libc::in_addr { s_addr: u32::from(a).to_be() },
        sin_zero: [0; 8],
    };
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: a new socket, owned at once by the TcpStream; the addresses
    // are valid sockaddr_in values of the given length.
    let mut s = unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let s = TcpStream::from_raw_fd(fd);
        let (local, remote) = (sin(from, 0), sin(Ipv4Addr::LOCALHOST, port));
        if libc::bind(fd, (&local as *const libc::sockaddr_in).cast(), len) != 0 || libc::connect(fd, (&remote as *const libc::sockaddr_in).cast(), len) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        s
    };
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.write_all(b"GET / HTTP/1.1\r\nHost: app.azurewebsites.net\r\nConnection: close\r\n\r\n")?;
    let mut resp = String::new();
    s.read_to_string(&mut resp)?;
    let status = resp.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = resp.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    Ok((status, body))
}

/// Polls (bounded) until `from` gets an answer other than 502 (the app not
/// listening yet) and returns it.
fn get_when_ready(from: Ipv4Addr, port: u16) -> (u16, String) {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        match get(from, port) {
            Ok((502, _)) | Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            Ok(r) => return r,
            Err(e) => panic!("no answer on port {port} within {TIMEOUT:?}: {e}"),
        }
    }
}

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

fn sources() -> Vec<String> {
    ["--client-source", "127.0.0.7=198.51.100.7", "--client-source", "127.0.0.9=198.51.100.9"].iter().map(|s| s.to_string()).collect()
}

#[test]
#[ignore = "needs root: network namespaces and TUN devices"]
fn restrictions_let_the_allowed_client_in_and_answer_others_403() {
    require_root();
    let dir = workdir("rules");
    let t = template(
        &dir,
        json!({"ipSecurityRestrictions": [
            {"name": "AllowPartner", "priority": 100, "action": "Allow", "ipAddress": "198.51.100.7/32"},
            {"name": "DenyBadGuys", "priority": 200, "action": "Deny", "ipAddress": "198.51.100.9/32"}
        ]}),
    );
    let (port, scm_port) = (free_port(), free_port());
    let mut args = vec!["--publish".to_string(), format!("127.0.0.1:{port}:7071"), "--publish-scm".into(), format!("{scm_port}:7071")];
    args.extend(sources());
    let child = spawn(&t, &dir, &args);
    let allowed = get_when_ready(ip("127.0.0.7"), port);
    let denied = get(ip("127.0.0.9"), port).expect("answer");
    let unmapped = get(ip("127.0.0.1"), port).expect("answer");
    // The scm site has no restrictions of its own: open to 198.51.100.9.
    let scm = get(ip("127.0.0.9"), scm_port).expect("answer");
    let stderr = stop(child);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(allowed, (200, BODY.to_string()), "stderr: {stderr}");
    assert_eq!(denied, (403, "vnetlab: access restriction DenyBadGuys (priority 200) denies 198.51.100.9\n".to_string()), "stderr: {stderr}");
    assert_eq!(unmapped, (403, "vnetlab: implicit deny after 2 access restriction(s) denies 198.51.100.1\n".to_string()));
    assert_eq!(scm, (200, BODY.to_string()));
    assert!(stderr.contains("vnetlab: DENY inbound 127.0.0.9:") && stderr.contains("(as 198.51.100.9)"), "{stderr}");
}

#[test]
#[ignore = "needs root: network namespaces and TUN devices"]
fn no_rules_let_everyone_in() {
    require_root();
    let dir = workdir("open");
    let t = template(&dir, json!({}));
    let port = free_port();
    let mut args = vec!["--publish".to_string(), format!("{port}:7071")];
    args.extend(sources());
    let child = spawn(&t, &dir, &args);
    let nine = get_when_ready(ip("127.0.0.9"), port);
    let unmapped = get(ip("127.0.0.1"), port).expect("answer");
    let stderr = stop(child);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(nine, (200, BODY.to_string()), "stderr: {stderr}");
    assert_eq!(unmapped, (200, BODY.to_string()));
}

#[test]
#[ignore = "needs root: network namespaces and TUN devices"]
fn default_action_deny_without_rules_answers_403() {
    require_root();
    let dir = workdir("deny");
    let t = template(&dir, json!({"ipSecurityRestrictionsDefaultAction": "Deny"}));
    let port = free_port();
    let mut args = vec!["--publish".to_string(), format!("{port}:7071")];
    args.extend(sources());
    let child = spawn(&t, &dir, &args);
    // Denied before the app is asked: no wait for it to listen.
    let seven = get_when_ready(ip("127.0.0.7"), port);
    let stderr = stop(child);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(seven.0, 403, "stderr: {stderr}");
    assert_eq!(seven.1, "vnetlab: default action Deny (siteConfig.ipSecurityRestrictionsDefaultAction) denies 198.51.100.7\n");
}

#[test]
#[ignore = "needs root: network namespaces and TUN devices"]
fn a_closed_app_port_answers_502() {
    require_root();
    let dir = workdir("closed");
    let t = template(&dir, json!({}));
    let port = free_port();
    // The app listens on 7071; 7072 is published, where nothing listens.
    let child = spawn(&t, &dir, &["--publish".to_string(), format!("{port}:7072")]);
    let deadline = Instant::now() + TIMEOUT;
    let answer = loop {
        match get(ip("127.0.0.1"), port) {
            Ok(r) => break r,
            Err(e) => assert!(Instant::now() < deadline, "vnetlab never listened: {e}"),
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let stderr = stop(child);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(answer.0, 502, "stderr: {stderr}");
    assert!(answer.1.starts_with("vnetlab: the app does not answer on 10.0.2.4:7072"), "{}", answer.1);
}
