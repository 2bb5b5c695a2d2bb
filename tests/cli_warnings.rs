//! What each command of the `vnetlab` binary warns about (issue 9,
//! "Consistency and noise"): a value Azure assigns at deployment, or a
//! missing plan, is warned about only by a command whose answer uses it;
//! and an NSG rule no command evaluates stops no command, while lint
//! reports it as a finding.

use std::path::PathBuf;
use std::process::{Command, Output};

/// Site `app` integrated into vnet/A (NSG nA), no outbound addresses; vnet/B
/// has NSG nB. `site` is added to the site's properties (JSON members),
/// `nb_rules` are nB's rules, and `plan` says whether plan `plan` exists.
fn template(site: &str, nb_rules: &str, plan: bool) -> String {
    let plan_res = if plan { r#"{"type": "Microsoft.Web/serverfarms", "name": "plan", "sku": {"name": "P1v3"}},"# } else { "" };
    format!(
        r#"{{"resources": [
  {{"type": "Microsoft.Network/networkSecurityGroups", "name": "nA", "properties": {{"securityRules": []}}}},
  {{"type": "Microsoft.Network/networkSecurityGroups", "name": "nB", "properties": {{"securityRules": [{nb_rules}]}}}},
  {{"type": "Microsoft.Network/virtualNetworks", "name": "vnet", "properties": {{"addressSpace": {{"addressPrefixes": ["10.0.0.0/16"]}}, "subnets": [
    {{"name": "A", "properties": {{"addressPrefix": "10.0.1.0/26", "networkSecurityGroup": {{"id": "[resourceId('Microsoft.Network/networkSecurityGroups', 'nA')]"}},
      "delegations": [{{"name": "d", "properties": {{"serviceName": "Microsoft.Web/serverFarms"}}}}]}}}},
    {{"name": "B", "properties": {{"addressPrefix": "10.0.2.0/26", "networkSecurityGroup": {{"id": "[resourceId('Microsoft.Network/networkSecurityGroups', 'nB')]"}}}}}}]}}}},
  {plan_res}
  {{"type": "Microsoft.Web/sites", "name": "app", "properties": {{"serverFarmId": "[resourceId('Microsoft.Web/serverfarms', 'plan')]", {site}
    "virtualNetworkSubnetId": "[resourceId('Microsoft.Network/virtualNetworks/subnets', 'vnet', 'A')]"}}}}
]}}"#
    )
}

/// Writes `text` as a template in a folder of the test's own, runs
/// vnetlab with `args` and `-t` it, and removes the folder.
fn run(test: &str, text: &str, args: &[&str]) -> Output {
    let dir = std::env::temp_dir().join(format!("vnetlab-cli-warnings-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let path: PathBuf = dir.join("t.json");
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut all: Vec<&str> = args.to_vec();
    let p = path.display().to_string();
    all.splice(1..1, ["-t", p.as_str()]);
    let out = Command::new(env!("CARGO_BIN_EXE_vnetlab")).args(&all).output().unwrap_or_else(|e| panic!("vnetlab {all:?}: {e}"));
    let _ = std::fs::remove_dir_all(&dir);
    out
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const OUTBOUND: &str = "warning: site 'app' has no outboundIpAddresses";
const PLAN: &str = "warning: site 'app' has no App Service plan in the input";

/// Exit 0 and stderr without `needle`.
fn quiet(o: &Output, needle: &str) {
    let err = stderr(o);
    assert!(o.status.success(), "{err}");
    assert!(!err.contains(needle), "unexpected warning: {err}");
}

#[test]
fn routes_rules_and_resolve_do_not_warn_about_the_outbound_address() {
    let t = template("", "", true);
    quiet(&run("routes", &t, &["routes"]), OUTBOUND);
    quiet(&run("rules", &t, &["rules"]), OUTBOUND);
    quiet(&run("resolve", &t, &["resolve", "example.com"]), OUTBOUND);
}

#[test]
fn verify_warns_about_the_outbound_address_only_for_a_flow_that_left_from_it() {
    let t = template("", "", true);
    quiet(&run("verify-vnet", &t, &["verify", "tcp 10.0.2.4:443"]), OUTBOUND);
    let o = run("verify-direct", &t, &["verify", "tcp 10.0.2.4:443", "tcp 198.51.100.7:443"]);
    assert!(o.status.success() && stderr(&o).matches(OUTBOUND).count() == 1, "{}", stderr(&o));
}

#[test]
fn a_missing_plan_is_warned_about_where_the_answer_depends_on_it() {
    let t = template(r#""outboundIpAddresses": "198.51.100.10","#, "", false);
    quiet(&run("plan-routes", &t, &["routes"]), PLAN);
    quiet(&run("plan-rules", &t, &["rules"]), PLAN);
    quiet(&run("plan-verify-vnet", &t, &["verify", "tcp 10.0.2.4:443"]), PLAN);
    let o = run("plan-verify-direct", &t, &["verify", "tcp 198.51.100.7:443"]);
    assert!(o.status.success() && stderr(&o).contains(PLAN) && stderr(&o).contains("names plan 'plan', which is not in the input"), "{}", stderr(&o));
    // Lint's delegation and size checks depend on the plan, none of its
    // findings on the site's outbound address.
    let o = run("plan-lint", &template("", "", false), &["lint"]);
    assert!(stderr(&o).contains(PLAN) && !stderr(&o).contains(OUTBOUND), "{}", stderr(&o));
    // Route All on: every flow enters the VNet, as on Flex Consumption.
    let t = template(r#""outboundIpAddresses": "198.51.100.10", "vnetRouteAllEnabled": true,"#, "", false);
    quiet(&run("plan-verify-routeall", &t, &["verify", "tcp 198.51.100.7:443"]), PLAN);
}

#[test]
fn an_unknown_tag_in_an_unrelated_inbound_rule_stops_no_command() {
    let rule = r#"{"name": "in-tag", "properties": {"priority": 100, "direction": "Inbound", "access": "Allow", "protocol": "Tcp",
        "sourceAddressPrefix": "NotATag", "sourcePortRange": "*", "destinationAddressPrefix": "*", "destinationPortRange": "443"}}"#;
    let t = template(r#""outboundIpAddresses": "198.51.100.10","#, rule, true);
    for args in [&["routes"][..], &["rules"], &["verify", "tcp 10.0.2.4:443"], &["resolve", "example.com"]] {
        let o = run(args[0], &t, args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    }
    let o = run("lint-tag", &t, &["lint"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}{}", stderr(&o));
    assert!(out.contains("warning[nsg-unloadable-unused] nsg nB rule in-tag") && out.contains("$.resources[1].properties.securityRules[0]"), "{out}");
    assert!(!out.contains("error["), "{out}");
}
