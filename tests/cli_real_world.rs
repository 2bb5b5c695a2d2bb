//! `vnetlab routes`, `rules` and `verify` on real templates as they were
//! fetched (core/tests/data/real-world): the nine Azure Verified Modules
//! combined into one app stack with one parameters file, and a quickstart
//! function app. The answers are Azure's for that configuration.

use std::process::Command;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/core/tests/data/real-world");

/// The AVM modules of the app stack, in the order they are given with -t.
fn avm_stack() -> Vec<String> {
    let list = std::fs::read_to_string(format!("{DATA}/avm-app-stack.list")).unwrap_or_else(|e| panic!("avm-app-stack.list: {e}"));
    list.lines().map(str::trim).filter(|l| !l.is_empty()).map(|f| format!("{DATA}/{f}")).collect()
}

/// Runs `vnetlab CMD` on the AVM stack plus `extra`; exit code and stdout.
fn stack(cmd: &str, extra: &[&str]) -> (Option<i32>, String) {
    let mut args: Vec<String> = vec![cmd.into()];
    for f in avm_stack() {
        args.extend(["-t".into(), f]);
    }
    args.extend(["--parameters".into(), format!("{DATA}/avm-app-stack.parameters.json")]);
    args.extend(["--public-ip".into(), "pip-nat=198.18.7.7".into()]);
    args.extend(extra.iter().map(|s| s.to_string()));
    run(&args)
}

fn run(args: &[String]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_vnetlab")).args(args).output().unwrap_or_else(|e| panic!("vnetlab: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.code().is_some_and(|c| c <= 1), "{args:?}: {}\n{stdout}", String::from_utf8_lossy(&out.stderr));
    (out.status.code(), stdout)
}

/// The whitespace-separated fields of the first line starting with `start`.
fn row<'a>(text: &'a str, start: &str) -> Vec<&'a str> {
    text.lines().find(|l| l.starts_with(start)).unwrap_or_else(|| panic!("no line starting {start:?} in\n{text}")).split_whitespace().collect()
}

#[test]
fn avm_stack_routes() {
    let (code, out) = stack("routes", &[]);
    assert_eq!(code, Some(0));
    assert!(
        out.starts_with("Effective routes of vnet-app/snet-app (site app-avm, integrated into vnet-app/snet-app (properties.virtualNetworkSubnetId))"),
        "{out}"
    );
    assert_eq!(row(&out, "Default                Active   10.20.0.0/16")[3], "VnetLocal");
    assert_eq!(row(&out, "Default                Active   10.20.2.4/32")[3..], ["InterfaceEndpoint", "private", "endpoint", "pe-blob"]);
    // The UDR wins over the default None route for the same prefix.
    assert_eq!(row(&out, "Default                Invalid  172.16.0.0/12")[3], "None");
    assert_eq!(row(&out, "User                   Active   172.16.0.0/12")[3..5], ["VirtualAppliance", "10.20.0.4"]);
}

#[test]
fn avm_stack_rules() {
    let (code, out) = stack("rules", &[]);
    assert_eq!(code, Some(0));
    assert!(out.starts_with("Effective outbound security rules of nsg-app on vnet-app/snet-app"), "{out}");
    let prios: Vec<&str> = out.lines().skip(2).take_while(|l| !l.is_empty()).map(|l| l.split_whitespace().next().unwrap_or("")).collect();
    assert_eq!(prios, ["200", "65000", "65001", "65500"], "the inbound rule is not listed:\n{out}");
    assert_eq!(row(&out, "200 ")[1..], ["securityRules/deny-test-net-https", "Deny", "Tcp", "*", "0-65535", "198.51.100.0/24", "443"]);
    assert!(row(&out, "  VirtualNetwork:").contains(&"172.16.0.0/12"), "{out}");
}

#[test]
fn avm_stack_verify() {
    let (code, out) = stack("verify", &["tcp 198.51.100.7:443", "udp 198.51.100.7:53", "tcp stavmdata.blob.core.windows.net:443", "tcp 172.16.3.3:22"]);
    // A blocked flow is an answer, not a failure.
    assert_eq!(code, Some(0), "{out}");
    let traces: Vec<&str> = out.split("\n\n").collect();
    assert_eq!(traces.len(), 4, "{out}");
    assert!(traces[0].contains("nsg      nsg-app outbound: deny-test-net-https (priority 200, Deny)"), "{}", traces[0]);
    assert!(traces[0].contains("result   BLOCKED by nsg"), "{}", traces[0]);
    assert!(traces[1].contains("source   198.18.7.7 (NAT gateway public address)"), "{}", traces[1]);
    assert!(traces[1].contains("result   ALLOWED"), "{}", traces[1]);
    assert!(traces[2].contains("-> stavmdata.privatelink.blob.core.windows.net -> 10.20.2.4"), "{}", traces[2]);
    assert!(traces[2].contains("route    10.20.2.4/32 -> InterfaceEndpoint"), "{}", traces[2]);
    assert!(traces[3].contains("route    172.16.0.0/12 -> VirtualAppliance 10.20.0.4"), "{}", traces[3]);
    assert!(traces[3].contains("source   10.20.1.4 (the instance's private address)"), "{}", traces[3]);
}

#[test]
fn function_premium_vnet_integration_verify() {
    let t = format!("{DATA}/function-premium-vnet-integration.json");
    let (code, out) = run(&["verify".into(), "-t".into(), t, "tcp 198.51.100.20:443".into(), "tcp 10.0.0.9:1433".into()]);
    assert_eq!(code, Some(0), "{out}");
    let traces: Vec<&str> = out.split("\n\n").collect();
    // Route All off: the internet flow never enters the VNet.
    assert!(traces[0].contains("Route All off"), "{}", traces[0]);
    assert!(!traces[0].contains("nsg "), "{}", traces[0]);
    assert!(traces[1].contains("route    10.0.0.0/16 -> VnetLocal"), "{}", traces[1]);
}
