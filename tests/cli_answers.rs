//! Exit codes of the `vnetlab` binary for refused arguments (issue 9,
//! "Consistency and noise"): `conformance` on a path with no case files
//! exits 2 with a message naming the path, instead of "0 passed, 0 failed".

use std::process::Command;

#[test]
fn conformance_on_a_path_without_cases_exits_two() {
    let dir = std::env::temp_dir().join(format!("vnetlab-cli-no-cases-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let out = Command::new(env!("CARGO_BIN_EXE_vnetlab")).args(["conformance", &dir.display().to_string()]).output().unwrap_or_else(|e| panic!("vnetlab: {e}"));
    let _ = std::fs::remove_dir_all(&dir);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("no conformance cases in") && err.contains(&dir.display().to_string()), "{err}");
}
