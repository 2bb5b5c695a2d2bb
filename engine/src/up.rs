//! `vnetlab up` and `vnetlab down`: a testbed for interactive use.
//!
//! `up` builds the namespaces, starts responders in every world on common
//! service ports, runs the engine in the foreground and removes everything
//! on Ctrl-C or SIGTERM (the signal handlers are installed before anything
//! is created, so an interrupt never skips the cleanup). A run that dies
//! anyway is cleaned by the next `up`, by the live runner, or by `down`,
//! which removes every vnetlab testbed (names `vl??????-*` only) and can
//! run any number of times.

use std::collections::BTreeSet;
use std::io;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::Arc;

use vnetlab_testbed::{SeenLog, Testbed, TopologySpec};

use crate::live::{self, EngineConfig, Forwarder, LiveTuns};
use vnetlab_core::datapath::{Counters, DropCause};
use vnetlab_core::error::Error;
use vnetlab_core::flow::Proto;
use vnetlab_core::policy::Policy;

/// Ports the responders always serve in `up`.
pub const COMMON_PORTS: [(Proto, u16); 11] = [
    (Proto::Tcp, 22),
    (Proto::Udp, 53),
    (Proto::Tcp, 80),
    (Proto::Udp, 123),
    (Proto::Tcp, 443),
    (Proto::Tcp, 445),
    (Proto::Tcp, 1433),
    (Proto::Tcp, 3306),
    (Proto::Tcp, 5432),
    (Proto::Tcp, 6379),
    (Proto::Tcp, 8080),
];

/// Options of `vnetlab up`.
#[derive(Debug, Clone)]
pub struct UpOptions {
    /// Extra responder ports (`--ports 8443,5353/udp`, see `parse_ports`).
    pub ports: Vec<(Proto, u16)>,
    /// Flow-log file (JSON lines), if wanted.
    pub flow_log: Option<PathBuf>,
    /// Reset / ICMP-unreachable denied flows instead of dropping them silently.
    pub reject: bool,
    pub mtu: u16,
    /// TUN offloads (checksum, TSO): TCP crosses the engine in segments of
    /// up to 64 KiB. Off, every packet is at most one MTU.
    pub offload: bool,
    /// Where to write the engine's counters (JSON) when it stops.
    pub stats: Option<PathBuf>,
}

impl Default for UpOptions {
    fn default() -> Self {
        UpOptions { ports: Vec::new(), flow_log: None, reject: false, mtu: 1500, offload: true, stats: None }
    }
}

/// What `down` removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DownReport {
    pub namespaces: Vec<String>,
    pub etc_dirs: Vec<String>,
    pub state_files: Vec<String>,
    /// Testbeds whose owner process was still running (`vnetlab up`); their
    /// namespaces are removed all the same, the processes are not signalled.
    pub live_owners: Vec<(String, u32)>,
}

/// Parses `--ports`: comma-separated `PORT` (TCP) or `PORT/tcp` / `PORT/udp`.
pub fn parse_ports(text: &str) -> Result<Vec<(Proto, u16)>, Error> {
    let mut out = Vec::new();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (port, proto) = match item.split_once('/') {
            Some((p, "tcp")) => (p, Proto::Tcp),
            Some((p, "udp")) => (p, Proto::Udp),
            Some((_, other)) => return Err(Error::BadArgument(format!("--ports {item:?}: protocol {other:?}, expected tcp or udp"))),
            None => (item, Proto::Tcp),
        };
        let port: u16 = port.parse().ok().filter(|p| *p != 0).ok_or_else(|| Error::BadArgument(format!("--ports {item:?}: expected a port 1-65535")))?;
        out.push((proto, port));
    }
    Ok(out)
}

fn io_error(what: &str, e: io::Error) -> Error {
    Error::Io { path: what.to_string(), source: e }
}

/// `vnetlab up`: runs until Ctrl-C / SIGTERM, then removes the testbed.
pub fn up(policy: Policy, opts: UpOptions) -> Result<(), Error> {
    up_with(policy, opts, live::start_engine)
}

/// `up` with an explicit packet mover (tests use a stand-in).
pub fn up_with<F>(policy: Policy, opts: UpOptions, start: F) -> Result<(), Error>
where
    F: FnOnce(Policy, LiveTuns, &EngineConfig) -> io::Result<Box<dyn Forwarder>>,
{
    if !vnetlab_testbed::is_root() {
        return Err(Error::BadArgument("vnetlab up needs root (network namespaces and TUN devices)".into()));
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| io_error("tokio runtime", e))?;
    let mut signals = runtime
        .block_on(async {
            use tokio::signal::unix::{signal, SignalKind};
            Ok::<_, io::Error>((signal(SignalKind::interrupt())?, signal(SignalKind::terminate())?))
        })
        .map_err(|e| io_error("signal handlers", e))?;

    let stale = vnetlab_testbed::cleanup_stale().map_err(|e| io_error("cleanup of stale testbeds", e))?;
    if !stale.namespaces.is_empty() {
        eprintln!("removed namespaces of crashed runs: {}", stale.namespaces.join(", "));
    }
    let mut spec = TopologySpec::standard(policy.instance_ip());
    spec.mtu = opts.mtu;
    spec.offload = opts.offload;
    let mut bed = Testbed::create(&spec).map_err(|e| io_error("testbed", e))?;
    let (mut tcp, mut udp) = (BTreeSet::new(), BTreeSet::new());
    for (proto, port) in COMMON_PORTS.iter().chain(opts.ports.iter()) {
        match proto {
            Proto::Udp => udp.insert(*port),
            _ => tcp.insert(*port),
        };
    }
    let log = Arc::new(SeenLog::default());
    let responders = live::start_world_responders(&bed, &tcp, &udp, &log).map_err(|e| io_error("responders", e))?;
    let tuns = live::take_tuns(&mut bed).map_err(|e| io_error("testbed", io::Error::other(e.to_string())))?;
    // The platform addresses answer every port as a world does (`PlatformHost`).
    let config = EngineConfig { reject: opts.reject, flow_log: opts.flow_log.clone(), platform: live::PlatformHost::World(log.clone()) };
    let hints = suggestions(&policy, &tcp);
    let forwarder = start(policy, tuns, &config).map_err(|e| io_error("engine", e))?;

    print_banner(&bed, &hints, &tcp, &udp);
    runtime.block_on(async {
        tokio::select! {
            _ = signals.0.recv() => {}
            _ = signals.1.recv() => {}
        }
    });
    eprintln!("stopping; removing testbed {}", bed.prefix);
    let stopped = forwarder.stop();
    drop(responders);
    drop(bed);
    let counters = stopped.map_err(|e| io_error("engine", io::Error::other(e)))?;
    if let Some(c) = &counters {
        eprintln!("{}", summary(c));
    }
    if let Some(path) = &opts.stats {
        let json = counters.as_ref().map_or(serde_json::Value::Null, Counters::to_json);
        std::fs::write(path, format!("{json:#}\n")).map_err(|e| io_error(&path.display().to_string(), e))?;
    }
    Ok(())
}

/// One line of what the engine did, for the terminal.
fn summary(c: &Counters) -> String {
    let drops: Vec<String> = DropCause::ALL.iter().filter(|&&d| c.drops(d) > 0).map(|&d| format!("{} {}", c.drops(d), d.name())).collect();
    format!(
        "engine: {} flows allowed, {} denied, {} SNAT waits; {} packets to the worlds, {} to the app ({} DNS answers, {} rejects); dropped: {}; write errors: {}",
        c.flows_created,
        c.flows_denied,
        c.snat_waits,
        c.to_world.packets,
        c.to_app.packets,
        c.dns_responses,
        c.rejects,
        if drops.is_empty() { "none".to_string() } else { drops.join(", ") },
        c.write_errors
    )
}

fn print_banner(bed: &Testbed, hints: &[String], tcp: &BTreeSet<u16>, udp: &BTreeSet<u16>) {
    let list = |s: &BTreeSet<u16>| s.iter().map(u16::to_string).collect::<Vec<_>>().join(",");
    println!("testbed {} is up", bed.prefix);
    println!("  app namespace:   {}", bed.app_netns);
    for w in &bed.worlds {
        println!("  world {:<7} {}", format!("{}:", w.name), w.netns);
    }
    println!("  responders: tcp {} udp {} (and ICMP echo), any address", list(tcp), list(udp));
    println!("try:");
    for line in hints {
        println!("  ip netns exec {} {line}", bed.app_netns);
    }
    println!("Ctrl-C to stop and remove it (or `vnetlab down` after a crash).");
}

/// Public test addresses the banner tries, in order (198.51.100.0/24: documentation range).
const SUGGESTED_HOSTS: [Ipv4Addr; 2] = [Ipv4Addr::new(198, 51, 100, 20), Ipv4Addr::new(198, 51, 100, 80)];

/// Commands to try from the app's namespace, chosen by asking the policy:
/// the first responder port and address it allows (as `curl`), and the first
/// it denies (with a timeout, since a denied flow is dropped silently). A
/// fixed suggestion would be wrong for most scenarios.
fn suggestions(policy: &Policy, tcp: &BTreeSet<u16>) -> Vec<String> {
    // Web ports first: what a reader expects to curl.
    let mut ports: Vec<u16> = tcp.iter().copied().collect();
    ports.sort_by_key(|&p| (p != 80 && p != 443, p));
    let flows = || ports.iter().flat_map(|&port| SUGGESTED_HOSTS.iter().map(move |&host| (host, port)));
    let decide = |(host, port): (Ipv4Addr, u16)| policy.decide(&policy.flow(Proto::Tcp, host, port));
    let mut out = Vec::new();
    if let Some((host, port)) = flows().find(|&f| decide(f).allowed) {
        out.push(format!("curl -s http://{host}:{port}/         # allowed: the responder says which source it saw"));
    }
    if let Some((host, port)) = flows().find(|&f| !decide(f).allowed) {
        let d = decide((host, port));
        let why = d.nsg_rule.map(|i| format!("NSG rule {}", policy.rule_name(i))).unwrap_or_else(|| "the route".to_string());
        out.push(format!("curl -s -m 3 http://{host}:{port}/   # denied by {why}: times out (exit 28)"));
    }
    out
}

/// `vnetlab down`: removes every vnetlab testbed. Idempotent.
pub fn down() -> Result<DownReport, Error> {
    let r = vnetlab_testbed::remove_all().map_err(|e| io_error("removing testbeds", e))?;
    Ok(DownReport { namespaces: r.namespaces, etc_dirs: r.etc_dirs, state_files: r.state_files, live_owners: r.live_owners })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The banner's commands must do what they say on the scenario at hand
    /// (it once suggested a flow the embedded NSG denies).
    #[test]
    fn suggestions_are_what_the_policy_decides() {
        let files = crate::disk::Disk;
        let policy = vnetlab_core::scenario::load_policy(&files, &Default::default(), &Default::default()).expect("embedded scenario");
        let tcp: BTreeSet<u16> = COMMON_PORTS.iter().filter(|(p, _)| *p == Proto::Tcp).map(|&(_, port)| port).collect();
        let hints = suggestions(&policy, &tcp);
        assert_eq!(hints.len(), 2, "{hints:?}");
        let target = |line: &str| -> (Ipv4Addr, u16) {
            let url = line.split_whitespace().find(|w| w.starts_with("http://")).expect("a URL");
            let (host, port) = url["http://".len()..].trim_end_matches('/').split_once(':').expect("host:port");
            (host.parse().expect("address"), port.parse().expect("port"))
        };
        let (host, port) = target(&hints[0]);
        assert!(policy.decide(&policy.flow(Proto::Tcp, host, port)).allowed, "{}", hints[0]);
        let (host, port) = target(&hints[1]);
        assert!(!policy.decide(&policy.flow(Proto::Tcp, host, port)).allowed, "{}", hints[1]);
        assert!(hints[1].contains("DenyInternetOut"), "{}", hints[1]);
    }

    #[test]
    fn ports_parse_with_protocols_and_reject_nonsense() {
        let ports = parse_ports("8443, 5353/udp,9000/tcp").unwrap();
        assert_eq!(ports, vec![(Proto::Tcp, 8443), (Proto::Udp, 5353), (Proto::Tcp, 9000)]);
        assert!(parse_ports("0").is_err());
        assert!(parse_ports("70000").is_err());
        assert!(parse_ports("53/sctp").is_err());
        assert_eq!(parse_ports("").unwrap(), vec![]);
    }
}
