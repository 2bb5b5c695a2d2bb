//! The deployment's resource group when the user does not name it: a
//! template's `resourceId()` names `rg-vnetlab`, a group vnetlab only
//! assumes, while the VNet it means comes from `az ... show` of the group it
//! really lives in. Such a reference takes the only resource of that type
//! and name, with one warning asking for `--resource-group`; a group the
//! user gave is strict, and says to check the flag.

use serde_json::json;
use std::path::PathBuf;
use vnetlab_core::arm::DeployContext;
use vnetlab_core::files::MemFiles;
use vnetlab_core::model::Scenario;
use vnetlab_core::policy::Policy;
use vnetlab_core::scenario::{self, Inputs};

/// The app template: its subnet id names the deployment's resource group.
const SITE: &str = r#"{"$schema":"https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#","contentVersion":"1.0.0.0",
"resources":[
{"type":"Microsoft.Web/serverfarms","apiVersion":"2022-09-01","name":"plan","location":"westeurope","sku":{"name":"P1v3"}},
{"type":"Microsoft.Web/sites","apiVersion":"2022-09-01","name":"app","location":"westeurope","properties":{"serverFarmId":"[resourceId('Microsoft.Web/serverfarms','plan')]","virtualNetworkSubnetId":"[resourceId('Microsoft.Network/virtualNetworks/subnets','vnet','int')]","vnetRouteAllEnabled":true}}
]}"#;

const SUB: &str = "11111111-1111-1111-1111-111111111111";

/// `az network vnet show` of the real VNet, in `group`.
fn vnet_az(group: &str, space: &str, subnet: &str) -> String {
    let id = format!("/subscriptions/{SUB}/resourceGroups/{group}/providers/Microsoft.Network/virtualNetworks/vnet");
    json!({"id": id, "name": "vnet", "type": "Microsoft.Network/virtualNetworks", "location": "westeurope",
        "addressSpace": {"addressPrefixes": [space]},
        "subnets": [{"id": format!("{id}/subnets/int"), "name": "int", "addressPrefix": subnet,
            "delegations": [{"name": "d", "serviceName": "Microsoft.Web/serverFarms"}]}]})
    .to_string()
}

fn files() -> MemFiles {
    MemFiles::default().with("site.json", SITE).with("vnet-az.json", vnet_az("net-rg", "10.0.0.0/16", "10.0.1.0/24"))
}

fn inputs(names: &[&str], group: Option<&str>, subscription: Option<&str>) -> Inputs {
    let mut ctx = DeployContext::default();
    if let Some(g) = group {
        ctx.resource_group = g.into();
        ctx.resource_group_given = true;
    }
    if let Some(s) = subscription {
        ctx.subscription_id = s.into();
    }
    Inputs { files: names.iter().map(PathBuf::from).collect(), ctx, ..Default::default() }
}

/// The scenario and the policy of the site in it.
fn load(files: &MemFiles, i: &Inputs) -> (Scenario, Policy) {
    let loaded = scenario::load(files, i).unwrap_or_else(|e| panic!("{e}"));
    let p = Policy::compile(&loaded.scenario, &loaded.options).unwrap_or_else(|e| panic!("{e}"));
    (loaded.scenario, p)
}

fn group_warnings(p: &Policy) -> Vec<String> {
    p.warnings.iter().map(|w| w.message.clone()).filter(|m| m.contains("--resource-group")).collect()
}

/// The integration subnet's name and prefixes.
fn integration((sc, p): &(Scenario, Policy)) -> (String, Vec<String>) {
    (p.subnet_name.clone(), sc.subnet(p.subnet).prefixes.iter().map(|n| n.to_string()).collect())
}

#[test]
fn an_id_naming_the_assumed_group_takes_the_only_vnet_of_that_name_with_one_warning() {
    let l = load(&files(), &inputs(&["site.json", "vnet-az.json"], None, None));
    assert_eq!(integration(&l), ("vnet/int".to_string(), vec!["10.0.1.0/24".to_string()]));
    let w = group_warnings(&l.1);
    assert_eq!(w.len(), 1, "{w:?}");
    let path = "site.json: at $.resources[1].properties.virtualNetworkSubnetId";
    assert!(w[0].starts_with(path) && w[0].contains("'net-rg'") && w[0].contains("--resource-group net-rg"), "{}", w[0]);
}

#[test]
fn the_resource_group_given_names_the_vnet_exactly_without_a_warning() {
    let l = load(&files(), &inputs(&["site.json", "vnet-az.json"], Some("net-rg"), Some(SUB)));
    assert_eq!(integration(&l), ("vnet/int".to_string(), vec!["10.0.1.0/24".to_string()]));
    assert_eq!(group_warnings(&l.1), Vec::<String>::new());
    // The group alone is enough: any subscription names the same group.
    let l = load(&files(), &inputs(&["site.json", "vnet-az.json"], Some("net-rg"), None));
    assert_eq!(group_warnings(&l.1), Vec::<String>::new());
}

#[test]
fn another_resource_group_given_is_an_error_that_points_at_the_flag() {
    let e = scenario::load_scenario(&files(), &inputs(&["site.json", "vnet-az.json"], Some("other-rg"), None)).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(
        e.contains("site.json")
            && e.contains("virtualNetworkSubnetId")
            && e.contains("'other-rg'")
            && e.contains("net-rg")
            && e.contains("check --resource-group"),
        "{e}"
    );
}

#[test]
fn two_candidates_in_other_groups_are_ambiguous_and_point_at_the_flag() {
    let files = files().with("vnet2-az.json", vnet_az("net2-rg", "10.1.0.0/16", "10.1.1.0/24"));
    let e =
        scenario::load_scenario(&files, &inputs(&["site.json", "vnet-az.json", "vnet2-az.json"], None, None)).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(e.contains("ambiguous") && e.contains("net-rg, net2-rg") && e.contains("--resource-group NAME"), "{e}");
    // Naming the group picks one.
    let l = load(&files, &inputs(&["site.json", "vnet-az.json", "vnet2-az.json"], Some("net2-rg"), None));
    assert_eq!(integration(&l), ("vnet/int".to_string(), vec!["10.1.1.0/24".to_string()]));
}

#[test]
fn a_template_reading_the_vnet_of_another_input_takes_it_with_a_warning() {
    // reference() of the VNet, resolved while the template expands.
    let rt = r#"{"resources":[{"type":"Microsoft.Network/routeTables","apiVersion":"2023-04-01","name":"rt","properties":{"routes":[
        {"name":"vnet","properties":{"addressPrefix":"[reference(resourceId('Microsoft.Network/virtualNetworks','vnet'),'2023-04-01').addressSpace.addressPrefixes[0]]","nextHopType":"VnetLocal"}}]}}]}"#;
    let files = files().with("rt.json", rt);
    let sc = scenario::load_scenario(&files, &inputs(&["rt.json", "vnet-az.json"], None, None)).unwrap_or_else(|e| panic!("{e}"));
    let route = format!("{:?}", sc.route_tables[0].routes[0].prefix);
    assert!(route.contains("10.0.0.0/16"), "{route}");
    let w: Vec<&String> = sc.warnings.iter().map(|w| &w.message).filter(|m| m.contains("--resource-group")).collect();
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].contains("resource 'rt'"), "says which resource read it: {}", w[0]);
    assert!(w[0].starts_with("rt.json: ") && w[0].contains("'net-rg'"), "{}", w[0]);
}

#[test]
fn eval_reads_the_resource_group_and_subscription_given() {
    let ctx = DeployContext { resource_group: "x".into(), resource_group_given: true, subscription_id: SUB.into(), ..Default::default() };
    let exprs = ["resourceGroup().name".to_string(), "resourceId('Microsoft.Network/virtualNetworks', 'vnet')".to_string()];
    let out: Vec<_> = scenario::eval_expressions(&MemFiles::default(), None, &[], &exprs, &ctx)
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .map(|r| r.unwrap_or_else(|e| panic!("{e}")))
        .collect();
    assert_eq!(out, vec![json!("x"), json!(format!("/subscriptions/{SUB}/resourceGroups/x/providers/Microsoft.Network/virtualNetworks/vnet"))]);
}
