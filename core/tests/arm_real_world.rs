//! The six real-world quickstart templates in `../shared/real-world/arm`
//! expand as they are (CRLF line endings included), with the facts the model
//! builder depends on.

mod common;

use common::arm::{of_type, one};
use serde_json::{json, Value};
use vnetlab_core::arm::{self, DeployContext, ParamValues, Resource};

const DIR: &str = "../../shared/real-world/arm";
const RG_ID: &str = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-vnetlab";

fn load_with(file: &str, params: &[(&str, Value)]) -> Vec<Resource> {
    let path = format!("{DIR}/{file}");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let pv = ParamValues { values: params.iter().map(|(k, v)| (k.to_string(), v.clone(), "test".to_string())).collect() };
    arm::detect_and_load(&text, &path, &pv, &DeployContext::default()).unwrap_or_else(|e| panic!("{e}"))
}

fn load(file: &str) -> Vec<Resource> {
    load_with(file, &[])
}

fn app_settings(site: &Resource) -> Vec<(String, String)> {
    site.body["properties"]["siteConfig"]["appSettings"]
        .as_array()
        .map(|a| a.iter().map(|s| (s["name"].as_str().unwrap_or("").to_string(), s["value"].as_str().unwrap_or("").to_string())).collect())
        .unwrap_or_default()
}

#[test]
fn app_service_regional_vnet_integration() {
    let rs = load("app-service-regional-vnet-integration.json");
    let vnet = one(&rs, "Microsoft.Network/virtualNetworks");
    let site = one(&rs, "Microsoft.Web/sites");
    let subnet_name = vnet.body["properties"]["subnets"][0]["name"].as_str().unwrap_or_default();
    // The site's subnet id comes from reference(vnet).subnets[0].id.
    assert_eq!(site.body["properties"]["virtualNetworkSubnetId"], json!(format!("{}/subnets/{subnet_name}", vnet.id)));
    assert_eq!(site.body["properties"]["vnetRouteAllEnabled"], json!(true));
    // appName defaults to uniqueString(resourceGroup().id): 13 base32 characters.
    assert_eq!(site.name.len(), 13);
    assert!(site.name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
    assert_eq!(vnet.name, format!("{}vnet", site.name));
    assert_eq!(subnet_name, format!("{}sn", site.name));
    let plan = one(&rs, "Microsoft.Web/serverfarms");
    assert_eq!(site.body["properties"]["serverFarmId"], json!(plan.id));
    assert!(site.body.get("dependsOn").is_none());
}

#[test]
fn function_app_vnet_integration() {
    let rs = load("function-app-vnet-integration.json");
    let site = one(&rs, "Microsoft.Web/sites");
    let vnet = one(&rs, "Microsoft.Network/virtualNetworks");
    let nc = one(&rs, "Microsoft.Web/sites/networkConfig");
    assert_eq!(nc.name, format!("{}/virtualNetwork", site.name));
    let subnet = vnet.body["properties"]["subnets"][0]["name"].as_str().unwrap_or_default();
    assert_eq!(nc.body["properties"]["subnetResourceId"], json!(format!("{}/subnets/{subnet}", vnet.id)));
    assert_eq!(nc.id, format!("{}/networkConfig/virtualNetwork", site.id));
    // The tag key is an expression.
    let ai = one(&rs, "Microsoft.Insights/components");
    let tags = ai.body["tags"].as_object().cloned().unwrap_or_default();
    assert_eq!(tags.keys().collect::<Vec<_>>(), vec![&format!("hidden-link:{}", site.id)]);
    // Windows by default: json('null') removes linuxFxVersion, kind is functionapp.
    assert!(site.body["properties"]["siteConfig"].get("linuxFxVersion").is_none());
    assert_eq!(site.body["kind"], json!("functionapp"));
    assert_eq!(site.body["properties"]["reserved"], json!(false));
    let settings = app_settings(site);
    let storage = settings.iter().find(|(k, _)| k == "AzureWebJobsStorage").map(|(_, v)| v.clone()).unwrap_or_default();
    assert!(storage.contains("EndpointSuffix= core.windows.net;"), "{storage}");
    assert!(storage.contains("AccountKey=<listKeys placeholder>"), "{storage}");
    assert!(settings.iter().any(|(k, v)| k == "APPINSIGHTS_INSTRUMENTATIONKEY" && v == "<runtime:InstrumentationKey>"));
    let plan = one(&rs, "Microsoft.Web/serverfarms");
    assert_eq!(plan.body["sku"]["tier"], json!("ElasticPremium"));
}

#[test]
fn function_app_vnet_integration_on_linux() {
    let rs = load_with("function-app-vnet-integration.json", &[("functionPlanOS", json!("Linux")), ("linuxFxVersion", json!("python|3.11"))]);
    let site = one(&rs, "Microsoft.Web/sites");
    assert_eq!(site.body["kind"], json!("functionapp,linux"));
    assert_eq!(site.body["properties"]["siteConfig"]["linuxFxVersion"], json!("python|3.11"));
    assert_eq!(one(&rs, "Microsoft.Web/serverfarms").body["properties"]["reserved"], json!(true));
}

#[test]
fn function_app_storage_private_endpoints() {
    let rs = load("function-app-storage-private-endpoints.json");
    let pes = of_type(&rs, "Microsoft.Network/privateEndpoints");
    assert_eq!(pes.len(), 4);
    let mut groups: Vec<String> =
        pes.iter().map(|p| p.body["properties"]["privateLinkServiceConnections"][0]["properties"]["groupIds"][0].as_str().unwrap_or("").to_string()).collect();
    groups.sort();
    assert_eq!(groups, vec!["blob", "file", "queue", "table"]);
    let mut zones: Vec<&str> = of_type(&rs, "Microsoft.Network/privateDnsZones").iter().map(|z| z.name.as_str()).collect();
    zones.sort();
    assert_eq!(
        zones,
        vec![
            "privatelink.blob.core.windows.net",
            "privatelink.file.core.windows.net",
            "privatelink.queue.core.windows.net",
            "privatelink.table.core.windows.net"
        ]
    );
    let vnet = one(&rs, "Microsoft.Network/virtualNetworks");
    let links = of_type(&rs, "Microsoft.Network/privateDnsZones/virtualNetworkLinks");
    assert_eq!(links.len(), 4);
    assert!(links.iter().all(|l| l.body["properties"]["virtualNetwork"]["id"] == json!(vnet.id)));
    let zone_groups = of_type(&rs, "Microsoft.Network/privateEndpoints/privateDnsZoneGroups");
    assert_eq!(zone_groups.len(), 4);
    let queue_group = zone_groups.iter().find(|g| g.name.contains("-queue-private-endpoint/")).map(|g| g.name.clone()).unwrap_or_default();
    assert!(queue_group.ends_with("/tablePrivateDnsZoneGroup"), "{queue_group}");
    let pe_subnet = format!("{}/subnets/snet-pe", vnet.id);
    assert!(pes.iter().all(|p| p.body["properties"]["subnet"]["id"] == json!(pe_subnet)));
    let site = one(&rs, "Microsoft.Web/sites");
    let settings = app_settings(site);
    assert!(settings.contains(&("WEBSITE_VNET_ROUTE_ALL".to_string(), "1".to_string())));
    assert!(settings.contains(&("WEBSITE_CONTENTOVERVNET".to_string(), "1".to_string())));
    let nc = one(&rs, "Microsoft.Web/sites/networkConfig");
    assert_eq!(nc.body["properties"]["subnetResourceId"], json!(format!("{}/subnets/snet-func", vnet.id)));
    let share = one(&rs, "Microsoft.Storage/storageAccounts/fileServices/shares");
    assert!(share.name.ends_with("/default/function-content-share"));
}

#[test]
fn webapp_privateendpoint_vnet_injection() {
    let rs = load("webapp-privateendpoint-vnet-injection.json");
    let vnet = one(&rs, "Microsoft.Network/virtualNetworks");
    let sites = of_type(&rs, "Microsoft.Web/sites");
    assert_eq!(sites.len(), 2);
    let site2 = sites.iter().find(|s| s.name.starts_with("webapp2")).copied();
    let Some(site2) = site2 else { panic!("no webapp2 site") };
    assert_eq!(site2.body["properties"]["virtualNetworkSubnetId"], json!(format!("{}/subnets/Subnet2", vnet.id)));
    assert_eq!(site2.body["properties"]["vnetRouteAllEnabled"], json!(true));
    let pe = one(&rs, "Microsoft.Network/privateEndpoints");
    let conn = &pe.body["properties"]["privateLinkServiceConnections"][0]["properties"];
    assert_eq!(conn["groupIds"], json!(["sites"]));
    let site1 = sites.iter().find(|s| s.name.starts_with("webapp1")).map(|s| s.id.clone()).unwrap_or_default();
    assert_eq!(conn["privateLinkServiceId"], json!(site1));
    assert_eq!(vnet.body["properties"]["subnets"][1]["properties"]["delegations"][0]["properties"]["serviceName"], json!("Microsoft.Web/serverfarms"));
}

#[test]
fn nat_gateway_vnet() {
    let rs = load("nat-gateway-vnet.json");
    let pip = one(&rs, "Microsoft.Network/publicIPAddresses");
    let nat = one(&rs, "Microsoft.Network/natGateways");
    assert_eq!(nat.body["properties"]["publicIpAddresses"], json!([{"id": pip.id}]));
    assert_eq!(nat.body["properties"]["idleTimeoutInMinutes"], json!(4));
    let vnet = one(&rs, "Microsoft.Network/virtualNetworks");
    assert_eq!(vnet.body["properties"]["subnets"][0]["name"], json!("mySubnet"));
    assert_eq!(vnet.body["properties"]["subnets"][0]["properties"]["natGateway"]["id"], json!(nat.id));
    let subnet = one(&rs, "Microsoft.Network/virtualNetworks/subnets");
    assert_eq!(subnet.name, "myVnet/mySubnet");
    assert_eq!(subnet.id, format!("{RG_ID}/providers/Microsoft.Network/virtualNetworks/myVnet/subnets/mySubnet"));
    assert_eq!(subnet.body["properties"]["natGateway"]["id"], json!(nat.id));
}

#[test]
fn nat_gateway_vnet_without_dns_label_drops_public_ip_list() {
    let rs = load_with("nat-gateway-vnet.json", &[("publicIpDns", json!(""))]);
    let nat = one(&rs, "Microsoft.Network/natGateways");
    let props = nat.body["properties"].as_object().cloned().unwrap_or_default();
    assert!(!props.contains_key("publicIpAddresses"), "{props:?}");
    assert_eq!(props.get("idleTimeoutInMinutes"), Some(&json!(4)));
}

fn route_table_params(path: &str) -> Vec<(String, Value, String)> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    arm::read_parameters_file(&text, path).unwrap_or_else(|e| panic!("{e}")).into_iter().map(|(k, v)| (k, v, path.to_string())).collect()
}

fn check_route_table(params_file: &str) {
    let path = format!("{DIR}/route-table-create.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let pv = ParamValues { values: route_table_params(params_file) };
    let rs = arm::detect_and_load(&text, &path, &pv, &DeployContext::default()).unwrap_or_else(|e| panic!("{e}"));
    // The lock's condition is false by default: only the route table remains.
    assert_eq!(rs.len(), 1);
    let rt = one(&rs, "Microsoft.Network/routeTables");
    let routes = rt.body["properties"]["routes"].as_array().cloned().unwrap_or_default();
    assert_eq!(routes.len(), 3);
    assert_eq!(routes[0]["name"], json!("default-to-firewall"));
    assert_eq!(routes[0]["properties"]["nextHopIpAddress"], json!("10.0.100.4"));
    assert_eq!(routes[0]["properties"]["nextHopType"], json!("VirtualAppliance"));
    for r in &routes[1..] {
        assert!(r["properties"].get("nextHopIpAddress").is_none(), "{r}");
    }
    for r in &routes {
        assert!(r["properties"].get("hasBgpOverride").is_none(), "{r}");
    }
    assert_eq!(routes[2]["properties"]["nextHopType"], json!("None"));
    assert_eq!(rt.body["properties"]["disableBgpRoutePropagation"], json!(false));
    assert!(rt.body["properties"].get("copy").is_none());
}

#[test]
fn route_table_create_with_shared_parameters_file() {
    check_route_table(&format!("{DIR}/route-table-create.parameters.json"));
}

#[test]
fn route_table_create_with_repo_parameters_file() {
    check_route_table("tests/data/arm/route-table-create.parameters.json");
}

#[test]
fn route_table_create_defaults_and_enabled_lock() {
    let rs = load_with("route-table-create.json", &[("enableDeleteLock", json!("true"))]);
    let rt = one(&rs, "Microsoft.Network/routeTables");
    assert_eq!(rt.body["properties"]["routes"], json!([]));
    let lock = one(&rs, "Microsoft.Authorization/locks");
    assert_eq!(lock.name, format!("{}-lck", rt.name));
    assert_eq!(lock.id, format!("{}/providers/Microsoft.Authorization/locks/{}", rt.id, lock.name));
}
