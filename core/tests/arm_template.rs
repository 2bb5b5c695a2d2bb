//! Template constructs: copy loops at every level, conditions, nested child
//! resources, nested deployments, symbolic names, user functions and
//! `reference()` between resources.

use serde_json::{json, Value};
use vnetlab_core::arm::{self, DeployContext, ParamValues, Resource};

const RG: &str = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-vnetlab/providers";

fn expand(t: Value) -> Vec<Resource> {
    arm::expand_template(&t, "t.json", &ParamValues::default(), &DeployContext::default()).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn resource_copy_with_offset_and_count_zero() {
    let rs = expand(json!({
        "parameters": {"n": {"type": "int", "defaultValue": 3}},
        "resources": [
            {"type": "Microsoft.Network/publicIPAddresses", "name": "[format('pip-{0}', copyIndex(1))]",
             "copy": {"name": "pips", "count": "[parameters('n')]"},
             "properties": {"idx": "[copyIndex()]", "named": "[copyIndex('pips')]"}},
            {"type": "Microsoft.Network/publicIPAddresses", "name": "[format('none-{0}', copyIndex())]", "copy": {"name": "z", "count": 0}}
        ]
    }));
    let names: Vec<&str> = rs.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, vec!["pip-1", "pip-2", "pip-3"]);
    assert_eq!(rs[2].body["properties"], json!({"idx": 2, "named": 2}));
    assert_eq!(rs[1].path, "$.resources[0] (copy 1)");
}

#[test]
fn variable_copy_and_property_copy() {
    let rs = expand(json!({
        "variables": {
            "copy": [{"name": "prefixes", "count": 2, "input": "[format('10.{0}.0.0/16', copyIndex('prefixes'))]"}],
            "rules": {"copy": [{"name": "list", "count": 2, "input": {"n": "[copyIndex('list')]"}}]}
        },
        "resources": [{
            "type": "Microsoft.Network/virtualNetworks", "name": "v",
            "properties": {
                "addressSpace": {"addressPrefixes": "[variables('prefixes')]"},
                "copy": [{"name": "subnets", "count": 2, "input": {"name": "[format('s{0}', copyIndex('subnets'))]", "properties": {"addressPrefix": "[cidrSubnet(variables('prefixes')[0], 24, copyIndex('subnets'))]"}}}],
                "other": "[variables('rules').list[1].n]"
            }
        }]
    }));
    let p = &rs[0].body["properties"];
    assert_eq!(p["addressSpace"]["addressPrefixes"], json!(["10.0.0.0/16", "10.1.0.0/16"]));
    assert_eq!(p["subnets"][1], json!({"name": "s1", "properties": {"addressPrefix": "10.0.1.0/24"}}));
    assert_eq!(p["other"], json!(1));
}

#[test]
fn nested_children_are_flattened_with_full_type_name_and_id() {
    let rs = expand(json!({
        "resources": [{
            "type": "Microsoft.Network/virtualNetworks", "name": "vnet", "properties": {},
            "resources": [
                {"type": "subnets", "name": "a", "properties": {"addressPrefix": "10.0.0.0/24"}, "dependsOn": ["anything [at all"]},
                {"type": "Microsoft.Network/virtualNetworks/subnets", "name": "vnet/b", "condition": false},
                {"type": "virtualNetworkPeerings", "name": "p", "resources": []}
            ]
        }, {
            "type": "Microsoft.Network/networkSecurityGroups", "name": "nsg",
            "resources": [{"type": "securityRules", "name": "r1", "properties": {"priority": 100}}]
        }]
    }));
    let got: Vec<(&str, &str, &str)> = rs.iter().map(|r| (r.rtype.as_str(), r.name.as_str(), r.path.as_str())).collect();
    assert_eq!(
        got,
        vec![
            ("Microsoft.Network/virtualNetworks", "vnet", "$.resources[0]"),
            ("Microsoft.Network/virtualNetworks/subnets", "vnet/a", "$.resources[0].resources[0]"),
            ("Microsoft.Network/virtualNetworks/virtualNetworkPeerings", "vnet/p", "$.resources[0].resources[2]"),
            ("Microsoft.Network/networkSecurityGroups", "nsg", "$.resources[1]"),
            ("Microsoft.Network/networkSecurityGroups/securityRules", "nsg/r1", "$.resources[1].resources[0]"),
        ]
    );
    assert_eq!(rs[1].id, format!("{RG}/Microsoft.Network/virtualNetworks/vnet/subnets/a"));
    assert!(rs[1].body.get("dependsOn").is_none());
}

#[test]
fn reference_reads_other_resources_in_any_order() {
    let rs = expand(json!({
        "resources": [
            {"type": "Microsoft.Web/sites", "name": "app", "properties": {
                "virtualNetworkSubnetId": "[reference(resourceId('Microsoft.Network/virtualNetworks', 'vnet')).subnets[1].id]",
                "nsgRule": "[reference('nsg', '2023-09-01').securityRules[0].id]",
                "full": "[reference(resourceId('Microsoft.Network/virtualNetworks', 'vnet'), '2023-09-01', 'Full').location]",
                "runtime": "[reference('vnet').resourceGuid]",
                "outside": "[reference('/subscriptions/x/resourceGroups/y/providers/Microsoft.Web/sites/other').outputs.a.value]"
            }},
            {"type": "Microsoft.Network/virtualNetworks", "name": "vnet", "location": "northeurope", "properties": {
                "subnets": [{"name": "a", "properties": {}}, {"name": "b", "properties": {}}]
            }},
            {"type": "Microsoft.Network/networkSecurityGroups", "name": "nsg", "properties": {"securityRules": [{"name": "r", "properties": {}}]}}
        ]
    }));
    let p = &rs[0].body["properties"];
    assert_eq!(p["virtualNetworkSubnetId"], json!(format!("{RG}/Microsoft.Network/virtualNetworks/vnet/subnets/b")));
    assert_eq!(p["nsgRule"], json!(format!("{RG}/Microsoft.Network/networkSecurityGroups/nsg/securityRules/r")));
    assert_eq!(p["full"], json!("northeurope"));
    assert_eq!(p["runtime"], json!("<runtime:resourceGuid>"));
    // Outside the template: unknown, naming the resource it reads.
    assert_eq!(p["outside"], json!("<runtime:value from /subscriptions/x/resourceGroups/y/providers/Microsoft.Web/sites/other>"));
    // The emitted VNet body itself is not enriched.
    assert!(rs[1].body["properties"]["subnets"][0].get("id").is_none());
}

#[test]
fn nested_deployments_inner_and_outer_scope() {
    let rs = expand(json!({
        "parameters": {"prefix": {"type": "string", "defaultValue": "outer"}},
        "variables": {"v": "from-outer"},
        "resources": [
            {"type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01", "name": "inner-dep",
             "properties": {
                "mode": "Incremental",
                "expressionEvaluationOptions": {"scope": "inner"},
                "parameters": {"prefix": {"value": "[concat(parameters('prefix'), '-passed')]"}},
                "template": {
                    "parameters": {"prefix": {"type": "string"}},
                    "variables": {"v": "from-inner"},
                    "resources": [{"type": "Microsoft.Network/routeTables", "name": "[format('{0}-{1}', parameters('prefix'), variables('v'))]"}]
                }
             }},
            {"type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01", "name": "outer-dep",
             "properties": {
                "mode": "Incremental",
                "template": {"resources": [{"type": "Microsoft.Network/routeTables", "name": "[format('{0}-{1}', parameters('prefix'), variables('v'))]"}]}
             }},
            {"type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01", "name": "other-rg", "resourceGroup": "rg-hub",
             "properties": {"expressionEvaluationOptions": {"scope": "inner"},
                "template": {"resources": [{"type": "Microsoft.Network/virtualNetworks", "name": "hub"}]}}}
        ]
    }));
    let names: Vec<&str> = rs.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, vec!["outer-passed-from-inner", "outer-from-outer", "hub"]);
    assert_eq!(rs[0].path, "$.resources[0].properties.template.resources[0]");
    assert!(rs[2].id.contains("/resourceGroups/rg-hub/"), "{}", rs[2].id);
}

#[test]
fn linked_nested_deployment_is_a_clear_error() {
    let e = arm::expand_template(
        &json!({"resources": [{"type": "Microsoft.Resources/deployments", "name": "d", "properties": {"templateLink": {"uri": "https://x/t.json"}}}]}),
        "t.json",
        &ParamValues::default(),
        &DeployContext::default(),
    )
    .err()
    .map(|e| e.to_string())
    .unwrap_or_default();
    assert!(e.contains("unsupported") && e.contains("templateLink") && e.contains("$.resources[0].properties.templateLink"), "{e}");
}

#[test]
fn language_version_2_symbolic_resources() {
    let rs = expand(json!({
        "languageVersion": "2.0",
        "resources": {
            "hub": {"type": "Microsoft.Network/virtualNetworks", "name": "vnet-hub", "existing": true},
            "app": {"type": "Microsoft.Network/virtualNetworks", "name": "vnet-app", "properties": {"subnets": [{"name": "int", "properties": {}}]}},
            "site": {"type": "Microsoft.Web/sites", "name": "s", "properties": {"virtualNetworkSubnetId": "[reference('app').subnets[0].id]", "hub": "[reference('hub').addressSpace]"}}
        }
    }));
    let names: Vec<&str> = rs.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, vec!["vnet-app", "s"]);
    assert_eq!(rs[1].body["properties"]["virtualNetworkSubnetId"], json!(format!("{RG}/Microsoft.Network/virtualNetworks/vnet-app/subnets/int")));
    assert_eq!(rs[1].body["properties"]["hub"], json!(format!("<runtime:addressSpace from {RG}/Microsoft.Network/virtualNetworks/vnet-hub>")));
    assert_eq!(rs[1].path, "$.resources.site");
}

#[test]
fn user_defined_functions() {
    let rs = expand(json!({
        "functions": [{"namespace": "net", "members": {"subnetName": {
            "parameters": [{"name": "app", "type": "string"}, {"name": "i", "type": "int"}],
            "output": {"type": "string", "value": "[format('snet-{0}-{1}', parameters('app'), parameters('i'))]"}
        }}}],
        "resources": [{"type": "Microsoft.Network/routeTables", "name": "[net.subnetName('web', 2)]"}]
    }));
    assert_eq!(rs[0].name, "snet-web-2");
}

#[test]
fn parameters_are_converted_to_declared_types_and_later_values_win() {
    let t = json!({
        "parameters": {
            "flag": {"type": "bool"}, "n": {"type": "int"}, "list": {"type": "array"}, "o": {"type": "object", "defaultValue": {}},
            "Name": {"type": "string", "defaultValue": "[concat('x', parameters('N'))]"}
        },
        "resources": [{"type": "Microsoft.Network/routeTables", "name": "[parameters('name')]",
            "properties": {"f": "[parameters('flag')]", "n": "[parameters('n')]", "l": "[parameters('list')]", "o": "[parameters('o').k]"}}]
    });
    let pv = ParamValues {
        values: vec![
            ("flag".into(), json!("true"), "-p".into()),
            ("n".into(), json!("42"), "-p".into()),
            ("n".into(), json!(43), "later".into()),
            ("list".into(), json!("[1,2]"), "-p".into()),
            ("o".into(), json!({"k": "v"}), "file".into()),
            ("name".into(), json!(7), "-p".into()),
        ],
    };
    let rs = arm::expand_template(&t, "t.json", &pv, &DeployContext::default()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(rs[0].name, "7");
    assert_eq!(rs[0].body["properties"], json!({"f": true, "n": 43, "l": [1, 2], "o": "v"}));
}

#[test]
fn param_assignments_and_parameter_objects() {
    assert_eq!(arm::parse_param_assignment("a=42"), Ok(("a".into(), json!(42))));
    assert_eq!(arm::parse_param_assignment("a=hello world"), Ok(("a".into(), json!("hello world"))));
    assert_eq!(arm::parse_param_assignment("a=[\"x\"]"), Ok(("a".into(), json!(["x"]))));
    assert_eq!(arm::parse_param_assignment("a="), Ok(("a".into(), json!(""))));
    assert!(arm::parse_param_assignment("novalue").is_err());
    let got = arm::parameter_values_from_object(&json!({"a": 1, "b": {"value": [2]}, "c": {"x": 1}}), "f", "$.parameters").unwrap_or_default();
    assert_eq!(got, vec![("a".into(), json!(1)), ("b".into(), json!([2])), ("c".into(), json!({"x": 1}))]);
}

/// Bicep modules compile to inner-scope nested deployments; one module's
/// output feeds another's parameter through `reference(...).outputs`.
#[test]
fn module_outputs_feed_other_modules_in_any_order() {
    let rs = expand(json!({
        "resources": [
            {"type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01", "name": "app",
             "properties": {
                "expressionEvaluationOptions": {"scope": "inner"}, "mode": "Incremental",
                "parameters": {"subnetId": {"value": "[reference(resourceId('Microsoft.Resources/deployments', 'network'), '2022-09-01').outputs.subnetId.value]"},
                               "names": {"value": "[reference('network').outputs.names.value]"}},
                "template": {
                    "parameters": {"subnetId": {"type": "string"}, "names": {"type": "array"}},
                    "resources": [{"type": "Microsoft.Web/sites", "name": "[parameters('names')[1]]", "properties": {"virtualNetworkSubnetId": "[parameters('subnetId')]"}}]
                }
             }},
            {"type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01", "name": "network",
             "properties": {
                "expressionEvaluationOptions": {"scope": "inner"}, "mode": "Incremental",
                "template": {
                    "resources": [{"type": "Microsoft.Network/virtualNetworks", "name": "vnet", "properties": {"subnets": [{"name": "int", "properties": {}}]}}],
                    "outputs": {
                        "subnetId": {"type": "string", "value": "[reference(resourceId('Microsoft.Network/virtualNetworks', 'vnet')).subnets[0].id]"},
                        "names": {"type": "array", "copy": {"count": 2, "input": "[format('app{0}', copyIndex())]"}}
                    }
                }
             }}
        ]
    }));
    let names: Vec<&str> = rs.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, vec!["app1", "vnet"]);
    assert_eq!(rs[0].body["properties"]["virtualNetworkSubnetId"], json!(format!("{RG}/Microsoft.Network/virtualNetworks/vnet/subnets/int")));
}

#[test]
fn language_version_2_parameter_types() {
    let rs = expand(json!({
        "languageVersion": "2.0",
        "definitions": {"subnetSpec": {"type": "object", "properties": {"name": {"type": "string"}}}},
        "parameters": {
            "spec": {"$ref": "#/definitions/subnetSpec", "defaultValue": {"name": "int"}},
            "maybe": {"type": "string", "nullable": true}
        },
        "resources": {
            "rt": {"type": "Microsoft.Network/routeTables", "name": "[parameters('spec').name]",
                   "properties": {"m": "[parameters('maybe')]", "d": "[coalesce(parameters('maybe'), 'dflt')]"}}
        }
    }));
    assert_eq!(rs[0].name, "int");
    assert_eq!(rs[0].body["properties"], json!({"d": "dflt"}));
}
