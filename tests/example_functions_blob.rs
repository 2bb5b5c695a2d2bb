//! The dev-loop example (examples/functions-blob) run as a developer runs it,
//! with real software nobody here wrote: a Functions v2 Python app
//! (`azure-functions`) using the official `azure-storage-blob` SDK over HTTPS
//! against `https://stfuncdata.blob.core.windows.net`, which `vnetlab run
//! --map` sends to Azurite (npm) on loopback, TLS from a test CA made here.
//! The app also calls http://www.example.org/, which the embedded scenario's
//! NSG denies: it must time out (or be refused with --reject), never leave.
//! The software comes from scripts/install-deps.sh (Debian, npm, PyPI) into
//! target/example-deps; when it is missing the test fails quoting why.
//! Needs root (ignored otherwise). Every wait is bounded; Azurite and vnetlab
//! are ended by their PID only (Azurite also on panic, by a drop guard).

mod common;

use common::{finish, require_root, Done, NO_UPSTREAM};

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A whole `vnetlab run` of the example: SDK round trip plus a 3 s timeout.
const RUN_TIMEOUT: Duration = Duration::from_secs(120);
/// Node starting Azurite on a loaded 2-core machine.
const AZURITE_START: Duration = Duration::from_secs(60);
/// The storage account's key as the app and Azurite share it (Azurite's
/// published development key: a test secret, nothing real).
const ACCOUNT_KEY: &str = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Where scripts/install-deps.sh put Azurite and the venv.
struct Deps {
    azurite: PathBuf,
    python: PathBuf,
}

/// The installed software, or a failure that says why it is not there (the
/// installer records its reason beside the software).
fn deps() -> Deps {
    let dir = std::env::var_os("VNETLAB_EXAMPLE_DEPS").map(PathBuf::from).unwrap_or_else(|| repo().join("target/example-deps"));
    let dir = if dir.is_relative() { repo().join(dir) } else { dir };
    let d = Deps { azurite: dir.join("node_modules/.bin/azurite-blob"), python: dir.join("venv/bin/python") };
    if !d.azurite.exists() || !d.python.exists() {
        let why = std::fs::read_to_string(dir.join("install-error.txt")).unwrap_or_else(|_| "scripts/install-deps.sh has not run".into());
        panic!(
            "the example's software is not installed in {} (need {} and {}): {}; run `sudo scripts/install-deps.sh example`",
            dir.display(),
            d.azurite.display(),
            d.python.display(),
            why.trim()
        );
    }
    d
}

/// A fresh directory under the system temp dir, removed by `Azurite`'s drop.
fn temp_dir() -> PathBuf {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    let dir = std::env::temp_dir().join(format!("vnetlab-example-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Azurite serving the blob endpoint over HTTPS on 127.0.0.1:port; killed
/// (by the PID it was started with) and its directory removed on drop, so a
/// failing assertion leaves nothing running.
struct Azurite {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Azurite {
    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("azurite.log")).unwrap_or_default()
    }
}

/// Makes the test CA and the server certificate (examples/functions-blob/
/// make-certs.sh, openssl), then starts Azurite with them and waits (bounded)
/// until it accepts connections.
fn start_azurite(deps: &Deps) -> Azurite {
    let dir = temp_dir();
    let certs = Command::new("bash").arg(repo().join("examples/functions-blob/make-certs.sh")).arg(&dir).output().expect("run make-certs.sh (bash, openssl)");
    assert!(certs.status.success(), "make-certs.sh failed: {}", String::from_utf8_lossy(&certs.stderr));
    // A free port: bind, note it, close (Azurite binds it next).
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let log = std::fs::File::create(dir.join("azurite.log")).unwrap();
    let child = Command::new(&deps.azurite)
        .args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()])
        // In memory: nothing of the test's blobs outlives it. The SDK speaks a
        // newer API version than Azurite 3.35 knows (the calls used here exist
        // in both): skip the check rather than pin the app to an old version.
        .args(["--inMemoryPersistence", "--disableTelemetry", "--skipApiVersionCheck"])
        .arg("--cert")
        .arg(dir.join("server.pem"))
        .arg("--key")
        .arg(dir.join("server-key.pem"))
        .env("AZURITE_ACCOUNTS", format!("stfuncdata:{ACCOUNT_KEY}"))
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("start Azurite");
    let mut az = Azurite { child, port, dir };
    let deadline = Instant::now() + AZURITE_START;
    loop {
        if TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(1)).is_ok() {
            return az;
        }
        if let Some(st) = az.child.try_wait().unwrap() {
            panic!("Azurite exited ({st}) before listening: {}", az.log());
        }
        assert!(Instant::now() < deadline, "Azurite did not listen on 127.0.0.1:{port} within {AZURITE_START:?}: {}", az.log());
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A finished `vnetlab run`, with run_local.py's lines parsed:
/// `NAME: HTTP STATUS {json}`.
impl Done {
    /// The HTTP status and JSON body `function` answered.
    fn answer(&self, function: &str) -> (u16, serde_json::Value) {
        let prefix = format!("{function}: HTTP ");
        let line = self.stdout.lines().find_map(|l| l.strip_prefix(&prefix));
        let line = line.unwrap_or_else(|| panic!("no answer from {function}:\nstdout: {}\nstderr: {}", self.stdout, self.stderr));
        let (status, body) = line.split_once(' ').expect("STATUS BODY");
        (status.parse().unwrap(), serde_json::from_str(body).unwrap_or_else(|e| panic!("{function}'s body {body}: {e}")))
    }
}

/// Runs the example app (run_local.py in the venv) behind `vnetlab run`,
/// with the storage account mapped to Azurite; waits bounded, kills vnetlab
/// by its PID on timeout.
fn run_example(deps: &Deps, az: &Azurite, extra: &[&str], text: &str) -> Done {
    let map = format!("stfuncdata.blob.core.windows.net:443=127.0.0.1:{}", az.port);
    let ca = az.dir.join("ca.pem");
    let child = Command::new(env!("CARGO_BIN_EXE_vnetlab"))
        .arg("run")
        .args(["--dns-upstream", NO_UPSTREAM])
        .args(extra)
        .args(["--map", &map, "--"])
        .arg(&deps.python)
        .arg(repo().join("examples/functions-blob/run_local.py"))
        // requests (under the SDK) trusts REQUESTS_CA_BUNDLE; urllib SSL_CERT_FILE.
        .env("REQUESTS_CA_BUNDLE", &ca)
        .env("SSL_CERT_FILE", &ca)
        .env("STORAGE_ACCOUNT_KEY", ACCOUNT_KEY)
        .env("ROUNDTRIP_TEXT", text)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start vnetlab");
    finish(child, RUN_TIMEOUT, || format!("; Azurite: {}", az.log()))
}

/// Checks the blob round trip and the DENY line, common to both runs.
fn assert_roundtrip_and_deny(d: &Done, text: &str) {
    let (status, body) = d.answer("blob_roundtrip");
    assert_eq!(status, 200, "blob_roundtrip: {body}\nstderr: {}", d.stderr);
    assert_eq!(body["wrote"], text);
    assert_eq!(body["read"], text, "the blob read back differs from what was written");
    assert_eq!(body["url"], "https://stfuncdata.blob.core.windows.net/vnetlab-example/roundtrip.txt");
    assert_eq!(d.status.code(), Some(0), "run_local.py's exit status; stderr: {}", d.stderr);
    assert!(d.stderr.contains("vnetlab: DENY tcp 10.0.2.4:"), "{}", d.stderr);
    assert!(d.stderr.contains("-> 198.51.100.80:80 by NSG nsg-int rule DenyInternetOut (priority 300)"), "{}", d.stderr);
    // The SDK's HTTPS went to the private endpoint, then to Azurite.
    assert!(d.stderr.contains("10.0.1.4:443") && d.stderr.contains("allowed"), "summary: {}", d.stderr);
}

/// A text no earlier run (or another test process) wrote.
fn unique_text(tag: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("hello from func-app through vnetlab ({tag} {} {nanos})", std::process::id())
}

#[test]
#[ignore = "needs root: network namespaces and TUN devices"]
fn blob_roundtrip_through_the_private_endpoint_and_denied_egress() {
    require_root();
    let deps = deps();
    let az = start_azurite(&deps);

    // As on Azure: the denied call hangs until the app's own timeout.
    let text = unique_text("drop");
    let d = run_example(&deps, &az, &[], &text);
    assert_roundtrip_and_deny(&d, &text);
    let (status, body) = d.answer("egress_check");
    assert_eq!((status, body["outcome"].as_str()), (504, Some("timeout")), "egress_check: {body}\nstderr: {}", d.stderr);
    assert_eq!(body["url"], "http://www.example.org/");

    // --reject: the same call is answered with a reset at once.
    let text = unique_text("reject");
    let d = run_example(&deps, &az, &["--reject"], &text);
    assert_roundtrip_and_deny(&d, &text);
    let (status, body) = d.answer("egress_check");
    assert_eq!(status, 502, "egress_check: {body}\nstderr: {}", d.stderr);
    let outcome = body["outcome"].as_str().unwrap_or_default();
    assert!(outcome == "refused" || outcome == "reset", "with --reject the denied call must fail by RST, not {body}");
}
