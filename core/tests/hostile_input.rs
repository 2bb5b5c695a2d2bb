//! Hostile input: a template is untrusted (CI runs pull requests), so every
//! small text that expands into huge work or memory must end with a result
//! or a clear error naming the limit and the JSON path. Each case generates
//! its template in code and loads it through the public API. No timing is
//! asserted: the bounds are structural (ARM's and Azure's limits, the
//! evaluation depth, per-value and total value budgets), and the tests check
//! that the right one answers.

use serde_json::{json, Map, Value};
use vnetlab_core::arm::{self, DeployContext, ParamValues, Resource};
use vnetlab_core::error::Error;
use vnetlab_core::policy::route::lpm::{select_linear, states, Lpm, LpmEntry, Origin};
use vnetlab_core::policy::{Policy, PolicyOptions};

fn expand(t: &Value) -> Result<Vec<Resource>, String> {
    arm::expand_template(t, "t.json", &ParamValues::default(), &DeployContext::default()).map_err(|e| e.to_string())
}

fn expand_err(t: &Value) -> String {
    match expand(t) {
        Ok(rs) => panic!("expected an error, got {} resources", rs.len()),
        Err(e) => e,
    }
}

/// Loads JSON text as a user's file would be loaded.
fn load_text_err(text: &str) -> String {
    match arm::detect_and_load(text, "t.json", &ParamValues::default(), &DeployContext::default()) {
        Ok(rs) => panic!("expected an error, got {} resources", rs.len()),
        Err(e) => e.to_string(),
    }
}

fn compile(t: &Value) -> Result<Policy, Error> {
    let res = arm::expand_template(t, "t.json", &ParamValues::default(), &DeployContext::default())?;
    let sc = vnetlab_core::model::build(&res)?;
    Policy::compile(&sc, &PolicyOptions::default())
}

fn compile_err(t: &Value) -> String {
    match compile(t) {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

fn vars(n: usize, f: impl Fn(usize) -> Value) -> Map<String, Value> {
    (0..n).map(|i| (format!("v{i}"), f(i))).collect()
}

fn reads_v(last: usize) -> Value {
    json!([{"type": "A.B/c", "name": "n", "properties": {"x": format!("[variables('v{last}')]")}}])
}

#[test]
fn chained_variables_nested_in_arrays_are_an_error_not_a_stack_overflow() {
    // 95 variables, each reading the next from inside 100 nested arrays:
    // 26 KB of text, and no expression nested more than one call deep.
    let n = 95;
    let mut v = vars(n, |i| {
        let mut x = json!(format!("[variables('v{}')]", i + 1));
        for _ in 0..100 {
            x = json!([x]);
        }
        x
    });
    v.insert(format!("v{n}"), json!("end"));
    let text = json!({"variables": v, "resources": reads_v(0)}).to_string();
    assert!(text.len() < 30_000, "{}", text.len());
    let e = load_text_err(&text);
    assert!(e.contains("nested too deeply") && e.contains("$.variables.v"), "{e}");
}

#[test]
fn doubling_variables_hit_the_value_bound() {
    for double in ["[concat(variables('v{p}'), variables('v{p}'))]", "[createArray(variables('v{p}'), variables('v{p}'))]"] {
        let mut v = vars(40, |i| json!(double.replace("{p}", &(i.saturating_sub(1)).to_string())));
        v.insert("v0".into(), json!("abcdefgh"));
        let e = expand_err(&json!({"variables": v, "resources": reads_v(39)}));
        assert!(e.contains("larger than 16 MiB") || e.contains("evaluation budget"), "{e}");
        assert!(e.contains("$.variables.v"), "{e}");
    }
    // The same doubling in plain JSON arrays, without a function.
    let mut v = vars(40, |i| json!([format!("[variables('v{}')]", i.saturating_sub(1)), format!("[variables('v{}')]", i.saturating_sub(1))]));
    v.insert("v0".into(), json!("abcdefgh"));
    let e = expand_err(&json!({"variables": v, "resources": reads_v(39)}));
    assert!(e.contains("larger than 16 MiB") || e.contains("evaluation budget"), "{e}");
}

#[test]
fn doubling_reduce_hits_the_value_bound() {
    let x = "[reduce(range(0, 40), 'ab', lambda('acc', 'i', concat(lambdaVariables('acc'), lambdaVariables('acc'))))]";
    let e = expand_err(&json!({"resources": [{"type": "A.B/c", "name": "n", "properties": {"x": x}}]}));
    assert!(e.contains("larger than 16 MiB") && e.contains("$.resources[0].properties.x"), "{e}");
    // Doubling string functions are checked before they build.
    let big = "[replace(variables('a'), 'a', variables('a'))]";
    let e = expand_err(&json!({"variables": {"a": "[padLeft('', 16000, 'a')]"}, "resources": [{"type": "A.B/c", "name": "n", "properties": {"x": big}}]}));
    assert!(e.contains("larger than 16 MiB"), "{e}");
    let join = "[join(range(0, 10000), variables('a'))]";
    let e = expand_err(&json!({"variables": {"a": "[padLeft('', 16000, 'a')]"}, "resources": [{"type": "A.B/c", "name": "n", "properties": {"x": join}}]}));
    assert!(e.contains("larger than 16 MiB"), "{e}");
}

#[test]
fn copy_loops_nested_in_nested_deployments_are_bounded_in_total() {
    // 800 deployments, each an inner template of 800 resources: each within
    // ARM's per-template limit, 640,000 in all.
    let inner = json!({"resources": [{"type": "A.B/c", "name": "[concat('r', copyIndex())]", "copy": {"name": "r", "count": 800}}]});
    let t = json!({"resources": [{
        "type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01",
        "name": "[concat('d', copyIndex())]", "copy": {"name": "d", "count": 800},
        "properties": {"mode": "Incremental", "expressionEvaluationOptions": {"scope": "inner"}, "template": inner}
    }]});
    let e = expand_err(&t);
    assert!(e.contains("more than 20000 resources in total"), "{e}");
    // The same with the outer expression scope.
    let mut outer = t.clone();
    outer["resources"][0]["properties"]["expressionEvaluationOptions"] = json!({"scope": "outer"});
    let e = expand_err(&outer);
    assert!(e.contains("more than 20000 resources in total"), "{e}");
    // 20 deployments of 800 (16,000 resources) are accepted.
    let mut fewer = t;
    fewer["resources"][0]["copy"]["count"] = json!(20);
    assert_eq!(expand(&fewer).map(|r| r.len()), Ok(16_000));
}

#[test]
fn arm_template_limits_name_the_limit_and_the_path() {
    // 800 resources including copies: accepted; 801: refused.
    let two = |a: usize, b: usize| {
        json!({"resources": [
            {"type": "A.B/c", "name": "[concat('a', copyIndex())]", "copy": {"name": "a", "count": a}},
            {"type": "A.B/c", "name": "[concat('b', copyIndex())]", "copy": {"name": "b", "count": b}}]})
    };
    assert_eq!(expand(&two(400, 400)).map(|r| r.len()), Ok(800));
    let e = expand_err(&two(400, 401));
    assert!(e.contains("$.resources[1] (copy 400)") && e.contains("more than 800 resources") && e.contains("ARM's limit is 800 per template"), "{e}");
    let e = expand_err(&two(801, 0));
    assert!(e.contains("copy count must be between 0 and 800 but is 801"), "{e}");
    // Child resources count too.
    let e = expand_err(&json!({"resources": [{"type": "A.B/c", "name": "[concat('p', copyIndex())]", "copy": {"name": "p", "count": 401},
        "resources": [{"type": "d", "name": "x"}]}]}));
    assert!(e.contains("more than 800 resources"), "{e}");

    let params: Map<String, Value> = (0..257).map(|i| (format!("p{i}"), json!({"type": "int", "defaultValue": i}))).collect();
    let e = expand_err(&json!({"parameters": params, "resources": []}));
    assert_eq!(e, "t.json: at $.parameters: the template declares 257 parameters; ARM's limit is 256 per template");
    let e = expand_err(&json!({"variables": vars(513, |i| json!(i)), "resources": []}));
    assert_eq!(e, "t.json: at $.variables: the template declares 513 variables; ARM's limit is 512 per template");
    assert!(expand(&json!({"variables": vars(512, |i| json!(i)), "resources": reads_v(511)})).is_ok());
    let outputs: Map<String, Value> = (0..65).map(|i| (format!("o{i}"), json!({"type": "int", "value": i}))).collect();
    let e = expand_err(&json!({"outputs": outputs, "resources": []}));
    assert_eq!(e, "t.json: at $.outputs: the template declares 65 outputs; ARM's limit is 64 per template");

    // 24,576 characters per expression.
    let expr = |len: usize| format!("[concat('{}')]", "a".repeat(len - 12));
    let at = |x: String| json!({"resources": [{"type": "A.B/c", "name": "n", "properties": {"x": x}}]});
    assert!(expand(&at(expr(24_576))).is_ok());
    let e = expand_err(&at(expr(24_577)));
    assert!(e.contains("$.resources[0].properties.x") && e.contains("24577 characters long; ARM's limit is 24576"), "{e}");
}

#[test]
fn nested_property_copies_are_bounded_by_the_budget() {
    let leaf = json!({"name": "c", "count": 800, "input": {"v": "[copyIndex('c')]"}});
    let mid = json!({"name": "b", "count": 800, "input": {"copy": [leaf]}});
    let top = json!([{"name": "a", "count": 800, "input": {"copy": [mid]}}]);
    let e = expand_err(&json!({"resources": [{"type": "A.B/c", "name": "n", "properties": {"copy": top}}]}));
    assert!(e.contains("evaluation budget") && e.contains("$.resources[0].properties.copy[0]"), "{e}");
}

#[test]
fn sort_of_ten_thousand_items_is_correct() {
    // A permutation of 0..10000 (7919 is prime to 10000), sorted back.
    let x = "[sort(map(range(0, 10000), lambda('i', mod(mul(lambdaVariables('i'), 7919), 10000))), lambda('a', 'b', less(lambdaVariables('a'), lambdaVariables('b'))))]";
    let rs = expand(&json!({"resources": [{"type": "A.B/c", "name": "n", "properties": {"x": x}}]})).unwrap_or_else(|e| panic!("{e}"));
    let want: Vec<Value> = (0..10_000).map(|i| json!(i)).collect();
    assert_eq!(rs[0].body["properties"]["x"], Value::Array(want));
    // Stable: equal keys keep their order.
    let x = "[sort(createArray(createArray(1, 'a'), createArray(0, 'b'), createArray(1, 'c'), createArray(0, 'd')), lambda('a', 'b', less(lambdaVariables('a')[0], lambdaVariables('b')[0])))]";
    let rs = expand(&json!({"resources": [{"type": "A.B/c", "name": "n", "properties": {"x": x}}]})).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(rs[0].body["properties"]["x"], json!([[0, "b"], [0, "d"], [1, "a"], [1, "c"]]));
}

#[test]
fn union_and_intersection_of_large_arrays_are_correct() {
    let x = "[length(union(range(0, 10000), range(5000, 10000), createArray(1, json('1.0'))))]";
    let y = "[length(intersection(range(0, 10000), range(5000, 10000)))]";
    let rs = expand(&json!({"resources": [{"type": "A.B/c", "name": "n", "properties": {"x": x, "y": y}}]})).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(rs[0].body["properties"], json!({"x": 15000, "y": 5000}));
}

#[test]
fn huge_indexes_are_errors_not_overflows() {
    for (x, want) in [
        ("[substring('abc', -9223372036854775808)]", "out of range"),
        ("[substring('abc', 1, 9223372036854775807)]", "out of range"),
        ("[substring('abc', 9223372036854775807, 9223372036854775807)]", "out of range"),
        ("[range(9223372036854775807, 2)]", "overflows"),
        ("[range(0, 10001)]", "between 0 and 10000"),
        ("[add(9223372036854775807, 1)]", "integer overflow"),
        ("[copyIndex(9223372036854775807)]", "outside a copy loop"),
        ("[cidrSubnet('10.0.0.0/8', 9223372036854775807, 0)]", "prefix length"),
        ("[cidrHost('10.0.0.0/8', -9223372036854775808)]", "out of range"),
    ] {
        let e = expand_err(&json!({"resources": [{"type": "A.B/c", "name": "n", "properties": {"x": x}}]}));
        assert!(e.contains(want) && e.contains("$.resources[0].properties.x"), "{x}: {e}");
    }
    for (x, want) in [
        ("[take('abc', 9223372036854775807)]", json!("abc")),
        ("[skip('abc', 9223372036854775807)]", json!("")),
        ("[take(createArray(1, 2), -9223372036854775808)]", json!([])),
        ("[skip(createArray(1, 2), -9223372036854775808)]", json!([1, 2])),
    ] {
        let rs = expand(&json!({"resources": [{"type": "A.B/c", "name": "n", "properties": {"x": x}}]})).unwrap_or_else(|e| panic!("{x}: {e}"));
        assert_eq!(rs[0].body["properties"]["x"], want, "{x}");
    }
}

/// A site integrated into subnet `int` of a VNet with `n` more subnets,
/// given as separate subnet resources when `separate`.
fn many_subnets(n: usize, integrate_into: &str, separate: bool) -> Value {
    let subnet = |i: usize| {
        json!({"name": format!("s{i}"), "properties": {"addressPrefix": format!("10.{}.{}.0/24", i / 256, i % 256),
            "delegations": [{"name": "d", "properties": {"serviceName": "Microsoft.Web/serverFarms"}}]}})
    };
    let subnets: Vec<Value> = (0..n).map(subnet).collect();
    let mut resources = vec![
        json!({"type": "Microsoft.Network/virtualNetworks", "name": "vnet", "properties": {
            "addressSpace": {"addressPrefixes": ["10.0.0.0/8"]}, "subnets": if separate { json!([]) } else { json!(subnets) }}}),
        json!({"type": "Microsoft.Web/serverfarms", "name": "plan", "sku": {"name": "EP1", "tier": "ElasticPremium"}, "kind": "elastic"}),
        json!({"type": "Microsoft.Web/sites", "name": "app", "kind": "functionapp", "properties": {
            "serverFarmId": "[resourceId('Microsoft.Web/serverfarms', 'plan')]",
            "virtualNetworkSubnetId": format!("[resourceId('Microsoft.Network/virtualNetworks/subnets', 'vnet', '{integrate_into}')]"),
            "outboundIpAddresses": "198.51.100.10"}}),
    ];
    if separate {
        // Separate resources: at most 800 per template, so in nested ones.
        for chunk in subnets.chunks(750).map(<[Value]>::to_vec) {
            let inner: Vec<Value> = chunk
                .into_iter()
                .map(|s| json!({"type": "Microsoft.Network/virtualNetworks/subnets", "name": format!("vnet/{}", s["name"].as_str().unwrap_or("")), "properties": s["properties"]}))
                .collect();
            resources.push(json!({"type": "Microsoft.Resources/deployments", "name": format!("d{}", resources.len()),
                "properties": {"mode": "Incremental", "template": {"resources": inner}}}));
        }
    }
    json!({"resources": resources})
}

#[test]
fn a_vnet_of_three_thousand_subnets_picks_the_right_one() {
    for separate in [false, true] {
        let p = compile(&many_subnets(3000, "s2999", separate)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.subnet_name, "vnet/s2999", "separate: {separate}");
        // s2999 is 10.11.183.0/24 (2999 = 11 * 256 + 183).
        assert_eq!(p.instance_ip().to_string(), "10.11.183.4");
    }
}

#[test]
fn more_than_three_thousand_subnets_are_refused() {
    let e = compile_err(&many_subnets(3001, "s0", false));
    assert_eq!(e, "t.json: at $.resources[0].properties.subnets[3000]: virtual network 'vnet' has 3001 subnets; Azure's limit is 3000");
    let e = compile_err(&many_subnets(3001, "s0", true));
    assert!(e.contains("virtual network 'vnet' has 3001 subnets; Azure's limit is 3000"), "{e}");
}

/// An NSG of `rules` rules and a route table of `routes` routes on the
/// integration subnet of a small VNet.
fn big_tables(rules: usize, routes: usize) -> Value {
    let rule = |i: usize| {
        json!({"name": format!("r{i}"), "properties": {"priority": 100 + i, "direction": if i % 2 == 0 { "Outbound" } else { "Inbound" }, "access": "Deny",
        "protocol": "Tcp", "sourcePortRange": "*", "sourceAddressPrefix": "*", "destinationAddressPrefix": format!("172.{}.{}.0/24", 16 + i / 256, i % 256), "destinationPortRange": "443"}})
    };
    let route = |i: usize| json!({"name": format!("u{i}"), "properties": {"addressPrefix": format!("192.{}.{}.0/24", 1 + i / 256, i % 256), "nextHopType": "VirtualAppliance", "nextHopIpAddress": "10.0.1.4"}});
    json!({"resources": [
        {"type": "Microsoft.Network/networkSecurityGroups", "name": "nsg", "properties": {"securityRules": (0..rules).map(rule).collect::<Vec<_>>()}},
        {"type": "Microsoft.Network/routeTables", "name": "rt", "properties": {"routes": (0..routes).map(route).collect::<Vec<_>>()}},
        {"type": "Microsoft.Network/virtualNetworks", "name": "vnet", "properties": {
            "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
            "subnets": [
                {"name": "int", "properties": {"addressPrefix": "10.0.2.0/24",
                    "networkSecurityGroup": {"id": "[resourceId('Microsoft.Network/networkSecurityGroups', 'nsg')]"},
                    "routeTable": {"id": "[resourceId('Microsoft.Network/routeTables', 'rt')]"},
                    "delegations": [{"name": "d", "properties": {"serviceName": "Microsoft.Web/serverFarms"}}]}},
                {"name": "nva", "properties": {"addressPrefix": "10.0.1.0/24"}}]}},
        {"type": "Microsoft.Web/serverfarms", "name": "plan", "sku": {"name": "EP1", "tier": "ElasticPremium"}, "kind": "elastic"},
        {"type": "Microsoft.Web/sites", "name": "app", "kind": "functionapp", "properties": {
            "serverFarmId": "[resourceId('Microsoft.Web/serverfarms', 'plan')]",
            "virtualNetworkSubnetId": "[resourceId('Microsoft.Network/virtualNetworks/subnets', 'vnet', 'int')]",
            "vnetRouteAllEnabled": true, "outboundIpAddresses": "198.51.100.10"}}
    ]})
}

#[test]
fn nsg_and_route_table_limits_accept_azures_maximum_and_refuse_more() {
    let p = compile(&big_tables(2000, 1000)).unwrap_or_else(|e| panic!("{e}"));
    // Route u999 is 192.4.231.0/24 (999 = 3 * 256 + 231).
    let r = p.routes().lookup("192.4.231.9".parse().unwrap_or(std::net::Ipv4Addr::UNSPECIFIED)).map(|i| p.routes().routes[i as usize].name.clone());
    assert_eq!(r, Some(Some("u999".to_string())));
    let e = compile_err(&big_tables(2001, 10));
    assert_eq!(e, "t.json: at $.resources[0].properties.securityRules[2000]: network security group 'nsg' has 2001 security rules; Azure's limit is 2000");
    let e = compile_err(&big_tables(10, 1001));
    assert_eq!(e, "t.json: at $.resources[1].properties.routes[1000]: route table 'rt' has 1001 routes; Azure's limit is 1000");
}

#[test]
fn route_selection_of_sixteen_thousand_routes_matches_the_oracle() {
    // Nested and equal prefixes of every origin, built and checked in
    // O(n log n); the linear oracle is asked for a sample only.
    let mut entries = Vec::new();
    let mut x: u32 = 12345;
    for i in 0..16_000u32 {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        let len = 8 + (x >> 8) % 25;
        let addr = std::net::Ipv4Addr::from((10u32 << 24) | ((x >> 4) & 0x00ff_ffff));
        let net = ipnet::Ipv4Net::new(addr, len as u8).map(|n| n.trunc()).unwrap_or_default();
        let origin = [Origin::User, Origin::Gateway, Origin::System][(i % 3) as usize];
        entries.push(LpmEntry { net, origin, protected: origin == Origin::System && i % 7 == 0 });
    }
    let lpm = Lpm::new(&entries);
    let st = states(&entries);
    for (k, e) in entries.iter().enumerate().step_by(97) {
        for a in [e.net.network(), e.net.broadcast()] {
            let want = select_linear(&entries, a);
            assert_eq!(lpm.lookup(a), want, "{a}");
            assert!(want.is_none_or(|w| st[w]), "{a} takes an Invalid route");
        }
        // An entry is Active exactly when it is selected at its own prefix
        // among the entries no more specific than it.
        let upto: Vec<LpmEntry> = entries
            .iter()
            .map(|x| if x.net.prefix_len() <= e.net.prefix_len() { *x } else { LpmEntry { net: "0.0.0.0/32".parse().unwrap_or_default(), ..*x } })
            .collect();
        assert_eq!(st[k], select_linear(&upto, e.net.network()) == Some(k), "entry {k} {}", e.net);
    }
}

#[test]
fn lint_of_azures_largest_tables_is_correct() {
    // 3,000 subnets sharing a route table of 1,000 appliance routes and an
    // NSG of 2,000 rules: every step of lint stays O(n log n) per subnet.
    let rule = |i: usize| {
        json!({"name": format!("r{i}"), "properties": {"priority": 100 + i, "direction": "Outbound", "access": "Deny", "protocol": "Tcp",
        "sourcePortRange": "*", "sourceAddressPrefix": "*", "destinationAddressPrefix": format!("172.{}.{}.0/24", 16 + i / 256, i % 256), "destinationPortRange": "443"}})
    };
    let route = |i: usize| {
        // Inside the last subnet: found only after every other one.
        let hop = if i == 999 { "192.168.0.4" } else { "10.11.183.4" };
        json!({"name": format!("u{i}"), "properties": {"addressPrefix": format!("192.{}.{}.0/24", 1 + i / 256, i % 256), "nextHopType": "VirtualAppliance", "nextHopIpAddress": hop}})
    };
    let subnets: Vec<Value> = (0..3000)
        .map(|i| {
            json!({"name": format!("s{i}"), "properties": {"addressPrefix": format!("10.{}.{}.0/24", i / 256, i % 256),
            "networkSecurityGroup": {"id": "[resourceId('Microsoft.Network/networkSecurityGroups', 'nsg')]"},
            "routeTable": {"id": "[resourceId('Microsoft.Network/routeTables', 'rt')]"}}})
        })
        .collect();
    let t = json!({"resources": [
        {"type": "Microsoft.Network/networkSecurityGroups", "name": "nsg", "properties": {"securityRules": (0..2000).map(rule).collect::<Vec<_>>()}},
        {"type": "Microsoft.Network/routeTables", "name": "rt", "properties": {"routes": (0..1000).map(route).collect::<Vec<_>>()}},
        {"type": "Microsoft.Network/virtualNetworks", "name": "vnet", "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/8"]}, "subnets": subnets}}
    ]});
    let res = expand(&t).unwrap_or_else(|e| panic!("{e}"));
    let sc = vnetlab_core::model::build(&res).unwrap_or_else(|e| panic!("{e}"));
    let findings = vnetlab_core::lint::lint(&sc, &Default::default());
    let outside: Vec<&str> = findings.iter().filter(|f| f.code == "appliance-outside-subnets").map(|f| f.subject.as_str()).collect();
    assert_eq!(outside.first().copied(), Some("route table rt route u999"));
    assert!(outside.iter().all(|s| *s == "route table rt route u999"));
    assert!(!findings.iter().any(|f| f.code == "shadowed-rule"));
}

/// 24 nested deployments of 800 private endpoints each (19,200, under the
/// 20,000 resources an expansion may hold) in one subnet, around one static
/// address: each takes the first free address in template order. Placing
/// them scanned the subnet from its start for every endpoint (cubic: the 24
/// deployments did not end in ten minutes); a cursor per subnet keeps it
/// linear.
#[test]
fn twenty_thousand_private_endpoints_in_one_subnet_are_placed_in_order() {
    let subnet = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-vnetlab/providers/Microsoft.Network/virtualNetworks/vnet/subnets/pe";
    let target = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-vnetlab/providers/Microsoft.Storage/storageAccounts/st";
    let pe = |name: Value, ip: Option<&str>| {
        let mut props = json!({"subnet": {"id": subnet}, "privateLinkServiceConnections": [{"name": "c", "properties": {"privateLinkServiceId": target, "groupIds": ["blob"]}}]});
        if let Some(ip) = ip {
            props["ipConfigurations"] = json!([{"name": "s", "properties": {"groupId": "blob", "memberName": "blob", "privateIPAddress": ip}}]);
        }
        json!({"type": "Microsoft.Network/privateEndpoints", "apiVersion": "2023-04-01", "name": name, "location": "westeurope", "properties": props})
    };
    let mut resources = vec![
        json!({"type": "Microsoft.Network/virtualNetworks", "apiVersion": "2023-04-01", "name": "vnet", "location": "westeurope",
               "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/8"]}, "subnets": [{"name": "pe", "properties": {"addressPrefix": "10.0.0.0/9"}}]}}),
        pe(json!("static"), Some("10.0.0.10")),
    ];
    for d in 0..24 {
        let mut copies = pe(json!(format!("[concat('pe{d}-', copyIndex())]")), None);
        copies["copy"] = json!({"name": "c", "count": 800});
        resources.push(json!({"type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01", "name": format!("d{d}"),
            "properties": {"mode": "Incremental", "expressionEvaluationOptions": {"scope": "inner"},
                           "template": {"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#", "contentVersion": "1.0.0.0", "resources": [copies]}}}));
    }
    let res = expand(&json!({"resources": resources})).unwrap_or_else(|e| panic!("{e}"));
    let sc = vnetlab_core::model::build(&res).unwrap_or_else(|e| panic!("{e}"));
    let dynamic: Vec<u32> = sc.private_endpoints.iter().filter(|p| p.name != "static").map(|p| u32::from(p.ip)).collect();
    assert_eq!(dynamic.len(), 24 * 800);
    // .4 to .9, then past the static .10, one after another to the end.
    let base = u32::from(std::net::Ipv4Addr::new(10, 0, 0, 4));
    let want: Vec<u32> = (0..24 * 800u32).map(|i| if i < 6 { base + i } else { base + i + 1 }).collect();
    assert_eq!(dynamic, want);
}
