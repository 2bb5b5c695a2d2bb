//! Values a template cannot know before deployment: `deployment().location`
//! (the region deployed to, `--location`, else westeurope with one warning)
//! and runtime placeholders where the model needs an address (an A record
//! from `reference(pip).ipAddress`, a next hop from a firewall's
//! `privateIPAddress`, also through a module's output): the public IP's
//! address, the user's `--deploy-value`, or a deterministic synthetic
//! address with one warning naming the file, the JSON path and the flag.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use vnetlab_core::arm::DeployContext;
use vnetlab_core::files::MemFiles;
use vnetlab_core::model::{AccessSource, AddrItem, DeployValue, Scenario};
use vnetlab_core::scenario::{self, Inputs};

const FILE: &str = "dt.json";

fn template(resources: &str) -> String {
    format!(
        r#"{{"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#", "contentVersion": "1.0.0.0", "resources": [{resources}]}}"#
    )
}

const VNET: &str = r#"{"type": "Microsoft.Network/virtualNetworks", "apiVersion": "2023-04-01", "name": "vnet", "location": "westeurope",
    "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}, "subnets": [{"name": "s", "properties": {"addressPrefix": "10.0.2.0/24"}}]}}"#;

const PIP: &str = r#"{"type": "Microsoft.Network/publicIPAddresses", "apiVersion": "2023-04-01", "name": "pip", "location": "westeurope",
    "sku": {"name": "Standard"}, "properties": {"publicIPAllocationMethod": "Static"}}"#;

const ZONE: &str = r#"{"type": "Microsoft.Network/privateDnsZones", "apiVersion": "2020-06-01", "name": "contoso.internal", "location": "global"}"#;

fn a_record(name: &str, addr: &str) -> String {
    format!(
        r#"{{"type": "Microsoft.Network/privateDnsZones/A", "apiVersion": "2020-06-01", "name": "contoso.internal/{name}",
        "properties": {{"ttl": 300, "aRecords": [{{"ipv4Address": "{addr}"}}]}}}}"#
    )
}

fn route_table(next_hop: &str) -> String {
    format!(
        r#"{{"type": "Microsoft.Network/routeTables", "apiVersion": "2023-04-01", "name": "rt", "location": "westeurope",
        "properties": {{"routes": [{{"name": "to-fw", "properties": {{"addressPrefix": "0.0.0.0/0", "nextHopType": "VirtualAppliance", "nextHopIpAddress": "{next_hop}"}}}}]}}}}"#
    )
}

const FW_IP: &str = "[reference(resourceId('Microsoft.Network/azureFirewalls', 'fw')).ipConfigurations[0].properties.privateIPAddress]";
const PIP_IP: &str = "[reference(resourceId('Microsoft.Network/publicIPAddresses', 'pip')).ipAddress]";

fn inputs() -> Inputs {
    Inputs { files: vec![PathBuf::from(FILE)], ..Default::default() }
}

fn load(text: &str, inputs: &Inputs) -> Scenario {
    let files = MemFiles::default().with(FILE, text);
    scenario::load_scenario(&files, inputs).unwrap_or_else(|e| panic!("loads: {e}"))
}

fn a_of(sc: &Scenario, name: &str) -> Vec<Ipv4Addr> {
    sc.dns_zones.iter().find_map(|z| z.a.get(name)).cloned().unwrap_or_default()
}

fn next_hop(sc: &Scenario) -> Option<Ipv4Addr> {
    sc.route_tables.first().and_then(|t| t.routes.first()).and_then(|r| r.next_hop_ip)
}

fn warnings_with(sc: &Scenario, needle: &str) -> Vec<String> {
    sc.warnings.iter().filter(|w| w.message.contains(needle)).map(|w| w.message.clone()).collect()
}

fn value(s: &str) -> DeployValue {
    DeployValue::parse(s).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn an_a_record_from_a_public_ip_reads_that_public_ips_address() {
    let text = template(&[PIP, ZONE, &a_record("gw", PIP_IP)].join(","));
    let sc = load(&text, &inputs());
    // The address the public IP itself gets, warned about once, for the IP.
    assert_eq!(a_of(&sc, "gw"), vec![Ipv4Addr::new(198, 18, 254, 1)]);
    assert_eq!(warnings_with(&sc, "198.18.254.1").len(), 1, "{:?}", sc.warnings);
    assert!(warnings_with(&sc, "--public-ip pip=ADDR").len() == 1, "{:?}", sc.warnings);

    let mut given = inputs();
    given.build.public_ips.push(("pip".into(), Ipv4Addr::new(198, 51, 100, 9)));
    let sc = load(&text, &given);
    assert_eq!(a_of(&sc, "gw"), vec![Ipv4Addr::new(198, 51, 100, 9)]);
    assert!(sc.warnings.is_empty(), "{:?}", sc.warnings);
}

#[test]
fn an_a_record_from_an_unknown_public_address_gets_a_synthetic_public_one() {
    // A public IP outside the template: only the property name says public.
    let ext = "[reference('/subscriptions/x/resourceGroups/other/providers/Microsoft.Network/publicIPAddresses/far', '2023-04-01').ipAddress]";
    let sc = load(&template(&[ZONE, &a_record("far", ext)].join(",")), &inputs());
    assert_eq!(a_of(&sc, "far"), vec![Ipv4Addr::new(198, 18, 253, 1)]);
    let path = "$.resources[1].properties.aRecords[0].ipv4Address";
    let w = warnings_with(&sc, path);
    assert_eq!(w.len(), 1, "{:?}", sc.warnings);
    assert!(w[0].starts_with("dt.json: ") && w[0].contains(&format!("--deploy-value 'dt.json:{path}=ADDRESS'")), "{}", w[0]);
}

#[test]
fn a_next_hop_from_a_firewall_gets_a_private_placeholder_or_the_given_value() {
    let text = template(&[VNET, &route_table(FW_IP)].join(","));
    let sc = load(&text, &inputs());
    // The top of the first VNet's first prefix (10.0.0.0/16).
    assert_eq!(next_hop(&sc), Some(Ipv4Addr::new(10, 0, 255, 254)));
    let path = "$.resources[1].properties.routes[0].properties.nextHopIpAddress";
    let w = warnings_with(&sc, path);
    assert_eq!(w.len(), 1, "{:?}", sc.warnings);
    assert!(w[0].contains("<runtime:privateIPAddress from ") && w[0].contains("azureFirewalls/fw>") && w[0].contains("10.0.255.254"), "{}", w[0]);
    assert!(w[0].contains(&format!("--deploy-value 'dt.json:{path}=ADDRESS'")), "{}", w[0]);

    // The flag as the warning prints it, and with the path alone.
    for flag in [format!("dt.json:{path}=10.1.0.4"), format!("{path}=10.1.0.4")] {
        let mut given = inputs();
        given.build.deploy_values.push(value(&flag));
        let sc = load(&text, &given);
        assert_eq!(next_hop(&sc), Some(Ipv4Addr::new(10, 1, 0, 4)), "{flag}");
        assert!(sc.warnings.is_empty(), "{flag}: {:?}", sc.warnings);
    }
}

#[test]
fn placeholders_never_take_an_address_the_template_states() {
    let vnet = VNET.replace(r#""subnets": ["#, r#""dhcpOptions": {"dnsServers": ["10.0.255.254"]}, "subnets": ["#);
    let pinned = a_record("pinned", "198.18.254.1");
    let text = template(&[vnet.as_str(), &route_table(FW_IP), PIP, ZONE, &pinned, &a_record("gw", PIP_IP)].join(","));
    let sc = load(&text, &inputs());
    assert_eq!(next_hop(&sc), Some(Ipv4Addr::new(10, 0, 255, 253)));
    assert_eq!(a_of(&sc, "gw"), vec![Ipv4Addr::new(198, 18, 254, 2)]);
}

#[test]
fn a_value_through_a_module_output_carries_the_placeholder_and_the_given_value() {
    // Bicep module: the firewall's address and the public IP's address are
    // outputs, read by the outer template's route and A record.
    let module = format!(
        r#"{{"type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01", "name": "hub",
        "properties": {{"mode": "Incremental", "expressionEvaluationOptions": {{"scope": "inner"}},
          "template": {{"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#", "contentVersion": "1.0.0.0",
            "resources": [{PIP}],
            "outputs": {{"fwIp": {{"type": "string", "value": "{FW_IP}"}}, "pipIp": {{"type": "string", "value": "{PIP_IP}"}}}}}}}}}}"#
    );
    let out = |o: &str| format!("[reference(resourceId('Microsoft.Resources/deployments', 'hub')).outputs.{o}.value]");
    let text = template(&[VNET, &module, &route_table(&out("fwIp")), ZONE, &a_record("gw", &out("pipIp"))].join(","));
    let sc = load(&text, &inputs());
    assert_eq!(next_hop(&sc), Some(Ipv4Addr::new(10, 0, 255, 254)));
    assert_eq!(a_of(&sc, "gw"), vec![Ipv4Addr::new(198, 18, 254, 1)], "the module's public IP's address");
    let path = "$.resources[2].properties.routes[0].properties.nextHopIpAddress";
    assert_eq!(warnings_with(&sc, path).len(), 1, "{:?}", sc.warnings);

    let mut given = inputs();
    given.build.deploy_values.push(value(&format!("dt.json:{path}=10.1.0.4")));
    given.build.public_ips.push(("pip".into(), Ipv4Addr::new(198, 51, 100, 9)));
    let sc = load(&text, &given);
    assert_eq!(next_hop(&sc), Some(Ipv4Addr::new(10, 1, 0, 4)));
    assert_eq!(a_of(&sc, "gw"), vec![Ipv4Addr::new(198, 51, 100, 9)]);
    assert!(sc.warnings.is_empty(), "{:?}", sc.warnings);
}

#[test]
fn dns_servers_nsg_and_access_restrictions_take_placeholders() {
    let vnet = VNET.replace(r#""subnets": ["#, &format!(r#""dhcpOptions": {{"dnsServers": ["{FW_IP}"]}}, "subnets": ["#));
    let nsg = format!(
        r#"{{"type": "Microsoft.Network/networkSecurityGroups", "apiVersion": "2023-04-01", "name": "nsg", "properties": {{"securityRules": [
        {{"name": "to-fw", "properties": {{"priority": 100, "direction": "Outbound", "access": "Allow", "protocol": "*", "sourceAddressPrefix": "*",
          "sourcePortRange": "*", "destinationAddressPrefix": "{FW_IP}", "destinationPortRange": "*"}}}}]}}}}"#
    );
    let site = r#"{"type": "Microsoft.Web/sites", "apiVersion": "2023-01-01", "name": "app", "properties": {"outboundIpAddresses": "198.51.100.5",
        "siteConfig": {"ipSecurityRestrictions": [{"name": "agw", "priority": 100, "action": "Allow",
          "ipAddress": "[concat(reference(resourceId('Microsoft.Network/publicIPAddresses', 'pip')).ipAddress, '/32')]"}]}}}"#;
    let text = template(&[vnet.as_str(), &nsg, PIP, site].join(","));
    let sc = load(&text, &inputs());
    // One private placeholder each, in build order: the NSG, then the VNet.
    assert_eq!(sc.vnets[0].dns_servers, vec![Ipv4Addr::new(10, 0, 255, 253)]);
    let dst = &sc.nsgs[0].rules[0].destination;
    assert!(matches!(dst.as_slice(), [AddrItem::Prefix(n)] if n.to_string() == "10.0.255.254/32"), "{dst:?}");
    let src = &sc.sites[0].access.main.rules[0].source;
    assert!(matches!(src, AccessSource::Addresses(a) if matches!(a.as_slice(), [AddrItem::Prefix(n)] if n.to_string() == "198.18.254.1/32")), "{src:?}");
    assert_eq!(warnings_with(&sc, "dnsServers[0]").len(), 1, "{:?}", sc.warnings);
    assert_eq!(warnings_with(&sc, "destinationAddressPrefix").len(), 1, "{:?}", sc.warnings);
}

#[test]
fn a_private_endpoint_whose_static_address_is_a_placeholder_is_allocated() {
    let pe = format!(
        r#"{{"type": "Microsoft.Network/privateEndpoints", "apiVersion": "2023-04-01", "name": "pe", "properties": {{
        "subnet": {{"id": "[resourceId('Microsoft.Network/virtualNetworks/subnets', 'vnet', 's')]"}},
        "ipConfigurations": [{{"name": "c", "properties": {{"groupId": "blob", "memberName": "blob", "privateIPAddress": "{FW_IP}"}}}}]}}}}"#
    );
    let text = template(&[VNET, &pe].join(","));
    let sc = load(&text, &inputs());
    assert_eq!((sc.private_endpoints[0].ip, sc.private_endpoints[0].ip_static), (Ipv4Addr::new(10, 0, 2, 4), false));
    let path = "$.resources[1].properties.ipConfigurations[0].properties.privateIPAddress";
    assert_eq!(warnings_with(&sc, path).len(), 1, "{:?}", sc.warnings);

    let mut given = inputs();
    given.build.deploy_values.push(value(&format!("{path}=10.0.2.9")));
    let sc = load(&text, &given);
    assert_eq!((sc.private_endpoints[0].ip, sc.private_endpoints[0].ip_static), (Ipv4Addr::new(10, 0, 2, 9), true));
}

#[test]
fn a_deploy_value_that_matches_nothing_is_warned_about() {
    let mut given = inputs();
    given.build.deploy_values.push(value("dt.json:$.resources[9].x=10.0.0.9"));
    let sc = load(&template(VNET), &given);
    assert_eq!(warnings_with(&sc, "--deploy-value dt.json:$.resources[9].x=10.0.0.9 matched no deploy-time value").len(), 1, "{:?}", sc.warnings);
}

const LOCATED: &str = r#"{"type": "Microsoft.Network/virtualNetworks", "apiVersion": "2023-04-01", "name": "vnet", "location": "[deployment().location]",
    "tags": {"rg": "[resourceGroup().location]", "again": "[deployment()['location']]"},
    "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}}}"#;

#[test]
fn deployment_location_defaults_to_westeurope_with_one_warning() {
    let sc = load(&template(LOCATED), &inputs());
    assert_eq!(sc.vnets[0].location, "westeurope");
    let w = warnings_with(&sc, "deployment().location");
    assert_eq!(w.len(), 1, "{:?}", sc.warnings);
    assert!(w[0].contains("dt.json") && w[0].contains("westeurope") && w[0].contains("--location REGION"), "{}", w[0]);
    // Not read: no warning.
    let sc = load(&template(VNET), &inputs());
    assert!(warnings_with(&sc, "deployment().location").is_empty(), "{:?}", sc.warnings);
}

#[test]
fn deployment_location_is_the_given_region_and_so_is_the_resource_groups() {
    let mut given = inputs();
    given.ctx = DeployContext { location: "uksouth".into(), location_given: true, ..Default::default() };
    let files = MemFiles::default().with(FILE, template(LOCATED));
    let res = scenario::load_resources(&files, &given).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(res[0].body["location"], "uksouth");
    assert_eq!(res[0].body["tags"]["rg"], "uksouth");
    assert_eq!(res[0].body["tags"]["again"], "uksouth");
    let sc = load(&template(LOCATED), &given);
    assert!(sc.warnings.is_empty(), "{:?}", sc.warnings);
}
