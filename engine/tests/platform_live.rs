//! Live equals static for flows to the platform addresses: real packets
//! from the app's namespace through the engine, whose platform host
//! answers them (world-host mode, as in `conformance --live` and `up`),
//! judged by the core against the static decision. Needs root.
//!
//! Scenario: the embedded default (instance 10.0.2.4).

use serde_json::Value;
use vnetlab_core::check::parse_flow;
use vnetlab_core::conformance::{self, Check, CheckKind};
use vnetlab_core::policy::Policy;
use vnetlab_engine::live;

fn policy() -> Policy {
    vnetlab_core::scenario::load_policy(&vnetlab_engine::disk::Disk, &Default::default(), &Default::default()).expect("embedded scenario")
}

fn flow(text: &str) -> Check {
    Check { text: text.into(), kind: CheckKind::Flow(parse_flow(text).expect("valid flow")), expect: Default::default() }
}

#[test]
#[ignore = "needs root: network namespaces and TUN devices"]
fn platform_flows_live_equal_static() {
    assert!(vnetlab_testbed::is_root(), "needs root: network namespaces and TUN devices");
    let texts = [
        "tcp 168.63.129.16:53",
        "tcp 168.63.129.16:80",
        "tcp 168.63.129.16:8080",
        "tcp 168.63.129.16:32526",
        "udp 168.63.129.16:123",
        "udp 168.63.129.16:53",
        "tcp 169.254.169.254:80",
        "icmp 168.63.129.16",
        "icmp 169.254.169.254",
    ];
    let checks: Vec<Check> = texts.iter().map(|t| flow(t)).collect();
    let p = policy();
    let statics: Vec<Value> = checks.iter().map(|c| conformance::static_actual(&p, c).0).collect();
    let out = live::run_live_checks(policy(), &checks).expect("live run");
    assert_eq!(out.len(), checks.len());
    for ((check, stat), live) in checks.iter().zip(&statics).zip(&out) {
        assert_eq!(
            (stat["allowed"].as_bool(), stat["world"].as_str(), stat["source"].as_str()),
            (Some(true), Some("platform"), Some("10.0.2.4")),
            "{}",
            check.text
        );
        assert!(live.allowed, "{}: {live:?}", check.text);
        let fails = conformance::judge("platform", check, stat, Some(&live.actual(&check.kind)));
        assert!(fails.is_empty(), "{}: {:?}", check.text, fails.iter().map(|f| f.line()).collect::<Vec<_>>());
        // Everything but the datapath's own DNS over UDP shows its world and source.
        if check.text != "udp 168.63.129.16:53" {
            assert_eq!(live.world.as_deref(), Some("platform"), "{}: {live:?}", check.text);
            assert_eq!(live.source_seen.map(|s| s.ip().to_string()).as_deref(), Some("10.0.2.4"), "{}: {live:?}", check.text);
        }
    }
}
