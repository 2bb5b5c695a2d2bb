//! What the app's resolver answers (issue 9, "Real templates as they are"):
//! public names get a placeholder address in the static commands and stay
//! NXDOMAIN for conformance; a linked zone without the record is NXDOMAIN
//! either way; a PostgreSQL or MySQL flexible server injected into a
//! delegated subnet resolves through the public CNAME to the A record Azure
//! writes in its private DNS zone, and only from a VNet linked to that zone.

use serde_json::{json, Value};
use std::net::Ipv4Addr;
use vnetlab_core::arm::{expand_template, DeployContext, ParamValues};
use vnetlab_core::check::{evaluate, parse_flow, resolved_addresses};
use vnetlab_core::decision::Resolution;
use vnetlab_core::explain::{placeholder_warnings, resolution_json, trace_text};
use vnetlab_core::model::Scenario;
use vnetlab_core::policy::{Policy, PolicyOptions};

fn resources(t: &Value) -> Vec<vnetlab_core::arm::Resource> {
    expand_template(t, "test.json", &ParamValues::default(), &DeployContext::default()).unwrap_or_else(|e| panic!("{e}"))
}

fn scenario(t: &Value) -> Scenario {
    vnetlab_core::model::build(&resources(t)).unwrap_or_else(|e| panic!("{e}"))
}

fn subnet(vnet: &str, name: &str) -> String {
    format!("[resourceId('Microsoft.Network/virtualNetworks/subnets', '{vnet}', '{name}')]")
}

fn zone_id(zone: &str) -> String {
    format!("[resourceId('Microsoft.Network/privateDnsZones', '{zone}')]")
}

/// A site integrated into `vnet/integration`, a subnet `db` delegated to
/// `delegation`, a private zone `zone` linked to `vnet` (unless `linked` is
/// false), and `more` resources.
fn template(delegation: &str, zone: &str, linked: bool, more: Vec<Value>) -> Value {
    let mut res = vec![
        json!({"type": "Microsoft.Network/virtualNetworks", "name": "vnet", "properties": {
            "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
            "subnets": [
                {"name": "integration", "properties": {"addressPrefix": "10.0.2.0/24",
                    "delegations": [{"name": "d", "properties": {"serviceName": "Microsoft.Web/serverFarms"}}]}},
                {"name": "db", "properties": {"addressPrefix": "10.0.3.0/28",
                    "delegations": [{"name": "d", "properties": {"serviceName": delegation}}]}}]}}),
        json!({"type": "Microsoft.Web/serverfarms", "name": "plan", "sku": {"name": "P1v3", "tier": "PremiumV3"}}),
        json!({"type": "Microsoft.Web/sites", "name": "app", "properties": {
            "serverFarmId": "[resourceId('Microsoft.Web/serverfarms', 'plan')]",
            "virtualNetworkSubnetId": subnet("vnet", "integration"),
            "outboundIpAddresses": "198.51.100.7"}}),
        json!({"type": "Microsoft.Network/privateDnsZones", "name": zone}),
    ];
    if linked {
        res.push(json!({"type": "Microsoft.Network/privateDnsZones/virtualNetworkLinks", "name": format!("{zone}/link"), "properties": {
            "virtualNetwork": {"id": "[resourceId('Microsoft.Network/virtualNetworks', 'vnet')]"}, "registrationEnabled": false}}));
    }
    res.extend(more);
    json!({"resources": res})
}

const PG: &str = "Microsoft.DBforPostgreSQL/flexibleServers";
const PG_ZONE: &str = "db.private.postgres.database.azure.com";

fn postgres(name: &str, zone: Option<&str>) -> Value {
    let mut network = json!({"delegatedSubnetResourceId": subnet("vnet", "db")});
    if let Some(z) = zone {
        network["privateDnsZoneArmResourceId"] = json!(zone_id(z));
    }
    json!({"type": PG, "name": name, "properties": {"network": network}})
}

fn placeholders() -> PolicyOptions {
    PolicyOptions { public_dns_placeholders: true, ..Default::default() }
}

fn compile(sc: &Scenario, opts: &PolicyOptions) -> Policy {
    Policy::compile(sc, opts).unwrap_or_else(|e| panic!("{e}"))
}

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn in_placeholder_block(a: Ipv4Addr) -> bool {
    a.octets()[..2] == [198, 19]
}

#[test]
fn a_public_name_gets_a_placeholder_address_in_the_static_commands() {
    let sc = scenario(&template(PG, PG_ZONE, true, vec![]));
    let p = compile(&sc, &placeholders());
    let r = p.resolve("example.com");
    let Resolution::Addresses { addrs, answered_by, placeholder: true, .. } = &r else { panic!("no placeholder: {r:?}") };
    assert!(addrs.len() == 1 && in_placeholder_block(addrs[0]), "{addrs:?}");
    assert!(answered_by.contains("placeholder") && answered_by.contains("--public-dns example.com=ADDRESS"), "{answered_by}");
    assert_eq!(resolved_addresses(&p.resolve("EXAMPLE.com.")), addrs.clone(), "the same name, the same address");
    assert_eq!(resolution_json(&r)["placeholder"], json!(true));
    // The flow is decided as a public destination: Route All off, it leaves directly.
    let spec = parse_flow("tcp example.com:443").unwrap_or_else(|e| panic!("{e}"));
    let o = evaluate(&p, &spec);
    assert_eq!(o.actual(&p)["allowed"], json!(true), "{}", trace_text(&p, &o));
    assert!(trace_text(&p, &o).contains("placeholder"), "{}", trace_text(&p, &o));
}

#[test]
fn without_placeholders_a_public_name_does_not_resolve() {
    // FORMAT.md: a name nobody answers does not resolve (conformance, `run` asks upstream).
    let sc = scenario(&template(PG, PG_ZONE, true, vec![]));
    let p = compile(&sc, &PolicyOptions::default());
    assert!(matches!(p.resolve("example.com"), Resolution::NxDomain { public: true, .. }));
    let o = evaluate(&p, &parse_flow("tcp example.com:443").unwrap_or_else(|e| panic!("{e}")));
    assert_eq!(o.actual(&p)["blocked_by"], json!("dns"));
}

#[test]
fn a_linked_zone_without_the_record_is_nxdomain_with_placeholders_too() {
    let sc = scenario(&template(PG, PG_ZONE, true, vec![]));
    let p = compile(&sc, &placeholders());
    let r = p.resolve(&format!("missing.{PG_ZONE}"));
    assert!(matches!(&r, Resolution::NxDomain { public: false, answered_by, .. } if answered_by.contains(PG_ZONE)), "{r:?}");
}

#[test]
fn a_public_dns_entry_wins_over_the_placeholder() {
    let sc = scenario(&template(PG, PG_ZONE, true, vec![]));
    let mut opts = placeholders();
    opts.public_dns.insert("example.com".into(), vec![ip("198.51.100.80")]);
    let p = compile(&sc, &opts);
    let r = p.resolve("example.com");
    assert!(matches!(&r, Resolution::Addresses { placeholder: false, .. }), "{r:?}");
    assert_eq!(resolved_addresses(&r), vec![ip("198.51.100.80")]);
}

#[test]
fn placeholders_avoid_addresses_the_input_gives() {
    let plain = scenario(&template(PG, PG_ZONE, true, vec![]));
    let first = resolved_addresses(&compile(&plain, &placeholders()).resolve("example.com"))[0];
    // Given as another name's public answer, as a --public-ip, or covered by a route.
    let mut opts = placeholders();
    opts.public_dns.insert("other.example".into(), vec![first]);
    assert_ne!(resolved_addresses(&compile(&plain, &opts).resolve("example.com"))[0], first);
    let opts = PolicyOptions { placeholder_avoid: vec![first], ..placeholders() };
    assert_ne!(resolved_addresses(&compile(&plain, &opts).resolve("example.com"))[0], first);
    let route = vec![json!({"type": "Microsoft.Network/routeTables", "name": "rt", "properties": {"routes": [
        {"name": "r", "properties": {"addressPrefix": format!("{first}/32"), "nextHopType": "None"}}]}})];
    let routed = scenario(&template(PG, PG_ZONE, true, route));
    let moved = resolved_addresses(&compile(&routed, &placeholders()).resolve("example.com"))[0];
    assert!(moved != first && in_placeholder_block(moved), "{moved}");
}

#[test]
fn one_placeholder_warning_per_name() {
    let sc = scenario(&template(PG, PG_ZONE, true, vec![]));
    let p = compile(&sc, &placeholders());
    let rs = [p.resolve("example.com"), p.resolve("example.com"), p.resolve("example.org"), p.resolve(&format!("missing.{PG_ZONE}"))];
    let w = placeholder_warnings(rs.iter());
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(w[0].contains("--public-dns example.com=ADDRESS") && w[1].contains("--public-dns example.org=ADDRESS"), "{w:?}");
}

#[test]
fn a_postgres_server_resolves_through_its_private_zone_from_a_linked_vnet() {
    let sc = scenario(&template(PG, PG_ZONE, true, vec![postgres("pg1", Some(PG_ZONE)), postgres("pg2", Some(PG_ZONE))]));
    let p = compile(&sc, &placeholders());
    let r = p.resolve("pg1.postgres.database.azure.com");
    let Resolution::Addresses { addrs, chain, answered_by, placeholder: false } = &r else { panic!("{r:?}") };
    // The first assignable address of the delegated subnet, then the next one.
    assert_eq!(addrs, &vec![ip("10.0.3.4")]);
    assert_eq!(chain, &vec!["pg1.postgres.database.azure.com".to_string(), format!("pg1.{PG_ZONE}")]);
    assert!(answered_by.contains(PG_ZONE), "{answered_by}");
    assert_eq!(resolved_addresses(&p.resolve("pg2.postgres.database.azure.com")), vec![ip("10.0.3.5")]);
    let o = evaluate(&p, &parse_flow("tcp pg1.postgres.database.azure.com:5432").unwrap_or_else(|e| panic!("{e}")));
    let t = trace_text(&p, &o);
    assert_eq!(o.actual(&p)["allowed"], json!(true), "{t}");
    assert!(t.contains(&format!("pg1.postgres.database.azure.com -> pg1.{PG_ZONE} -> 10.0.3.4")), "{t}");
}

#[test]
fn a_mysql_server_resolves_through_its_private_zone() {
    let zone = "corp.mysql.database.azure.com";
    let server = json!({"type": "Microsoft.DBforMySQL/flexibleServers", "name": "my1", "properties": {"network": {
        "delegatedSubnetResourceId": subnet("vnet", "db"), "privateDnsZoneResourceId": zone_id(zone)}}});
    let sc = scenario(&template("Microsoft.DBforMySQL/flexibleServers", zone, true, vec![server]));
    let r = compile(&sc, &placeholders()).resolve("my1.mysql.database.azure.com");
    assert_eq!(resolved_addresses(&r), vec![ip("10.0.3.4")], "{r:?}");
}

#[test]
fn a_server_zone_not_linked_to_the_vnet_gives_nxdomain() {
    let sc = scenario(&template(PG, PG_ZONE, false, vec![postgres("pg1", Some(PG_ZONE))]));
    let r = compile(&sc, &placeholders()).resolve("pg1.postgres.database.azure.com");
    let Resolution::NxDomain { chain, answered_by, public: false } = &r else { panic!("not a definite NXDOMAIN: {r:?}") };
    assert_eq!(chain.last().map(String::as_str), Some(format!("pg1.{PG_ZONE}").as_str()));
    assert!(answered_by.contains("not linked"), "{answered_by}");
}

#[test]
fn a_server_without_a_zone_does_not_resolve_and_is_warned_about() {
    let sc = scenario(&template(PG, PG_ZONE, true, vec![postgres("pg1", None)]));
    assert!(sc.warnings.iter().any(|w| w.message.contains("'pg1' has no private DNS zone")), "{:?}", sc.warnings);
    let r = compile(&sc, &placeholders()).resolve("pg1.postgres.database.azure.com");
    assert!(matches!(r, Resolution::NxDomain { public: false, .. }), "{r:?}");
}

#[test]
fn a_server_with_public_access_is_a_public_name() {
    let server = json!({"type": PG, "name": "pub1", "properties": {"network": {"delegatedSubnetResourceId": "", "publicNetworkAccess": "Enabled"}}});
    let sc = scenario(&template(PG, PG_ZONE, true, vec![server]));
    assert!(sc.flexible_servers.is_empty());
    let r = compile(&sc, &placeholders()).resolve("pub1.postgres.database.azure.com");
    assert!(matches!(r, Resolution::Addresses { placeholder: true, .. }), "{r:?}");
}

#[test]
fn a_server_in_a_subnet_not_delegated_to_it_is_refused() {
    let t = template("Microsoft.Web/serverFarms", PG_ZONE, true, vec![postgres("pg1", Some(PG_ZONE))]);
    let e = vnetlab_core::model::build(&resources(&t)).err().unwrap_or_else(|| panic!("accepted"));
    let m = e.to_string();
    assert!(
        m.contains("test.json") && m.contains("network.delegatedSubnetResourceId") && m.contains("not delegated to Microsoft.DBforPostgreSQL/flexibleServers"),
        "{m}"
    );
}
