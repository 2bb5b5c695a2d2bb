//! The live runner (`vnetlab conformance --live`): real packets from the
//! app's namespace through the engine into world namespaces, compared with
//! what the policy decides for the same flows.
//!
//! For one case: a testbed is built (app + the four worlds), the engine
//! started on its TUN devices, responders started in every world on the
//! ports the checks use, and each check probed from the app's namespace
//! from source port 49152.
//!
//! What a probe observes: `allowed` (an answer came back), the `world` it
//! arrived in and the `source_seen` there (from the responder's answer line;
//! for ICMP from the responder's echo-request log). The world a decision
//! implies is `decision.world` (the platform excepted):
//!
//! | next hop (Decision)                         | egress     | world    |
//! | ------------------------------------------- | ---------- | -------- |
//! | VnetLocal, VNetPeering, InterfaceEndpoint   | Vnet       | `vnet`   |
//! | VirtualNetworkGateway                       | OnPremises | `onprem` |
//! | VirtualAppliance                            | Appliance  | `nva`    |
//! | Internet, VirtualNetworkServiceEndpoint, path `direct` | Internet | `inet` |
//! | platform addresses (168.63.129.16, IMDS)    | Platform   | `platform`: answered by the engine |
//!
//! Service endpoint traffic stays on Microsoft's backbone in reality but is
//! bound for a public service address, so it is delivered to `inet` with the
//! private source (Decision::source).
//!
//! The platform addresses are answered by the engine's platform host
//! (`vnetlab_core::platform`) in world-host mode ([`PlatformHost::World`]):
//! its real endpoints (DNS over TCP, wireserver, IMDS) answer as Azure's
//! host does, every other port as a world's responder does, and it records
//! each flow in the run's `SeenLog` as world `platform`. So a platform flow
//! shows its world and source like any other: from the responder's line, or
//! (for a real endpoint, whose answer carries none) from the log. DNS over
//! UDP is the datapath's own answer and shows only that it was answered.
//!
//! The runner takes the core's checks (`conformance::Check`) and only
//! observes: [`LiveOutcome::actual`] turns an outcome into the same "actual"
//! object the static runner computes, and the core's `conformance::judge`
//! compares it with the case's `expect` and with the static answer (same
//! `allowed`, and when allowed the same world and source address; the
//! source port may be translated). [`EngineRunner`] is the core's
//! `conformance::LiveRunner` hook, so the CLI only wires it in.

use std::collections::BTreeSet;
use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::OwnedFd;
use std::sync::Arc;

use vnetlab_testbed::dnsq::DnsAnswer;
use vnetlab_testbed::probe::{self, ProbeOptions, ProbeReply};
use vnetlab_testbed::{Responder, ResponderSpec, Seen, SeenLog, SeenProto, Testbed, TopologySpec, AZURE_DNS};

use serde_json::Value;
use vnetlab_core::check::{Dest, FlowSpec};
use vnetlab_core::conformance::{self, Check, CheckKind};
use vnetlab_core::datapath::Counters;
use vnetlab_core::decision::World;
use vnetlab_core::flow::Proto;
use vnetlab_core::platform::{self, Instance, Platform};
use vnetlab_core::policy::Policy;

/// What really happened to one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveOutcome {
    /// An answer came back (for a resolve check: the resolver answered).
    pub allowed: bool,
    /// The world the flow arrived in (`vnet`, `onprem`, `nva`, `inet`,
    /// `platform`); None when it arrived nowhere or nothing recorded it.
    pub world: Option<String>,
    /// The source address and port the responder saw.
    pub source_seen: Option<SocketAddrV4>,
    /// Addresses the app's resolver returned, for name destinations and
    /// resolve checks (`[]` for NXDOMAIN).
    pub resolved: Option<Vec<Ipv4Addr>>,
    /// The address the flow was sent to.
    pub dest: Option<Ipv4Addr>,
    /// How the probe ended, for messages: `answered`, `rejected: ...`, `silent`, `nxdomain`, ...
    pub reply: String,
}

impl LiveOutcome {
    /// The outcome as the static runner's actual object for `kind`
    /// (`conformance::static_actual`'s keys; null where traffic cannot show one).
    pub fn actual(&self, kind: &CheckKind) -> Value {
        match kind {
            CheckKind::Resolve(_) => conformance::resolve_actual(self.resolved.as_deref().unwrap_or_default()),
            CheckKind::Flow(_) => conformance::observed_flow_actual(self.allowed, self.source_seen.map(|s| *s.ip()), self.world.as_deref()),
        }
    }
}

/// Why a live run could not run at all (a failing check is an outcome, not an error).
#[derive(Debug)]
pub enum LiveError {
    /// Namespaces and TUN devices need root.
    NotRoot,
    /// The testbed could not be built or cleaned.
    Testbed(io::Error),
    /// The engine could not be started or failed.
    Engine(String),
}

impl fmt::Display for LiveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LiveError::NotRoot => write!(f, "live runs need root (network namespaces and TUN devices)"),
            LiveError::Testbed(e) => write!(f, "testbed: {e}"),
            LiveError::Engine(e) => write!(f, "engine: {e}"),
        }
    }
}

impl std::error::Error for LiveError {}

/// Knobs of a live run.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    /// Datapath reject mode: denied flows get a TCP reset / ICMP unreachable,
    /// so they fail at once instead of after `probe.timeout`.
    pub reject: bool,
    pub probe: ProbeOptions,
    pub mtu: u16,
    /// TUN offloads (checksum, TSO) between the namespaces and the engine.
    pub offload: bool,
}

impl Default for LiveOptions {
    fn default() -> Self {
        LiveOptions { reject: true, probe: ProbeOptions::default(), mtu: 1500, offload: true }
    }
}

/// How the engine is to run.
#[derive(Debug, Clone, Default)]
pub struct EngineConfig {
    /// Answer denied flows with TCP reset / ICMP unreachable instead of dropping silently.
    pub reject: bool,
    /// Write flow-log records (JSON lines) to this file.
    pub flow_log: Option<std::path::PathBuf>,
    /// What the platform addresses answer beyond their real endpoints.
    pub platform: PlatformHost,
}

/// What the platform addresses answer beyond their real endpoints (DNS,
/// wireserver, IMDS): the shell's choice of `platform::Mode`.
#[derive(Debug, Clone, Default)]
pub enum PlatformHost {
    /// Only the real endpoints: other TCP ports are refused (RST), other UDP
    /// ports get ICMP port unreachable, echo requests nothing (`vnetlab run`).
    #[default]
    Endpoints,
    /// Every port, as a testbed world host: each flow is recorded in this
    /// log as world `platform` and answered with the responder's answer
    /// (`vnetlab up`, `conformance --live`), so live equals static.
    World(Arc<SeenLog>),
}

impl PlatformHost {
    pub fn mode(&self) -> platform::Mode {
        match self {
            PlatformHost::Endpoints => platform::Mode::Endpoints,
            PlatformHost::World(log) => platform::Mode::WorldHost(Box::new(SeenHost(log.clone()))),
        }
    }
}

/// The testbed's responder, for the platform host: records in the run's
/// log and answers with `responder::answer`.
pub struct SeenHost(pub Arc<SeenLog>);

impl SeenHost {
    fn seen(proto: Proto, src: SocketAddrV4, dst: SocketAddrV4) -> Seen {
        let proto = match proto {
            Proto::Udp => SeenProto::Udp,
            Proto::Icmp => SeenProto::Icmp,
            _ => SeenProto::Tcp,
        };
        Seen { world: World::Platform.name().to_string(), proto, src, dst }
    }
}

impl platform::WorldHost for SeenHost {
    fn saw(&mut self, proto: Proto, src: SocketAddrV4, dst: SocketAddrV4) {
        self.0.record(Self::seen(proto, src, dst));
    }
    fn answer(&mut self, proto: Proto, src: SocketAddrV4, dst: SocketAddrV4, request: &[u8]) -> Vec<u8> {
        vnetlab_testbed::responder::answer(&Self::seen(proto, src, dst), request)
    }
}

/// The TUN descriptors handed to the engine: the app's, and one per world
/// (by world name, as `World::name()` spells it).
#[derive(Debug)]
pub struct LiveTuns {
    pub app: OwnedFd,
    pub worlds: Vec<(String, OwnedFd)>,
    /// The devices carry virtio-net headers (`TopologySpec::offload`).
    pub offload: bool,
}

/// A running packet mover (the engine, or a stand-in in tests).
pub trait Forwarder {
    /// Stops it (bounded); returns its counters if it keeps any, or the failure it had.
    fn stop(self: Box<Self>) -> Result<Option<Counters>, String>;
}

/// Runs `checks` live with the engine (reject mode on).
pub fn run_live_checks(policy: Policy, checks: &[Check]) -> Result<Vec<LiveOutcome>, LiveError> {
    run_live_checks_with(policy, checks, &LiveOptions::default(), start_engine)
}

/// The engine as the conformance runner's live half (`conformance --live`).
#[derive(Debug, Clone, Default)]
pub struct EngineRunner {
    pub opts: LiveOptions,
}

impl conformance::LiveRunner for EngineRunner {
    fn run(&mut self, policy: Policy, checks: &[Check]) -> Result<Vec<Value>, String> {
        let outcomes = run_live_checks_with(policy, checks, &self.opts, start_engine).map_err(|e| e.to_string())?;
        Ok(outcomes.iter().zip(checks).map(|(o, c)| o.actual(&c.kind)).collect())
    }
}

/// Starts vnetlab's engine on the testbed's devices.
pub fn start_engine(policy: Policy, tuns: LiveTuns, config: &EngineConfig) -> io::Result<Box<dyn Forwarder>> {
    use vnetlab_core::datapath::{Datapath, DatapathOptions};
    use vnetlab_core::decision::World;
    let mut worlds = Vec::new();
    for (name, fd) in tuns.worlds {
        let w = World::FORWARDED
            .iter()
            .copied()
            .find(|w| w.name() == name)
            .ok_or_else(|| io::Error::other(format!("testbed world '{name}' is not one of the engine's worlds")))?;
        worlds.push((w, fd));
    }
    let platform = Platform::new(Instance::of(&policy), config.platform.mode());
    let datapath = Datapath::new(policy, DatapathOptions { reject: config.reject, ..Default::default() });
    let log = config.flow_log.as_deref().map(crate::engine::FlowLogWriter::create).transpose()?;
    let handle = crate::engine::spawn(datapath, platform, crate::engine::Devices { app: tuns.app, worlds, vnet_hdr: tuns.offload }, log)?;
    Ok(Box::new(EngineForwarder(handle)))
}

/// The real engine as the live runner's packet mover.
struct EngineForwarder(crate::engine::EngineHandle);

impl Forwarder for EngineForwarder {
    fn stop(self: Box<Self>) -> Result<Option<Counters>, String> {
        self.0.stop().map(Some).map_err(|e| e.to_string())
    }
}

/// `run_live_checks` with explicit options and packet mover.
pub fn run_live_checks_with<F>(policy: Policy, checks: &[Check], opts: &LiveOptions, start: F) -> Result<Vec<LiveOutcome>, LiveError>
where
    F: FnOnce(Policy, LiveTuns, &EngineConfig) -> io::Result<Box<dyn Forwarder>>,
{
    if !vnetlab_testbed::is_root() {
        return Err(LiveError::NotRoot);
    }
    // A previous run killed by Ctrl-C or a crash left its namespaces: remove them first.
    vnetlab_testbed::cleanup_stale().map_err(LiveError::Testbed)?;

    let mut spec = TopologySpec::standard(policy.instance_ip());
    spec.mtu = opts.mtu;
    spec.offload = opts.offload;
    let mut bed = Testbed::create(&spec).map_err(LiveError::Testbed)?;
    let log = Arc::new(SeenLog::default());
    let responders = start_responders(&bed, checks, &log).map_err(LiveError::Testbed)?;
    let tuns = take_tuns(&mut bed)?;
    let config = EngineConfig { reject: opts.reject, flow_log: None, platform: PlatformHost::World(log.clone()) };
    let forwarder = start(policy, tuns, &config).map_err(|e| LiveError::Engine(e.to_string()))?;

    let outcomes: Vec<LiveOutcome> = checks.iter().map(|check| probe_check(&bed, &check.kind, &log, opts)).collect();

    let stopped = forwarder.stop();
    drop(responders);
    drop(bed);
    stopped.map_err(LiveError::Engine)?;
    Ok(outcomes)
}

/// Hands the testbed's TUN descriptors over, in engine order.
pub fn take_tuns(bed: &mut Testbed) -> Result<LiveTuns, LiveError> {
    let missing = |what: &str| LiveError::Testbed(io::Error::other(format!("testbed has no TUN for {what}")));
    let app = bed.take_app_tun().ok_or_else(|| missing("the app"))?;
    let mut worlds = Vec::new();
    for w in World::FORWARDED.map(World::name) {
        worlds.push((w.to_string(), bed.take_world_tun(w).ok_or_else(|| missing(w))?));
    }
    Ok(LiveTuns { app, worlds, offload: bed.offload })
}

/// One responder per world, listening on every port any check uses.
fn start_responders(bed: &Testbed, checks: &[Check], log: &Arc<SeenLog>) -> io::Result<Vec<Responder>> {
    let mut tcp = BTreeSet::new();
    let mut udp = BTreeSet::new();
    for check in checks {
        match check.kind {
            CheckKind::Flow(FlowSpec { proto: Proto::Tcp, port, .. }) => tcp.insert(port),
            CheckKind::Flow(FlowSpec { proto: Proto::Udp, port, .. }) => udp.insert(port),
            _ => false,
        };
    }
    start_world_responders(bed, &tcp, &udp, log)
}

/// One responder in every world of `bed` on these ports (plus ICMP observation).
pub fn start_world_responders(bed: &Testbed, tcp: &BTreeSet<u16>, udp: &BTreeSet<u16>, log: &Arc<SeenLog>) -> io::Result<Vec<Responder>> {
    bed.worlds
        .iter()
        .map(|w| {
            let spec = ResponderSpec {
                world: w.name.clone(),
                netns: w.netns.clone(),
                tcp: tcp.iter().copied().collect(),
                udp: udp.iter().copied().collect(),
                icmp: true,
            };
            Responder::start(&spec, log.clone())
        })
        .collect()
}

/// How long an answered flow's record may lag behind its answer (it is
/// made before the answer is sent, so normally not at all).
const SEEN_WAIT: std::time::Duration = std::time::Duration::from_millis(200);

fn probe_check(bed: &Testbed, kind: &CheckKind, log: &SeenLog, opts: &LiveOptions) -> LiveOutcome {
    let mut out = LiveOutcome { allowed: false, world: None, source_seen: None, resolved: None, dest: None, reply: String::new() };
    let app = bed.app_netns.as_str();
    let FlowSpec { proto, dest, port } = match kind {
        CheckKind::Resolve(name) => {
            out.allowed = resolve_live(app, name, opts, &mut out).is_some();
            return out;
        }
        CheckKind::Flow(spec) => spec,
    };
    let (proto, port) = (*proto, *port);
    let addr = match dest {
        Dest::Addr(a) => *a,
        // A flow to a name with several addresses uses the first, as `check::evaluate` does.
        Dest::Name(name) => match resolve_live(app, name, opts, &mut out).and_then(|addrs| addrs.first().copied()) {
            Some(a) => a,
            // Nothing to send to: blocked by DNS.
            None => return out,
        },
    };
    out.dest = Some(addr);
    let mark = log.mark();
    let reply = match proto {
        Proto::Tcp => probe::tcp_probe(app, SocketAddrV4::new(addr, port), &opts.probe),
        Proto::Udp => probe::udp_probe(app, SocketAddrV4::new(addr, port), &opts.probe),
        Proto::Icmp => probe::icmp_probe(app, addr, &opts.probe),
        Proto::Other(n) => Err(io::Error::new(io::ErrorKind::Unsupported, format!("IP protocol {n} cannot be probed"))),
    };
    match reply {
        Ok(ProbeReply::Answer { text, .. }) => {
            out.allowed = true;
            out.reply = "answered".into();
            let seen = match proto {
                Proto::Icmp => log.wait_since(mark, opts.probe.timeout, |s| s.proto == SeenProto::Icmp && *s.dst.ip() == addr),
                // An answer without the responder's line (a platform
                // endpoint's): what the log recorded for this flow.
                _ => Seen::parse_line(&text).or_else(|| {
                    let sp = if proto == Proto::Udp { SeenProto::Udp } else { SeenProto::Tcp };
                    let dst = SocketAddrV4::new(addr, port);
                    log.wait_since(mark, SEEN_WAIT, |s| s.proto == sp && s.dst == dst && s.src.port() == opts.probe.source_port)
                }),
            };
            if let Some(seen) = seen {
                out.world = Some(seen.world);
                out.source_seen = Some(seen.src);
            }
        }
        Ok(ProbeReply::Rejected(why)) => out.reply = format!("rejected: {why}"),
        Ok(ProbeReply::Silent) => out.reply = "silent".into(),
        Err(e) => out.reply = format!("probe failed: {e}"),
    }
    out
}

/// Resolves through the app's resolver; records the outcome. None when the
/// name did not resolve (NXDOMAIN, error or no answer).
fn resolve_live(app: &str, name: &str, opts: &LiveOptions, out: &mut LiveOutcome) -> Option<Vec<Ipv4Addr>> {
    match probe::dns_query(app, SocketAddrV4::new(AZURE_DNS, 53), name, &opts.probe) {
        Ok(Some(DnsAnswer::Addresses(addrs))) => {
            out.resolved = Some(addrs.clone());
            out.reply = "resolved".into();
            (!addrs.is_empty()).then_some(addrs)
        }
        Ok(Some(DnsAnswer::NxDomain)) => {
            out.resolved = Some(Vec::new());
            out.reply = "nxdomain".into();
            None
        }
        Ok(Some(DnsAnswer::Error(rcode))) => {
            out.reply = format!("resolver error rcode {rcode}");
            None
        }
        Ok(None) => {
            out.reply = "resolver did not answer".into();
            None
        }
        Err(e) => {
            out.reply = format!("resolver probe failed: {e}");
            None
        }
    }
}
