//! The quickstart private-webapp-with-app-gateway-and-apim
//! (core/tests/data/real-world, SOURCES.md) as it is: its private zone's A
//! records are `reference(apim).privateIPAddresses[0]` of an internal-mode
//! API Management, a value Azure knows only after deployment. It loads with
//! a placeholder and a warning naming the path, and `--deploy-value` gives
//! the real address.

mod test_disk;

use std::net::Ipv4Addr;
use std::path::PathBuf;
use test_disk::TestDisk;
use vnetlab_core::check::{self, parse_flow};
use vnetlab_core::decision::{NextHopType, Path, Resolution, SourceNat};
use vnetlab_core::explain;
use vnetlab_core::model::DeployValue;
use vnetlab_core::policy::{Policy, PolicyOptions, Sender};
use vnetlab_core::scenario::{self, Inputs};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/real-world").join(name)
}

fn apim_inputs() -> Inputs {
    Inputs {
        files: vec![data("private-webapp-with-app-gateway-and-apim.json")],
        param_files: vec![data("private-webapp-with-app-gateway-and-apim.parameters.json")],
        ..Default::default()
    }
}

const APIM_RECORD: &str = "$.resources[0].properties.aRecords[0].ipv4Address";

#[test]
fn the_apim_address_is_a_placeholder_with_a_warning_until_given() {
    let sc = scenario::load_scenario(&TestDisk, &apim_inputs()).unwrap_or_else(|e| panic!("should load: {e}"));
    let warned: Vec<_> = sc.warnings.iter().filter(|w| w.message.contains(APIM_RECORD)).collect();
    assert_eq!(warned.len(), 1, "{:?}", sc.warnings);
    assert!(warned[0].message.contains("--deploy-value"), "{}", warned[0].message);
    let p = Policy::compile(&sc, &PolicyOptions::default()).unwrap_or_else(|e| panic!("should compile: {e}"));
    let placeholder = match p.resolve("api.contoso.example") {
        Resolution::Addresses { addrs, .. } => addrs[0],
        other => panic!("{other:?}"),
    };
    assert!(sc.vnets[0].address_space.iter().any(|n| n.contains(&placeholder)), "{placeholder} is not in the VNet");

    let mut given = apim_inputs();
    let value = format!("{APIM_RECORD}=10.0.5.4");
    given.build.deploy_values.push(DeployValue::parse(&value).expect("a valid --deploy-value"));
    let sc = scenario::load_scenario(&TestDisk, &given).unwrap_or_else(|e| panic!("should load: {e}"));
    assert!(!sc.warnings.iter().any(|w| w.message.contains(APIM_RECORD)), "{:?}", sc.warnings);
    let p = Policy::compile(&sc, &PolicyOptions::default()).unwrap_or_else(|e| panic!("should compile: {e}"));
    assert!(matches!(p.resolve("api.contoso.example"), Resolution::Addresses { addrs, .. } if addrs[0] == Ipv4Addr::new(10, 0, 5, 4)));
}

#[test]
fn private_webapp_with_app_gateway_and_apim() {
    let sc = scenario::load_scenario(&TestDisk, &apim_inputs()).unwrap_or_else(|e| panic!("should load: {e}"));
    assert_eq!(sc.vnets.len(), 1);
    assert_eq!(sc.vnets[0].subnets.len(), 4);
    let p = Policy::compile(&sc, &PolicyOptions::default()).unwrap_or_else(|e| panic!("should compile: {e}"));
    // The web app is integrated into the -ase subnet (10.0.3.0/26) with
    // siteConfig.vnetRouteAllEnabled.
    assert!(matches!(&p.sender, Sender::Site { name, .. } if name.starts_with("web-")));
    assert_eq!(p.instance_ip(), Ipv4Addr::new(10, 0, 3, 4));
    assert!(p.route_all.on);
    // The template's NSGs sit on the API Management and Application Gateway
    // subnets only: the integration subnet has none.
    assert!(p.nsg().is_none());
    assert!(explain::rules_text(&p).starts_with("No NSG on "));
    // Routes: the VNet's /20, one /32 per private endpoint (the site's own
    // and the Key Vault's, in the 10.0.4.0/24 endpoint subnet), and the
    // system defaults; no route table.
    let routes = explain::routes_text(&p);
    for (prefix, hop) in [("10.0.0.0/20", "VnetLocal"), ("10.0.4.4/32", "InterfaceEndpoint"), ("10.0.4.5/32", "InterfaceEndpoint"), ("0.0.0.0/0", "Internet")] {
        assert!(routes.lines().any(|l| l.contains(" Active ") && l.contains(prefix) && l.contains(hop)), "{prefix} -> {hop} missing:\n{routes}");
    }
    assert!(!routes.contains("User "), "no route table in this template:\n{routes}");
    // The private zone contoso.example is linked to the VNet; its A records
    // hold the API Management service's private address (deploy-time value).
    let o = check::evaluate(&p, &parse_flow("tcp api.contoso.example:443").expect("flow"));
    let d = o.decision.expect("resolves");
    assert_eq!((d.allowed, d.next_hop), (true, Some(NextHopType::VnetLocal)));
    // The Key Vault private endpoint answers its name inside the VNet.
    let kv = sc.resources.iter().find(|(t, _)| t.eq_ignore_ascii_case("Microsoft.KeyVault/vaults")).map(|(_, n)| n.clone()).expect("a key vault");
    let o = check::evaluate(&p, &parse_flow(&format!("tcp {kv}.vault.azure.net:443")).expect("flow"));
    assert_eq!(o.decision.expect("resolves").next_hop, Some(NextHopType::InterfaceEndpoint));
    // Internet: Route All on, no NAT gateway: the site's outbound addresses.
    let o = check::evaluate(&p, &parse_flow("tcp 198.51.100.20:443").expect("flow"));
    let d = o.decision.expect("address");
    assert_eq!((d.path, d.next_hop, d.snat), (Path::Vnet, Some(NextHopType::Internet), SourceNat::SiteOutbound));
}
