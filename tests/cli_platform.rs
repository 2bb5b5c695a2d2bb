//! The platform endpoints as an app under `vnetlab run` sees them: IMDS
//! with and without `Metadata: true` (curl), DNS over TCP at
//! 168.63.129.16 (dig +tcp, or python3 where dig is missing), and a
//! platform port without an endpoint refused. Embedded default scenario
//! (instance 10.0.2.4; stfuncdata.blob.core.windows.net -> 10.0.1.4).
//! Needs root (ignored otherwise). Every wait is bounded.

mod common;

use common::{finish, NO_UPSTREAM};

use std::process::{Command, Stdio};
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(60);

/// `vnetlab run -- sh -c SCRIPT`: (exit code, stdout, stderr).
fn run_sh(script: &str) -> (Option<i32>, String, String) {
    let child = Command::new(env!("CARGO_BIN_EXE_vnetlab"))
        .args(["run", "--quiet", "--dns-upstream", NO_UPSTREAM, "--", "sh", "-c", script])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start vnetlab");
    let d = finish(child, TIMEOUT, String::new);
    (d.status.code(), d.stdout, d.stderr)
}

fn have(cmd: &str) -> bool {
    Command::new("sh").args(["-c", &format!("command -v {cmd}")]).stdout(Stdio::null()).status().is_ok_and(|s| s.success())
}

/// DNS over TCP from inside the app's namespace, printing the A records.
fn dns_over_tcp(name: &str) -> String {
    if have("dig") {
        return format!("dig +tcp +short +time=3 +tries=1 @168.63.129.16 {name}");
    }
    // The same with python3: one framed query, the A records of the answer.
    let py = r#"
import socket,struct,sys
n=sys.argv[1]
q=struct.pack('>HHHHHH',0x5151,0x0100,1,0,0,0)+b''.join(bytes([len(l)])+l.encode() for l in n.split('.'))+b'\0'+struct.pack('>HH',1,1)
s=socket.create_connection(('168.63.129.16',53),timeout=3)
s.sendall(struct.pack('>H',len(q))+q)
b=b''
while len(b)<2 or len(b)<2+struct.unpack('>H',b[:2])[0]:
    c=s.recv(4096)
    if not c: break
    b+=c
m=b[2:]
an=struct.unpack('>H',m[6:8])[0]
i=len(q)
for _ in range(an):
    t,l=struct.unpack('>H',m[i+2:i+4])[0],struct.unpack('>H',m[i+10:i+12])[0]
    if t==1: print('.'.join(str(x) for x in m[i+12:i+16]))
    i+=12+l
"#;
    format!("python3 -c '{}' {name}", py.replace('\'', "\""))
}

#[test]
#[ignore = "needs root: network namespaces and TUN devices"]
fn imds_dns_over_tcp_and_a_refused_port_under_run() {
    assert!(vnetlab_testbed::is_root(), "needs root: network namespaces and TUN devices");
    let url = "http://169.254.169.254/metadata/instance?api-version=2021-02-01";
    let script = format!(
        "curl -s -m 5 -H Metadata:true '{url}'; echo; \
         echo \"code=$(curl -s -m 5 -o /dev/null -w '%{{http_code}}' '{url}')\"; \
         echo \"dns=$({} | tr '\\n' ' ')\"; \
         curl -s -m 3 http://168.63.129.16:8080/; echo \"refused=$?\"",
        dns_over_tcp("stfuncdata.blob.core.windows.net")
    );
    let (code, out, err) = run_sh(&script);
    assert_eq!(code, Some(0), "stdout: {out}\nstderr: {err}");
    let mut lines = out.lines();
    let json: serde_json::Value = serde_json::from_str(lines.next().unwrap_or("")).unwrap_or_else(|e| panic!("IMDS JSON: {e}\n{out}\n{err}"));
    assert_eq!(json["network"]["interface"][0]["ipv4"]["ipAddress"][0]["privateIpAddress"], "10.0.2.4", "{out}");
    assert_eq!(json["compute"]["name"], "func-app");
    assert_eq!(lines.next(), Some("code=400"), "{out}");
    let dns = lines.next().unwrap_or("");
    assert!(dns.starts_with("dns=") && dns.split_whitespace().any(|w| w.trim_start_matches("dns=") == "10.0.1.4"), "{out}\n{err}");
    assert_eq!(lines.next(), Some("refused=7"), "curl: connection refused (RST)\n{out}");
}
