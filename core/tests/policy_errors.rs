//! Bad input gets a clear error naming the file, the JSON path and what was
//! expected; never a panic. Also: lint findings, and the compiled decision
//! against the linear oracle on random rule sets.

use proptest::prelude::*;
use serde_json::{json, Value};
use std::net::Ipv4Addr;
use vnetlab_core::arm::{expand_template, DeployContext, ParamValues};
use vnetlab_core::error::Error;
use vnetlab_core::flow::{Flow, Proto};
use vnetlab_core::policy::{Policy, PolicyOptions};

/// A site integrated into `integration` of a 10.0.0.0/16 VNet, with an NSG
/// of `rules` and a route table of `routes`.
fn template(rules: Value, routes: Value, site_props: Value) -> Value {
    let mut props = json!({
        "serverFarmId": "[resourceId('Microsoft.Web/serverfarms', 'plan')]",
        "virtualNetworkSubnetId": "[resourceId('Microsoft.Network/virtualNetworks/subnets', 'vnet', 'integration')]",
        "vnetRouteAllEnabled": true,
        "outboundIpAddresses": "198.51.100.10"
    });
    if let (Some(p), Some(extra)) = (props.as_object_mut(), site_props.as_object()) {
        for (k, v) in extra {
            p.insert(k.clone(), v.clone());
        }
    }
    json!({
        "resources": [
            {"type": "Microsoft.Network/networkSecurityGroups", "name": "nsg", "properties": {"securityRules": rules}},
            {"type": "Microsoft.Network/routeTables", "name": "rt", "properties": {"routes": routes}},
            {"type": "Microsoft.Network/virtualNetworks", "name": "vnet", "properties": {
                "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
                "subnets": [
                    {"name": "integration", "properties": {"addressPrefix": "10.0.2.0/24",
                        "networkSecurityGroup": {"id": "[resourceId('Microsoft.Network/networkSecurityGroups', 'nsg')]"},
                        "routeTable": {"id": "[resourceId('Microsoft.Network/routeTables', 'rt')]"},
                        "delegations": [{"name": "d", "properties": {"serviceName": "Microsoft.Web/serverFarms"}}]}},
                    {"name": "data", "properties": {"addressPrefix": "10.0.1.0/24"}}]}},
            {"type": "Microsoft.Web/serverfarms", "name": "plan", "sku": {"name": "EP1", "tier": "ElasticPremium"}, "kind": "elastic"},
            {"type": "Microsoft.Web/sites", "name": "app", "kind": "functionapp", "properties": props}
        ]
    })
}

fn rule(name: &str, priority: Value, proto: &str, dst: &str, port: &str, access: &str) -> Value {
    json!({"name": name, "properties": {"priority": priority, "direction": "Outbound", "access": access, "protocol": proto,
        "sourcePortRange": "*", "sourceAddressPrefix": "*", "destinationAddressPrefix": dst, "destinationPortRange": port}})
}

fn compile(t: &Value) -> Result<Policy, Error> {
    let res = expand_template(t, "test.json", &ParamValues::default(), &DeployContext::default())?;
    let sc = vnetlab_core::model::build(&res)?;
    Policy::compile(&sc, &PolicyOptions::default())
}

fn err_text(t: &Value) -> String {
    match compile(t) {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn malformed_json_names_line_and_column() {
    let e = vnetlab_core::arm::parse_json("{\n  \"resources\": [\n    {\"type\": }\n]}", "bad.json").expect_err("malformed");
    let s = e.to_string();
    assert!(s.starts_with("bad.json"), "{s}");
    assert!(s.contains("line 3"), "{s}");
}

#[test]
fn unknown_reference_is_an_error_with_path() {
    let mut t = template(json!([]), json!([]), json!({}));
    t["resources"][2]["properties"]["subnets"][0]["properties"]["natGateway"] = json!({"id": "[resourceId('Microsoft.Network/natGateways', 'missing')]"});
    let s = err_text(&t);
    assert!(s.contains("test.json") && s.contains("natGateway") && s.contains("no NAT gateway named 'missing'"), "{s}");
}

#[test]
fn duplicate_priorities_are_rejected() {
    let t = template(json!([rule("A", json!(100), "Tcp", "*", "80", "Allow"), rule("B", json!(100), "Udp", "*", "53", "Deny")]), json!([]), json!({}));
    let s = err_text(&t);
    assert!(s.contains("duplicate priority 100") && s.contains("'A'") && s.contains("'B'"), "{s}");
}

#[test]
fn invalid_priorities_prefixes_and_ports_are_rejected() {
    for (r, want) in [
        (rule("A", json!(99), "Tcp", "*", "80", "Allow"), "expected an integer from 100 to 4096"),
        (rule("A", json!(5000), "Tcp", "*", "80", "Allow"), "expected an integer from 100 to 4096"),
        (rule("A", json!(100), "Tcp", "10.0.0.300/24", "80", "Allow"), "is not an IPv4 prefix"),
        (rule("A", json!(100), "Tcp", "10.0.0.0/40", "80", "Allow"), "prefix length"),
        (rule("A", json!(100), "Tcp", "*", "70000", "Allow"), "is not a port"),
        (rule("A", json!(100), "Tcp", "*", "90-80", "Allow"), "reversed"),
        (rule("A", json!(100), "Sctp", "*", "80", "Allow"), "expected Tcp, Udp, Icmp, Esp, Ah or *"),
        (rule("A", json!(100), "Tcp", "*", "80", "Maybe"), "expected Allow or Deny"),
    ] {
        let s = err_text(&template(json!([r]), json!([]), json!({})));
        assert!(s.contains(want), "want '{want}' in: {s}");
        assert!(s.contains("securityRules[0]"), "path missing in: {s}");
    }
    let mut t = template(json!([]), json!([]), json!({}));
    t["resources"][2]["properties"]["subnets"][1]["properties"]["addressPrefix"] = json!("10.0.1.1/24");
    let s = err_text(&t);
    assert!(s.contains("host bits") && s.contains("10.0.1.0/24") && s.contains("subnets[1]"), "{s}");
    let mut t = template(json!([]), json!([]), json!({}));
    t["resources"][2]["properties"]["subnets"][1]["properties"]["addressPrefix"] = json!("10.0.2.0/25");
    assert!(err_text(&t).contains("overlaps"), "overlapping subnets");
    let t = template(json!([]), json!([{"name": "r", "properties": {"addressPrefix": "0.0.0.0/0", "nextHopType": "VirtualAppliance"}}]), json!({}));
    assert!(err_text(&t).contains("needs nextHopIpAddress"));
}

#[test]
fn unsupported_expression_names_the_function() {
    let mut t = template(json!([]), json!([]), json!({}));
    t["resources"][2]["properties"]["addressSpace"]["addressPrefixes"][0] = json!("[frobnicate('10.0.0.0/16')]");
    let s = err_text(&t);
    assert!(s.contains("frobnicate") && s.contains("addressPrefixes"), "{s}");
}

#[test]
fn unknown_service_tag_is_a_load_error() {
    let t = template(json!([rule("A", json!(100), "Tcp", "Storage", "443", "Allow")]), json!([]), json!({}));
    let s = err_text(&t);
    assert!(s.contains("unknown service tag 'Storage'") && s.contains("service_tags"), "{s}");
}

#[test]
fn sites_without_integration_are_clear_errors() {
    let mut t = template(json!([]), json!([]), json!({}));
    t["resources"][4]["properties"].as_object_mut().map(|p| p.remove("virtualNetworkSubnetId"));
    let s = err_text(&t);
    assert!(s.contains("no site with regional virtual network integration") && s.contains("app (not integrated)"), "{s}");
    let mut t = template(json!([]), json!([]), json!({}));
    t["resources"][3]["sku"] = json!({"name": "Y1", "tier": "Dynamic"});
    let res = expand_template(&t, "t.json", &ParamValues::default(), &DeployContext::default()).expect("expands");
    let sc = vnetlab_core::model::build(&res).expect("builds");
    let e = Policy::compile(&sc, &PolicyOptions { site: Some("app".into()), ..Default::default() }).err().expect("Consumption");
    assert!(e.to_string().contains("Consumption plan"), "{e}");
}

#[test]
fn asg_rules_never_match_and_port25_is_blocked_by_default() {
    let mut asg = rule("DenyAsg", json!(100), "*", "*", "*", "Deny");
    asg["properties"].as_object_mut().map(|p| p.remove("destinationAddressPrefix"));
    asg["properties"]["destinationApplicationSecurityGroups"] =
        json!([{"id": "/subscriptions/0/resourceGroups/rg/providers/Microsoft.Network/applicationSecurityGroups/web"}]);
    let p = compile(&template(json!([asg]), json!([]), json!({}))).expect("compiles");
    let f = p.flow(Proto::Tcp, Ipv4Addr::new(198, 51, 100, 20), 443);
    let d = p.decide(&f);
    assert!(d.allowed);
    assert_eq!(p.rule_name(d.nsg_rule.expect("a rule")), "AllowInternetOutBound");
    let d = p.decide(&p.flow(Proto::Tcp, Ipv4Addr::new(198, 51, 100, 20), 25));
    assert_eq!(d.blocked_by.map(|b| b.as_str()), Some("platform"));
}

#[test]
fn lint_reports_what_a_platform_engineer_needs() {
    let rules = json!([rule("AllowWeb", json!(100), "Tcp", "*", "443", "Allow"), rule("AllowWebAgain", json!(200), "Tcp", "198.51.100.0/24", "443", "Allow")]);
    let routes = json!([{"name": "fw", "properties": {"addressPrefix": "0.0.0.0/0", "nextHopType": "VirtualAppliance", "nextHopIpAddress": "10.9.0.4"}}]);
    let mut t = template(rules, routes, json!({"vnetRouteAllEnabled": false}));
    let sub = &mut t["resources"][2]["properties"]["subnets"][0]["properties"];
    sub["addressPrefix"] = json!("10.0.2.0/29");
    sub["delegations"] = json!([]);
    sub["natGateway"] = json!({"id": "[resourceId('Microsoft.Network/natGateways', 'nat')]"});
    t["resources"].as_array_mut().expect("array").insert(
        0,
        json!({"type": "Microsoft.Network/natGateways", "name": "nat",
        "properties": {"publicIpAddresses": [{"id": "[resourceId('Microsoft.Network/publicIPAddresses', 'pip')]"}]}}),
    );
    t["resources"]
        .as_array_mut()
        .expect("array")
        .insert(0, json!({"type": "Microsoft.Network/publicIPAddresses", "name": "pip", "properties": {"ipAddress": "198.18.0.9"}}));
    let res = expand_template(&t, "t.json", &ParamValues::default(), &DeployContext::default()).expect("expands");
    let sc = vnetlab_core::model::build(&res).expect("builds");
    let codes: Vec<&str> = vnetlab_core::lint::lint(&sc, &Default::default()).iter().map(|f| f.code).collect();
    for want in ["subnet-too-small", "delegation", "nat-gateway-bypassed", "shadowed-rule", "appliance-outside-subnets", "virtualnetwork-tag-is-everything"] {
        assert!(codes.contains(&want), "missing {want} in {codes:?}");
    }
    // The clean version has no findings.
    let res = expand_template(&template(json!([]), json!([]), json!({})), "t.json", &ParamValues::default(), &DeployContext::default()).expect("expands");
    let clean = vnetlab_core::model::build(&res).expect("builds");
    let findings: Vec<String> = vnetlab_core::lint::lint(&clean, &Default::default()).iter().map(|f| f.line()).collect();
    assert!(findings.is_empty(), "{findings:?}");
}

fn arb_rule(i: usize) -> impl Strategy<Value = Value> {
    let dst = prop_oneof![
        Just("*".to_string()),
        Just("Internet".to_string()),
        Just("VirtualNetwork".to_string()),
        (0u8..4, 0u8..=255, 8u8..=32).prop_map(|(a, b, l)| {
            let first = [10u8, 198, 172, 192][a as usize];
            let net: ipnet::Ipv4Net = format!("{first}.{b}.0.0/{l}").parse().expect("valid");
            net.trunc().to_string()
        }),
    ];
    let port =
        prop_oneof![Just("*".to_string()), (1u16..2000).prop_map(|p| p.to_string()), (1u16..1000, 0u16..1000).prop_map(|(a, b)| format!("{a}-{}", a + b))];
    let proto = prop_oneof![Just("Tcp"), Just("Udp"), Just("Icmp"), Just("*")];
    let access = prop_oneof![Just("Allow"), Just("Deny")];
    (dst, port, proto, access).prop_map(move |(d, p, pr, a)| rule(&format!("r{i}"), json!(100 + i * 7), pr, &d, &p, a))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    /// The compiled classifier and route table decide exactly as the linear oracle.
    #[test]
    fn compiled_decisions_equal_linear(
        rules in (0usize..40).prop_flat_map(|n| (0..n).map(arb_rule).collect::<Vec<_>>()),
        routes in prop::collection::vec((0u8..=255, 8u8..=28, 0u8..3), 0..20),
        flows in prop::collection::vec((0u8..4, any::<u16>(), 0u8..3, 0u8..=255, 0u8..=255), 64),
    ) {
        let routes: Vec<Value> = routes.iter().enumerate().map(|(i, &(b, l, h))| {
            let net: ipnet::Ipv4Net = format!("{}.{b}.0.0/{l}", if h == 0 { 10 } else { 198 }).parse().expect("valid");
            let (hop, ip) = match h { 0 => ("None", None), 1 => ("VirtualAppliance", Some("10.0.1.4")), _ => ("Internet", None) };
            let mut p = json!({"addressPrefix": net.trunc().to_string(), "nextHopType": hop});
            if let Some(ip) = ip { p["nextHopIpAddress"] = json!(ip); }
            json!({"name": format!("u{i}"), "properties": p})
        }).collect();
        let p = compile(&template(Value::Array(rules), Value::Array(routes), json!({}))).expect("random template compiles");
        for (k, port, pr, b, c) in flows {
            let dst = match k { 0 => Ipv4Addr::new(10, 0, b, c), 1 => Ipv4Addr::new(198, b, c, 1), 2 => Ipv4Addr::new(172, 16, b, c), _ => Ipv4Addr::new(192, 168, b, c) };
            let proto = [Proto::Tcp, Proto::Udp, Proto::Icmp][pr as usize];
            let f = Flow { proto, src: p.instance_ip(), src_port: if proto.has_ports() { 49152 } else { 0 }, dst, dst_port: if proto.has_ports() { port } else { 0 } };
            prop_assert_eq!(p.decide(&f), p.decide_linear(&f), "flow {:?}", f);
        }
    }
}
