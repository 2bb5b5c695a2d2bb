//! Constructs of compiled Bicep that real templates use (issue 9), each with
//! a minimal template: user-defined functions returning objects,
//! `references()` of a copy loop, `roleDefinitions()`, an outer-scope nested
//! template computed by an expression, a subnet that reads its own earlier
//! prefix to redeploy itself with a delegation, and a module's secure
//! outputs read through `listOutputsWithSecureValues()`.

use serde_json::{json, Value};
use vnetlab_core::arm::{self, DeployContext, ParamValues, Resource};

fn expand(t: Value) -> Vec<Resource> {
    arm::expand_template(&t, "t.json", &ParamValues::default(), &DeployContext::default()).unwrap_or_else(|e| panic!("{e}"))
}

fn expand_err(t: Value) -> String {
    match arm::expand_template(&t, "t.json", &ParamValues::default(), &DeployContext::default()) {
        Ok(rs) => panic!("expected an error, got {} resources", rs.len()),
        Err(e) => e.to_string(),
    }
}

fn find<'r>(rs: &'r [Resource], name: &str) -> &'r Resource {
    rs.iter().find(|r| r.name == name).unwrap_or_else(|| panic!("no resource {name}"))
}

#[test]
fn a_user_defined_function_returning_an_object_evaluates_its_expressions() {
    let rs = expand(json!({
        "functions": [{"namespace": "__bicep", "members": {"subnet": {
            "parameters": [{"type": "string", "name": "n"}, {"type": "string", "name": "prefix"}],
            "output": {"type": "object", "value": {
                "name": "[parameters('n')]",
                "properties": {"addressPrefix": "[parameters('prefix')]", "tags": ["[toUpper(parameters('n'))]"]},
                "[concat('key-', parameters('n'))]": true
            }}
        }}}],
        "resources": [{"type": "Microsoft.Network/virtualNetworks", "name": "vnet",
            "properties": {"subnets": ["[__bicep.subnet('int', '10.0.1.0/24')]"]}}]
    }));
    let s = &rs[0].body["properties"]["subnets"][0];
    assert_eq!(s["name"], json!("int"));
    assert_eq!(s["properties"], json!({"addressPrefix": "10.0.1.0/24", "tags": ["INT"]}));
    assert_eq!(s["key-int"], json!(true));
}

#[test]
fn references_returns_the_deployed_copies_in_order() {
    let rs = expand(json!({
        "languageVersion": "2.0",
        "resources": {
            "pips": {"copy": {"name": "pips", "count": 3}, "condition": "[not(equals(copyIndex(), 1))]",
                "type": "Microsoft.Network/publicIPAddresses", "name": "[format('pip-{0}', copyIndex())]",
                "properties": {"n": "[copyIndex()]"}},
            "rt": {"type": "Microsoft.Network/routeTables", "name": "rt", "properties": {
                "names": "[map(references('pips', 'full'), lambda('p', lambdaVariables('p').name))]",
                "ns": "[map(references('pips'), lambda('p', lambdaVariables('p').n))]"
            }}
        }
    }));
    let rt = find(&rs, "rt");
    assert_eq!(rt.body["properties"]["names"], json!(["pip-0", "pip-2"]));
    assert_eq!(rt.body["properties"]["ns"], json!([0, 2]));
}

#[test]
fn references_of_an_unknown_symbol_names_it_and_the_path() {
    let e = expand_err(json!({
        "languageVersion": "2.0",
        "resources": {"rt": {"type": "Microsoft.Network/routeTables", "name": "rt", "properties": {"x": "[references('nope')]"}}}
    }));
    assert!(e.contains("at $.resources.rt.properties.x") && e.contains("references('nope')") && e.contains("declared: rt"), "{e}");
}

#[test]
fn role_definitions_gives_the_built_in_roles_id() {
    let rs = expand(json!({
        "resources": [{"type": "Microsoft.Network/routeTables", "name": "rt", "properties": {
            "id": "[roleDefinitions('Network Contributor').id]",
            "guid": "[roleDefinitions('reader').roleDefinitionId]",
            "custom": "[roleDefinitions('My Custom Role').roleDefinitionId]",
            "again": "[roleDefinitions('My Custom Role').roleDefinitionId]"
        }}]
    }));
    let p = &rs[0].body["properties"];
    assert_eq!(
        p["id"],
        json!("/subscriptions/00000000-0000-0000-0000-000000000000/providers/Microsoft.Authorization/roleDefinitions/4d97b98b-1d4f-4787-a291-c67834d212e7")
    );
    assert_eq!(p["guid"], json!("acdd72a7-3385-48ef-bd42-f606fba81ae7"));
    // A role vnetlab does not know gets a stand-in GUID, the same each time.
    let custom = p["custom"].as_str().unwrap_or_default();
    assert_eq!(custom.len(), 36, "{custom}");
    assert_eq!(p["custom"], p["again"]);
}

#[test]
fn an_outer_scope_nested_template_computed_by_an_expression_reads_the_parent() {
    let inner = json!({
        "resources": [{"type": "Microsoft.Network/publicIPAddresses", "name": "[parameters('p')]",
            "properties": {"v": "[variables('v')]", "f": "[ns.twice(variables('v'))]"}}],
        "outputs": {"o": {"type": "string", "value": "[parameters('p')]"}}
    });
    let rs = expand(json!({
        "parameters": {"p": {"type": "string", "defaultValue": "from-parent"}},
        "variables": {"$fxv#0": inner.to_string(), "v": "parent-var"},
        "functions": [{"namespace": "ns", "members": {"twice": {"parameters": [{"type": "string", "name": "s"}],
            "output": {"type": "string", "value": "[concat(parameters('s'), parameters('s'))]"}}}}],
        "resources": [
            {"type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01", "name": "mod",
             "properties": {"mode": "Incremental", "template": "[json(variables('$fxv#0'))]"}},
            {"type": "Microsoft.Network/routeTables", "name": "rt", "properties": {"o": "[reference('mod').outputs.o.value]"}}
        ]
    }));
    let pip = find(&rs, "from-parent");
    assert_eq!(pip.body["properties"], json!({"v": "parent-var", "f": "parent-varparent-var"}));
    assert_eq!(find(&rs, "rt").body["properties"]["o"], json!("from-parent"));
}

/// A VNet declaring subnet `int` inline, and the same subnet redeployed as
/// a child resource with a delegation, keeping the prefix it had.
fn vnet_and_redeployed_subnet(vnet_subnets: Value) -> Value {
    json!({"resources": [
        {"type": "Microsoft.Network/virtualNetworks", "apiVersion": "2023-04-01", "name": "vnet",
         "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}, "subnets": vnet_subnets}},
        {"type": "Microsoft.Network/virtualNetworks/subnets", "apiVersion": "2023-04-01", "name": "vnet/int",
         "properties": {
            "addressPrefix": "[reference(resourceId('Microsoft.Network/virtualNetworks/subnets', 'vnet', 'int'), '2023-04-01').addressPrefix]",
            "delegations": [{"name": "web", "properties": {"serviceName": "Microsoft.Web/serverFarms"}}]
         }}
    ]})
}

#[test]
fn a_subnet_reading_its_own_prefix_reads_what_the_vnet_declared() {
    let rs = expand(vnet_and_redeployed_subnet(json!([{"name": "int", "properties": {"addressPrefix": "10.0.1.0/24"}}])));
    let sub = find(&rs, "vnet/int");
    assert_eq!(sub.body["properties"]["addressPrefix"], json!("10.0.1.0/24"));
    assert_eq!(sub.body["properties"]["delegations"][0]["properties"]["serviceName"], json!("Microsoft.Web/serverFarms"));
}

#[test]
fn a_subnet_reading_its_own_prefix_that_nothing_declares_is_a_clear_error() {
    let e = expand_err(vnet_and_redeployed_subnet(json!([{"name": "other", "properties": {"addressPrefix": "10.0.2.0/24"}}])));
    assert!(e.contains("at $.resources[1].properties.addressPrefix"), "{e}");
    assert!(e.contains("reads its own state") && e.contains("no 'subnets' entry named 'int'") && e.contains("$.resources[0]"), "{e}");
}

#[test]
fn a_modules_secure_outputs_are_read_with_list_outputs_with_secure_values() {
    let rs = expand(json!({
        "resources": [
            {"type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01", "name": "mod",
             "properties": {"mode": "Incremental", "expressionEvaluationOptions": {"scope": "inner"},
                 "template": {"resources": [], "outputs": {
                     "sec": {"type": "securestring", "value": "s3cret"},
                     "subnetId": {"type": "string", "value": "[resourceId('Microsoft.Network/virtualNetworks/subnets', 'vnet', 'int')]"}
                 }}}},
            {"type": "Microsoft.Network/routeTables", "name": "rt", "properties": {
                "sec": "[listOutputsWithSecureValues(resourceId('Microsoft.Resources/deployments', 'mod'), '2022-09-01').sec]",
                "id": "[listOutputsWithSecureValues('mod', '2022-09-01').subnetId]"
            }}
        ]
    }));
    let p = &find(&rs, "rt").body["properties"];
    assert_eq!(p["sec"], json!("s3cret"));
    assert_eq!(
        p["id"],
        json!("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-vnetlab/providers/Microsoft.Network/virtualNetworks/vnet/subnets/int")
    );
}

#[test]
fn an_outer_scope_computed_template_reads_the_deployments_copy_index() {
    let inner = json!({"resources": [{"type": "Microsoft.Network/publicIPAddresses", "name": "[format('pip-{0}', copyIndex('d'))]", "properties": {}}]});
    let rs = expand(json!({
        "variables": {"$fxv#0": inner.to_string()},
        "resources": [{"type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01", "name": "[format('d{0}', copyIndex())]",
            "copy": {"name": "d", "count": 2},
            "properties": {"mode": "Incremental", "template": "[json(variables('$fxv#0'))]"}}]
    }));
    let names: Vec<&str> = rs.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, vec!["pip-0", "pip-1"]);
}
