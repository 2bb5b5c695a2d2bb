//! Load errors name the file, the JSON path (or line) and what was expected;
//! no input, however broken, makes the loader panic.

use serde_json::{json, Value};
use vnetlab_core::arm::{self, DeployContext, ParamValues};

fn expand_err(t: Value, params: &[(&str, Value)]) -> String {
    let pv = ParamValues { values: params.iter().map(|(k, v)| (k.to_string(), v.clone(), "-p".to_string())).collect() };
    match arm::expand_template(&t, "t.json", &pv, &DeployContext::default()) {
        Ok(rs) => panic!("expected an error, got {} resources", rs.len()),
        Err(e) => e.to_string(),
    }
}

fn one_param(decl: Value) -> Value {
    json!({"parameters": {"p": decl}, "resources": [{"type": "Microsoft.Network/routeTables", "name": "[string(parameters('p'))]"}]})
}

#[test]
fn malformed_json_gives_line_and_column() {
    let e = arm::parse_json("{\n  \"resources\": [\n    {\"type\": \"x\",}\n  ]\n}", "bad.json").err().map(|e| e.to_string()).unwrap_or_default();
    assert!(e.starts_with("bad.json: invalid JSON at line 3, column 18"), "{e}");
    assert!(e.contains("trailing comma") || e.contains("expected"), "{e}");
    let e = arm::detect_and_load("{\"a\": ", "t.json", &ParamValues::default(), &DeployContext::default()).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(e.contains("line 1, column 6") && e.contains("EOF"), "{e}");
}

#[test]
fn unsupported_function_names_it_and_the_path() {
    let e = expand_err(
        json!({"resources": [{"type": "A.B/c", "name": "x"}, {"type": "A.B/c", "name": "y"},
        {"type": "A.B/c", "name": "z", "properties": {"addressPrefix": "[foo(1)]"}}]}),
        &[],
    );
    assert_eq!(e, "t.json: at $.resources[2].properties.addressPrefix: unsupported template function 'foo' in \"[foo(1)]\"");
}

#[test]
fn wrong_argument_count_is_located() {
    let e = expand_err(json!({"resources": [{"type": "A.B/c", "name": "[concat('a')]", "properties": {"x": "[substring('abc')]"}}]}), &[]);
    assert!(e.contains("at $.resources[0].properties.x") && e.contains("'substring' expects 2 to 3 argument(s) but got 1"), "{e}");
}

#[test]
fn undeclared_parameter_override() {
    let e = expand_err(one_param(json!({"type": "string", "defaultValue": "a"})), &[("nope", json!(1))]);
    assert!(e.contains("parameter 'nope'") && e.contains("not declared") && e.contains("declared: p"), "{e}");
}

#[test]
fn missing_parameter_value() {
    let e = expand_err(one_param(json!({"type": "string"})), &[]);
    assert!(e.contains("at $.parameters.p") && e.contains("no value and no defaultValue"), "{e}");
}

#[test]
fn bad_parameter_type() {
    let e = expand_err(one_param(json!({"type": "int"})), &[("p", json!("forty"))]);
    assert!(e.contains("at $.parameters.p") && e.contains("expected int") && e.contains("given in -p"), "{e}");
    let e = expand_err(one_param(json!({"type": "bool", "defaultValue": "yes"})), &[]);
    assert!(e.contains("$.parameters.p.defaultValue") && e.contains("expected bool"), "{e}");
    let e = expand_err(one_param(json!({"type": "float"})), &[]);
    assert!(e.contains("unknown parameter type 'float'"), "{e}");
}

#[test]
fn allowed_values_and_bounds() {
    let e = expand_err(one_param(json!({"type": "string", "allowedValues": ["EP1", "EP2"]})), &[("p", json!("Y1"))]);
    assert!(e.contains("\"Y1\" is not one of the allowedValues [\"EP1\", \"EP2\"]"), "{e}");
    let e = expand_err(one_param(json!({"type": "int", "minValue": 1, "maxValue": 5})), &[("p", json!(9))]);
    assert!(e.contains("above maxValue 5"), "{e}");
    let e = expand_err(one_param(json!({"type": "string", "minLength": 3})), &[("p", json!("ab"))]);
    assert!(e.contains("below minLength 3"), "{e}");
}

#[test]
fn variable_cycle_names_the_cycle() {
    let e = expand_err(
        json!({"variables": {"a": "[variables('b')]", "b": "[concat('x', variables('a'))]"},
        "resources": [{"type": "A.B/c", "name": "[variables('a')]"}]}),
        &[],
    );
    assert!(e.contains("cycle: variable 'a' -> variable 'b' -> variable 'a'"), "{e}");
}

#[test]
fn parameter_default_cycle() {
    let e = expand_err(json!({"parameters": {"a": {"type": "string", "defaultValue": "[parameters('a')]"}}, "resources": []}), &[]);
    assert!(e.contains("cycle: parameter 'a' -> parameter 'a'"), "{e}");
}

#[test]
fn copy_count_must_be_a_non_negative_integer() {
    let e = expand_err(json!({"resources": [{"type": "A.B/c", "name": "[string(copyIndex())]", "copy": {"name": "l", "count": -1}}]}), &[]);
    assert!(e.contains("at $.resources[0].copy.count") && e.contains("between 0 and 800 but is -1"), "{e}");
    let e = expand_err(json!({"resources": [{"type": "A.B/c", "name": "[string(copyIndex())]", "copy": {"name": "l", "count": "[json('1.5')]"}}]}), &[]);
    assert!(e.contains("copy count must be an integer but is 1.5"), "{e}");
    let e = expand_err(json!({"resources": [{"type": "A.B/c", "name": "x", "properties": {"copy": [{"name": "l", "count": "two", "input": 1}]}}]}), &[]);
    assert!(e.contains("$.resources[0].properties.copy[0].count") && e.contains("\"two\""), "{e}");
}

#[test]
fn reference_cycles_are_detected() {
    let e = expand_err(json!({"resources": [{"type": "A.B/c", "name": "x", "properties": {"me": "[reference('x').me]"}}]}), &[]);
    assert!(e.contains("cycle: resource 'x' (A.B/c) -> resource 'x' (A.B/c)"), "{e}");
    let e = expand_err(
        json!({"resources": [
        {"type": "A.B/c", "name": "x", "properties": {"v": "[reference(resourceId('A.B/c', 'y')).v]"}},
        {"type": "A.B/c", "name": "y", "properties": {"v": "[reference(resourceId('A.B/c', 'x')).v]"}}]}),
        &[],
    );
    assert!(e.contains("resource 'x' (A.B/c) -> resource 'y' (A.B/c) -> resource 'x' (A.B/c)"), "{e}");
}

#[test]
fn name_segments_must_match_the_type() {
    let e = expand_err(json!({"resources": [{"type": "Microsoft.Network/virtualNetworks/subnets", "name": "lonely"}]}), &[]);
    assert!(e.contains("at $.resources[0].name") && e.contains("needs 2 name segment(s) but got 1"), "{e}");
}

#[test]
fn key_vault_parameter_reference_is_unsupported() {
    let text = r#"{"parameters": {"pw": {"reference": {"keyVault": {"id": "/x"}, "secretName": "s"}}}}"#;
    let e = arm::read_parameters_file(text, "p.json").err().map(|e| e.to_string()).unwrap_or_default();
    assert!(e.contains("p.json: at $.parameters.pw: unsupported: a Key Vault reference"), "{e}");
}

#[test]
fn unknown_input_shape_lists_accepted_formats() {
    for text in ["{\"hello\": 1}", "[1, 2]", "42"] {
        let e = arm::detect_and_load(text, "x.json", &ParamValues::default(), &DeployContext::default()).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("unrecognised input") && e.contains("ARM deployment template") && e.contains("az CLI output") && e.contains(".toml"), "{e}");
    }
}

/// Truncations and byte-level mutations of the real templates: the loader
/// returns Ok or Err, never panics. Deterministic (a fixed LCG), bounded.
#[test]
fn mutated_real_templates_never_panic() {
    let dir = "../../shared/real-world/arm";
    let mut files: Vec<_> = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{dir}: {e}")).filter_map(|e| e.ok().map(|e| e.path())).collect();
    files.sort();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut rnd = move |n: usize| {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((seed >> 33) as usize) % n.max(1)
    };
    let tokens: [&[u8]; 12] = [b"[", b"]", b"(", b")", b"'", b",", b".", b"\"", b"{", b"}", b"[copyIndex()]", b"[reference('x').a[9]]"];
    for path in files {
        let original = std::fs::read(&path).unwrap_or_default();
        let name = path.display().to_string();
        for cut in (0..original.len()).step_by(original.len() / 40 + 1) {
            let t = String::from_utf8_lossy(&original[..cut]);
            let _ = arm::detect_and_load(&t, &name, &ParamValues::default(), &DeployContext::default());
        }
        for _ in 0..150 {
            let mut m = original.clone();
            for _ in 0..1 + rnd(4) {
                let at = rnd(m.len());
                match rnd(3) {
                    0 => {
                        m.remove(at);
                    }
                    1 => {
                        let tok = tokens[rnd(tokens.len())];
                        m.splice(at..at, tok.iter().copied());
                    }
                    _ => m[at] = b"[]()',.x0-\"{}"[rnd(13)],
                }
            }
            let t = String::from_utf8_lossy(&m);
            let _ = arm::detect_and_load(&t, &name, &ParamValues::default(), &DeployContext::default());
        }
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(400))]
    /// Arbitrary expression text in a property: evaluated or rejected, never a panic.
    #[test]
    fn arbitrary_expressions_never_panic(body in "[a-zA-Z(),'.\\[\\]0-9 -]{0,60}", func in "(concat|format|substring|padLeft|cidrSubnet|cidrHost|range|take|split|if|copyIndex|reference|parameters|variables|add|div|json)") {
        let t = json!({"parameters": {"p": {"type": "array", "defaultValue": [1, "a", {"b": 2}]}}, "variables": {"v": "x"},
            "resources": [{"type": "A.B/c", "name": "n", "properties": {"a": format!("[{body}]"), "b": format!("[{func}({body})]")}}]});
        let _ = arm::expand_template(&t, "t.json", &ParamValues::default(), &DeployContext::default());
    }

    #[test]
    fn arbitrary_numbers_in_functions_never_panic(a in proptest::num::i64::ANY, b in proptest::num::i64::ANY, f in "(substring|padLeft|cidrSubnet|cidrHost|range|take|skip|add|sub|mul|div|mod|format)") {
        let e = match f.as_str() {
            "substring" => format!("[substring('abcdef', {a}, {b})]"),
            "padLeft" => format!("[padLeft('x', {a}, '0')]"),
            "cidrSubnet" => format!("[cidrSubnet('10.0.0.0/8', {a}, {b})]"),
            "cidrHost" => format!("[cidrHost('10.0.0.0/8', {a})]"),
            "range" => format!("[range({a}, {b})]"),
            "format" => format!("[format('{{0,{a}}}{{0:D{b}}}', 1)]"),
            other => format!("[{other}({a}, {b})]"),
        };
        let t = json!({"resources": [{"type": "A.B/c", "name": "n", "properties": {"x": e}}]});
        let _ = arm::expand_template(&t, "t.json", &ParamValues::default(), &DeployContext::default());
    }
}

#[test]
fn very_long_variable_chains_are_an_error_not_a_stack_overflow() {
    let mut vars = serde_json::Map::new();
    // 500: within ARM's limit of 512 variables per template.
    for i in 0..500 {
        vars.insert(format!("v{i}"), json!(format!("[variables('v{}')]", i + 1)));
    }
    vars.insert("v500".into(), json!("end"));
    let e = expand_err(json!({"variables": vars, "resources": [{"type": "A.B/c", "name": "[variables('v0')]"}]}), &[]);
    assert!(e.contains("evaluation chain too long"), "{e}");
}

#[test]
fn deeply_nested_expressions_are_an_error_not_a_stack_overflow() {
    for depth in [60, 99, 101, 1000] {
        let e = format!("[{}'x'{}]", "concat(".repeat(depth), ")".repeat(depth));
        let t = json!({"resources": [{"type": "A.B/c", "name": "n", "properties": {"x": e}}]});
        let r = arm::expand_template(&t, "t.json", &ParamValues::default(), &DeployContext::default());
        if depth > 100 {
            let e = r.err().map(|e| e.to_string()).unwrap_or_default();
            assert!(e.contains("nested too deeply"), "{e}");
        }
    }
}

#[test]
fn deep_expressions_inside_long_chains_are_an_error_not_a_stack_overflow() {
    let mut vars = serde_json::Map::new();
    for i in 0..120 {
        let inner = format!("variables('v{}')", i + 1);
        vars.insert(format!("v{i}"), json!(format!("[{}{inner}{}]", "concat(".repeat(40), ")".repeat(40))));
    }
    vars.insert("v120".into(), json!("end"));
    let e = expand_err(json!({"variables": vars, "resources": [{"type": "A.B/c", "name": "[variables('v0')]"}]}), &[]);
    assert!(e.contains("nested too deeply") || e.contains("chain too long"), "{e}");
}
