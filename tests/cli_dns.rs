//! Public names in the static commands (issue 9): `verify` and `resolve`
//! answer a name no private zone and no `--public-dns` entry answers with a
//! placeholder public address and one warning per name, instead of NXDOMAIN.

use std::process::{Command, Output};

fn vnetlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vnetlab")).args(args).output().unwrap_or_else(|e| panic!("vnetlab: {e}"))
}

/// A site with Route All off in a fresh folder of the test's own (named
/// after `test`, as tests run in parallel).
fn with_template(test: &str, f: impl FnOnce(&str)) {
    let dir = std::env::temp_dir().join(format!("vnetlab-cli-dns-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let path = dir.join("t.json");
    let text = r#"{"resources": [
  {"type": "Microsoft.Network/virtualNetworks", "name": "vnet", "properties": {
    "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
    "subnets": [{"name": "integration", "properties": {"addressPrefix": "10.0.2.0/24",
      "delegations": [{"name": "d", "properties": {"serviceName": "Microsoft.Web/serverFarms"}}]}}]}},
  {"type": "Microsoft.Web/serverfarms", "name": "plan", "sku": {"name": "P1v3", "tier": "PremiumV3"}},
  {"type": "Microsoft.Web/sites", "name": "app", "properties": {
    "serverFarmId": "[resourceId('Microsoft.Web/serverfarms', 'plan')]",
    "virtualNetworkSubnetId": "[resourceId('Microsoft.Network/virtualNetworks/subnets', 'vnet', 'integration')]",
    "outboundIpAddresses": "198.51.100.7"}}
]}"#;
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    f(&path.display().to_string());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn verify_answers_a_public_name_with_a_placeholder_and_one_warning() {
    with_template("verify", |t| {
        let o = vnetlab(&["verify", "-t", t, "tcp example.com:443", "tcp example.com:80"]);
        let (out, err) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
        assert!(o.status.success(), "{err}");
        assert!(out.contains("public DNS (placeholder; give --public-dns example.com=ADDRESS)"), "{out}");
        assert!(!out.contains("BLOCKED"), "{out}");
        assert_eq!(err.matches("--public-dns example.com=ADDRESS").count(), 1, "one warning for the name: {err}");
        // What the user gives replaces it, and the warning goes.
        let o = vnetlab(&["verify", "-t", t, "--public-dns", "example.com=198.51.100.80", "tcp example.com:443"]);
        let (out, err) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
        assert!(out.contains("example.com -> 198.51.100.80 (answered by public DNS)"), "{out}");
        assert!(!err.contains("placeholder"), "{err}");
    });
}

#[test]
fn resolve_marks_the_placeholder_in_json() {
    with_template("resolve", |t| {
        let o = vnetlab(&["resolve", "-t", t, "--json", "example.com"]);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(v[0]["answer"]["placeholder"], serde_json::json!(true), "{v}");
        let a = v[0]["answer"]["addresses"][0].as_str().unwrap_or_default().to_string();
        assert!(a.starts_with("198.19."), "{a}");
    });
}
