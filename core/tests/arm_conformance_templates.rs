//! Every conformance case's template (with the case's `parameters` applied)
//! expands without error, and resource references in it resolve to
//! resources of the template.

use serde_json::Value;
use vnetlab_core::arm::{self, DeployContext, ParamValues};

const CASES: &str = "../../shared/conformance/cases";

/// Every string that looks like a resource id in a JSON tree.
fn ids_in(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) if s.starts_with("/subscriptions/") && s.contains("/providers/") => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| ids_in(x, out)),
        Value::Object(o) => o.values().for_each(|x| ids_in(x, out)),
        _ => {}
    }
}

#[test]
fn every_case_template_expands() {
    let mut entries: Vec<_> = std::fs::read_dir(CASES)
        .unwrap_or_else(|e| panic!("{CASES}: {e}"))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    entries.sort();
    assert!(entries.len() >= 12, "expected the conformance cases in {CASES}");
    for path in entries {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{file}: {e}"));
        let case = arm::parse_json(&text, &file).unwrap_or_else(|e| panic!("{e}"));
        let template = match &case["template"] {
            Value::String(rel) => {
                let p = path.parent().map(|d| d.join(rel)).unwrap_or_default();
                let t = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
                arm::parse_json(&t, &p.display().to_string()).unwrap_or_else(|e| panic!("{e}"))
            }
            v => v.clone(),
        };
        let mut pv = ParamValues::default();
        if let Some(p) = case.get("parameters") {
            for (k, v) in arm::parameter_values_from_object(p, &file, "$.parameters").unwrap_or_else(|e| panic!("{e}")) {
                pv.values.push((k, v, file.clone()));
            }
        }
        let rs = arm::expand_template(&template, &file, &pv, &DeployContext::default()).unwrap_or_else(|e| panic!("{e}"));
        assert!(!rs.is_empty(), "{file}: no resources");
        assert!(rs.iter().any(|r| r.rtype.eq_ignore_ascii_case("Microsoft.Web/sites")), "{file}: no site");
        // Every id a resource points at that names a network resource of the
        // template resolves (by type and name) to one of its resources or
        // to an inline subnet.
        for r in &rs {
            let mut ids = Vec::new();
            ids_in(&r.body["properties"], &mut ids);
            for id in ids {
                let Some((t, n)) = arm::parse_resource_id(&id) else { panic!("{file}: unparsable id {id}") };
                let known = rs.iter().any(|x| x.rtype.eq_ignore_ascii_case(&t) && x.name.eq_ignore_ascii_case(&n))
                    || (t.eq_ignore_ascii_case("Microsoft.Network/virtualNetworks/subnets")
                        && rs.iter().any(|x| {
                            x.body["properties"]["subnets"]
                                .as_array()
                                .is_some_and(|s| s.iter().any(|s| format!("{}/{}", x.name, s["name"].as_str().unwrap_or("")).eq_ignore_ascii_case(&n)))
                        }));
                let remote_ok = t.eq_ignore_ascii_case("Microsoft.Network/virtualNetworks"); // peerings may point outside
                assert!(known || remote_ok, "{file}: {} refers to {id}, which is not in the template", r.path);
            }
        }
    }
}

#[test]
fn expression_case_applies_its_parameters() {
    let file = format!("{CASES}/10-arm-expressions.json");
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file}: {e}"));
    let case = arm::parse_json(&text, &file).unwrap_or_else(|e| panic!("{e}"));
    let mut pv = ParamValues::default();
    for (k, v) in arm::parameter_values_from_object(&case["parameters"], &file, "$.parameters").unwrap_or_else(|e| panic!("{e}")) {
        pv.values.push((k, v, file.clone()));
    }
    let rs = arm::expand_template(&case["template"], &file, &pv, &DeployContext::default()).unwrap_or_else(|e| panic!("{e}"));
    let vnet = rs.iter().find(|r| r.rtype == "Microsoft.Network/virtualNetworks").unwrap_or_else(|| panic!("no vnet"));
    assert_eq!(vnet.body["properties"]["addressSpace"]["addressPrefixes"][0], "10.20.0.0/16");
    assert_eq!(vnet.body["properties"]["subnets"][0]["properties"]["addressPrefix"], "10.20.2.0/24");
    let site = rs.iter().find(|r| r.rtype == "Microsoft.Web/sites").unwrap_or_else(|| panic!("no site"));
    assert_eq!(site.name, "func-app");
    assert_eq!(site.body["properties"]["vnetRouteAllEnabled"], true);
    let nsg = rs.iter().find(|r| r.rtype == "Microsoft.Network/networkSecurityGroups").unwrap_or_else(|| panic!("no nsg"));
    assert_eq!(nsg.name, "nsg-func");
}
