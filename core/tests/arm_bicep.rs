//! Bicep and module patterns (issue 9): nulls kept in values, `resources`
//! as an object keyed by symbolic names (languageVersion 2.0), nested
//! templates given as expressions, and each nested deployment's own name.

use serde_json::{json, Value};
use vnetlab_core::arm::{self, DeployContext, ParamValues, Resource};

fn expand(t: Value) -> Vec<Resource> {
    arm::expand_template(&t, "t.json", &ParamValues::default(), &DeployContext::default()).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn null_survives_in_variables_parameters_and_outputs() {
    let rs = expand(json!({
        "variables": {"n": null, "o": {"k": null}, "a": [1, null, 2]},
        "resources": [
            {"type": "Microsoft.Network/publicIPAddresses", "name": "p",
             "properties": {
                "isNull": "[equals(variables('n'), null())]",
                "kNull": "[equals(variables('o').k, null())]",
                "hasK": "[contains(variables('o'), 'k')]",
                "len": "[length(variables('a'))]",
                "dropped": null
             }},
            {"type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01", "name": "mod",
             "properties": {
                "mode": "Incremental",
                "expressionEvaluationOptions": {"scope": "inner"},
                "parameters": {"x": {"value": null}, "o": {"value": {"k": null}}},
                "template": {
                    "parameters": {"x": {"type": "object", "nullable": true}, "o": {"type": "object"}},
                    "resources": [{"type": "Microsoft.Network/publicIPAddresses", "name": "inner",
                        "properties": {"xNull": "[equals(parameters('x'), null())]", "hasK": "[contains(parameters('o'), 'k')]"}}],
                    "outputs": {"out": {"type": "object", "value": {"k": null}}}
                }
             }},
            {"type": "Microsoft.Network/publicIPAddresses", "name": "q",
             "properties": {"outHasK": "[contains(reference('mod').outputs.out.value, 'k')]"}}
        ]
    }));
    let p = &rs[0].body["properties"];
    assert_eq!(p["isNull"], json!(true));
    assert_eq!(p["kNull"], json!(true));
    assert_eq!(p["hasK"], json!(true));
    assert_eq!(p["len"], json!(3));
    // Bicep omits null-valued properties from a resource's request body.
    assert!(p.as_object().is_some_and(|o| !o.contains_key("dropped")));
    let inner = rs.iter().find(|r| r.name == "inner").expect("inner");
    assert_eq!(inner.body["properties"], json!({"xNull": true, "hasK": true}));
    let q = rs.iter().find(|r| r.name == "q").expect("q");
    assert_eq!(q.body["properties"]["outHasK"], json!(true));
}

#[test]
fn resources_as_an_object_keyed_by_symbolic_names() {
    let rs = expand(json!({
        "languageVersion": "2.0",
        "resources": {
            "vnet": {"type": "Microsoft.Network/virtualNetworks", "apiVersion": "2023-04-01", "name": "v", "existing": true},
            "pip": {"type": "Microsoft.Network/publicIPAddresses", "name": "p", "dependsOn": ["vnet", "outer"],
                    "properties": {"vnetId": "[resourceId('Microsoft.Network/virtualNetworks', 'v')]"}},
            "outer": {"type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01", "name": "outer",
                      "properties": {"mode": "Incremental", "template": {"languageVersion": "2.0", "resources": {
                          "nsg": {"type": "Microsoft.Network/networkSecurityGroups", "name": "n", "properties": {}}}}}},
            "emptyOuter": {"type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01", "name": "e1",
                      "properties": {"mode": "Incremental", "template": {"resources": {}}}},
            "emptyInner": {"type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01", "name": "e2",
                      "properties": {"mode": "Incremental", "expressionEvaluationOptions": {"scope": "inner"},
                                     "template": {"languageVersion": "2.0", "resources": {}}}}
        }
    }));
    let names: Vec<&str> = rs.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, vec!["p", "n"]);
    assert!(rs[1].path.contains("resources['nsg']") || rs[1].path.contains("resources.nsg"), "{}", rs[1].path);
}

#[test]
fn nested_template_computed_by_an_expression() {
    let inner = json!({
        "parameters": {"p": {"type": "string"}},
        "resources": [{"type": "Microsoft.Network/publicIPAddresses", "name": "[parameters('p')]", "properties": {}}],
        "outputs": {"o": {"type": "string", "value": "[parameters('p')]"}}
    });
    let rs = expand(json!({
        "variables": {"$fxv#0": inner.to_string()},
        "resources": [
            {"type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01", "name": "mod",
             "properties": {"mode": "Incremental", "expressionEvaluationOptions": {"scope": "inner"},
                            "parameters": {"p": {"value": "from-json"}},
                            "template": "[json(variables('$fxv#0'))]"}},
            {"type": "Microsoft.Network/publicIPAddresses", "name": "q",
             "properties": {"o": "[reference('mod').outputs.o.value]"}}
        ]
    }));
    let names: Vec<&str> = rs.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, vec!["from-json", "q"]);
    assert_eq!(rs[1].body["properties"]["o"], json!("from-json"));
}

#[test]
fn deployment_name_is_each_nested_deployments_own() {
    let rs = expand(json!({
        "resources": [
            {"type": "Microsoft.Network/publicIPAddresses", "name": "[format('top-{0}', deployment().name)]", "properties": {}},
            {"type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01", "name": "[format('mod-{0}', copyIndex())]",
             "copy": {"name": "mods", "count": 2},
             "properties": {"mode": "Incremental", "expressionEvaluationOptions": {"scope": "inner"},
                            "template": {"resources": [{"type": "Microsoft.Network/publicIPAddresses",
                                                        "name": "[format('in-{0}', deployment().name)]", "properties": {}}]}}}
        ]
    }));
    let names: Vec<&str> = rs.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, vec!["top-vnetlab", "in-mod-0", "in-mod-1"]);
}
