//! What the tests of the `vnetlab` binary share: the root requirement, the
//! local DNS upstream every `vnetlab run` in a test gets, and a bounded wait
//! for a started command that collects its output.

// Each test crate that includes this module uses only part of it.
#![allow(dead_code)]

use std::io::Read;
use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

/// Why the root-only tests are ignored (the `#[ignore]` attributes say it too).
pub const ROOT: &str = "needs root: network namespaces and TUN devices";

/// No test asks the host's resolver: names the model does not answer go to
/// this local port, where nothing listens (the query is simply lost).
pub const NO_UPSTREAM: &str = "127.0.0.1:9";

pub fn require_root() {
    assert!(vnetlab_testbed::is_root(), "{ROOT} (run the ignored tests as root)");
}

/// A finished command and what it printed.
pub struct Done {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub pid: u32,
}

/// Waits up to `timeout` for `child` (started with piped stdout and
/// stderr), reading both as it runs; on timeout kills it by its PID and
/// fails, adding `context()` to the message.
pub fn finish(mut child: Child, timeout: Duration, context: impl FnOnce() -> String) -> Done {
    let pid = child.id();
    let (mut out, mut err) = (child.stdout.take().expect("piped stdout"), child.stderr.take().expect("piped stderr"));
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
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{pid} did not finish within {timeout:?}{}", context());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Done { status, stdout: t_out.join().unwrap(), stderr: t_err.join().unwrap(), pid }
}
