//! Resource groups (issue 9): every reference the model builder follows
//! resolves by full id, so two resources of one name in two resource groups
//! are two resources and each reference picks the one its id names. Each
//! test declares the pair in both orders of reference (a builder that kept
//! one resource per name picks the wrong one in one of them).

use serde_json::{json, Value};
use vnetlab_core::arm::Resource;
use vnetlab_core::model::{self, PeerRemote, Scenario};

const RGS: &str = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups";
const VNET: &str = "Microsoft.Network/virtualNetworks";

/// The id of `rtype`/`name` in `rg`; child names (`vnet/s`) interleave with
/// the child types as in ARM.
fn id(rg: &str, rtype: &str, name: &str) -> String {
    let names: Vec<String> = name.split('/').map(str::to_string).collect();
    let path = vnetlab_core::arm::expr::type_name_path(rtype, &names).unwrap_or_else(|e| panic!("{e}"));
    format!("{RGS}/{rg}/providers/{path}")
}

/// A resource whose origin path names its resource group, so a test can
/// tell which of two same-named resources a reference picked.
fn res(rg: &str, rtype: &str, name: &str, body: Value) -> Resource {
    Resource { rtype: rtype.into(), name: name.into(), id: id(rg, rtype, name), body, file: "az.json".into(), path: format!("{rg}/{name}") }
}

fn vnet(rg: &str, name: &str, space: &str, subnet: Value) -> Resource {
    res(rg, VNET, name, json!({"properties": {"addressSpace": {"addressPrefixes": [space]}, "subnets": [subnet]}}))
}

fn build(r: &[Resource]) -> Scenario {
    model::build(r).unwrap_or_else(|e| panic!("{e}"))
}

fn rg_of(path: &str) -> &str {
    path.split('/').next().unwrap_or(path)
}

const PAIR: [&str; 2] = ["rg-a", "rg-b"];

#[test]
fn a_subnet_picks_the_nsg_route_table_and_nat_gateway_its_ids_name() {
    for target in PAIR {
        let mut input = Vec::new();
        for rg in PAIR {
            input.push(res(rg, "Microsoft.Network/networkSecurityGroups", "nsg", json!({"properties": {}})));
            input.push(res(rg, "Microsoft.Network/routeTables", "rt", json!({"properties": {}})));
            input.push(res(rg, "Microsoft.Network/natGateways", "nat", json!({"properties": {}})));
        }
        input.push(vnet(
            "rg-app",
            "vnet",
            "10.0.0.0/16",
            json!({"name": "s", "properties": {"addressPrefix": "10.0.1.0/24",
                "networkSecurityGroup": {"id": id(target, "Microsoft.Network/networkSecurityGroups", "nsg")},
                "routeTable": {"id": id(target, "Microsoft.Network/routeTables", "rt")},
                "natGateway": {"id": id(target, "Microsoft.Network/natGateways", "nat")}}}),
        ));
        let sc = build(&input);
        assert_eq!(sc.nsgs.len(), 2, "two NSGs of one name are two resources");
        let s = &sc.vnets[0].subnets[0];
        let pick = |i: Option<usize>, v: &dyn Fn(usize) -> String| i.map(v).unwrap_or_default();
        assert_eq!(pick(s.nsg, &|i| sc.nsgs[i].origin.path.clone()), format!("{target}/nsg"));
        assert_eq!(pick(s.route_table, &|i| sc.route_tables[i].origin.path.clone()), format!("{target}/rt"));
        assert_eq!(pick(s.nat_gateway, &|i| sc.nat_gateways[i].origin.path.clone()), format!("{target}/nat"));
    }
}

#[test]
fn a_nat_gateway_picks_the_public_ip_its_id_names() {
    for (target, want) in [("rg-a", "198.51.100.1"), ("rg-b", "198.51.100.2")] {
        let pip = |rg: &str, a: &str| res(rg, "Microsoft.Network/publicIPAddresses", "pip", json!({"properties": {"ipAddress": a}}));
        let nat = res(
            "rg-app",
            "Microsoft.Network/natGateways",
            "nat",
            json!({"properties": {"publicIpAddresses": [{"id": id(target, "Microsoft.Network/publicIPAddresses", "pip")}]}}),
        );
        let sc = build(&[pip("rg-a", "198.51.100.1"), pip("rg-b", "198.51.100.2"), nat]);
        assert_eq!(sc.nat_gateways[0].public_ips, vec![want.parse::<std::net::Ipv4Addr>().unwrap_or(std::net::Ipv4Addr::UNSPECIFIED)], "{target}");
    }
}

fn two_vnets() -> Vec<Resource> {
    vec![
        vnet("rg-a", "vnet", "10.0.0.0/16", json!({"name": "s", "properties": {"addressPrefix": "10.0.1.0/24"}})),
        vnet("rg-b", "vnet", "10.1.0.0/16", json!({"name": "s", "properties": {"addressPrefix": "10.1.1.0/24"}})),
    ]
}

/// A site `app` in each group, and an endpoint to the one in `target`.
fn sites_and_endpoint(target: &str) -> Vec<Resource> {
    let mut input = two_vnets();
    for rg in PAIR {
        input.push(res(rg, "Microsoft.Web/sites", "app", json!({"properties": {}})));
    }
    input.push(endpoint_to_app(target));
    input
}

/// Private endpoint `pe` in rg-a's `vnet/s` to site `app` of resource group
/// `target`.
fn endpoint_to_app(target: &str) -> Resource {
    res(
        "rg-app",
        "Microsoft.Network/privateEndpoints",
        "pe",
        json!({"properties": {"subnet": {"id": id("rg-a", "Microsoft.Network/virtualNetworks/subnets", "vnet/s")},
            "privateLinkServiceConnections": [{"name": "c", "properties": {
                "privateLinkServiceId": id(target, "Microsoft.Web/sites", "app"), "groupIds": ["sites"]}}]}}),
    )
}

#[test]
fn a_private_endpoint_closes_public_access_of_the_site_its_id_names() {
    for target in PAIR {
        let sc = build(&sites_and_endpoint(target));
        for s in &sc.sites {
            let named = rg_of(&s.origin.path) == target;
            assert_eq!(s.access.public_network_access, !named, "site in {} (endpoint to {target}): {}", s.origin.path, s.access.public_decided_by);
        }
    }
}

#[test]
fn a_zone_group_writes_to_the_zone_its_id_names() {
    const ZONE: &str = "Microsoft.Network/privateDnsZones";
    for target in PAIR {
        let mut input = sites_and_endpoint("rg-a");
        for rg in PAIR {
            input.push(res(rg, ZONE, "privatelink.azurewebsites.net", json!({})));
        }
        input.push(res(
            "rg-app",
            "Microsoft.Network/privateEndpoints/privateDnsZoneGroups",
            "pe/default",
            json!({"properties": {"privateDnsZoneConfigs": [{"name": "z", "properties": {"privateDnsZoneId": id(target, ZONE, "privatelink.azurewebsites.net")}}]}}),
        ));
        let sc = build(&input);
        for z in &sc.dns_zones {
            assert_eq!(z.a.contains_key("app"), rg_of(&z.origin.path) == target, "zone in {} (zone group names {target})", z.origin.path);
        }
    }
}

#[test]
fn a_zone_link_links_the_vnet_its_id_names() {
    for target in PAIR {
        let mut input = two_vnets();
        input.push(res("rg-app", "Microsoft.Network/privateDnsZones", "privatelink.blob.core.windows.net", json!({})));
        input.push(res(
            "rg-app",
            "Microsoft.Network/privateDnsZones/virtualNetworkLinks",
            "privatelink.blob.core.windows.net/link",
            json!({"properties": {"virtualNetwork": {"id": id(target, VNET, "vnet")}}}),
        ));
        let sc = build(&input);
        let v = sc.dns_zones[0].links[0].vnet;
        assert_eq!(rg_of(&sc.vnets[v].origin.path), target);
    }
}

#[test]
fn a_site_runs_on_the_plan_its_id_names() {
    for (target, want) in [("rg-a", "P1v3"), ("rg-b", "EP1")] {
        let input = [
            res("rg-a", "Microsoft.Web/serverfarms", "plan", json!({"sku": {"name": "P1v3"}})),
            res("rg-b", "Microsoft.Web/serverfarms", "plan", json!({"sku": {"name": "EP1"}})),
            res("rg-app", "Microsoft.Web/sites", "app", json!({"properties": {"serverFarmId": id(target, "Microsoft.Web/serverfarms", "plan")}})),
        ];
        let sc = build(&input);
        let plan = sc.sites[0].plan.map(|p| sc.plans[p].sku_name.clone());
        assert_eq!(plan.as_deref(), Some(want), "{target}");
    }
}

#[test]
fn a_peering_reaches_the_vnet_its_id_names() {
    for target in PAIR {
        let mut input = two_vnets();
        input.push(res(
            "rg-app",
            VNET,
            "spoke",
            json!({"properties": {"addressSpace": {"addressPrefixes": ["10.9.0.0/16"]},
                "virtualNetworkPeerings": [{"name": "to-hub", "properties": {"remoteVirtualNetwork": {"id": id(target, VNET, "vnet")}}}]}}),
        ));
        let sc = build(&input);
        let spoke = sc.vnets.iter().find(|v| v.name == "spoke").map(|v| v.peerings[0].remote.clone());
        let Some(PeerRemote::Vnet(v)) = spoke else { panic!("the peering reaches no VNet of the input: {spoke:?}") };
        assert_eq!(rg_of(&sc.vnets[v].origin.path), target);
    }
}

#[test]
fn child_resources_join_the_parent_their_id_names() {
    const NSG: &str = "Microsoft.Network/networkSecurityGroups";
    for target in PAIR {
        let mut input: Vec<Resource> = PAIR.iter().map(|rg| res(rg, NSG, "nsg", json!({"properties": {}}))).collect();
        input.push(res(
            target,
            "Microsoft.Network/networkSecurityGroups/securityRules",
            "nsg/deny-all",
            json!({"properties": {"priority": 100, "direction": "Outbound", "access": "Deny", "protocol": "*",
                "sourceAddressPrefix": "*", "sourcePortRange": "*", "destinationAddressPrefix": "*", "destinationPortRange": "*"}}),
        ));
        // A separate subnet resource joins the VNet of its own group.
        input.extend(two_vnets());
        input.push(res(target, "Microsoft.Network/virtualNetworks/subnets", "vnet/extra", json!({"properties": {"addressPrefix": "10.0.200.0/24"}})));
        let sc = match model::build(&input) {
            Ok(sc) => sc,
            // 10.0.200.0/24 lies outside rg-b's VNet (10.1.0.0/16): the subnet
            // went to the VNet its id names.
            Err(e) if target == "rg-b" => {
                assert!(e.to_string().contains("outside the address space") && e.to_string().contains("rg-b/vnet/extra"), "{e}");
                continue;
            }
            Err(e) => panic!("{e}"),
        };
        for n in &sc.nsgs {
            let has = n.rules.iter().any(|r| r.name == "deny-all");
            assert_eq!(has, rg_of(&n.origin.path) == target, "NSG in {} (rule in {target})", n.origin.path);
        }
        for v in &sc.vnets {
            assert_eq!(v.subnets.iter().any(|s| s.name == "extra"), rg_of(&v.origin.path) == target, "VNet in {}", v.origin.path);
        }
    }
}

#[test]
fn a_site_setting_child_applies_to_the_site_its_id_names() {
    for target in PAIR {
        let mut input: Vec<Resource> = PAIR.iter().map(|rg| res(rg, "Microsoft.Web/sites", "app", json!({"properties": {}}))).collect();
        input.push(res(target, "Microsoft.Web/sites/config", "app/web", json!({"properties": {"vnetRouteAllEnabled": true}})));
        let sc = build(&input);
        for s in &sc.sites {
            assert_eq!(s.route_all.on, rg_of(&s.origin.path) == target, "site in {} (config in {target})", s.origin.path);
        }
    }
}

/// Only settings children join a site: a separate subnet `app/s1` of a
/// VNet that happens to be named `app`, in another resource group, is no
/// child of site `app` (it was looked up as one, and failed the load).
#[test]
fn a_resource_sharing_the_sites_name_as_parent_is_not_its_child() {
    let input = vec![
        res("rg-a", "Microsoft.Web/sites", "app", json!({"properties": {}})),
        vnet("rg-b", "app", "10.1.0.0/16", json!({"name": "s0", "properties": {"addressPrefix": "10.1.0.0/24"}})),
        res("rg-b", "Microsoft.Network/virtualNetworks/subnets", "app/s1", json!({"properties": {"addressPrefix": "10.1.1.0/24"}})),
    ];
    let sc = build(&input);
    assert_eq!(sc.sites.len(), 1);
    assert!(!sc.warnings.iter().any(|w| w.message.contains("resource group")), "{:?}", sc.warnings);
    assert_eq!(sc.vnets[0].subnets.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["s0", "s1"]);
}

#[test]
fn an_id_naming_neither_of_two_same_named_resources_is_an_error_naming_the_path() {
    let site = |rg: &str| {
        res(
            "rg-app",
            "Microsoft.Web/sites",
            "app",
            json!({"properties": {"virtualNetworkSubnetId": id(rg, "Microsoft.Network/virtualNetworks/subnets", "vnet/s")}}),
        )
    };
    let mut input = two_vnets();
    input.push(site("rg-c"));
    let e = model::build(&input).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(e.contains("rg-a, rg-b") && e.contains("'rg-c'") && e.contains("virtualNetworkSubnetId"), "{e}");
    // One VNet of that name, in another group: still not the one named.
    input.remove(1);
    let e = model::build(&input).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(e.contains("only in resource group(s) rg-a") && e.contains("virtualNetworkSubnetId"), "{e}");
    // The same group under any subscription is the one named (FORMAT.md:
    // references resolve by type and name).
    input.pop();
    input.push(site("rg-a").clone());
    let last = input.len() - 1;
    let other_sub = id("rg-a", "Microsoft.Network/virtualNetworks/subnets", "vnet/s")
        .replace("00000000-0000-0000-0000-000000000000", "11111111-1111-1111-1111-111111111111");
    input[last].body = json!({"properties": {"virtualNetworkSubnetId": other_sub}});
    assert!(build(&input).sites[0].integration.is_some());
}

#[test]
fn a_reference_that_may_leave_the_input_does_not_take_a_same_named_resource_of_another_group() {
    // A peering to `vnet` of rg-c: not rg-a's, so the VNet outside the
    // input with the address space the peering states.
    let mut input = two_vnets();
    input.remove(1);
    input.push(res(
        "rg-app",
        VNET,
        "spoke",
        json!({"properties": {"addressSpace": {"addressPrefixes": ["10.9.0.0/16"]},
            "virtualNetworkPeerings": [{"name": "to-hub", "properties": {"remoteVirtualNetwork": {"id": id("rg-c", VNET, "vnet")},
                "remoteAddressSpace": {"addressPrefixes": ["10.50.0.0/16"]}}}]}}),
    ));
    // An endpoint to site `app` of rg-c does not close rg-a's `app`.
    input.push(res("rg-a", "Microsoft.Web/sites", "app", json!({"properties": {}})));
    input.push(endpoint_to_app("rg-c"));
    let sc = build(&input);
    let spoke = sc.vnets.iter().find(|v| v.name == "spoke").map(|v| v.peerings[0].remote.clone());
    assert!(matches!(spoke, Some(PeerRemote::External { .. })), "{spoke:?}");
    assert!(sc.sites[0].access.public_network_access, "{}", sc.sites[0].access.public_decided_by);
}
