//! `az ... show -o json` output is normalised into the ARM shape.

use serde_json::{json, Value};
use vnetlab_core::arm::{self, DeployContext, ParamValues, Resource};

const P: &str = "/subscriptions/00000000-0000-0000-0000-0000000000aa/resourceGroups/rg-prod/providers";

fn load(file: &str) -> Vec<Resource> {
    let path = format!("tests/data/arm/az/{file}");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    arm::detect_and_load(&text, &path, &ParamValues::default(), &DeployContext::default()).unwrap_or_else(|e| panic!("{e}"))
}

fn az_err(v: Value) -> String {
    arm::load_az(&v, "az.json", &DeployContext::default()).err().map(|e| e.to_string()).unwrap_or_default()
}

#[test]
fn vnet_show_is_reshaped_with_inline_subnets_and_peerings() {
    let rs = load("vnet-show.json");
    assert_eq!(rs.len(), 1);
    let v = &rs[0];
    assert_eq!((v.rtype.as_str(), v.name.as_str()), ("Microsoft.Network/virtualNetworks", "vnet-app"));
    assert_eq!(v.id, format!("{P}/Microsoft.Network/virtualNetworks/vnet-app"));
    let b = &v.body;
    assert_eq!(b["location"], json!("westeurope"));
    assert_eq!(b["resourceGroup"], json!("rg-prod"));
    assert_eq!(b["properties"]["addressSpace"]["addressPrefixes"], json!(["10.0.0.0/16"]));
    assert!(b.get("addressSpace").is_none() && b.get("subnets").is_none());
    assert!(b["properties"].get("bgpCommunities").is_none(), "nulls are dropped");
    let s0 = &b["properties"]["subnets"][0];
    assert_eq!(s0["name"], json!("integration"));
    assert_eq!(s0["properties"]["addressPrefix"], json!("10.0.2.0/24"));
    assert_eq!(s0["properties"]["networkSecurityGroup"]["id"], json!(format!("{P}/Microsoft.Network/networkSecurityGroups/nsg-int")));
    assert_eq!(s0["properties"]["natGateway"]["id"], json!(format!("{P}/Microsoft.Network/natGateways/natgw")));
    assert_eq!(s0["properties"]["delegations"][0]["name"], json!("delegation"));
    assert_eq!(s0["properties"]["delegations"][0]["properties"]["serviceName"], json!("Microsoft.Web/serverFarms"));
    // ARM's serviceEndpoints elements have no `properties` wrapper.
    assert_eq!(s0["properties"]["serviceEndpoints"][0]["service"], json!("Microsoft.Storage"));
    assert!(s0.get("addressPrefix").is_none());
    let peer = &b["properties"]["virtualNetworkPeerings"][0];
    assert_eq!(peer["name"], json!("app-to-hub"));
    assert_eq!(peer["properties"]["remoteAddressSpace"]["addressPrefixes"], json!(["10.1.0.0/16"]));
    assert_eq!(peer["properties"]["allowVirtualNetworkAccess"], json!(true));
}

#[test]
fn nsg_show_rules_get_properties() {
    let rs = load("nsg-show.json");
    let r = &rs[0].body["properties"]["securityRules"][0];
    assert_eq!(r["name"], json!("DenyInternetOut"));
    assert_eq!(r["properties"]["priority"], json!(200));
    assert_eq!(r["properties"]["destinationPortRanges"], json!(["80", "443"]));
    assert_eq!(r["properties"]["direction"], json!("Outbound"));
    let d = &rs[0].body["properties"]["defaultSecurityRules"][0];
    assert_eq!(d["properties"]["priority"], json!(65000));
}

#[test]
fn functionapp_show_keeps_site_fields_under_properties() {
    let rs = load("functionapp-show.json");
    let s = &rs[0];
    assert_eq!(s.rtype, "Microsoft.Web/sites");
    assert_eq!(s.body["kind"], json!("functionapp,linux"));
    let p = &s.body["properties"];
    assert_eq!(p["outboundIpAddresses"], json!("198.51.100.10,198.51.100.11"));
    assert_eq!(p["virtualNetworkSubnetId"], json!(format!("{P}/Microsoft.Network/virtualNetworks/vnet-app/subnets/integration")));
    assert_eq!(p["vnetRouteAllEnabled"], json!(true));
    assert_eq!(p["siteConfig"]["vnetRouteAllEnabled"], json!(true));
    assert!(p["siteConfig"].get("appSettings").is_none());
    assert_eq!(p["serverFarmId"], json!(format!("{P}/Microsoft.Web/serverfarms/plan-func")));
}

#[test]
fn standalone_subnet_show_gets_parent_name_from_id() {
    let rs = load("subnet-show.json");
    assert_eq!((rs[0].rtype.as_str(), rs[0].name.as_str()), ("Microsoft.Network/virtualNetworks/subnets", "vnet-app/integration"));
    assert_eq!(rs[0].body["properties"]["delegations"][0]["properties"]["serviceName"], json!("Microsoft.Web/serverFarms"));
    assert_eq!(rs[0].body["name"], json!("vnet-app/integration"));
}

#[test]
fn resource_list_keeps_existing_properties() {
    let rs = load("resource-list.json");
    assert_eq!(rs.len(), 2);
    assert_eq!(rs[0].name, "rt-int");
    assert_eq!(rs[0].path, "$[0]");
    assert_eq!(rs[1].body["properties"]["publicIpAddresses"][0]["id"], json!(format!("{P}/Microsoft.Network/publicIPAddresses/pip-nat")));
    assert_eq!(rs[1].body["sku"]["name"], json!("Standard"));
}

#[test]
fn az_objects_without_id_use_the_context() {
    let rs = arm::load_az(&json!({"type": "Microsoft.Network/routeTables", "name": "rt", "routes": []}), "x", &DeployContext::default()).unwrap_or_default();
    assert_eq!(rs[0].id, "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-vnetlab/providers/Microsoft.Network/routeTables/rt");
    assert_eq!(rs[0].body["properties"]["routes"], json!([]));
}

#[test]
fn az_input_of_unknown_shape_is_an_error() {
    assert!(az_err(json!(42)).contains("must be a resource object or an array"));
    assert!(az_err(json!([{"type": "Microsoft.Network/routeTables", "name": "a"}, {"name": "b"}]))
        .contains("az.json: at $[1]: expected an az resource object with 'type'"));
    assert!(az_err(json!({"type": "routeTable", "name": "a"})).contains("at $.type: 'type' must be a resource type"));
    assert!(az_err(json!({"type": "Microsoft.Network/routeTables", "id": "nonsense"})).contains("at $.id: 'nonsense' is not a resource id"));
    assert!(az_err(json!({"type": "Microsoft.Network/virtualNetworks/subnets", "name": "integration"})).contains("needs its full 'id'"));
    assert!(az_err(json!({"type": "Microsoft.Network/routeTables", "id": format!("{P}/Microsoft.Network/natGateways/x")}))
        .contains("the id names a Microsoft.Network/natGateways"));
    let e = arm::detect_and_load(
        "[{\"type\": \"A.B/c\", \"id\": \"/x\"}]",
        "a.json",
        &ParamValues { values: vec![("p".into(), json!(1), "-p".into())] },
        &DeployContext::default(),
    )
    .err()
    .map(|e| e.to_string())
    .unwrap_or_default();
    assert!(e.contains("takes no parameters"), "{e}");
}

#[test]
fn private_endpoint_and_public_ip_show_use_arm_spelling() {
    let pe = &load("private-endpoint-show.json")[0];
    let p = &pe.body["properties"];
    assert_eq!(p["subnet"]["id"], json!(format!("{P}/Microsoft.Network/virtualNetworks/vnet-app/subnets/data")));
    let conn = &p["privateLinkServiceConnections"][0];
    assert_eq!(conn["name"], json!("pe-blob-conn"));
    assert_eq!(conn["properties"]["groupIds"], json!(["blob"]));
    assert_eq!(conn["properties"]["privateLinkServiceId"], json!(format!("{P}/Microsoft.Storage/storageAccounts/stfuncdata")));
    assert_eq!(p["customDnsConfigs"][0]["ipAddresses"], json!(["10.0.1.5"]));
    let pip = &load("public-ip-show.json")[0];
    assert_eq!(pip.body["properties"]["ipAddress"], json!("198.18.0.50"));
    assert_eq!(pip.body["properties"]["publicIPAllocationMethod"], json!("Static"));
    assert_eq!(pip.body["properties"]["publicIPAddressVersion"], json!("IPv4"));
    assert_eq!(pip.body["sku"]["name"], json!("Standard"));
    let ipc = arm::load_az(
        &json!({"type": "Microsoft.Network/privateEndpoints", "name": "pe",
        "ipConfigurations": [{"name": "c", "etag": "W/\"1\"", "groupId": "blob", "memberName": "blob", "privateIpAddress": "10.0.1.9"}]}),
        "x",
        &DeployContext::default(),
    )
    .unwrap_or_default();
    assert_eq!(ipc[0].body["properties"]["ipConfigurations"][0]["properties"]["privateIPAddress"], json!("10.0.1.9"));
}
