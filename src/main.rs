//! The `vnetlab` command line: a thin layer over the library. Each
//! subcommand loads the inputs once, compiles a policy, and prints.

use clap::{Args, Parser, Subcommand};
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;
use vnetlab_core::arm::DeployContext;
use vnetlab_core::check;
use vnetlab_core::conformance;
use vnetlab_core::decision::Resolution;
use vnetlab_core::error::Error;
use vnetlab_core::explain;
use vnetlab_core::model::DeployValue;
use vnetlab_core::policy::access::{parse_head, AccessPolicy};
use vnetlab_core::policy::{Policy, PolicyOptions, Sender};
use vnetlab_core::scenario::{self, Inputs};
use vnetlab_core::warning::{Uses, Warning};
use vnetlab_engine::disk::Disk;

#[derive(Parser)]
#[command(
    name = "vnetlab",
    version,
    about = "Azure egress for App Service / Functions with regional VNet integration, emulated on your machine",
    long_about = "vnetlab answers, for an app with regional virtual network integration, what Azure does with each \
outbound flow: Route All, the integration subnet's NSG, route tables and system routes, NAT gateway source \
rewriting, private endpoints and private DNS zones, peerings, gateways and service endpoints. It reads the ARM \
templates you deploy (or `az ... show -o json` output, or a native TOML scenario) and shows the rule that decided.\n\n\
Without -t, commands use an embedded default scenario (see `vnetlab demo`).",
    after_help = "Examples:\n  vnetlab demo\n  vnetlab verify -t azuredeploy.json \"tcp 10.0.1.4:1433\" \"tcp myaccount.blob.core.windows.net:443\"\n  \
vnetlab routes -t azuredeploy.json -p appName=func1\n  vnetlab rules -t azuredeploy.json --json\n  vnetlab conformance tests/\n  vnetlab lint -t azuredeploy.json"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Show what Azure does with flows from the app: a trace per flow (IP flow verify + next hop).
    Verify {
        #[command(flatten)]
        input: InputArgs,
        /// Flows: "tcp HOST:PORT", "udp HOST:PORT" or "icmp HOST"; HOST is an address or a name the app resolves.
        #[arg(required = true, value_name = "FLOW")]
        flows: Vec<String>,
        /// Print JSON (one object per flow, in an array).
        #[arg(long)]
        json: bool,
    },
    /// Effective routes of the integration subnet (or --subnet): prefix, next hop, source, state.
    Routes {
        #[command(flatten)]
        input: InputArgs,
        #[arg(long)]
        json: bool,
    },
    /// Effective outbound security rules of the integration subnet's NSG, service tags expanded.
    Rules {
        #[command(flatten)]
        input: InputArgs,
        #[arg(long)]
        json: bool,
    },
    /// Resolve names the way the app would (private DNS zones, privatelink CNAMEs, public DNS).
    Resolve {
        #[command(flatten)]
        input: InputArgs,
        #[arg(required = true, value_name = "NAME")]
        names: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// Whether a client may reach the site (or its scm site) under its inbound access restrictions.
    Access {
        #[command(flatten)]
        input: InputArgs,
        /// The client's public address.
        #[arg(value_name = "ADDRESS")]
        client: std::net::Ipv4Addr,
        /// Judge by the scm (Kudu) site's restrictions.
        #[arg(long)]
        scm: bool,
        /// A request header, "Name: value" (for header rules; repeatable).
        #[arg(long = "header", value_name = "NAME: VALUE")]
        headers: Vec<String>,
    },
    /// Run conformance cases (FORMAT.md): PATH is a case file or a folder of them.
    Conformance {
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// Print a JSON report instead of text.
        #[arg(long)]
        json: bool,
        /// Also send every check as real traffic through the TUN engine and
        /// testbed namespaces (root, Linux); live must equal static.
        #[arg(long)]
        live: bool,
    },
    /// Check a configuration before deploying; exit 0 clean, 1 findings, 2 cannot load.
    Lint {
        #[command(flatten)]
        input: InputArgs,
        #[arg(long)]
        json: bool,
    },
    /// Print the value of each ARM expression as JSON (one line each), in the context of the
    /// template when one is given (parameters, variables, user-defined functions), as `bicep console`
    /// does; EXPR may be given with or without its surrounding [...]. Exit 2 if one is invalid.
    #[command(after_help = "Examples:\n  vnetlab eval \"concat('a', 'b')\" \"[add(1, 2)]\"\n  \
vnetlab eval -t azuredeploy.json -p appName=func1 \"variables('subnetName')\"\n  vnetlab eval --location northeurope \"deployment().location\"\n  \
vnetlab eval --resource-group rg-app \"resourceId('Microsoft.Network/virtualNetworks', 'vnet')\"")]
    Eval {
        /// ARM template whose parameters, variables and functions the expressions read.
        #[arg(short = 't', long = "template", value_name = "FILE")]
        template: Option<PathBuf>,
        /// Template parameter value NAME=VALUE (VALUE may be JSON); needs -t.
        #[arg(short = 'p', long = "param", value_name = "NAME=VALUE")]
        params: Vec<String>,
        /// Print each value as indented JSON.
        #[arg(long)]
        pretty: bool,
        #[command(flatten)]
        deploy: DeployArgs,
        #[arg(required = true, value_name = "EXPR")]
        exprs: Vec<String>,
    },
    /// A tour of the embedded default scenario: routes, rules, traces and its conformance checks.
    Demo,
    /// Build the testbed (app namespace behind the engine's TUN, world namespaces with responders)
    /// and forward until Ctrl-C (root).
    Up {
        #[command(flatten)]
        input: InputArgs,
        /// Extra responder ports, e.g. 8443,5353/udp.
        #[arg(long, value_name = "PORTS")]
        ports: Option<String>,
        /// Write flow-log records (JSON lines) to FILE.
        #[arg(long = "flow-log", value_name = "FILE")]
        flow_log: Option<PathBuf>,
        /// Answer denied flows with TCP RST / ICMP unreachable (fail fast) instead of dropping silently as Azure does.
        #[arg(long)]
        reject: bool,
        /// Plain MTU-sized packets between the namespaces and the engine, without TUN offloads
        /// (checksum offload and TSO, on by default, let TCP cross the engine in 64 KiB segments).
        #[arg(long = "no-offload")]
        no_offload: bool,
        /// When stopping, write the engine's counters (packets, flows, drops by cause) as JSON to FILE.
        #[arg(long, value_name = "FILE")]
        stats: Option<PathBuf>,
    },
    /// Remove every vnetlab testbed (also after a crashed run).
    Down,
    /// Run CMD behind the emulated egress: its flows take the policy, NAT and flow log, and allowed
    /// ones reach real services on this machine (rootless when user namespaces allow; exit status is CMD's).
    Run {
        #[command(flatten)]
        input: InputArgs,
        /// Connect TARGET (address, ADDRESS:PORT, NAME or NAME:PORT as the app resolves it) to HOST:PORT on this machine.
        #[arg(long = "map", value_name = "TARGET=HOST:PORT")]
        maps: Vec<String>,
        /// Answer denied flows with TCP RST / ICMP unreachable (fail fast) instead of dropping silently.
        #[arg(long)]
        reject: bool,
        /// Write flow-log records (JSON lines) to FILE.
        #[arg(long = "flow-log", value_name = "FILE")]
        flow_log: Option<PathBuf>,
        /// Nothing from vnetlab on stderr (no deny lines, hints or summary): stderr is CMD's alone.
        #[arg(long)]
        quiet: bool,
        /// Forward [ADDR:]HOSTPORT (ADDR default 127.0.0.1) to port APPPORT (default HOSTPORT) of the app,
        /// at the instance's private address in its namespace; the site's access restrictions decide who
        /// may connect (denied: HTTP 403; the app not answering: HTTP 502).
        #[arg(long = "publish", value_name = "[ADDR:]HOSTPORT[:APPPORT]")]
        publish: Vec<String>,
        /// As --publish, judged by the scm (Kudu) site's access restrictions.
        #[arg(long = "publish-scm", value_name = "[ADDR:]HOSTPORT[:APPPORT]")]
        publish_scm: Vec<String>,
        /// Judge published connections from loopback address LOOPBACK as coming from ADDRESS
        /// (unmapped loopback clients are judged as 198.51.100.1).
        #[arg(long = "client-source", value_name = "LOOPBACK=ADDRESS")]
        client_sources: Vec<String>,
        /// The resolver for names no private zone and no --public-dns entry answers (as Azure DNS
        /// resolves public names): ADDRESS or ADDRESS:PORT. Default: the host's first nameserver.
        #[arg(long = "dns-upstream", value_name = "ADDRESS[:PORT]")]
        dns_upstream: Option<String>,
        /// The command and its arguments (after --).
        #[arg(required = true, last = true, value_name = "CMD")]
        argv: Vec<String>,
    },
}

#[derive(Args, Clone, Default)]
struct InputArgs {
    /// ARM template, `az ... show -o json` output or native TOML scenario (repeat to combine).
    /// Default: the embedded scenario.
    #[arg(short = 't', long = "template", value_name = "FILE")]
    templates: Vec<PathBuf>,
    /// Template parameter value NAME=VALUE (VALUE may be JSON). With several -t files it goes to every
    /// file that declares NAME (none: an error); FILE:NAME=VALUE gives it to that file only (FILE as
    /// given with -t, or its file name). --parameters files are split among the files the same way.
    #[arg(short = 'p', long = "param", value_name = "[FILE:]NAME=VALUE")]
    params: Vec<String>,
    /// ARM parameters file.
    #[arg(long = "parameters", value_name = "FILE")]
    parameter_files: Vec<PathBuf>,
    /// The site whose traffic is evaluated (default: the only integrated site).
    #[arg(long)]
    site: Option<String>,
    /// Evaluate as a NIC in this subnet instead of a site: VNET/SUBNET.
    #[arg(long, value_name = "VNET/SUBNET")]
    subnet: Option<String>,
    /// Azure's published service tags file (ServiceTags_Public_*.json).
    #[arg(long = "service-tags", value_name = "FILE")]
    service_tags: Vec<PathBuf>,
    /// What public DNS answers: NAME=ADDRESS.
    #[arg(long = "public-dns", value_name = "NAME=ADDRESS")]
    public_dns: Vec<String>,
    /// Address of a public IP resource (Azure assigns it at deployment): NAME=ADDRESS.
    #[arg(long = "public-ip", value_name = "NAME=ADDRESS")]
    public_ips: Vec<String>,
    /// The site's outbound addresses, comma-separated.
    #[arg(long = "outbound-ips", value_name = "A,B")]
    outbound_ips: Option<String>,
    /// The real address of a value Azure knows only after deployment (reference(x).privateIPAddress, ...),
    /// at the JSON path a warning names: [FILE:]JSONPATH=ADDRESS (repeatable).
    #[arg(long = "deploy-value", value_name = "[FILE:]JSONPATH=ADDRESS")]
    deploy_values: Vec<String>,
    #[command(flatten)]
    deploy: DeployArgs,
    /// Let outbound TCP 25 reach the internet (Azure blocks it by default).
    #[arg(long = "allow-port-25")]
    allow_port_25: bool,
}

#[derive(Args, Clone, Default)]
struct DeployArgs {
    /// The region you deploy to: deployment().location and resourceGroup().location (default westeurope).
    #[arg(long, value_name = "REGION")]
    location: Option<String>,
    /// The resource group you deploy into: resourceGroup() and the ids templates build (default rg-vnetlab).
    /// Without it the group is only assumed, and an id naming it that no resource there answers takes the
    /// only resource of that type and name in another group of the inputs, with a warning.
    #[arg(long = "resource-group", value_name = "NAME")]
    resource_group: Option<String>,
    /// The subscription you deploy into: subscription() and the ids templates build
    /// (default 00000000-0000-0000-0000-000000000000).
    #[arg(long, value_name = "ID")]
    subscription: Option<String>,
}

impl DeployArgs {
    /// The deployment context with what the user gave.
    fn context(&self) -> Result<DeployContext, Error> {
        let mut ctx = DeployContext::default();
        if let Some(l) = given(&self.location, "--location", "a region name, e.g. westeurope")? {
            ctx.location = l;
            ctx.location_given = true;
        }
        if let Some(g) = given(&self.resource_group, "--resource-group", "a resource group name, e.g. rg-app")? {
            ctx.resource_group = g;
            ctx.resource_group_given = true;
        }
        if let Some(s) = given(&self.subscription, "--subscription", "a subscription id, e.g. 11111111-1111-1111-1111-111111111111")? {
            ctx.subscription_id = s;
        }
        Ok(ctx)
    }
}

/// A flag's value, trimmed; empty is an error saying what was `expected`.
/// A `/` would change the shape of every id built from it.
fn given(v: &Option<String>, flag: &str, expected: &str) -> Result<Option<String>, Error> {
    let Some(v) = v else { return Ok(None) };
    let v = v.trim();
    if v.is_empty() || v.contains('/') {
        return Err(Error::BadArgument(format!("{flag} '{v}': expected {expected}")));
    }
    Ok(Some(v.to_string()))
}

/// The command line's inputs and policy options (no files: the embedded
/// default scenario, which the loader supplies).
fn inputs(a: &InputArgs) -> Result<(Inputs, PolicyOptions), Error> {
    let mut inputs = Inputs {
        files: a.templates.clone(),
        params: a.params.clone(),
        param_files: a.parameter_files.clone(),
        service_tag_files: a.service_tags.clone(),
        ctx: a.deploy.context()?,
        ..Default::default()
    };
    for v in &a.deploy_values {
        inputs.build.deploy_values.push(DeployValue::parse(v).map_err(Error::BadArgument)?);
    }
    for p in &a.public_ips {
        inputs.build.public_ips.push(scenario::parse_name_addr(p, "--public-ip")?);
    }
    if let Some(list) = &a.outbound_ips {
        for s in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            inputs.build.outbound_ips.push(s.parse().map_err(|_| Error::BadArgument(format!("--outbound-ips: '{s}' is not an IPv4 address")))?);
        }
    }
    // Static commands stand in placeholders for public names (`run` turns them off).
    let placeholder_avoid = inputs.build.public_ips.iter().map(|(_, a)| *a).collect();
    let mut opts = PolicyOptions {
        site: a.site.clone(),
        subnet: a.subnet.clone(),
        allow_port_25: a.allow_port_25,
        public_dns_placeholders: true,
        placeholder_avoid,
        ..Default::default()
    };
    for d in &a.public_dns {
        let (n, addr) = scenario::parse_name_addr(d, "--public-dns")?;
        opts.public_dns.entry(n.to_ascii_lowercase()).or_default().push(addr);
    }
    Ok((inputs, opts))
}

fn load_policy(a: &InputArgs) -> Result<Policy, Error> {
    let (inputs, opts) = inputs(a)?;
    scenario::load_policy(&Disk, &inputs, &opts)
}

/// As `warn`, for answers that resolved names: also one warning for each
/// name a placeholder address answered.
fn warn_resolved<'a>(all: &[Warning], uses: &Uses, resolutions: impl IntoIterator<Item = &'a Resolution>) {
    warn(all, uses);
    for w in explain::placeholder_warnings(resolutions) {
        eprintln!("warning: {w}");
    }
}

/// For `vnetlab run`: public names go to the real upstream, not placeholders.
fn load_live_policy(a: &InputArgs) -> Result<Policy, Error> {
    let (inputs, opts) = inputs(a)?;
    scenario::load_policy(&Disk, &inputs, &PolicyOptions { public_dns_placeholders: false, ..opts })
}

/// The warnings of `all` that concern what the answer used (`warning`).
fn warn(all: &[Warning], uses: &Uses) {
    for w in uses.shown(all) {
        eprintln!("warning: {w}");
    }
}

fn print_json(v: &serde_json::Value) {
    match serde_json::to_string_pretty(v) {
        Ok(s) => println!("{s}"),
        Err(e) => eprintln!("error: {e}"),
    }
}

fn run(cli: Cli) -> Result<ExitCode, Error> {
    match cli.cmd {
        Cmd::Verify { input, flows, json } => {
            let specs = flows.iter().map(|f| check::parse_flow(f).map_err(Error::BadArgument)).collect::<Result<Vec<_>, _>>()?;
            let p = load_policy(&input)?;
            let outcomes: Vec<_> = specs.iter().map(|s| check::evaluate(&p, s)).collect();
            let mut uses = Uses::default();
            for o in &outcomes {
                uses.extend(o.uses(&p));
            }
            warn_resolved(&p.warnings, &uses, outcomes.iter().filter_map(|o| o.resolution.as_ref()));
            if json {
                print_json(&serde_json::Value::Array(outcomes.iter().map(|o| explain::trace_json(&p, o)).collect()));
            } else {
                let texts: Vec<String> = outcomes.iter().map(|o| explain::trace_text(&p, o)).collect();
                print!("{}", texts.join("\n"));
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Routes { input, json } => {
            let p = load_policy(&input)?;
            warn(&p.warnings, &p.uses_of_routes());
            if json {
                print_json(&explain::routes_json(&p))
            } else {
                print!("{}", explain::routes_text(&p))
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Rules { input, json } => {
            let p = load_policy(&input)?;
            warn(&p.warnings, &p.uses_of_rules());
            if json {
                print_json(&explain::rules_json(&p))
            } else {
                print!("{}", explain::rules_text(&p))
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Resolve { input, names, json } => {
            let p = load_policy(&input)?;
            let rs: Vec<_> = names.iter().map(|n| (n, p.resolve(n))).collect();
            let mut uses = Uses::default();
            for (_, r) in &rs {
                uses.extend(check::uses_of_resolution(r));
            }
            warn_resolved(&p.warnings, &uses, rs.iter().map(|(_, r)| r));
            if json {
                print_json(&serde_json::Value::Array(rs.iter().map(|(n, r)| json!({"name": n, "answer": explain::resolution_json(r)})).collect()));
            } else {
                for (n, r) in rs {
                    let v = explain::resolution_json(&r);
                    println!(
                        "{n}: {} ({})",
                        v["addresses"]
                            .as_array()
                            .map(|a| a.iter().filter_map(|x| x.as_str()).collect::<Vec<_>>().join(", "))
                            .filter(|s| !s.is_empty())
                            .unwrap_or_else(|| "NXDOMAIN".into()),
                        v["answered_by"].as_str().unwrap_or("")
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Eval { template, params, pretty, deploy, exprs } => {
            let ctx = deploy.context()?;
            let lines = scenario::eval_expressions(&Disk, template.as_deref(), &params, &exprs, &ctx)?;
            for w in ctx.take_warnings() {
                eprintln!("warning: {w}");
            }
            // Values before an invalid expression are printed; it ends the run.
            for line in lines {
                let line = line?;
                let text = if pretty { serde_json::to_string_pretty(&line) } else { serde_json::to_string(&line) };
                println!("{}", text.map_err(|e| Error::BadArgument(format!("cannot print the value: {e}")))?);
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Conformance { paths, json, live } => {
            let quiet = json;
            let mut engine = vnetlab_engine::live::EngineRunner::default();
            let live_hook: Option<&mut dyn conformance::LiveRunner> = if live { Some(&mut engine) } else { None };
            let report = conformance::run(&Disk, &paths, &Default::default(), live_hook, |name| {
                if !quiet {
                    eprintln!("case {name}");
                }
            })?;
            if json {
                print_json(&json!({"passed": report.passed, "failed": report.failed, "cases": report.cases,
                    "failures": report.failures.iter().map(|f| json!({"case": f.case, "check": f.check, "key": f.key, "expected": f.expected, "actual": f.actual})).collect::<Vec<_>>()}));
            } else {
                for f in &report.failures {
                    println!("{}", f.line());
                }
                println!("{} passed, {} failed", report.passed, report.failed);
            }
            Ok(if report.failed == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        Cmd::Access { input, client, scm, headers } => {
            let p = load_policy(&input)?;
            warn(&p.warnings, &Uses::default());
            let access = access_policy(&input, &p)?;
            let head = format!("GET / HTTP/1.1\r\n{}\r\n", headers.iter().map(|h| format!("{h}\r\n")).collect::<String>());
            let (_, headers) = parse_head(head.as_bytes());
            let list = access.list(scm);
            println!("{} site {}: {} rule(s), in evaluation order:", if scm { "scm" } else { "main" }, access.site, list.rules.len());
            for r in &list.rules {
                println!("  {:>10}  {:<5}  {}", r.priority, if r.action == vnetlab_core::model::Access::Allow { "Allow" } else { "Deny" }, r.name);
            }
            let otherwise = match (&list.default_action, list.rules.len()) {
                (Some((a, by)), _) => format!("{a:?} ({by})"),
                (None, 0) => "Allow (no rules)".to_string(),
                (None, _) => "Deny (implicit, after the rules)".to_string(),
            };
            println!("  otherwise: {otherwise}");
            if !access.public_network_access {
                println!("  (public network access is disabled: {})", access.public_decided_by);
            }
            let d = access.decide(client, scm, &headers);
            println!("{}: {d}", if d.allowed { "ALLOWED" } else { "DENIED (HTTP 403)" });
            Ok(if d.allowed { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        Cmd::Lint { input, json } => lint(&input, json),
        Cmd::Demo => demo(),
        Cmd::Up { input, ports, flow_log, reject, no_offload, stats } => {
            let policy = load_policy(&input)?;
            warn(&policy.warnings, &policy.uses_all());
            let mut opts = vnetlab_engine::up::UpOptions { flow_log, reject, stats, offload: !no_offload, ..Default::default() };
            if let Some(p) = ports {
                opts.ports = vnetlab_engine::up::parse_ports(&p)?;
            }
            vnetlab_engine::up::up(policy, opts)?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Run { input, maps, reject, flow_log, quiet, publish, publish_scm, client_sources, dns_upstream, argv } => {
            let policy = load_live_policy(&input)?;
            warn(&policy.warnings, &policy.uses_all());
            let publish = publish_options(&input, &policy, &publish, &publish_scm, &client_sources)?;
            let opts = vnetlab_engine::host::RunOptions { argv, maps, reject, flow_log, quiet, publish, dns_upstream, ..Default::default() };
            Ok(ExitCode::from(vnetlab_engine::host::run(policy, opts)?))
        }
        Cmd::Down => {
            let r = vnetlab_engine::up::down()?;
            println!("removed {} namespace(s), {} /etc/netns dir(s), {} state file(s)", r.namespaces.len(), r.etc_dirs.len(), r.state_files.len());
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `--publish`, `--publish-scm` and `--client-source`, with the site's access
/// restrictions (compiled only when something is published).
fn publish_options(
    a: &InputArgs,
    policy: &Policy,
    publish: &[String],
    publish_scm: &[String],
    client_sources: &[String],
) -> Result<vnetlab_engine::host::publish::PublishOptions, Error> {
    use vnetlab_engine::host::publish::{parse_client_source, parse_publish, PublishOptions};
    let bad = Error::BadArgument;
    let mut ports = publish.iter().map(|p| parse_publish(p, false)).collect::<Result<Vec<_>, _>>().map_err(bad)?;
    ports.extend(publish_scm.iter().map(|p| parse_publish(p, true)).collect::<Result<Vec<_>, _>>().map_err(bad)?);
    let client_sources = client_sources.iter().map(|c| parse_client_source(c)).collect::<Result<Vec<_>, _>>().map_err(bad)?;
    if ports.is_empty() {
        if !client_sources.is_empty() {
            return Err(bad("--client-source needs --publish or --publish-scm".into()));
        }
        return Ok(PublishOptions::default());
    }
    Ok(PublishOptions { ports, client_sources, access: Some(access_policy(a, policy)?) })
}

/// The policy's site's inbound access restrictions.
fn access_policy(a: &InputArgs, policy: &Policy) -> Result<AccessPolicy, Error> {
    let (inputs, _) = inputs(a)?;
    let sc = scenario::load_scenario(&Disk, &inputs)?;
    let site = match &policy.sender {
        Sender::Site { name, .. } => Some(name.as_str()),
        Sender::Nic => None,
    };
    AccessPolicy::for_site(&sc, site, &policy.tags)
}

/// Exit 0 clean, 1 findings, 2 when the input cannot be loaded.
fn lint(a: &InputArgs, json: bool) -> Result<ExitCode, Error> {
    let loaded = inputs(a).and_then(|(inputs, _)| scenario::load(&Disk, &inputs));
    let loaded = match loaded {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let findings = vnetlab_core::lint::lint(&loaded.scenario, &loaded.options.service_tags);
    warn(&loaded.scenario.warnings, &vnetlab_core::lint::uses(&loaded.scenario));
    if json {
        print_json(&json!({"findings": findings.iter().map(|f| f.to_json()).collect::<Vec<_>>()}));
    } else {
        for f in &findings {
            println!("{}", f.line());
        }
        println!("{} finding(s)", findings.len());
    }
    Ok(if findings.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn demo() -> Result<ExitCode, Error> {
    let case = conformance::load_default_case(&Disk, &Default::default())?;
    let p = &case.policy;
    println!("vnetlab demo: {}\n", case.about.as_deref().unwrap_or(""));
    print!("{}\n{}\n", explain::routes_text(p), explain::rules_text(p));
    println!("Traces:\n");
    for c in &case.checks {
        if let conformance::CheckKind::Flow(spec) = &c.kind {
            println!("{}", explain::trace_text(p, &check::evaluate(p, spec)));
        }
    }
    let report = conformance::run_case(case, None);
    for f in &report.failures {
        println!("{}", f.line());
    }
    println!("Conformance checks of the embedded scenario: {} passed, {} failed", report.passed, report.failed);
    println!("\nTry it on your own template: vnetlab verify -t azuredeploy.json \"tcp 10.0.1.4:1433\"");
    Ok(if report.failed == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
