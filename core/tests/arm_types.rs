//! languageVersion 2.0 parameter types (issue 9): `definitions` and `$ref`,
//! `nullable`, typed object properties, array items and tagged unions; and
//! a required parameter of a nested module that its parent does not give,
//! reported with the module's name and path and how to give it.

use serde_json::{json, Value};
use vnetlab_core::arm::{self, DeployContext, ParamValues, Resource};

fn pv(params: &[(&str, Value)]) -> ParamValues {
    ParamValues { values: params.iter().map(|(k, v)| (k.to_string(), v.clone(), "-p".to_string())).collect() }
}

fn expand(t: Value, params: &[(&str, Value)]) -> Vec<Resource> {
    arm::expand_template(&t, "t.json", &pv(params), &DeployContext::default()).unwrap_or_else(|e| panic!("{e}"))
}

fn expand_err(t: Value, params: &[(&str, Value)]) -> String {
    match arm::expand_template(&t, "t.json", &pv(params), &DeployContext::default()) {
        Ok(rs) => panic!("expected an error, got {} resources", rs.len()),
        Err(e) => e.to_string(),
    }
}

/// A template with `definitions`, one parameter `p` declared as `decl`, and a
/// route table whose `properties.v` is `p`.
fn typed(defs: Value, decl: Value) -> Value {
    json!({
        "languageVersion": "2.0",
        "definitions": defs,
        "parameters": {"p": decl},
        "resources": {"rt": {"type": "Microsoft.Network/routeTables", "name": "rt", "properties": {"v": "[parameters('p')]", "isNull": "[equals(parameters('p'), null())]"}}}
    })
}

#[test]
fn a_nullable_definition_makes_a_ref_parameter_optional() {
    let rs = expand(typed(json!({"cfg": {"type": "object", "nullable": true}}), json!({"$ref": "#/definitions/cfg"})), &[]);
    assert_eq!(rs[0].body["properties"]["isNull"], json!(true));
}

#[test]
fn a_ref_parameter_takes_the_definitions_type() {
    // `-p p={"a":1}` arrives as text; an object type parses it.
    let t = typed(json!({"cfg": {"type": "object"}}), json!({"$ref": "#/definitions/cfg"}));
    let rs = expand(t, &[("p", json!("{\"a\": 1}"))]);
    assert_eq!(rs[0].body["properties"]["v"], json!({"a": 1}));
}

#[test]
fn a_ref_chain_keeps_every_links_constraints() {
    let defs = json!({"sku": {"$ref": "#/definitions/tier"}, "tier": {"type": "string", "allowedValues": ["EP1", "EP2"]}});
    let e = expand_err(typed(defs.clone(), json!({"$ref": "#/definitions/sku", "defaultValue": "Y1"})), &[]);
    assert!(e.contains("at $.parameters.p.defaultValue") && e.contains("\"Y1\" is not one of the allowedValues"), "{e}");
    let e = expand_err(typed(defs, json!({"$ref": "#/definitions/sku", "minLength": 4})), &[("p", json!("EP1"))]);
    assert!(e.contains("at $.parameters.p") && e.contains("below minLength 4"), "{e}");
}

#[test]
fn an_unknown_ref_names_the_definition() {
    let e = expand_err(typed(json!({"cfg": {"type": "object"}}), json!({"$ref": "#/definitions/nope"})), &[("p", json!({}))]);
    assert!(e.contains("at $.parameters.p") && e.contains("'#/definitions/nope'") && e.contains("declared: cfg"), "{e}");
}

#[test]
fn a_ref_cycle_is_an_error_not_a_hang() {
    let defs = json!({"a": {"$ref": "#/definitions/b"}, "b": {"$ref": "#/definitions/a"}});
    let e = expand_err(typed(defs, json!({"$ref": "#/definitions/a"})), &[("p", json!(1))]);
    assert!(e.contains("at $.parameters.p") && e.contains("cycle"), "{e}");
}

#[test]
fn typed_object_properties_are_checked_with_their_path() {
    let defs = json!({
        "port": {"type": "int", "minValue": 1},
        "cfg": {"type": "object", "properties": {
            "port": {"$ref": "#/definitions/port"},
            "name": {"type": "string"},
            "tags": {"type": "object", "nullable": true}
        }}
    });
    let t = typed(defs, json!({"$ref": "#/definitions/cfg"}));
    let rs = expand(t.clone(), &[("p", json!({"port": 80, "name": "a"}))]);
    assert_eq!(rs[0].body["properties"]["v"]["port"], json!(80));
    let e = expand_err(t.clone(), &[("p", json!({"port": "eighty", "name": "a"}))]);
    assert!(e.contains("at $.parameters.p") && e.contains("p.port") && e.contains("expected int"), "{e}");
    let e = expand_err(t.clone(), &[("p", json!({"port": 0, "name": "a"}))]);
    assert!(e.contains("p.port") && e.contains("below minValue 1"), "{e}");
    let e = expand_err(t, &[("p", json!({"port": 80}))]);
    assert!(e.contains("p: the required property 'name' is missing"), "{e}");
}

#[test]
fn sealed_objects_refuse_undeclared_properties() {
    let defs = json!({"cfg": {"type": "object", "properties": {"a": {"type": "int"}}, "additionalProperties": false}});
    let e = expand_err(typed(defs, json!({"$ref": "#/definitions/cfg"})), &[("p", json!({"a": 1, "b": 2}))]);
    assert!(e.contains("p: property 'b' is not declared by the type"), "{e}");
}

#[test]
fn typed_array_items_are_checked() {
    let defs = json!({"list": {"type": "array", "items": {"type": "string", "allowedValues": ["x", "y"]}}});
    let e = expand_err(typed(defs, json!({"$ref": "#/definitions/list"})), &[("p", json!(["x", "z"]))]);
    assert!(e.contains("p[1]") && e.contains("\"z\" is not one of the allowedValues"), "{e}");
}

#[test]
fn a_tagged_union_checks_the_member_its_discriminator_names() {
    let defs = json!({"u": {"type": "object", "discriminator": {"propertyName": "kind", "mapping": {
        "a": {"type": "object", "properties": {"kind": {"type": "string", "allowedValues": ["a"]}, "n": {"type": "int"}}},
        "b": {"type": "object", "properties": {"kind": {"type": "string", "allowedValues": ["b"]}, "s": {"type": "string"}}}
    }}}});
    let t = typed(defs, json!({"$ref": "#/definitions/u"}));
    let rs = expand(t.clone(), &[("p", json!({"kind": "b", "s": "x"}))]);
    assert_eq!(rs[0].body["properties"]["v"]["s"], json!("x"));
    let e = expand_err(t.clone(), &[("p", json!({"kind": "a", "n": "x"}))]);
    assert!(e.contains("p.n") && e.contains("expected int"), "{e}");
    let e = expand_err(t, &[("p", json!({"kind": "c"}))]);
    assert!(e.contains("p.kind") && e.contains("'c'") && e.contains("a, b"), "{e}");
}

/// A parent that deploys an inner-scope module declaring `decl` as `x`, and
/// passes it `given` (or nothing when `given` is null).
fn module(parent_params: Value, decl: Value, given: Option<Value>) -> Value {
    let mut params = serde_json::Map::new();
    if let Some(g) = given {
        params.insert("x".into(), json!({"value": g}));
    }
    json!({
        "parameters": parent_params,
        "variables": {"o": {"present": 1}},
        "resources": [
            {"type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01", "name": "net-module",
             "properties": {"mode": "Incremental", "expressionEvaluationOptions": {"scope": "inner"},
                 "parameters": params,
                 "template": {
                     "languageVersion": "2.0",
                     "definitions": {"opt": {"type": "string", "nullable": true}},
                     "parameters": {"x": decl},
                     "resources": {"rt": {"type": "Microsoft.Network/routeTables", "name": "rt", "properties": {"isNull": "[equals(parameters('x'), null())]"}}}
                 }}}
        ]
    })
}

#[test]
fn null_forms_passed_to_a_nullable_ref_module_parameter() {
    let decl = json!({"$ref": "#/definitions/opt"});
    for given in [json!(null), json!("[null()]"), json!("[tryGet(variables('o'), 'missing')]")] {
        let rs = expand(module(json!({}), decl.clone(), Some(given.clone())), &[]);
        assert_eq!(rs[0].body["properties"]["isNull"], json!(true), "{given}");
    }
    let rs = expand(module(json!({}), decl, None), &[]);
    assert_eq!(rs[0].body["properties"]["isNull"], json!(true));
}

#[test]
fn a_required_module_parameter_the_parent_omits_names_the_module() {
    let e = expand_err(module(json!({}), json!({"type": "string"}), None), &[]);
    assert!(e.contains("at $.resources[0].properties.template.parameters.x"), "{e}");
    assert!(e.contains("nested deployment 'net-module'") && e.contains("$.resources[0]"), "{e}");
    assert!(e.contains("the parent template must pass it in properties.parameters"), "{e}");
    assert!(!e.contains("-p x="), "-p cannot reach a module's parameter: {e}");
}

#[test]
fn a_required_module_parameter_fed_by_an_empty_parent_parameter_names_its_p() {
    let parent = json!({"subnetName": {"type": "string", "nullable": true}});
    let e = expand_err(module(parent, json!({"type": "string"}), Some(json!("[parameters('subnetName')]"))), &[]);
    assert!(e.contains("nested deployment 'net-module'") && e.contains("is null"), "{e}");
    assert!(e.contains("parameters('subnetName')") && e.contains("-p subnetName=VALUE"), "{e}");
}

#[test]
fn a_null_given_to_a_required_top_level_parameter_is_an_error() {
    let t = json!({"parameters": {"p": {"type": "string"}}, "resources": []});
    let e = expand_err(t, &[("p", Value::Null)]);
    assert!(e.contains("at $.parameters.p") && e.contains("null") && e.contains("-p p=VALUE"), "{e}");
}

#[test]
fn checking_a_value_against_its_type_is_bounded() {
    // 300 objects against a type declaring 1,000 optional properties:
    // 300,000 steps, refused rather than multiplied out.
    let props: serde_json::Map<String, Value> = (0..1000).map(|i| (format!("p{i}"), json!({"type": "int", "nullable": true}))).collect();
    let defs = json!({"item": {"type": "object", "properties": props}, "list": {"type": "array", "items": {"$ref": "#/definitions/item"}}});
    let items: Vec<Value> = (0..300).map(|_| json!({})).collect();
    let e = expand_err(typed(defs, json!({"$ref": "#/definitions/list"})), &[("p", Value::Array(items))]);
    assert!(e.contains("at $.parameters.p") && e.contains("more than 200000 steps"), "{e}");
}

#[test]
fn a_nullable_parameter_may_default_to_null() {
    let t = typed(json!({}), json!({"type": "string", "nullable": true, "defaultValue": "[null()]"}));
    assert_eq!(expand(t, &[])[0].body["properties"]["isNull"], json!(true));
}
