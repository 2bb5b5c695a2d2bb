//! The live runner's own machinery (testbed, responders, probes, and its
//! answers judged by the core against the static ones) driven with a stand-in packet mover
//! that copies every app packet to the `vnet` world unchanged. The engine
//! itself is exercised once it is wired into `live::start_engine`.
//!
//! Scenario: Route All off, integration subnet 10.0.2.0/24 (instance
//! 10.0.2.4) in VNet 10.0.0.0/16, site outbound address 198.51.100.7.
//! - tcp 10.0.1.5:443: VnetLocal, private source, world `vnet`: the stand-in
//!   does exactly that, so live equals static.
//! - tcp 198.51.100.20:443: direct, site outbound source, world `inet`: the
//!   stand-in gets it wrong (world `vnet`, private source) and the runner
//!   must say so.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use serde_json::json;
use vnetlab_core::arm::Resource;
use vnetlab_core::check::parse_flow;
use vnetlab_core::conformance::{self, Check, CheckKind};
use vnetlab_core::policy::{Policy, PolicyOptions};
use vnetlab_engine::live::{self, EngineConfig, Forwarder, LiveError, LiveOptions, LiveTuns};

const NEEDS_ROOT: &str = "needs root: network namespaces and TUN devices";

const SUB: &str = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-vnetlab/providers";

fn resource(rtype: &str, name: &str, body: serde_json::Value) -> Resource {
    let id = format!("{SUB}/{rtype}/{name}");
    Resource { rtype: rtype.into(), name: name.into(), id, body, file: "testbed_live.rs".into(), path: "$".into() }
}

fn policy() -> Policy {
    let subnet_id = format!("{SUB}/Microsoft.Network/virtualNetworks/vnet-app/subnets/integration");
    let resources = vec![
        resource(
            "Microsoft.Network/virtualNetworks",
            "vnet-app",
            json!({"properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}, "subnets": [
                {"name": "integration", "properties": {"addressPrefix": "10.0.2.0/24",
                  "delegations": [{"name": "d", "properties": {"serviceName": "Microsoft.Web/serverFarms"}}]}},
                {"name": "data", "properties": {"addressPrefix": "10.0.1.0/24"}}]}}),
        ),
        resource("Microsoft.Web/serverfarms", "plan", json!({"sku": {"name": "EP1", "tier": "ElasticPremium"}, "kind": "elastic", "properties": {}})),
        resource(
            "Microsoft.Web/sites",
            "app",
            json!({"kind": "functionapp", "properties": {
                "serverFarmId": format!("{SUB}/Microsoft.Web/serverfarms/plan"),
                "virtualNetworkSubnetId": subnet_id,
                "outboundIpAddresses": "198.51.100.7"}}),
        ),
    ];
    let scenario = vnetlab_core::model::build(&resources).expect("scenario");
    Policy::compile(&scenario, &PolicyOptions::default()).expect("policy")
}

/// Copies app packets to the `vnet` world and back, nothing else.
struct ToVnet {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    // Kept open so the other worlds' devices stay up.
    _others: Vec<OwnedFd>,
}

impl Forwarder for ToVnet {
    fn stop(mut self: Box<Self>) -> Result<Option<vnetlab_core::datapath::Counters>, String> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().map_or(Ok(None), |t| t.join().map(|()| None).map_err(|_| "relay panicked".to_string()))
    }
}

fn start_to_vnet(_p: Policy, tuns: LiveTuns, _c: &EngineConfig) -> io::Result<Box<dyn Forwarder>> {
    let mut others = Vec::new();
    let mut vnet = None;
    for (name, fd) in tuns.worlds {
        if name == "vnet" {
            vnet = Some(fd);
        } else {
            others.push(fd);
        }
    }
    let vnet = vnet.ok_or_else(|| io::Error::other("no vnet world"))?;
    let app = tuns.app;
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let thread = std::thread::spawn(move || {
        let mut fds =
            [libc::pollfd { fd: app.as_raw_fd(), events: libc::POLLIN, revents: 0 }, libc::pollfd { fd: vnet.as_raw_fd(), events: libc::POLLIN, revents: 0 }];
        let mut buf = vec![0u8; 65536];
        let mut copied = 0u32;
        while !flag.load(Ordering::Relaxed) && copied < 100_000 {
            // SAFETY: two live pollfd entries.
            if unsafe { libc::poll(fds.as_mut_ptr(), 2, 50) } <= 0 {
                continue;
            }
            for i in 0..2 {
                if fds[i].revents & libc::POLLIN != 0 {
                    // SAFETY: live buffer of the stated size.
                    let n = unsafe { libc::read(fds[i].fd, buf.as_mut_ptr().cast(), buf.len()) };
                    if n > 0 {
                        unsafe { libc::write(fds[1 - i].fd, buf.as_ptr().cast(), n as usize) };
                        copied += 1;
                    }
                }
            }
        }
    });
    Ok(Box::new(ToVnet { stop, thread: Some(thread), _others: others }))
}

fn flow(text: &str) -> Check {
    Check { text: text.into(), kind: CheckKind::Flow(parse_flow(text).expect("valid flow")), expect: Default::default() }
}

/// What the core's judge says about a live answer, by failing key.
fn judged(check: &Check, live: &serde_json::Value) -> Vec<(String, serde_json::Value)> {
    let (stat, _) = conformance::static_actual(&policy(), check);
    conformance::judge("testbed", check, &stat, Some(live)).into_iter().map(|f| (f.key, f.expected)).collect()
}

#[test]
#[ignore = "needs root: network namespaces and TUN devices"]
fn live_outcomes_are_compared_with_the_static_decision() {
    assert!(vnetlab_testbed::is_root(), "{NEEDS_ROOT}");
    let checks = vec![flow("tcp 10.0.1.5:443"), flow("tcp 198.51.100.20:443"), flow("icmp 10.0.1.6")];
    let out = live::run_live_checks_with(policy(), &checks, &LiveOptions::default(), start_to_vnet).expect("live run");
    assert_eq!(out.len(), 3);

    let vnet = &out[0];
    assert!(vnet.allowed, "{vnet:?}");
    assert_eq!(vnet.world.as_deref(), Some("vnet"));
    assert_eq!(vnet.source_seen, Some("10.0.2.4:49152".parse().unwrap()));
    assert_eq!(judged(&checks[0], &vnet.actual(&checks[0].kind)), vec![]);

    // The stand-in delivers to the wrong world with the private source.
    let direct = &out[1];
    assert!(direct.allowed);
    assert_eq!(
        judged(&checks[1], &direct.actual(&checks[1].kind)),
        vec![("source (live vs static)".to_string(), json!("198.51.100.7")), ("world (live vs static)".to_string(), json!("inet"))]
    );

    let echo = &out[2];
    assert!(echo.allowed, "{echo:?}");
    assert_eq!(echo.source_seen.map(|s| *s.ip()), Some("10.0.2.4".parse().unwrap()));
    assert_eq!(judged(&checks[2], &echo.actual(&checks[2].kind)), vec![]);
}

#[test]
#[ignore = "needs root: network namespaces and TUN devices"]
fn live_runner_reports_a_missing_engine() {
    assert!(vnetlab_testbed::is_root(), "{NEEDS_ROOT}");
    let checks = vec![Check { text: "resolve example.com".into(), kind: CheckKind::Resolve("example.com".into()), expect: Default::default() }];
    match live::run_live_checks_with(policy(), &checks, &LiveOptions::default(), |_, _, _| Err(io::Error::other("no engine here"))) {
        Err(LiveError::Engine(msg)) => assert!(msg.contains("no engine here")),
        other => panic!("expected an engine error, got {other:?}"),
    }
}
