//! More real templates, as they were fetched (core/tests/data/real-world,
//! sources in SOURCES.md there): nine Azure Verified Modules and one AVM
//! pattern, and quickstarts. Each loads through the real loader; the ones
//! with an integrated site (the AVM modules combined into one app stack,
//! function-premium-vnet-integration and
//! function-app-private-endpoints-storage-private-endpoints) also have
//! their routes, rules and traces checked against what Azure does.

mod test_disk;

mod common;

use common::arm::{of_type, one};
use serde_json::{json, Value};
use std::net::Ipv4Addr;
use std::path::PathBuf;
use test_disk::TestDisk;
use vnetlab_core::arm::{self, DeployContext, ParamValues, Resource};
use vnetlab_core::check::{self, parse_flow};
use vnetlab_core::decision::{Decision, NextHopType, Path, Resolution, SourceNat};
use vnetlab_core::explain;
use vnetlab_core::policy::route::RouteSource;
use vnetlab_core::policy::{Policy, PolicyOptions, Sender};
use vnetlab_core::scenario::{self, Inputs};

const RG: &str = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-vnetlab/providers";

/// The AVM modules of the app stack, in the order they are given with -t
/// (the list the CLI test and scripts/test.sh read too).
fn avm_stack() -> Vec<PathBuf> {
    let list = std::fs::read_to_string(data("avm-app-stack.list")).unwrap_or_else(|e| panic!("avm-app-stack.list: {e}"));
    list.lines().filter(|l| !l.trim().is_empty()).map(|f| data(f.trim())).collect()
}

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/real-world").join(name)
}

fn load_with(file: &str, params: &[(&str, Value)]) -> Vec<Resource> {
    let path = data(file).display().to_string();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let pv = ParamValues { values: params.iter().map(|(k, v)| (k.to_string(), v.clone(), "test".to_string())).collect() };
    arm::detect_and_load(&text, &path, &pv, &DeployContext::default()).unwrap_or_else(|e| panic!("{e}"))
}

/// One AVM module with the values the stack's parameters file gives it
/// (its keys are `FILE:NAME`, as `-p FILE:NAME=VALUE`).
fn load_stack_module(file: &str) -> Vec<Resource> {
    let pfile = data("avm-app-stack.parameters.json").display().to_string();
    let text = std::fs::read_to_string(&pfile).unwrap_or_else(|e| panic!("{pfile}: {e}"));
    let all = arm::read_parameters_file(&text, &pfile).unwrap_or_else(|e| panic!("{e}"));
    let prefix = format!("{file}:");
    let mine: Vec<(String, Value)> = all.into_iter().filter_map(|(k, v)| k.strip_prefix(&prefix).map(|n| (n.to_string(), v))).collect();
    let refs: Vec<(&str, Value)> = mine.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    load_with(file, &refs)
}

fn stack_inputs() -> Inputs {
    Inputs { files: avm_stack(), param_files: vec![data("avm-app-stack.parameters.json")], ..Default::default() }
}

fn policy_of(inputs: &Inputs) -> Policy {
    let sc = scenario::load_scenario(&TestDisk, inputs).unwrap_or_else(|e| panic!("{:?} should load: {e}", inputs.files));
    Policy::compile(&sc, &PolicyOptions::default()).unwrap_or_else(|e| panic!("{:?} should compile: {e}", inputs.files))
}

fn policy(file: &str) -> Policy {
    policy_of(&Inputs { files: vec![data(file)], ..Default::default() })
}

fn verify(p: &Policy, flow: &str) -> Decision {
    traced(p, flow).0
}

/// The decision and the destination address the flow went to.
fn traced(p: &Policy, flow: &str) -> (Decision, Ipv4Addr) {
    let o = check::evaluate(p, &parse_flow(flow).expect("valid flow"));
    match (o.decision, o.flow) {
        (Some(d), Some(f)) => (d, f.dst),
        _ => panic!("{flow} did not resolve"),
    }
}

fn route_to(p: &Policy, prefix: &str) -> Vec<(NextHopType, RouteSource, bool)> {
    p.routes().routes.iter().filter(|r| r.prefix.to_string() == prefix).map(|r| (r.next_hop, r.source, r.active)).collect()
}

#[test]
fn avm_web_site_takes_the_integration_subnet_and_outbound_routing_as_given() {
    let rs = load_stack_module("avm-web-site.json");
    // Telemetry and the optional children (slots, config, locks) are off or
    // empty by default: only the site remains.
    assert_eq!(rs.len(), 1, "{:?}", rs.iter().map(|r| &r.rtype).collect::<Vec<_>>());
    let site = one(&rs, "Microsoft.Web/sites");
    assert_eq!(site.name, "app-avm");
    assert_eq!(site.body["kind"], json!("app"));
    let props = &site.body["properties"];
    assert_eq!(props["virtualNetworkSubnetId"], json!(format!("{RG}/Microsoft.Network/virtualNetworks/vnet-app/subnets/snet-app")));
    assert_eq!(props["outboundVnetRouting"], json!({"allTraffic": true}));
    assert_eq!(props["serverFarmId"], json!(format!("{RG}/Microsoft.Web/serverfarms/plan-app")));
    // The module's own defaults.
    assert_eq!((&props["httpsOnly"], &props["publicNetworkAccess"]), (&json!(true), &json!("Enabled")));
    assert!(props.get("vnetRouteAllEnabled").is_none(), "{props}");
}

#[test]
fn avm_web_site_without_a_subnet_has_no_integration() {
    let rs = load_with("avm-web-site.json", &[("name", json!("app-plain")), ("kind", json!("functionapp")), ("serverFarmResourceId", json!("/x"))]);
    let site = one(&rs, "Microsoft.Web/sites");
    assert!(site.body["properties"].get("virtualNetworkSubnetId").is_none(), "{}", site.body);
    assert!(site.body["properties"].get("outboundVnetRouting").is_none(), "{}", site.body);
}

#[test]
fn avm_virtual_network_expands_subnets_into_child_resources() {
    let rs = load_stack_module("avm-network-virtual-network.json");
    let vnet = one(&rs, "Microsoft.Network/virtualNetworks");
    assert_eq!(vnet.body["properties"]["addressSpace"]["addressPrefixes"], json!(["10.20.0.0/16"]));
    let subnets = of_type(&rs, "Microsoft.Network/virtualNetworks/subnets");
    let names: Vec<&str> = subnets.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, vec!["vnet-app/snet-app", "vnet-app/snet-pe"]);
    let app = &subnets[0].body["properties"];
    assert_eq!(app["addressPrefix"], json!("10.20.1.0/24"));
    assert_eq!(app["networkSecurityGroup"]["id"], json!(format!("{RG}/Microsoft.Network/networkSecurityGroups/nsg-app")));
    assert_eq!(app["routeTable"]["id"], json!(format!("{RG}/Microsoft.Network/routeTables/rt-app")));
    assert_eq!(app["natGateway"]["id"], json!(format!("{RG}/Microsoft.Network/natGateways/nat-app")));
    assert_eq!(app["delegations"][0]["properties"]["serviceName"], json!("Microsoft.Web/serverFarms"));
    assert_eq!(subnets[1].body["properties"]["delegations"], json!([]));
}

#[test]
fn avm_network_security_group_keeps_its_rules() {
    let rs = load_stack_module("avm-network-network-security-group.json");
    let nsg = one(&rs, "Microsoft.Network/networkSecurityGroups");
    let rules = nsg.body["properties"]["securityRules"].as_array().cloned().unwrap_or_default();
    assert_eq!(rules.len(), 2);
    let deny = &rules[0]["properties"];
    assert_eq!((&deny["access"], &deny["direction"], &deny["priority"]), (&json!("Deny"), &json!("Outbound"), &json!(200)));
    assert_eq!(deny["destinationAddressPrefix"], json!("198.51.100.0/24"));
}

#[test]
fn avm_route_table_nat_gateway_and_public_ip() {
    let rt = load_stack_module("avm-network-route-table.json");
    let rt = one(&rt, "Microsoft.Network/routeTables");
    assert_eq!(rt.body["properties"]["routes"][0]["properties"]["nextHopIpAddress"], json!("10.20.0.4"));
    assert_eq!(rt.body["properties"]["disableBgpRoutePropagation"], json!(false));
    let nat = load_stack_module("avm-network-nat-gateway.json");
    let nat = one(&nat, "Microsoft.Network/natGateways");
    assert_eq!(nat.body["properties"]["publicIpAddresses"], json!([{"id": format!("{RG}/Microsoft.Network/publicIPAddresses/pip-nat")}]));
    // availabilityZone -1 means no zone: the property is left out.
    assert!(nat.body.get("zones").is_none_or(|z| z == &json!([])), "{}", nat.body);
    let pip = load_stack_module("avm-network-public-ip-address.json");
    let pip = one(&pip, "Microsoft.Network/publicIPAddresses");
    assert_eq!(pip.body["properties"]["publicIPAllocationMethod"], json!("Static"));
    assert_eq!(pip.body["sku"]["name"], json!("Standard"));
}

#[test]
fn avm_private_endpoint_and_private_dns_zone() {
    let rs = load_stack_module("avm-network-private-endpoint.json");
    let pe = one(&rs, "Microsoft.Network/privateEndpoints");
    assert_eq!(pe.body["properties"]["subnet"]["id"], json!(format!("{RG}/Microsoft.Network/virtualNetworks/vnet-app/subnets/snet-pe")));
    let group = one(&rs, "Microsoft.Network/privateEndpoints/privateDnsZoneGroups");
    assert_eq!(group.name, "pe-blob/default");
    assert_eq!(
        group.body["properties"]["privateDnsZoneConfigs"][0]["properties"]["privateDnsZoneId"],
        json!(format!("{RG}/Microsoft.Network/privateDnsZones/privatelink.blob.core.windows.net"))
    );
    let rs = load_stack_module("avm-network-private-dns-zone.json");
    let zone = one(&rs, "Microsoft.Network/privateDnsZones");
    assert_eq!(zone.name, "privatelink.blob.core.windows.net");
    let link = one(&rs, "Microsoft.Network/privateDnsZones/virtualNetworkLinks");
    // The module names the link after the VNet.
    assert_eq!(link.name, "privatelink.blob.core.windows.net/vnet-app-vnetlink");
    assert_eq!(link.body["properties"]["registrationEnabled"], json!(false));
}

#[test]
fn avm_private_link_dns_zones_pattern_creates_every_zone_for_the_region() {
    let rs = load_with("avm-ptn-network-private-link-private-dns-zones.json", &[]);
    let zones = of_type(&rs, "Microsoft.Network/privateDnsZones");
    assert_eq!(zones.len(), rs.len(), "no VNet to link: zones only");
    assert_eq!(zones.len(), 82);
    let names: Vec<&str> = zones.iter().map(|z| z.name.as_str()).collect();
    // {regionName} and {regionCode} placeholders take the deployment's region.
    for z in [
        "privatelink.westeurope.azurecontainerapps.io",
        "privatelink.we.backup.windowsazure.com",
        "privatelink.blob.core.windows.net",
        "privatelink.azurewebsites.net",
    ] {
        assert!(names.contains(&z), "{z} missing from {names:?}");
    }
    assert!(names.iter().all(|n| !n.contains('{')), "{names:?}");
    // Excluding a zone drops it.
    let rs =
        load_with("avm-ptn-network-private-link-private-dns-zones.json", &[("privateLinkPrivateDnsZonesToExclude", json!(["privatelink.azurewebsites.net"]))]);
    assert_eq!(rs.len(), 81);
    assert!(rs.iter().all(|r| r.name != "privatelink.azurewebsites.net"));
}

#[test]
fn avm_app_stack_routes_rules_and_traces() {
    let p = policy_of(&stack_inputs());
    assert!(matches!(&p.sender, Sender::Site { name, .. } if name == "app-avm"));
    assert_eq!(p.route_all.decided_by, "outboundVnetRouting.allTraffic");
    assert_eq!(p.instance_ip(), Ipv4Addr::new(10, 20, 1, 4));
    // routes: VNet space, the PE /32, and the UDR that makes the default 172.16/12 None route Invalid.
    assert_eq!(route_to(&p, "10.20.0.0/16"), vec![(NextHopType::VnetLocal, RouteSource::Default, true)]);
    assert_eq!(route_to(&p, "10.20.2.4/32"), vec![(NextHopType::InterfaceEndpoint, RouteSource::Default, true)]);
    assert_eq!(route_to(&p, "172.16.0.0/12"), vec![(NextHopType::None, RouteSource::Default, false), (NextHopType::VirtualAppliance, RouteSource::User, true)]);
    // rules: the module's one outbound rule, then Azure's three defaults (the inbound rule is not shown).
    let rules = explain::rules_json(&p);
    let rules = rules["value"][0]["effectiveSecurityRules"].as_array().cloned().unwrap_or_default();
    let names: Vec<&str> = rules.iter().filter_map(|r| r["name"].as_str()).collect();
    assert_eq!(
        names,
        vec![
            "securityRules/deny-test-net-https",
            "defaultSecurityRules/AllowVnetOutBound",
            "defaultSecurityRules/AllowInternetOutBound",
            "defaultSecurityRules/DenyAllOutBound"
        ]
    );
    // VirtualNetwork takes the UDR's prefix too.
    let vnet_tag: Vec<&str> = rules[1]["expandedDestinationAddressPrefix"].as_array().map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    for want in ["10.20.0.0/16", "168.63.129.16/32", "172.16.0.0/12"] {
        assert!(vnet_tag.contains(&want), "{want} not in {vnet_tag:?}");
    }
    // verify: the NSG denies HTTPS to 198.51.100.0/24 but not other ports.
    let d = verify(&p, "tcp 198.51.100.7:443");
    assert_eq!((d.allowed, d.blocked_by.map(|b| b.as_str())), (false, Some("nsg")));
    assert_eq!(d.nsg_rule.map(|i| p.rule_name(i)), Some("deny-test-net-https"));
    // Route All on and a NAT gateway on the subnet: internet leaves from the NAT address.
    let d = verify(&p, "udp 198.51.100.7:53");
    assert_eq!((d.allowed, d.path, d.next_hop, d.snat), (true, Path::Vnet, Some(NextHopType::Internet), SourceNat::NatGateway));
    let d = verify(&p, "icmp 198.18.0.9");
    assert_eq!((d.allowed, d.blocked_by.map(|b| b.as_str())), (false, Some("platform")), "NAT gateways carry no ICMP");
    // The UDR sends 172.16/12 to the appliance; the source stays private.
    let d = verify(&p, "tcp 172.16.3.3:22");
    assert_eq!((d.allowed, d.next_hop, d.source), (true, Some(NextHopType::VirtualAppliance), Ipv4Addr::new(10, 20, 1, 4)));
    // The storage account's name resolves through the linked zone to the PE.
    match p.resolve("stavmdata.blob.core.windows.net") {
        Resolution::Addresses { addrs, chain, .. } => {
            assert_eq!(addrs, vec![Ipv4Addr::new(10, 20, 2, 4)]);
            assert_eq!(chain[1], "stavmdata.privatelink.blob.core.windows.net");
        }
        other => panic!("{other:?}"),
    }
    let d = verify(&p, "tcp stavmdata.blob.core.windows.net:443");
    assert_eq!((d.allowed, d.next_hop), (true, Some(NextHopType::InterfaceEndpoint)));
}

#[test]
fn avm_app_stack_without_route_all_sends_internet_traffic_direct() {
    let mut inputs = stack_inputs();
    inputs.params.push("avm-web-site.json:outboundVnetRouting={\"applicationTraffic\":false}".into());
    let p = policy_of(&inputs);
    assert!(!p.route_all.on);
    // Off: the NSG and NAT gateway do not see internet traffic.
    let d = verify(&p, "tcp 198.51.100.7:443");
    assert_eq!((d.allowed, d.path, d.snat), (true, Path::Direct, SourceNat::SiteOutbound));
    // RFC 1918 still enters the VNet and meets the UDR.
    assert_eq!(verify(&p, "tcp 172.16.3.3:22").next_hop, Some(NextHopType::VirtualAppliance));
}

#[test]
fn function_premium_vnet_integration() {
    let rs = load_with("function-premium-vnet-integration.json", &[]);
    assert_eq!(rs.len(), 7);
    let site = one(&rs, "Microsoft.Web/sites");
    let vnet = one(&rs, "Microsoft.Network/virtualNetworks");
    assert_eq!(site.body["properties"]["virtualNetworkSubnetId"], json!(format!("{}/subnets/default", vnet.id)));
    assert_eq!(one(&rs, "Microsoft.Web/serverfarms").body["sku"], json!({"name": "EP1", "tier": "ElasticPremium"}));
    assert_eq!(one(&rs, "Microsoft.Web/sites/config").name, format!("{}/web", site.name));

    let p = policy("function-premium-vnet-integration.json");
    // No vnetRouteAllEnabled, no app setting: Route All is off.
    assert!(!p.route_all.on);
    assert_eq!(p.instance_ip(), Ipv4Addr::new(10, 0, 0, 4));
    assert!(p.nsg().is_none());
    assert!(explain::rules_text(&p).starts_with("No NSG on "));
    assert_eq!(route_to(&p, "10.0.0.0/16"), vec![(NextHopType::VnetLocal, RouteSource::Default, true)]);
    let d = verify(&p, "tcp 198.51.100.20:443");
    assert_eq!((d.allowed, d.path, d.snat), (true, Path::Direct, SourceNat::SiteOutbound));
    let d = verify(&p, "tcp 10.0.0.9:1433");
    assert_eq!((d.allowed, d.path, d.next_hop), (true, Path::Vnet, Some(NextHopType::VnetLocal)));
    // RFC 1918 outside the VNet enters it and is dropped by the None route.
    let d = verify(&p, "tcp 192.168.1.1:443");
    assert_eq!((d.allowed, d.next_hop), (false, Some(NextHopType::None)));
}

#[test]
fn function_app_private_endpoints_storage_private_endpoints() {
    let rs = load_with("function-app-private-endpoints-storage-private-endpoints.json", &[]);
    assert_eq!(rs.len(), 27);
    assert_eq!(of_type(&rs, "Microsoft.Network/privateEndpoints").len(), 5);
    assert_eq!(of_type(&rs, "Microsoft.Network/privateDnsZones").len(), 5);
    let site = one(&rs, "Microsoft.Web/sites");
    let account = one(&rs, "Microsoft.Storage/storageAccounts").name.clone();

    let p = policy("function-app-private-endpoints-storage-private-endpoints.json");
    assert_eq!(p.route_all.decided_by, "app setting WEBSITE_VNET_ROUTE_ALL");
    // The integration subnet has no NSG (the template puts none on it).
    assert!(p.nsg().is_none());
    assert!(explain::rules_text(&p).starts_with("No NSG on "), "{}", explain::rules_text(&p));
    assert!(matches!(&p.sender, Sender::Site { integration_by, .. } if integration_by == "sites/networkConfig"));
    // Endpoint addresses in template order: file, blob, table, queue, then the app's own.
    for (svc, last) in [("file", 4), ("blob", 5), ("table", 6), ("queue", 7)] {
        let (d, dst) = traced(&p, &format!("tcp {account}.{svc}.core.windows.net:443"));
        assert_eq!((d.allowed, d.next_hop, dst), (true, Some(NextHopType::InterfaceEndpoint), Ipv4Addr::new(10, 100, 1, last)), "{svc}");
    }
    // The app calling itself by name goes to its own private endpoint.
    let (d, dst) = traced(&p, &format!("tcp {}.azurewebsites.net:443", site.name));
    assert_eq!((d.allowed, d.next_hop, dst), (true, Some(NextHopType::InterfaceEndpoint), Ipv4Addr::new(10, 100, 1, 8)));
    assert_eq!(route_to(&p, "10.100.1.8/32"), vec![(NextHopType::InterfaceEndpoint, RouteSource::Default, true)]);
    let d = verify(&p, "tcp 198.51.100.20:443");
    assert_eq!((d.path, d.next_hop, d.snat), (Path::Vnet, Some(NextHopType::Internet), SourceNat::SiteOutbound));
}

#[test]
fn app_function_private_endpoint_storage_is_refused_like_azure_refuses_it() {
    // The quickstart's function subnet is 10.0.0.1/24: host bits set, which
    // Azure rejects at deployment. The error names the file, path and fix.
    let path = data("app-function-private-endpoint-storage.json");
    let msg = match scenario::load_scenario(&TestDisk, &Inputs { files: vec![path], ..Default::default() }) {
        Ok(_) => panic!("10.0.0.1/24 should be refused"),
        Err(e) => e.to_string(),
    };
    assert!(msg.contains("app-function-private-endpoint-storage.json"), "{msg}");
    assert!(msg.contains("$.resources[5].properties.addressPrefix"), "{msg}");
    assert!(msg.contains("did you mean 10.0.0.0/24"), "{msg}");
    // The ARM expansion itself succeeds: the refusal is the model's.
    let rs = load_with("app-function-private-endpoint-storage.json", &[]);
    assert_eq!(one(&rs, "Microsoft.Web/sites/config").body["properties"]["WEBSITE_DNS_SERVER"], json!("168.63.129.16"));
}
