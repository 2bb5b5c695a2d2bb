//! The policy engine on the real quickstart templates and the public
//! conformance cases in ../shared (the repository is cloned beside it).

mod test_disk;

use std::net::Ipv4Addr;
use std::path::PathBuf;
use test_disk::TestDisk;
use vnetlab_core::check::{self, parse_flow};
use vnetlab_core::conformance;
use vnetlab_core::decision::{NextHopType, Path, Resolution, SourceNat};
use vnetlab_core::error::Error;
use vnetlab_core::policy::route::RouteSource;
use vnetlab_core::policy::{Policy, PolicyOptions};
use vnetlab_core::scenario::{self, Inputs};

fn shared(p: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared").join(p)
}

fn arm(name: &str) -> PathBuf {
    shared(&format!("real-world/arm/{name}"))
}

fn scenario_of(files: &[PathBuf], params: &[&str], param_files: &[PathBuf]) -> vnetlab_core::model::Scenario {
    let inputs =
        Inputs { files: files.to_vec(), params: params.iter().map(|s| s.to_string()).collect(), param_files: param_files.to_vec(), ..Default::default() };
    scenario::load_scenario(&TestDisk, &inputs).unwrap_or_else(|e| panic!("{files:?} should load: {e}"))
}

fn policy(file: &str, opts: PolicyOptions) -> Policy {
    let sc = scenario_of(&[arm(file)], &[], &[]);
    Policy::compile(&sc, &opts).unwrap_or_else(|e| panic!("{file} should compile: {e}"))
}

fn verify(p: &Policy, flow: &str) -> vnetlab_core::decision::Decision {
    let o = check::evaluate(p, &parse_flow(flow).expect("valid flow"));
    o.decision.unwrap_or_else(|| panic!("{flow} did not resolve"))
}

fn route_to(p: &Policy, prefix: &str) -> Vec<(NextHopType, RouteSource, bool)> {
    p.routes().routes.iter().filter(|r| r.prefix.to_string() == prefix).map(|r| (r.next_hop, r.source, r.active)).collect()
}

#[test]
fn public_conformance_cases_all_pass() {
    let report = conformance::run(&TestDisk, &[shared("conformance/cases")], &Default::default(), None, |_| {}).expect("cases run");
    let lines: Vec<String> = report.failures.iter().map(|f| f.line()).collect();
    assert_eq!(report.failed, 0, "failures: {lines:#?}");
    assert!(report.passed >= 36, "only {} checks ran", report.passed);
    assert_eq!(report.cases, 12);
}

#[test]
fn app_service_regional_vnet_integration() {
    let p = policy("app-service-regional-vnet-integration.json", PolicyOptions::default());
    // reference(vnet).subnets[0].id resolved to the real subnet: instance gets its first address.
    assert_eq!(p.instance_ip(), Ipv4Addr::new(10, 0, 0, 4));
    assert!(p.route_all.on, "vnetRouteAllEnabled: true");
    assert_eq!(route_to(&p, "10.0.0.0/16"), vec![(NextHopType::VnetLocal, RouteSource::Default, true)]);
    // 10.0.0.0/16 lies inside 10/8: both stay, longest prefix decides.
    assert_eq!(route_to(&p, "10.0.0.0/8"), vec![(NextHopType::None, RouteSource::Default, true)]);
    let d = verify(&p, "tcp 198.51.100.20:443");
    assert!(d.allowed);
    assert_eq!((d.path, d.next_hop, d.nsg_rule), (Path::Vnet, Some(NextHopType::Internet), None));
    assert_eq!(d.snat, SourceNat::SiteOutbound);
    let d = verify(&p, "tcp 10.9.0.1:443");
    assert_eq!((d.allowed, d.next_hop), (false, Some(NextHopType::None)));
    assert!(p.nsg().is_none(), "the template has no NSG");
}

#[test]
fn function_app_vnet_integration_route_all_off() {
    let p = policy("function-app-vnet-integration.json", PolicyOptions::default());
    assert!(!p.route_all.on);
    assert_eq!(p.route_all.decided_by, "default (off)");
    let d = verify(&p, "tcp 198.51.100.20:443");
    assert_eq!((d.allowed, d.path, d.snat), (true, Path::Direct, SourceNat::SiteOutbound));
    let d = verify(&p, "tcp 10.0.0.9:1433");
    assert_eq!((d.path, d.next_hop, d.source), (Path::Vnet, Some(NextHopType::VnetLocal), Ipv4Addr::new(10, 0, 0, 4)));
    // Integration came from the sites/networkConfig child.
    assert!(matches!(&p.sender, vnetlab_core::policy::Sender::Site { integration_by, .. } if integration_by == "sites/networkConfig"));
}

#[test]
fn function_app_storage_private_endpoints() {
    let sc = scenario_of(&[arm("function-app-storage-private-endpoints.json")], &[], &[]);
    let account =
        sc.resources.iter().find(|(t, _)| t.eq_ignore_ascii_case("Microsoft.Storage/storageAccounts")).map(|(_, n)| n.clone()).expect("a storage account");
    let p = Policy::compile(&sc, &PolicyOptions::default()).expect("compiles");
    assert!(p.route_all.on);
    assert_eq!(p.route_all.decided_by, "app setting WEBSITE_VNET_ROUTE_ALL");
    // Dynamic endpoint addresses, in template order: file, table, queue, blob.
    for (svc, last) in [("file", 4), ("table", 5), ("queue", 6), ("blob", 7)] {
        let name = format!("{account}.{svc}.core.windows.net");
        match p.resolve(&name) {
            Resolution::Addresses { addrs, chain, .. } => {
                assert_eq!(addrs, vec![Ipv4Addr::new(10, 100, 1, last)], "{name}");
                assert_eq!(chain[1], format!("{account}.privatelink.{svc}.core.windows.net"));
            }
            other => panic!("{name}: {other:?}"),
        }
        let d = verify(&p, &format!("tcp {name}:443"));
        assert_eq!((d.allowed, d.next_hop, d.source), (true, Some(NextHopType::InterfaceEndpoint), Ipv4Addr::new(10, 100, 0, 4)));
    }
    // Route All is on and there is no NAT gateway: internet from the site's outbound address.
    let d = verify(&p, "tcp 198.51.100.20:443");
    assert_eq!((d.path, d.next_hop, d.snat), (Path::Vnet, Some(NextHopType::Internet), SourceNat::SiteOutbound));
}

#[test]
fn webapp_calls_another_app_over_its_private_endpoint() {
    let p = policy("webapp-privateendpoint-vnet-injection.json", PolicyOptions::default());
    let (site1, site2) = {
        let sc = scenario_of(&[arm("webapp-privateendpoint-vnet-injection.json")], &[], &[]);
        (sc.sites[0].name.clone(), sc.sites[1].name.clone())
    };
    // Only site2 is integrated, so it is chosen without --site.
    assert!(matches!(&p.sender, vnetlab_core::policy::Sender::Site { name, .. } if *name == site2));
    assert_eq!(p.instance_ip(), Ipv4Addr::new(10, 200, 2, 4));
    for host in [format!("{site1}.azurewebsites.net"), format!("{site1}.scm.azurewebsites.net")] {
        let d = verify(&p, &format!("tcp {host}:443"));
        assert_eq!((d.allowed, d.next_hop), (true, Some(NextHopType::InterfaceEndpoint)), "{host}");
    }
    // Naming the unintegrated site is a clear error.
    let sc = scenario_of(&[arm("webapp-privateendpoint-vnet-injection.json")], &[], &[]);
    let err = Policy::compile(&sc, &PolicyOptions { site: Some(site1.clone()), ..Default::default() }).err().expect("site1 has no integration");
    assert!(matches!(err, Error::NoIntegration(_)), "{err}");
    assert!(err.to_string().contains("no regional virtual network integration"), "{err}");
}

#[test]
fn nat_gateway_vnet_as_a_nic_in_its_subnet() {
    let sc = scenario_of(&[arm("nat-gateway-vnet.json")], &[], &[]);
    // No site: a clear error that points at --subnet.
    let err = Policy::compile(&sc, &PolicyOptions::default()).err().expect("no site");
    assert!(err.to_string().contains("--subnet"), "{err}");
    // The inline subnet and the separate subnet resource are one subnet.
    assert_eq!(sc.vnets[0].subnets.len(), 1);
    let p = Policy::compile(&sc, &PolicyOptions { subnet: Some("myVnet/mySubnet".into()), ..Default::default() }).expect("compiles");
    // The VNet is 192.168.0.0/16: its None route is removed.
    assert!(route_to(&p, "192.168.0.0/16").iter().all(|r| r.0 == NextHopType::VnetLocal));
    let d = verify(&p, "tcp 198.51.100.20:443");
    assert_eq!((d.allowed, d.snat, d.source), (true, SourceNat::NatGateway, Ipv4Addr::new(198, 18, 254, 1)));
    let d = verify(&p, "icmp 198.51.100.20");
    assert_eq!((d.allowed, d.blocked_by.map(|b| b.as_str())), (false, Some("platform")), "NAT gateways carry no ICMP");
    // The public address can be given.
    let inputs = Inputs { files: vec![arm("nat-gateway-vnet.json")], ..Default::default() };
    let mut inputs = inputs;
    inputs.build.public_ips.push(("myNATgateway-ip".into(), Ipv4Addr::new(198, 18, 0, 77)));
    let sc = scenario::load_scenario(&TestDisk, &inputs).expect("loads");
    let p = Policy::compile(&sc, &PolicyOptions { subnet: Some("myVnet/mySubnet".into()), ..Default::default() }).expect("compiles");
    assert_eq!(verify(&p, "udp 198.51.100.20:123").source, Ipv4Addr::new(198, 18, 0, 77));
}

#[test]
fn route_table_create_with_its_parameters_file() {
    let params = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/arm/route-table-create.parameters.json");
    let sc = scenario_of(&[arm("route-table-create.json")], &[], &[params]);
    assert_eq!(sc.route_tables.len(), 1);
    let routes = &sc.route_tables[0].routes;
    assert_eq!(routes.len(), 3);
    assert_eq!(routes[0].next_hop, NextHopType::VirtualAppliance);
    assert_eq!(routes[0].next_hop_ip, Some(Ipv4Addr::new(10, 0, 100, 4)));
    assert_eq!((routes[1].next_hop, routes[1].next_hop_ip), (NextHopType::VirtualNetworkGateway, None));
    assert_eq!(routes[2].next_hop, NextHopType::None);
    // No VNet, no site: nothing to evaluate, and the error says so.
    assert!(Policy::compile(&sc, &PolicyOptions::default()).is_err());
    // With default parameters the table is empty.
    let sc = scenario_of(&[arm("route-table-create.json")], &[], &[]);
    assert!(sc.route_tables[0].routes.is_empty());
}

#[test]
fn embedded_default_scenario_passes_its_checks() {
    let case = conformance::load_default_case(&TestDisk, &Default::default()).expect("loads");
    let n = case.checks.len();
    let report = conformance::run_case(case, None);
    assert_eq!((report.passed, report.failed), (n, 0), "{:?}", report.failures.iter().map(|x| x.line()).collect::<Vec<_>>());
}
