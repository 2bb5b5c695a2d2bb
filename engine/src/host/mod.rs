//! `vnetlab run [scenario] -- CMD`: the developer's own command behind the
//! emulated egress. CMD runs in a network namespace whose only way out is
//! the engine's TUN; every flow takes the same datapath as `vnetlab up`
//! (policy, flow table, SNAT, flow log), with `connect_first` on, and
//! allowed flows reach real services on this machine through one "host
//! world" device that every forwarded world shares (`relay`).
//!
//! - `sandbox`: user namespace (rootless), anonymous namespaces, CMD;
//! - `target`: `--map` and where a flow is connected on this machine;
//! - `relay`: the engine's sidecar (TCP connect/splice, UDP relay);
//! - `publish`: inbound, `--publish` ports judged by access restrictions;
//! - `dns`: the platform resolver's upstream for names only public DNS answers;
//! - `report`: deny lines, hints and the summary.
//!
//! CMD's environment is `Policy::environment` (`vnetlab_core::appenv`
//! documents the list); its resolv.conf exists only in its own mount
//! namespace (`sandbox`), so a `kill -9` of vnetlab leaves nothing: the
//! namespaces die with their last descriptor, CMD by PR_SET_PDEATHSIG.
//!
//! vnetlab exits with CMD's status (128+N if a signal N ended it) and
//! forwards SIGINT, SIGTERM and SIGHUP to it.

pub mod dns;
pub mod publish;
pub mod relay;
pub mod report;
pub mod sandbox;
pub mod target;

use std::io;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;

use vnetlab_core::datapath::{Counters, Datapath, DatapathOptions};
use vnetlab_core::decision::Resolution;
use vnetlab_core::error::Error;
use vnetlab_core::platform::{Instance, Mode, Platform};
use vnetlab_core::policy::Policy;

use crate::engine::{FlowLogWriter, WorldDevices};
use relay::HostRelay;
use report::{Report, RuleNames};
use sandbox::Sandbox;

/// Options of `vnetlab run`.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// CMD and its arguments.
    pub argv: Vec<String>,
    /// `--map TARGET=HOST:PORT`, as written.
    pub maps: Vec<String>,
    pub reject: bool,
    pub flow_log: Option<PathBuf>,
    /// Nothing from vnetlab on stderr (no deny lines, hints or summary):
    /// stderr is CMD's alone.
    pub quiet: bool,
    pub mtu: u16,
    pub offload: bool,
    /// Inbound: `--publish`, `--client-source` and the site's access restrictions.
    pub publish: publish::PublishOptions,
    /// `--dns-upstream ADDRESS[:PORT]` (default: the host's first nameserver).
    pub dns_upstream: Option<String>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            argv: Vec::new(),
            maps: Vec::new(),
            reject: false,
            flow_log: None,
            quiet: false,
            mtu: 65520,
            offload: true,
            publish: Default::default(),
            dns_upstream: None,
        }
    }
}

fn io_error(what: &str, e: io::Error) -> Error {
    Error::Io { path: what.to_string(), source: e }
}

/// Runs CMD behind the engine; returns the exit status for vnetlab.
pub fn run(policy: Policy, opts: RunOptions) -> Result<u8, Error> {
    // First: the user namespace needs a single-threaded process.
    sandbox::preflight().map_err(Error::BadArgument)?;
    let mut maps = Vec::new();
    for m in &opts.maps {
        maps.extend(
            target::parse_map(m, |name| match policy.resolve(name) {
                Resolution::Addresses { addrs, .. } => addrs,
                Resolution::NxDomain { .. } => Vec::new(),
            })
            .map_err(Error::BadArgument)?,
        );
    }
    // Before anything is built: a wrong flag is the user's to fix.
    let upstream = dns::upstream(opts.dns_upstream.as_deref()).map_err(Error::BadArgument)?;
    // Computed by the core (`vnetlab_core::appenv`: the list and its sources).
    let env = policy.environment();
    let names = RuleNames::of(&policy);
    let sb = Sandbox::build(policy.instance_ip(), opts.mtu, opts.offload).map_err(|e| io_error("sandbox", e))?;
    run_in(policy, opts, Prepared { maps, upstream, env, names }, sb, &vnetlab_testbed::world::resolv_conf())
}

/// What `run` works out from the policy and the flags before building anything.
struct Prepared {
    maps: Vec<target::MapRule>,
    upstream: std::net::SocketAddr,
    env: Vec<(String, String)>,
    names: RuleNames,
}

fn run_in(policy: Policy, opts: RunOptions, prepared: Prepared, sb: Sandbox, resolv: &str) -> Result<u8, Error> {
    let Prepared { maps, upstream, env, names } = prepared;
    let Sandbox { app_ns, host_ns, app_tun, host_tun } = sb;
    // Inbound (publish.rs): bound before CMD starts, stopped when run_in returns.
    let _published = publish::start(&opts.publish, &app_ns, policy.instance_ip(), opts.quiet).map_err(|e| io_error("--publish", e))?;
    let log = opts.flow_log.as_deref().map(FlowLogWriter::create).transpose().map_err(|e| io_error("flow log", e))?;
    // The platform addresses answer only at their real endpoints (DNS, wireserver, IMDS).
    let platform = Platform::new(Instance::of(&policy), Mode::Endpoints);
    let datapath = Datapath::new(policy, DatapathOptions { reject: opts.reject, connect_first: true, dns_upstream: true, ..Default::default() });
    let report = Report::new(names, opts.quiet);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let offload = opts.offload;
    let engine = std::thread::Builder::new()
        .name("vnetlab-engine".into())
        .spawn(move || -> io::Result<(Counters, Report)> {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            rt.block_on(async move {
                let mut relay = dns::WithDns::new(HostRelay::new(host_ns, maps, report), upstream);
                let stop = async move {
                    let _ = stop_rx.await;
                };
                let c = crate::engine::run_with(datapath, platform, app_tun, WorldDevices::Shared(host_tun), offload, log, &mut relay, stop).await?;
                Ok((c, relay.inner.report))
            })
        })
        .map_err(|e| io_error("engine thread", e))?;

    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| io_error("tokio runtime", e))?;
    let status = rt.block_on(async {
        use tokio::signal::unix::{signal, SignalKind};
        let mut sigs = Vec::new();
        for k in [SignalKind::interrupt(), SignalKind::terminate(), SignalKind::hangup()] {
            sigs.push((k.as_raw_value(), signal(k)?));
        }
        let mut child =
            sandbox::command(&opts.argv, &app_ns, resolv, &env)?.spawn().map_err(|e| io::Error::new(e.kind(), format!("starting {:?}: {e}", opts.argv[0])))?;
        let pid = child.id().map_or(0, |p| p as libc::pid_t);
        let [a, b, c] = &mut sigs[..] else { unreachable!() };
        loop {
            tokio::select! {
                st = child.wait() => return st,
                _ = a.1.recv() => forward(pid, a.0),
                _ = b.1.recv() => forward(pid, b.0),
                _ = c.1.recv() => forward(pid, c.0),
            }
        }
    });
    let _ = stop_tx.send(());
    let joined = engine.join().map_err(|_| io_error("engine", io::Error::other("engine thread panicked")))?;
    drop(app_ns);
    let status = status.map_err(|e| io_error("command", e))?;
    let (counters, report) = joined.map_err(|e| io_error("engine", e))?;
    let summary = report.summary();
    if !summary.is_empty() {
        eprint!("{summary}");
        eprintln!(
            "vnetlab: engine: {} flows allowed, {} denied, {} connects ({} refused, {} timed out), {} SNAT waits",
            counters.flows_created, counters.flows_denied, counters.connects, counters.connects_refused, counters.connects_timed_out, counters.snat_waits
        );
    }
    Ok(match (status.code(), status.signal()) {
        (Some(c), _) => c as u8,
        (None, Some(s)) => (128 + s) as u8,
        _ => 1,
    })
}

fn forward(pid: libc::pid_t, sig: libc::c_int) {
    if pid > 0 {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(pid, sig) };
    }
}
