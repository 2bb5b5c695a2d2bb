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

/// `reference()` reads the template's own resources, as inside the
/// template; a resource whose name needs a parameter nobody gave cannot be
/// enumerated and reads as unknown, while the rest still answer.
#[test]
fn references_read_the_templates_resources() {
    let dir = std::env::temp_dir().join(format!("vnetlab-cli-eval-ref-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("r.json");
    let text = r#"{
  "parameters": {"p": {"type": "string", "defaultValue": "def"}, "req": {"type": "int"}},
  "resources": [
    {"type": "Microsoft.Network/publicIPAddresses", "apiVersion": "2023-04-01", "name": "[concat(parameters('p'), '-pip')]",
     "properties": {"publicIPAllocationMethod": "Static"}},
    {"type": "Microsoft.Network/virtualNetworks", "apiVersion": "2023-04-01", "name": "[concat('vnet-', string(parameters('req')))]",
     "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}}}
  ]
}"#;
    std::fs::write(&path, text).expect("writes the template");
    let t = path.to_str().expect("utf-8 path");
    let o = vnetlab(&["eval", "-t", t, "reference('def-pip').publicIPAllocationMethod", "reference('vnet-1').addressSpace"]);
    let with_req = vnetlab(&["eval", "-t", t, "-p", "req=1", "reference('vnet-1').addressSpace.addressPrefixes[0]"]);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "\"Static\"", "{out}");
    assert!(lines[1].starts_with("\"<runtime:") && lines[1].contains("vnet-1"), "{out}");
    assert!(with_req.status.success(), "{}", stderr(&with_req));
    assert_eq!(stdout(&with_req), "\"10.0.0.0/16\"\n");
}
