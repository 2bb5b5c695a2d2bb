//! Answers Azure gives (issue 9, "Give the answers Azure gives"): `--site`
//! with `--subnet` is refused, a flow to port 0 is refused, a conformance
//! path without cases is an error; deployment slots are sites of their own
//! (fact sheet 13.5); references resolve by full resource id, so two
//! resources of the same name in two resource groups stay apart.

use serde_json::{json, Value};
use std::path::PathBuf;
use vnetlab_core::arm::{expand_template, DeployContext, ParamValues};
use vnetlab_core::check::parse_flow;
use vnetlab_core::error::Error;
use vnetlab_core::policy::{Policy, PolicyOptions};

fn scenario(t: &Value) -> vnetlab_core::model::Scenario {
    let res = expand_template(t, "test.json", &ParamValues::default(), &DeployContext::default()).unwrap_or_else(|e| panic!("{e}"));
    vnetlab_core::model::build(&res).unwrap_or_else(|e| panic!("{e}"))
}

fn one_site() -> Value {
    json!({"resources": [
        {"type": "Microsoft.Network/virtualNetworks", "name": "vnet", "properties": {
            "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
            "subnets": [{"name": "integration", "properties": {"addressPrefix": "10.0.2.0/24",
                "delegations": [{"name": "d", "properties": {"serviceName": "Microsoft.Web/serverFarms"}}]}}]}},
        {"type": "Microsoft.Web/serverfarms", "name": "plan", "sku": {"name": "P1v3", "tier": "PremiumV3"}},
        {"type": "Microsoft.Web/sites", "name": "app", "properties": {
            "serverFarmId": "[resourceId('Microsoft.Web/serverfarms', 'plan')]",
            "virtualNetworkSubnetId": "[resourceId('Microsoft.Network/virtualNetworks/subnets', 'vnet', 'integration')]"}}
    ]})
}

#[test]
fn site_and_subnet_together_are_refused() {
    let sc = scenario(&one_site());
    let opts = PolicyOptions { site: Some("app".into()), subnet: Some("vnet/integration".into()), ..Default::default() };
    match Policy::compile(&sc, &opts) {
        Err(Error::BadArgument(m)) => assert!(m.contains("--site 'app'") && m.contains("--subnet 'vnet/integration'"), "{m}"),
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("--site with --subnet was accepted"),
    }
    // Each alone still works.
    assert!(Policy::compile(&sc, &PolicyOptions { site: Some("app".into()), ..Default::default() }).is_ok());
    assert!(Policy::compile(&sc, &PolicyOptions { subnet: Some("vnet/integration".into()), ..Default::default() }).is_ok());
}

#[test]
fn port_zero_is_not_a_destination() {
    for spec in ["tcp 10.0.1.4:0", "udp db.example.com:0"] {
        let e = parse_flow(spec).expect_err(spec);
        assert!(e.contains("port 0") && e.contains(spec), "{e}");
    }
    assert_eq!(parse_flow("tcp 10.0.1.4:1").map(|f| f.port), Ok(1));
    assert_eq!(parse_flow("icmp 10.0.1.4").map(|f| f.port), Ok(0), "ICMP has no port");
}

#[test]
fn conformance_without_cases_is_an_error() {
    let files = vnetlab_core::files::MemFiles::default().with("cases/notes.txt", "not a case").with("cases/data.json", "{\"resources\": []}");
    let paths: Vec<PathBuf> = vec!["cases".into()];
    match vnetlab_core::conformance::run(&files, &paths, &DeployContext::default(), None, |_| {}) {
        Err(Error::BadArgument(m)) => assert!(m.contains("no conformance cases in cases"), "{m}"),
        Err(e) => panic!("wrong error: {e}"),
        Ok(rep) => panic!("a path without cases ran: {} cases", rep.cases),
    }
}

/// A site in `integration` (NSG `nsg-prod`), its slot `staging` in
/// `slot-int` (NSG `nsg-slot`), a slot `bare` without integration, and a
/// private endpoint to the slot with its zone group.
const SLOTS: &str = r#"{
  "resources": [
    {"type": "Microsoft.Network/networkSecurityGroups", "name": "nsg-prod", "properties": {"securityRules": []}},
    {"type": "Microsoft.Network/networkSecurityGroups", "name": "nsg-slot", "properties": {"securityRules": []}},
    {"type": "Microsoft.Network/virtualNetworks", "name": "vnet", "properties": {
      "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
      "subnets": [
        {"name": "integration", "properties": {"addressPrefix": "10.0.2.0/24",
          "networkSecurityGroup": {"id": "[resourceId('Microsoft.Network/networkSecurityGroups', 'nsg-prod')]"},
          "delegations": [{"name": "d", "properties": {"serviceName": "Microsoft.Web/serverFarms"}}]}},
        {"name": "slot-int", "properties": {"addressPrefix": "10.0.3.0/24",
          "networkSecurityGroup": {"id": "[resourceId('Microsoft.Network/networkSecurityGroups', 'nsg-slot')]"},
          "delegations": [{"name": "d", "properties": {"serviceName": "Microsoft.Web/serverFarms"}}]}},
        {"name": "pe", "properties": {"addressPrefix": "10.0.9.0/24"}}]}},
    {"type": "Microsoft.Web/serverfarms", "name": "plan", "sku": {"name": "P1v3", "tier": "PremiumV3"}},
    {"type": "Microsoft.Web/sites", "name": "app", "properties": {
      "serverFarmId": "[resourceId('Microsoft.Web/serverfarms', 'plan')]",
      "virtualNetworkSubnetId": "[resourceId('Microsoft.Network/virtualNetworks/subnets', 'vnet', 'integration')]",
      "vnetRouteAllEnabled": false}},
    {"type": "Microsoft.Web/sites/slots", "name": "app/staging", "properties": {
      "virtualNetworkSubnetId": "[resourceId('Microsoft.Network/virtualNetworks/subnets', 'vnet', 'slot-int')]",
      "vnetRouteAllEnabled": true,
      "siteConfig": {"appSettings": [{"name": "SLOT_ONLY", "value": "yes"}]}}},
    {"type": "Microsoft.Web/sites/slots", "name": "app/bare", "properties": {}},
    {"type": "Microsoft.Network/privateDnsZones", "name": "privatelink.azurewebsites.net"},
    {"type": "Microsoft.Network/privateDnsZones/virtualNetworkLinks", "name": "privatelink.azurewebsites.net/link", "properties": {
      "virtualNetwork": {"id": "[resourceId('Microsoft.Network/virtualNetworks', 'vnet')]"}, "registrationEnabled": false}},
    {"type": "Microsoft.Network/privateEndpoints", "name": "pe-staging", "properties": {
      "subnet": {"id": "[resourceId('Microsoft.Network/virtualNetworks/subnets', 'vnet', 'pe')]"},
      "privateLinkServiceConnections": [{"name": "c", "properties": {
        "privateLinkServiceId": "[resourceId('Microsoft.Web/sites', 'app')]", "groupIds": ["sites-staging"]}}],
      "ipConfigurations": [{"name": "ip", "properties": {"privateIPAddress": "10.0.9.20"}}]}},
    {"type": "Microsoft.Network/privateEndpoints/privateDnsZoneGroups", "name": "pe-staging/default", "properties": {
      "privateDnsZoneConfigs": [{"name": "z", "properties": {
        "privateDnsZoneId": "[resourceId('Microsoft.Network/privateDnsZones', 'privatelink.azurewebsites.net')]"}}]}}
  ]
}"#;

fn site(sc: &vnetlab_core::model::Scenario, name: &str) -> Result<Policy, Error> {
    Policy::compile(sc, &PolicyOptions { site: Some(name.into()), ..Default::default() })
}

#[test]
fn a_slot_is_a_site_with_its_own_integration() {
    let t: Value = serde_json::from_str(SLOTS).unwrap_or_else(|e| panic!("{e}"));
    let sc = scenario(&t);
    let slot = site(&sc, "app/staging").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(slot.subnet_name, "vnet/slot-int");
    assert!(slot.route_all.on, "the slot's own vnetRouteAllEnabled");
    let s = sc.sites.iter().find(|s| s.name == "app/staging").unwrap_or_else(|| panic!("no slot site"));
    assert_eq!(s.app_settings.get("SLOT_ONLY").map(String::as_str), Some("yes"));
    assert!(s.plan.is_some(), "a slot runs on its site's plan");
    assert!(!s.access.public_network_access, "the endpoint to the slot closes the slot's public access");
    let prod = site(&sc, "app").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(prod.subnet_name, "vnet/integration");
    assert!(!prod.route_all.on);
    let p = sc.sites.iter().find(|s| s.name == "app").unwrap_or_else(|| panic!("no site"));
    assert!(p.access.public_network_access, "an endpoint to a slot does not close the production site");
    // Two sites are integrated: no silent choice.
    assert!(matches!(Policy::compile(&sc, &PolicyOptions::default()), Err(Error::BadArgument(_))));
}

#[test]
fn a_slot_without_integration_does_not_inherit_the_sites() {
    let t: Value = serde_json::from_str(SLOTS).unwrap_or_else(|e| panic!("{e}"));
    let sc = scenario(&t);
    match site(&sc, "app/bare") {
        Err(Error::NoIntegration(m)) => assert!(m.contains("'app/bare' has no regional virtual network integration"), "{m}"),
        Err(e) => panic!("wrong error: {e}"),
        Ok(p) => panic!("slot inherited {}", p.subnet_name),
    }
}

#[test]
fn a_slot_endpoint_registers_the_slot_host_name() {
    let t: Value = serde_json::from_str(SLOTS).unwrap_or_else(|e| panic!("{e}"));
    let sc = scenario(&t);
    let p = site(&sc, "app/staging").unwrap_or_else(|e| panic!("{e}"));
    let addrs = |n: &str| vnetlab_core::check::resolved_addresses(&p.resolve(n));
    let pe: std::net::Ipv4Addr = "10.0.9.20".parse().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(addrs("app-staging.azurewebsites.net"), vec![pe]);
    assert_eq!(addrs("app-staging.scm.azurewebsites.net"), vec![pe]);
    assert!(!addrs("app.azurewebsites.net").contains(&pe), "the production name is not the slot's endpoint");
}

fn res(rtype: &str, id: &str, body: Value) -> vnetlab_core::arm::Resource {
    let name = id.rsplit('/').next().unwrap_or(id).to_string();
    vnetlab_core::arm::Resource { rtype: rtype.into(), name, id: id.into(), body, file: "az.json".into(), path: "$".into() }
}

#[test]
fn a_subnet_id_picks_the_vnet_of_its_resource_group() {
    let rg = |g: &str| format!("/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/{g}/providers");
    let vnet = |g: &str, prefix: &str| {
        res(
            "Microsoft.Network/virtualNetworks",
            &format!("{}/Microsoft.Network/virtualNetworks/vnet", rg(g)),
            json!({"properties": {"addressSpace": {"addressPrefixes": [prefix]},
                "subnets": [{"name": "integration", "properties": {"addressPrefix": prefix.replace(".0.0/16", ".2.0/24"),
                    "delegations": [{"name": "d", "properties": {"serviceName": "Microsoft.Web/serverFarms"}}]}}]}}),
        )
    };
    for (target, want) in [("rg-b", "10.1.2.0/24"), ("rg-a", "10.0.2.0/24")] {
        let site = res(
            "Microsoft.Web/sites",
            &format!("{}/Microsoft.Web/sites/app", rg("rg-app")),
            json!({"properties": {"virtualNetworkSubnetId": format!("{}/Microsoft.Network/virtualNetworks/vnet/subnets/integration", rg(target))}}),
        );
        let sc = vnetlab_core::model::build(&[vnet("rg-a", "10.0.0.0/16"), vnet("rg-b", "10.1.0.0/16"), site]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(sc.vnets.len(), 2, "two VNets of one name are two resources");
        let p = Policy::compile(&sc, &PolicyOptions::default()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.instance_subnet().to_string(), want, "virtualNetworkSubnetId in {target}");
    }
}
