//! `vnetlab eval`: ARM expressions evaluated offline and printed as JSON,
//! with or without a template's context; an invalid one exits 2 naming it.

use std::path::PathBuf;
use std::process::{Command, Output};

fn vnetlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vnetlab")).args(args).output().expect("runs vnetlab")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A template in a fresh folder of the test's own; the comment checks that
/// eval reads ARM's JSON dialect like every other command.
fn template() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vnetlab-cli-eval-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("t.json");
    let text = r#"{
  // parameters with and without a default
  "parameters": {"p": {"type": "string", "defaultValue": "def"}, "req": {"type": "int"}},
  "variables": {"v": "[concat(parameters('p'), '-v')]"},
  "functions": [{"namespace": "ns", "members": {"twice": {"parameters": [{"name": "x", "type": "int"}],
    "output": {"type": "int", "value": "[mul(parameters('x'), 2)]"}}}}],
  "resources": []
}"#;
    std::fs::write(&path, text).expect("writes the template");
    path
}

#[test]
fn context_free_expressions_print_json() {
    let o = vnetlab(&["eval", "concat('a','b')", "[add(1,2)]", "createArray(1, 'x')"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "\"ab\"\n3\n[1,\"x\"]\n");
    let o = vnetlab(&["eval", "--pretty", "createObject('a', 1)"]);
    assert_eq!(stdout(&o), "{\n  \"a\": 1\n}\n");
}

#[test]
fn template_context_parameters_variables_and_functions() {
    let t = template();
    let t = t.to_str().expect("utf-8 path");
    let o = vnetlab(&["eval", "-t", t, "parameters('p')", "variables('v')", "ns.twice(21)"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "\"def\"\n\"def-v\"\n42\n");
    let o = vnetlab(&["eval", "-t", t, "-p", "p=x", "[parameters('p')]", "variables('v')"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "\"x\"\n\"x-v\"\n");
    // A required parameter without a value is an error only when read.
    let o = vnetlab(&["eval", "-t", t, "parameters('req')"]);
    let _ = std::fs::remove_dir_all(std::path::Path::new(t).parent().expect("the template's folder"));
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("parameter 'req' has no value"), "{}", stderr(&o));
}

#[test]
fn invalid_expressions_exit_2_naming_them() {
    let o = vnetlab(&["eval", "add(1,2)", "nosuchfn(1)"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(stdout(&o), "3\n");
    let e = stderr(&o);
    assert!(e.contains("expression \"nosuchfn(1)\"") && e.contains("unsupported template function 'nosuchfn'"), "{e}");
    let o = vnetlab(&["eval", "parameters('p')"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("parameters('p'): no such parameter; declared: none"), "{}", stderr(&o));
    let o = vnetlab(&["eval", "concat('a'"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("expression \"concat('a'\""), "{}", stderr(&o));
}
