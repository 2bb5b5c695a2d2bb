//! `vnetlab run` as a developer runs it: real commands (curl, sh, python3)
//! behind the engine, with the embedded default scenario. Allowed flows are
//! always mapped to services this test starts on loopback; the denied one
//! (www.example.org, 198.51.100.80) never leaves. Each run must leave
//! nothing: no named namespace, no resolv.conf copy, no child process.
//! Needs root (ignored otherwise; run as non-root they fail saying so).
//! Every wait is bounded; processes are ended by their PID only.

mod common;

use common::{finish, require_root, Done, NO_UPSTREAM};

use std::io::{Read, Write};
use std::net::{TcpListener, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(40);

fn netns_list() -> Vec<String> {
    vnetlab_testbed::netns::list().unwrap_or_default()
}

fn spawn(args: &[&str]) -> Child {
    let upstream: &[&str] = if args.contains(&"--dns-upstream") { &[] } else { &["--dns-upstream", NO_UPSTREAM] };
    Command::new(env!("CARGO_BIN_EXE_vnetlab"))
        .arg("run")
        .args(upstream)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start vnetlab")
}

/// Runs vnetlab and checks it left nothing behind.
fn run(args: &[&str]) -> Done {
    let before = netns_list();
    let done = finish(spawn(args), TIMEOUT, String::new);
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
    let d = finish(child, TIMEOUT, String::new);
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

/// A DNS server on loopback for the test: every A query gets `answer`;
/// returns its port and the names it was asked (bounded in time and count).
fn dns_server(answer: [u8; 4]) -> (u16, std::thread::JoinHandle<Vec<String>>) {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = sock.local_addr().unwrap().port();
    sock.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let t = std::thread::spawn(move || {
        let (deadline, mut asked) = (Instant::now() + TIMEOUT, Vec::new());
        let mut buf = [0u8; 512];
        while Instant::now() < deadline && asked.len() < 16 {
            let Ok((n, peer)) = sock.recv_from(&mut buf) else { continue };
            // The question's name: labels from byte 12 to the zero label.
            let (mut i, mut labels) = (12, Vec::new());
            while i < n && buf[i] != 0 {
                let len = buf[i] as usize;
                labels.push(String::from_utf8_lossy(&buf[i + 1..(i + 1 + len).min(n)]).into_owned());
                i += 1 + len;
            }
            asked.push(labels.join("."));
            let qend = (i + 5).min(n);
            let mut reply = buf[..qend].to_vec();
            reply[2] = 0x81;
            reply[3] = 0x80;
            reply[7] = 1;
            reply.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
            reply.extend_from_slice(&answer);
            let _ = sock.send_to(&reply, peer);
            if asked.iter().any(|a| a == "done.invalid") {
                break;
            }
        }
        asked
    });
    (port, t)
}

#[test]
#[ignore = "needs root: network namespaces and TUN devices"]
fn unknown_public_names_resolve_through_the_upstream_and_private_ones_through_the_model() {
    require_root();
    let (port, server) = dns_server([198, 51, 100, 99]);
    let upstream = format!("127.0.0.1:{port}");
    let script =
        "import socket\nfor n in ('api.unknown-example.net', 'stfuncdata.blob.core.windows.net', 'www.example.org'):\n    print(n, socket.gethostbyname(n))\n\
try:\n    socket.gethostbyname('done.invalid')\nexcept OSError:\n    pass";
    let d = run(&["--quiet", "--dns-upstream", &upstream, "--", "python3", "-c", script]);
    let asked = server.join().unwrap();
    assert_eq!(d.status.code(), Some(0), "stderr: {}", d.stderr);
    let lines: Vec<&str> = d.stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "api.unknown-example.net 198.51.100.99",
            // The private endpoint's zone and the scenario's public DNS answer as before.
            "stfuncdata.blob.core.windows.net 10.0.1.4",
            "www.example.org 198.51.100.80",
        ],
        "stderr: {}",
        d.stderr
    );
    assert!(asked.iter().all(|n| n != "stfuncdata.blob.core.windows.net" && n != "www.example.org"), "the model's names went upstream: {asked:?}");
    assert!(asked.iter().any(|n| n == "api.unknown-example.net"), "{asked:?}");
}

#[test]
#[ignore = "needs root: network namespaces and TUN devices"]
fn a_bad_dns_upstream_is_an_error_naming_the_flag() {
    require_root();
    let d = run(&["--dns-upstream", "resolver.example", "--", "true"]);
    assert_eq!(d.status.code(), Some(2));
    assert!(d.stderr.contains("--dns-upstream resolver.example"), "{}", d.stderr);
}

/// `VAR=value` lines of `env` output.
fn env_lines(stdout: &str) -> std::collections::BTreeMap<String, String> {
    stdout.lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
#[ignore = "needs root: network namespaces and TUN devices"]
fn the_command_gets_app_services_environment_and_resolv_conf() {
    require_root();
    let d = run(&["--quiet", "--", "sh", "-c", "env; echo RESOLV=$(grep nameserver /etc/resolv.conf)"]);
    assert_eq!(d.status.code(), Some(0), "stderr: {}", d.stderr);
    let env = env_lines(&d.stdout);
    for (k, v) in [
        ("WEBSITE_PRIVATE_IP", "10.0.2.4"),
        ("WEBSITE_SITE_NAME", "func-app"),
        ("WEBSITE_HOSTNAME", "func-app.azurewebsites.net"),
        ("WEBSITE_RESOURCE_GROUP", "rg-vnetlab"),
        ("WEBSITE_OWNER_NAME", "00000000-0000-0000-0000-000000000000+rg-vnetlab-westeuropewebspace-Linux"),
        ("REGION_NAME", "westeurope"),
        ("WEBSITE_SKU", "ElasticPremium"),
        ("WEBSITE_VNET_ROUTE_ALL", "1"),
        ("RESOLV", "nameserver 168.63.129.16"),
    ] {
        assert_eq!(env.get(k).map(String::as_str), Some(v), "{k} in {}", d.stdout);
    }
    let id = &env["WEBSITE_INSTANCE_ID"];
    assert!(id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
}

#[test]
#[ignore = "needs root: network namespaces and TUN devices"]
fn app_settings_of_a_template_reach_the_command_with_and_without_the_prefix() {
    require_root();
    let template = r#"{
      "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
      "contentVersion": "1.0.0.0",
      "resources": [
        {"type": "Microsoft.Network/virtualNetworks", "apiVersion": "2023-09-01", "name": "vnet", "location": "northeurope",
         "properties": {"addressSpace": {"addressPrefixes": ["10.20.0.0/16"]},
           "subnets": [{"name": "apps", "properties": {"addressPrefix": "10.20.1.0/24"}}]}},
        {"type": "Microsoft.Web/serverfarms", "apiVersion": "2023-12-01", "name": "plan", "location": "northeurope", "sku": {"name": "S1", "tier": "Standard"}},
        {"type": "Microsoft.Web/sites", "apiVersion": "2023-12-01", "name": "orders", "location": "northeurope",
         "properties": {"serverFarmId": "[resourceId('Microsoft.Web/serverfarms', 'plan')]",
           "virtualNetworkSubnetId": "[resourceId('Microsoft.Network/virtualNetworks/subnets', 'vnet', 'apps')]",
           "outboundIpAddresses": "198.51.100.40",
           "siteConfig": {"appSettings": [{"name": "WEBSITE_DNS_SERVER", "value": "10.20.0.4"}, {"name": "Greeting", "value": "hello world"}]}}}
      ]
    }"#;
    let path = std::env::temp_dir().join(format!("vnetlab-test-{}-appsettings.json", std::process::id()));
    std::fs::write(&path, template).unwrap();
    let d = run(&["-t", path.to_str().unwrap(), "--quiet", "--", "env"]);
    let _ = std::fs::remove_file(&path);
    assert_eq!(d.status.code(), Some(0), "stderr: {}", d.stderr);
    let env = env_lines(&d.stdout);
    for (k, v) in [
        ("WEBSITE_PRIVATE_IP", "10.20.1.4"),
        ("WEBSITE_SITE_NAME", "orders"),
        ("REGION_NAME", "northeurope"),
        ("WEBSITE_SKU", "Standard"),
        ("WEBSITE_VNET_ROUTE_ALL", "0"),
        ("WEBSITE_DNS_SERVER", "10.20.0.4"),
        ("Greeting", "hello world"),
        ("APPSETTING_WEBSITE_DNS_SERVER", "10.20.0.4"),
        ("APPSETTING_Greeting", "hello world"),
    ] {
        assert_eq!(env.get(k).map(String::as_str), Some(v), "{k} in {}", d.stdout);
    }
}

/// A process that exists and is not a zombie.
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().next()).is_some_and(|state| state != "Z"),
        Err(_) => false,
    }
}

/// Interface names of the root network namespace.
fn root_links() -> std::collections::BTreeSet<String> {
    let out = Command::new("ip").args(["-o", "link"]).output().expect("ip -o link");
    String::from_utf8_lossy(&out.stdout).lines().filter_map(|l| l.split(": ").nth(1)).map(|n| n.split('@').next().unwrap_or(n).to_string()).collect()
}

fn leftover_files(pid: u32) -> Vec<String> {
    let prefix = format!("vnetlab-run-{pid}-");
    std::fs::read_dir(std::env::temp_dir())
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|n| n.starts_with(&prefix))
        .collect()
}

#[test]
#[ignore = "needs root: network namespaces and TUN devices"]
fn kill_9_leaves_nothing_behind() {
    require_root();
    let (ns_before, links_before) = (netns_list(), root_links());
    let mut child = spawn(&["--", "sleep", "30"]);
    let pid = child.id();
    let deadline = Instant::now() + TIMEOUT;
    let sleep = loop {
        if let Some(&c) = children_of(pid, "sleep").first() {
            break c;
        }
        assert!(Instant::now() < deadline, "the command never started");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(leftover_files(pid).is_empty(), "a file while running: {:?}", leftover_files(pid));
    // SAFETY: signalling the vnetlab process this test started, by its PID.
    unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
    let status = child.wait().expect("wait");
    assert_eq!(std::os::unix::process::ExitStatusExt::signal(&status), Some(libc::SIGKILL));
    let deadline = Instant::now() + Duration::from_secs(10);
    while alive(sleep) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!alive(pid), "vnetlab {pid} is still there");
    assert!(!alive(sleep), "the command {sleep} outlived vnetlab");
    assert!(children_of(pid, "ip").iter().all(|&p| !alive(p)), "an ip helper outlived vnetlab");
    assert_eq!(netns_list(), ns_before, "named namespaces changed");
    assert!(leftover_files(pid).is_empty(), "left behind: {:?}", leftover_files(pid));
    assert_eq!(root_links(), links_before, "interfaces of the root namespace changed");
}

#[test]
#[ignore = "needs root: network namespaces and TUN devices"]
fn quiet_leaves_stderr_to_the_command() {
    require_root();
    let d = run(&["--quiet", "--", "sh", "-c", "curl -sS -m 2 http://www.example.org/; echo from-cmd >&2"]);
    assert_eq!(d.status.code(), Some(0));
    assert!(!d.stderr.contains("vnetlab"), "--quiet: {}", d.stderr);
    assert!(d.stderr.contains("curl: (28)") && d.stderr.contains("from-cmd"), "{}", d.stderr);
}

#[test]
#[ignore = "needs root: network namespaces and TUN devices"]
fn summary_shows_each_destination_with_its_decision() {
    require_root();
    let (port, server) = http_server("ok\n");
    let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (ok_map, closed_map) = (format!("10.0.1.4:443=127.0.0.1:{port}"), format!("10.0.1.4:444=127.0.0.1:{closed}"));
    let script = "curl -s -m 5 http://10.0.1.4:443/; curl -s -m 5 http://10.0.1.4:444/; \
curl -s -m 2 http://10.0.1.4:8443/; curl -s -m 2 http://www.example.org/; true";
    let d = run(&["--map", &ok_map, "--map", &closed_map, "--", "sh", "-c", script]);
    assert_eq!(d.stdout, "ok\n", "stderr: {}", d.stderr);
    assert!(server.join().unwrap().is_some());
    let table: Vec<Vec<&str>> = d
        .stderr
        .lines()
        .skip_while(|l| *l != "vnetlab: flows by destination")
        .skip(2)
        .take_while(|l| l.starts_with("  "))
        .map(|l| l.split_whitespace().collect())
        .collect();
    let row = |dest: &str| {
        table.iter().find(|r| r[1] == dest).map(|r| (r[0], r[2], r[3], r[4..].join(" "))).unwrap_or_else(|| panic!("no row for {dest}: {}", d.stderr))
    };
    let (proto, decision, flows, by) = row("10.0.1.4:443");
    assert_eq!((proto, decision, flows), ("tcp", "allowed", "1"));
    assert!(by.contains(&format!("-> 127.0.0.1:{port}")), "{by}");
    assert_eq!(row("10.0.1.4:444").1, "refused");
    assert_eq!(row("10.0.1.4:8443").1, "unreachable");
    let (_, decision, flows, by) = row("198.51.100.80:80");
    assert_eq!((decision, flows), ("denied", "1"));
    assert_eq!(by, "by NSG nsg-int rule DenyInternetOut (priority 300)");
    assert!(d.stderr.contains("0 SNAT waits"), "{}", d.stderr);
}

/// The rootless path, as CI can exercise it as root: a private mount
/// namespace gets a 0666 TUN node bind-mounted over /dev/net/tun (as
/// Debian, Ubuntu and Fedora ship it), and vnetlab runs as uid 65534, so it
/// must make its own user namespace. Same flows, same answers.
#[test]
#[ignore = "needs root: network namespaces and TUN devices"]
fn an_unprivileged_user_gets_the_same_run() {
    require_root();
    let (port, server) = http_server("hello rootless\n");
    // Everything the unprivileged user needs, in a directory it can read:
    // the binary (the build tree may sit under a private home) and the node.
    let dir = std::env::temp_dir().join(format!("vnetlab-rootless-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bin = dir.join("vnetlab");
    std::fs::copy(env!("CARGO_BIN_EXE_vnetlab"), &bin).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let map = format!("stfuncdata.blob.core.windows.net:443=127.0.0.1:{port}");
    let script = format!(
        "set -e; mknod {d}/tun c 10 200; chmod 0666 {d}/tun; mount --bind {d}/tun /dev/net/tun; \
         exec setpriv --reuid 65534 --regid 65534 --clear-groups {bin} run --dns-upstream {NO_UPSTREAM} --map {map} -- \
         sh -c 'id -u; curl -sS -m 10 http://stfuncdata.blob.core.windows.net:443/; curl -s -m 3 http://www.example.org/; echo deny=$?; exit 42'",
        d = dir.display(),
        bin = bin.display()
    );
    let child = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("unshare");
    let d = finish(child, TIMEOUT, String::new);
    let _ = std::fs::remove_dir_all(&dir);
    // CMD's status, uid 0 inside its own user namespace, the page from the
    // mapped server, and the denied flow timing out (curl 28) with its rule named.
    assert_eq!(d.status.code(), Some(42), "stdout: {} stderr: {}", d.stdout, d.stderr);
    assert_eq!(d.stdout, "0\nhello rootless\ndeny=28\n", "stderr: {}", d.stderr);
    assert!(d.stderr.contains("DENY tcp 10.0.2.4:") && d.stderr.contains("rule DenyInternetOut (priority 300)"), "{}", d.stderr);
    assert_eq!(server.join().unwrap().as_deref(), Some("127.0.2.4"));
}
