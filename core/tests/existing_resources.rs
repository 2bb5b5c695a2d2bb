//! Resources outside the template (issue 9): `reference()` of a VNet in
//! another resource group and Bicep `existing` resources. Unknown, their
//! properties are markers that `filter`, `map`, `union`, `split`, `length`
//! and `contains` accept and that name the resource; where the model needs
//! one, the error names the JSON path and the resource to supply. Supplied
//! with `-t` (an az export or another template), they resolve to its body.

use serde_json::{json, Value};
use std::path::PathBuf;
use vnetlab_core::arm::{self, DeployContext, ParamValues};
use vnetlab_core::files::MemFiles;
use vnetlab_core::policy::{Policy, PolicyOptions};
use vnetlab_core::scenario::{self, Inputs};

const SUB: &str = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups";
const OTHER: &str = "/subscriptions/x/resourceGroups/other/providers/Microsoft.Network/virtualNetworks/v";

fn eval(e: &str) -> Value {
    arm::eval(None, "<expression>", &ParamValues::default(), &DeployContext::default(), e).unwrap_or_else(|err| panic!("{e}: {err}"))
}

fn is_unknown_from(v: &Value, id: &str) -> bool {
    v.as_str().is_some_and(|s| s.starts_with("<runtime:") && s.ends_with(&format!(" from {id}>")))
}

#[test]
fn functions_accept_an_unknown_resource_and_answer_unknown() {
    let r = format!("reference('{OTHER}', '2023-04-01')");
    let pick = "lambda('s', equals(lambdaVariables('s').name, 'a'))";
    for e in [
        r.clone(),
        format!("{r}.subnets"),
        format!("filter({r}.subnets, {pick})"),
        format!("filter({r}.subnets, {pick})[0].id"),
        format!("map({r}.subnets, lambda('s', lambdaVariables('s').id))"),
        format!("union({r}, createObject('a', 1))"),
        format!("union({r}.subnets, createArray(1))"),
        format!("split({r}.subnets[0].id, '/')[8]"),
        format!("length({r}.subnets)"),
        format!("contains({r}, 'subnets')"),
        format!("if(contains({r}, 'subnets'), 1, 2)"),
        format!("and(true(), empty({r}.subnets))"),
        format!("resourceId('Microsoft.Network/virtualNetworks/subnets', {r}.name, 'a')"),
        format!("reference({r}.subnets[0].id).addressPrefix"),
        format!("reference('{OTHER}', '2023-04-01', 'Full').location"),
    ] {
        let v = eval(&e);
        assert!(is_unknown_from(&v, OTHER), "{e} gave {v}, not an unknown naming the resource");
    }
    // Text built around an unknown keeps it whole, still recognisable.
    let v = eval(&format!("concat('id: ', {r}.subnets[0].id)"));
    assert_eq!(v, json!(format!("id: <runtime:id from {OTHER}>")));
    // An indexed read names the property and the index, and the resource.
    assert_eq!(eval(&format!("{r}.privateIPAddresses[0]")), json!(format!("<runtime:privateIPAddresses[0] from {OTHER}>")));
}

fn inputs(files: &[&str]) -> Inputs {
    Inputs { files: files.iter().map(PathBuf::from).collect(), ..Default::default() }
}

/// A plan and a function app whose `virtualNetworkSubnetId` is the subnet
/// `integration` found (with `filter`) in VNet `vnet-shared` of resource
/// group `network-rg`, read as `vnet_read` says. The template also deploys
/// a VNet of the same name in its own resource group: a decoy that a
/// lookup by name alone would pick.
fn app_template(extra: Value, vnet_read: &str) -> String {
    let mut resources = json!({
        "decoy": {"type": "Microsoft.Network/virtualNetworks", "apiVersion": "2023-04-01", "name": "vnet-shared", "properties": {
            "addressSpace": {"addressPrefixes": ["10.9.0.0/16"]},
            "subnets": [{"name": "integration", "properties": {"addressPrefix": "10.9.2.0/24"}}]}},
        "plan": {"type": "Microsoft.Web/serverfarms", "apiVersion": "2023-01-01", "name": "plan", "sku": {"name": "EP1", "tier": "ElasticPremium"}},
        "app": {"type": "Microsoft.Web/sites", "apiVersion": "2023-01-01", "name": "app", "kind": "functionapp", "properties": {
            "serverFarmId": "[resourceId('Microsoft.Web/serverfarms', 'plan')]",
            "virtualNetworkSubnetId": format!("[filter({vnet_read}.subnets, lambda('s', equals(lambdaVariables('s').name, 'integration')))[0].id]")}}
    });
    if let (Some(r), Some(x)) = (resources.as_object_mut(), extra.as_object()) {
        r.extend(x.clone());
    }
    json!({"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#", "languageVersion": "2.0",
        "contentVersion": "1.0.0.0", "resources": resources})
    .to_string()
}

/// `existing` (languageVersion 2.0, as Bicep compiles `existing` with a
/// `scope: resourceGroup('network-rg')`).
fn existing_app() -> String {
    app_template(
        json!({"vnet": {"existing": true, "type": "Microsoft.Network/virtualNetworks", "apiVersion": "2023-04-01",
            "resourceGroup": "network-rg", "name": "vnet-shared"}}),
        "reference('vnet')",
    )
}

/// `reference(resourceId('network-rg', ...))`, as Bicep compiles the same
/// for languageVersion 1.
fn reference_app() -> String {
    app_template(json!({}), "reference(resourceId('network-rg', 'Microsoft.Network/virtualNetworks', 'vnet-shared'), '2023-04-01')")
}

/// `az network vnet show -o json` of the VNet in `network-rg`.
fn vnet_az() -> String {
    let id = format!("{SUB}/network-rg/providers/Microsoft.Network/virtualNetworks/vnet-shared");
    json!({"type": "Microsoft.Network/virtualNetworks", "name": "vnet-shared", "id": id, "resourceGroup": "network-rg", "location": "westeurope",
    "addressSpace": {"addressPrefixes": ["10.20.0.0/16"]},
    "subnets": [
        {"name": "other", "id": format!("{id}/subnets/other"), "addressPrefix": "10.20.1.0/24"},
        {"name": "integration", "id": format!("{id}/subnets/integration"), "addressPrefix": "10.20.2.0/24",
         "delegations": [{"name": "d", "serviceName": "Microsoft.Web/serverFarms"}]}
    ]})
    .to_string()
}

fn policy(files: &MemFiles, names: &[&str]) -> Policy {
    scenario::load_policy(files, &inputs(names), &PolicyOptions::default()).unwrap_or_else(|e| panic!("{names:?}: {e}"))
}

#[test]
fn an_existing_vnet_supplied_as_az_output_gives_the_subnet() {
    for (label, app) in [("existing", existing_app()), ("reference", reference_app())] {
        let files = MemFiles::default().with("app.json", app).with("vnet.json", vnet_az());
        // In either order of the files.
        for names in [["app.json", "vnet.json"], ["vnet.json", "app.json"]] {
            let p = policy(&files, &names);
            assert_eq!(p.instance_subnet().to_string(), "10.20.2.0/24", "{label}, {names:?}");
        }
    }
}

#[test]
fn an_existing_vnet_declared_by_another_template_gives_the_subnet() {
    // The network template deploys into network-rg (a nested deployment,
    // as a Bicep module with scope: resourceGroup('network-rg') compiles).
    let network = json!({"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#", "contentVersion": "1.0.0.0",
        "resources": [{"type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01", "name": "net", "resourceGroup": "network-rg",
            "properties": {"mode": "Incremental", "expressionEvaluationOptions": {"scope": "inner"}, "template": {
                "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#", "contentVersion": "1.0.0.0",
                "resources": [{"type": "Microsoft.Network/virtualNetworks", "apiVersion": "2023-04-01", "name": "vnet-shared", "properties": {
                    "addressSpace": {"addressPrefixes": ["10.30.0.0/16"]},
                    "subnets": [{"name": "integration", "properties": {"addressPrefix": "10.30.2.0/24",
                        "delegations": [{"name": "d", "properties": {"serviceName": "Microsoft.Web/serverFarms"}}]}}]}}]}}}]})
    .to_string();
    let files = MemFiles::default().with("app.json", existing_app()).with("network.json", network);
    let p = policy(&files, &["app.json", "network.json"]);
    assert_eq!(p.instance_subnet().to_string(), "10.30.2.0/24");
}

#[test]
fn one_module_reads_the_vnet_another_module_of_the_file_deploys() {
    // A Bicep main file: module `network` deploys the VNet into network-rg;
    // the app's `existing` VNet reads it.
    let t = app_template(
        json!({
            "vnet": {"existing": true, "type": "Microsoft.Network/virtualNetworks", "apiVersion": "2023-04-01", "resourceGroup": "network-rg", "name": "vnet-shared"},
            "network": {"type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01", "name": "net", "resourceGroup": "network-rg",
                "properties": {"mode": "Incremental", "expressionEvaluationOptions": {"scope": "inner"}, "template": {
                    "resources": [{"type": "Microsoft.Network/virtualNetworks", "apiVersion": "2023-04-01", "name": "vnet-shared", "properties": {
                        "addressSpace": {"addressPrefixes": ["10.40.0.0/16"]},
                        "subnets": [{"name": "integration", "properties": {"addressPrefix": "10.40.2.0/24",
                            "delegations": [{"name": "d", "properties": {"serviceName": "Microsoft.Web/serverFarms"}}]}}]}}]}}}
        }),
        "reference('vnet')",
    );
    let files = MemFiles::default().with("main.json", t);
    let p = policy(&files, &["main.json"]);
    assert_eq!(p.instance_subnet().to_string(), "10.40.2.0/24");
}

#[test]
fn an_existing_vnet_nobody_supplies_is_an_error_naming_the_path_and_the_vnet() {
    for (label, app) in [("existing", existing_app()), ("reference", reference_app())] {
        let files = MemFiles::default().with("app.json", app);
        let e = scenario::load_scenario(&files, &inputs(&["app.json"])).err().map(|e| e.to_string()).unwrap_or_default();
        let vnet = format!("{SUB}/network-rg/providers/Microsoft.Network/virtualNetworks/vnet-shared");
        assert!(e.contains("virtualNetworkSubnetId") && e.contains(&vnet) && e.contains("-t"), "{label}: {e}");
    }
}

#[test]
fn an_existing_resource_takes_its_resource_group_and_subscription_in_its_id() {
    let t = json!({"languageVersion": "2.0", "resources": {
        "vnet": {"existing": true, "type": "Microsoft.Network/virtualNetworks", "name": "v", "subscriptionId": "s2", "resourceGroup": "rg2"},
        "out": {"type": "Microsoft.Web/sites", "name": "app", "properties": {"props": "[reference('vnet')]"}}}});
    let rs = arm::expand_template(&t, "t.json", &ParamValues::default(), &DeployContext::default()).unwrap_or_else(|e| panic!("{e}"));
    let want = "/subscriptions/s2/resourceGroups/rg2/providers/Microsoft.Network/virtualNetworks/v";
    assert!(is_unknown_from(&rs[0].body["properties"]["props"], want), "{}", rs[0].body);
}
