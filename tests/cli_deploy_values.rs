//! The flags for values Azure knows only at deployment: `--location` (what
//! `deployment().location` reads, with one warning when not given, also in
//! `vnetlab eval`) and `--deploy-value FILE:JSONPATH=ADDRESS` (the address a
//! warning asked for, here a route's next hop from a firewall), and
//! `--public-ip` read by `reference(pip).ipAddress`.

use std::path::PathBuf;
use std::process::{Command, Output};

fn vnetlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vnetlab")).args(args).output().expect("runs vnetlab")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const TEMPLATE: &str = r#"{
  "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
  "contentVersion": "1.0.0.0",
  "resources": [
    {"type": "Microsoft.Network/publicIPAddresses", "apiVersion": "2023-04-01", "name": "pip", "location": "[deployment().location]",
     "sku": {"name": "Standard"}, "properties": {"publicIPAllocationMethod": "Static"}},
    {"type": "Microsoft.Network/routeTables", "apiVersion": "2023-04-01", "name": "rt", "location": "[deployment().location]",
     "properties": {"routes": [{"name": "to-fw", "properties": {"addressPrefix": "0.0.0.0/0", "nextHopType": "VirtualAppliance",
       "nextHopIpAddress": "[reference(resourceId('Microsoft.Network/azureFirewalls', 'fw')).ipConfigurations[0].properties.privateIPAddress]"}}]}},
    {"type": "Microsoft.Network/virtualNetworks", "apiVersion": "2023-04-01", "name": "vnet", "location": "[deployment().location]",
     "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
       "subnets": [{"name": "s", "properties": {"addressPrefix": "10.0.2.0/24", "routeTable": {"id": "[resourceId('Microsoft.Network/routeTables', 'rt')]"}}}]}}
  ]
}"#;

/// The template in a fresh folder of the test's own.
fn template(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vnetlab-cli-deploy-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("dt.json");
    std::fs::write(&path, TEMPLATE).expect("writes the template");
    path
}

fn remove(t: &str) {
    let _ = std::fs::remove_dir_all(std::path::Path::new(t).parent().expect("the template's folder"));
}

#[test]
fn warnings_name_the_flags_and_the_flags_silence_them() {
    let path = template("routes");
    let t = path.to_str().expect("utf-8 path");
    let o = vnetlab(&["routes", "-t", t, "--subnet", "vnet/s"]);
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert!(o.status.success(), "{err}");
    assert!(out.contains("10.0.255.254"), "{out}");
    let hop = "$.resources[1].properties.routes[0].properties.nextHopIpAddress";
    let want = format!("Give the real address with --deploy-value '{t}:{hop}=ADDRESS'");
    assert_eq!(err.matches(&want).count(), 1, "{err}");
    let location = "reads deployment().location, the region you deploy to, but no --location was given: using westeurope. Give it with --location REGION";
    assert_eq!(err.matches(location).count(), 1, "{err}");

    let value = format!("dt.json:{hop}=10.1.0.4");
    let o = vnetlab(&["routes", "-t", t, "--subnet", "vnet/s", "--location", "uksouth", "--deploy-value", &value, "--public-ip", "pip=198.51.100.9"]);
    remove(t);
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert!(o.status.success(), "{err}");
    assert!(out.contains("10.1.0.4") && !out.contains("10.0.255.254"), "{out}");
    assert!(!err.contains("--deploy-value") && !err.contains("--location") && !err.contains("--public-ip"), "{err}");
}

#[test]
fn a_bad_deploy_value_is_refused() {
    let o = vnetlab(&["routes", "--deploy-value", "resources[0]=10.0.0.1"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("expected [FILE:]JSONPATH=ADDRESS"), "{}", text(&o.stderr));
}

#[test]
fn eval_reads_the_given_location_or_warns() {
    let o = vnetlab(&["eval", "deployment().location", "resourceGroup().location"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "\"westeurope\"\n\"westeurope\"\n");
    assert_eq!(text(&o.stderr).matches("no --location was given: using westeurope").count(), 1, "{}", text(&o.stderr));

    let o = vnetlab(&["eval", "--location", "northeurope", "deployment().location", "resourceGroup().location"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "\"northeurope\"\n\"northeurope\"\n");
    assert_eq!(text(&o.stderr), "");
}

/// README "Inputs" shows these two runs of examples/deploy-time.json.
#[test]
fn the_readme_example_holds() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/deploy-time.json");
    let hop = "$.resources[1].properties.routes[0].properties.nextHopIpAddress";
    let o = vnetlab(&["routes", "-t", example]);
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert!(o.status.success(), "{err}");
    assert!(out.lines().any(|l| l.starts_with("User ") && l.contains("VirtualAppliance") && l.contains("10.20.255.254")), "{out}");
    assert_eq!(err.matches(&format!("--deploy-value '{example}:{hop}=ADDRESS'")).count(), 1, "{err}");

    let value = format!("{hop}=10.20.0.4");
    let o = vnetlab(&["verify", "-t", example, "--location", "northeurope", "--deploy-value", &value, "tcp 198.51.100.7:443"]);
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert!(o.status.success(), "{err}");
    assert!(out.contains("route    0.0.0.0/0 -> VirtualAppliance 10.20.0.4"), "{out}");
    assert!(!err.contains("--deploy-value"), "{err}");
}
