//! Hostile input through the `vnetlab` binary as users run it: a template
//! path that is a device (`/dev/zero` never ends) is refused at once,
//! whether given with `-t` or by a conformance case file. No root needed.

use std::process::{Command, Output};

fn vnetlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vnetlab")).args(args).output().unwrap_or_else(|e| panic!("vnetlab {args:?}: {e}"))
}

#[test]
fn a_device_as_template_is_refused() {
    let out = vnetlab(&["routes", "-t", "/dev/zero"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("/dev/zero: not a regular file"), "{err}");
}

#[test]
fn a_case_file_naming_a_device_fails_with_a_clear_error() {
    let dir = std::env::temp_dir().join(format!("vnetlab-cli-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let case = dir.join("zero.json");
    std::fs::write(&case, r#"{"name": "zero", "template": "/dev/zero", "checks": []}"#).unwrap_or_else(|e| panic!("{}: {e}", case.display()));
    let out = vnetlab(&["conformance", &dir.display().to_string()]);
    let _ = std::fs::remove_dir_all(&dir);
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("cannot read template '/dev/zero': not a regular file") && text.contains("0 passed, 1 failed"), "{text}");
}
