//! The native TOML scenario becomes the same ARM-shaped resources a
//! template would give; mistakes are errors with the TOML line.

use serde_json::json;
use vnetlab_core::arm::{self, DeployContext, ParamValues, Resource};

const P: &str = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-vnetlab/providers";

fn example() -> Vec<Resource> {
    let path = "../examples/scenario.toml";
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    arm::detect_and_load(&text, path, &ParamValues::default(), &DeployContext::default()).unwrap_or_else(|e| panic!("{e}"))
}

fn find<'r>(rs: &'r [Resource], t: &str, n: &str) -> &'r Resource {
    rs.iter().find(|r| r.rtype == t && r.name == n).unwrap_or_else(|| panic!("no {t} {n}"))
}

fn native_err(text: &str) -> String {
    arm::load_native(text, "s.toml", &DeployContext::default()).err().map(|e| e.to_string()).unwrap_or_else(|| panic!("no error for {text}"))
}

#[test]
fn example_scenario_site_and_plan() {
    let rs = example();
    let site = find(&rs, "Microsoft.Web/sites", "func-app");
    assert_eq!(site.body["kind"], json!("functionapp,linux"));
    let p = &site.body["properties"];
    assert_eq!(p["virtualNetworkSubnetId"], json!(format!("{P}/Microsoft.Network/virtualNetworks/vnet-app/subnets/integration")));
    assert_eq!(p["vnetRouteAllEnabled"], json!(true));
    assert_eq!(p["outboundIpAddresses"], json!("198.51.100.10,198.51.100.11"));
    assert_eq!(p["serverFarmId"], json!(format!("{P}/Microsoft.Web/serverfarms/plan-func-app")));
    let settings = p["siteConfig"]["appSettings"].as_array().cloned().unwrap_or_default();
    assert!(settings.contains(&json!({"name": "WEBSITE_DNS_SERVER", "value": "168.63.129.16"})));
    let plan = find(&rs, "Microsoft.Web/serverfarms", "plan-func-app");
    assert_eq!(plan.body["sku"], json!({"name": "EP1", "tier": "ElasticPremium"}));
    assert_eq!(plan.body["kind"], json!("elastic"));
    assert_eq!(plan.body["properties"]["reserved"], json!(true));
}

#[test]
fn example_scenario_network() {
    let rs = example();
    let vnet = find(&rs, "Microsoft.Network/virtualNetworks", "vnet-app");
    let s = &vnet.body["properties"]["subnets"][0];
    assert_eq!(s["name"], json!("integration"));
    assert_eq!(s["properties"]["addressPrefix"], json!("10.0.2.0/24"));
    assert_eq!(s["properties"]["networkSecurityGroup"]["id"], json!(format!("{P}/Microsoft.Network/networkSecurityGroups/nsg-int")));
    assert_eq!(s["properties"]["routeTable"]["id"], json!(format!("{P}/Microsoft.Network/routeTables/rt-int")));
    assert_eq!(s["properties"]["natGateway"]["id"], json!(format!("{P}/Microsoft.Network/natGateways/natgw")));
    assert_eq!(s["properties"]["delegations"][0]["properties"]["serviceName"], json!("Microsoft.Web/serverFarms"));
    // The example has no service endpoint (it would need the service tag's prefixes to run).
    assert!(s["properties"].get("serviceEndpoints").is_none());
    let peer = &vnet.body["properties"]["virtualNetworkPeerings"][0];
    assert_eq!(peer["name"], json!("vnet-app-to-vnet-hub"));
    assert_eq!(peer["properties"]["remoteVirtualNetwork"]["id"], json!(format!("{P}/Microsoft.Network/virtualNetworks/vnet-hub")));
    assert_eq!(peer["properties"]["useRemoteGateways"], json!(true));
    assert_eq!(peer["properties"]["allowVirtualNetworkAccess"], json!(true));

    let nsg = find(&rs, "Microsoft.Network/networkSecurityGroups", "nsg-int");
    let deny = &nsg.body["properties"]["securityRules"][1]["properties"];
    assert_eq!(deny["destinationPortRanges"], json!(["80", "8080-8090"]));
    assert_eq!(deny["destinationAddressPrefix"], json!("Internet"));
    assert_eq!(deny["sourcePortRange"], json!("*"));
    let allow = &nsg.body["properties"]["securityRules"][0]["properties"];
    assert_eq!(allow["direction"], json!("Outbound"));
    assert_eq!(allow["destinationPortRange"], json!("443"));
    assert_eq!(allow["sourceAddressPrefix"], json!("*"));

    let rt = find(&rs, "Microsoft.Network/routeTables", "rt-int");
    assert_eq!(
        rt.body["properties"]["routes"][0]["properties"],
        json!({"addressPrefix": "192.168.50.0/24", "nextHopType": "VirtualAppliance", "nextHopIpAddress": "10.1.0.4"})
    );

    let pip = find(&rs, "Microsoft.Network/publicIPAddresses", "natgw-pip-1");
    assert_eq!(pip.body["properties"]["ipAddress"], json!("198.18.0.50"));
    let nat = find(&rs, "Microsoft.Network/natGateways", "natgw");
    assert_eq!(nat.body["properties"]["publicIpAddresses"], json!([{"id": pip.id}]));
}

#[test]
fn example_scenario_private_endpoint_dns_and_gateways() {
    let rs = example();
    let st = find(&rs, "Microsoft.Storage/storageAccounts", "stfuncdata");
    let pe = find(&rs, "Microsoft.Network/privateEndpoints", "pe-blob");
    let p = &pe.body["properties"];
    assert_eq!(p["privateLinkServiceConnections"][0]["properties"], json!({"privateLinkServiceId": st.id, "groupIds": ["blob"]}));
    assert_eq!(p["ipConfigurations"][0]["properties"]["privateIPAddress"], json!("10.0.1.5"));
    assert_eq!(p["subnet"]["id"], json!(format!("{P}/Microsoft.Network/virtualNetworks/vnet-app/subnets/data")));
    let zg = find(&rs, "Microsoft.Network/privateEndpoints/privateDnsZoneGroups", "pe-blob/default");
    assert_eq!(
        zg.body["properties"]["privateDnsZoneConfigs"][0]["properties"]["privateDnsZoneId"],
        json!(format!("{P}/Microsoft.Network/privateDnsZones/privatelink.blob.core.windows.net"))
    );
    let link = find(&rs, "Microsoft.Network/privateDnsZones/virtualNetworkLinks", "privatelink.blob.core.windows.net/vnet-app-link");
    assert_eq!(link.body["properties"]["resolutionPolicy"], json!("Default"));
    let a = find(&rs, "Microsoft.Network/privateDnsZones/A", "privatelink.blob.core.windows.net/stfuncdata");
    assert_eq!(a.body["properties"]["aRecords"], json!([{"ipv4Address": "10.0.1.5"}]));
    let gw = find(&rs, "Microsoft.Network/virtualNetworkGateways", "vpngw-hub");
    assert_eq!(
        gw.body["properties"]["ipConfigurations"][0]["properties"]["subnet"]["id"],
        json!(format!("{P}/Microsoft.Network/virtualNetworks/vnet-hub/subnets/GatewaySubnet"))
    );
    let lgw = find(&rs, "Microsoft.Network/localNetworkGateways", "onprem");
    assert_eq!(lgw.body["properties"]["localNetworkAddressSpace"]["addressPrefixes"], json!(["192.168.0.0/16"]));
    let conn = find(&rs, "Microsoft.Network/connections", "hub-to-onprem");
    assert_eq!(conn.body["properties"]["virtualNetworkGateway1"]["id"], json!(gw.id));
    assert_eq!(conn.body["properties"]["localNetworkGateway2"]["id"], json!(lgw.id));
    // Each resource's path is the TOML line it came from.
    assert!(rs.iter().all(|r| r.path.starts_with("line ")));
    assert_eq!(find(&rs, "Microsoft.Web/sites", "func-app").path, "line 10");
}

#[test]
fn unknown_key_is_an_error_with_its_line() {
    let e = native_err("[[vnet]]\nname = \"v\"\naddress_space = [\"10.0.0.0/16\"]\n\n[[vnet.subnet]]\nname = \"s\"\nprefx = \"10.0.0.0/24\"\n");
    assert!(e.starts_with("s.toml: at line 7: unknown field `prefx`"), "{e}");
    let e = native_err("[[sites]]\nname = \"x\"\n");
    assert!(e.contains("line 1") && e.contains("unknown field `sites`"), "{e}");
}

#[test]
fn bad_toml_syntax_has_a_line() {
    let e = native_err("[[site]]\nname = \"x\n");
    assert!(e.starts_with("s.toml: at line 2:"), "{e}");
}

#[test]
fn semantic_errors_name_the_line() {
    let base = "[[vnet]]\nname = \"v\"\naddress_space = [\"10.0.0.0/16\"]\n[[vnet.subnet]]\nname = \"s\"\nprefix = \"10.0.0.0/24\"\n";
    let e = native_err(&format!("{base}nsg = \"missing\"\n"));
    assert_eq!(e, "s.toml: at line 7: nsg 'missing' is not declared in this scenario");
    let e = native_err(&format!("{base}[[site]]\nname = \"a\"\nplan = \"ZZ9\"\n"));
    assert!(e.starts_with("s.toml: at line 9: unknown plan SKU 'ZZ9'"), "{e}");
    let e = native_err(&format!("{base}[[site]]\nname = \"a\"\nplan = \"EP1\"\nsubnet = \"s\"\n"));
    assert!(e.starts_with("s.toml: at line 10: subnet reference 's' must have the form 'vnet/subnet'"), "{e}");
    let e = native_err(&format!("{base}[[site]]\nname = \"a\"\nplan = \"EP1\"\nsubnet = \"v/nope\"\n"));
    assert!(e.contains("line 10: subnet 'v/nope' is not declared"), "{e}");
    let e = native_err("[[nsg]]\nname = \"n\"\n[[nsg.rule]]\nname = \"r\"\npriority = 100\naccess = \"Maybe\"\n");
    assert!(e.starts_with("s.toml: at line 6: access 'Maybe' is not one of Allow, Deny"), "{e}");
    let e = native_err("[[nsg]]\nname = \"n\"\n[[nsg]]\nname = \"N\"\n");
    assert!(e.starts_with("s.toml: at line 4: nsg 'N' is declared twice"), "{e}");
    let e = native_err("[[route_table]]\nname = \"rt\"\n[[route_table.route]]\nname = \"r\"\nprefix = \"0.0.0.0/0\"\nnext_hop = \"VirtualAppliance\"\n");
    assert!(e.contains("line 6: a VirtualAppliance route needs next_hop_ip"), "{e}");
}

#[test]
fn plan_tiers_and_shared_plans() {
    let text = "[[site]]\nname = \"a\"\nplan = \"P1v3\"\nplan_name = \"shared\"\nos = \"windows\"\n[[site]]\nname = \"b\"\nplan = \"P1v3\"\nplan_name = \"shared\"\nos = \"windows\"\n[[site]]\nname = \"c\"\nplan = \"FC1\"\n";
    let rs = arm::load_native(text, "s.toml", &DeployContext::default()).unwrap_or_else(|e| panic!("{e}"));
    let plans: Vec<&Resource> = rs.iter().filter(|r| r.rtype == "Microsoft.Web/serverfarms").collect();
    assert_eq!(plans.len(), 2);
    assert_eq!(plans[0].body["sku"]["tier"], json!("PremiumV3"));
    assert_eq!(plans[0].body["properties"]["reserved"], json!(false));
    assert_eq!(plans[1].body["sku"]["tier"], json!("FlexConsumption"));
    assert_eq!(find(&rs, "Microsoft.Web/sites", "a").body["kind"], json!("app"));
    assert_eq!(find(&rs, "Microsoft.Web/sites", "c").body["kind"], json!("functionapp,linux"));
    let e = native_err("[[site]]\nname = \"a\"\nplan = \"S1\"\nplan_name = \"p\"\n[[site]]\nname = \"b\"\nplan = \"P1v2\"\nplan_name = \"p\"\n");
    assert!(e.contains("line 7: plan 'p' is used with different SKUs"), "{e}");
}

#[test]
fn documented_example_loads() {
    let doc = std::fs::read_to_string("../docs/native-scenario.md").unwrap_or_else(|e| panic!("docs/native-scenario.md: {e}"));
    let start = doc.find("```toml\n").map(|i| i + 8).unwrap_or_else(|| panic!("no toml block in the docs"));
    let end = doc[start..].find("```").map(|i| i + start).unwrap_or(doc.len());
    let rs = arm::load_native(&doc[start..end], "docs/native-scenario.md", &DeployContext::default()).unwrap_or_else(|e| panic!("{e}"));
    let site = find(&rs, "Microsoft.Web/sites", "func-app");
    assert_eq!(site.body["properties"]["vnetRouteAllEnabled"], json!(true));
    assert_eq!(
        find(&rs, "Microsoft.Network/privateDnsZones/A", "privatelink.blob.core.windows.net/stfuncdata").body["properties"]["aRecords"][0]["ipv4Address"],
        json!("10.0.1.5")
    );
}

#[test]
fn service_endpoints_become_arm_service_endpoints() {
    let text = "[[vnet]]\nname = \"v\"\naddress_space = [\"10.0.0.0/16\"]\n[[vnet.subnet]]\nname = \"s\"\nprefix = \"10.0.2.0/24\"\nservice_endpoints = [\"Microsoft.Sql\"]\n";
    let rs = arm::load_native(text, "s.toml", &DeployContext::default()).unwrap_or_else(|e| panic!("{e}"));
    let vnet = find(&rs, "Microsoft.Network/virtualNetworks", "v");
    assert_eq!(vnet.body["properties"]["subnets"][0]["properties"]["serviceEndpoints"], json!([{"service": "Microsoft.Sql", "locations": ["westeurope"]}]));
}
