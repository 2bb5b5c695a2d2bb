//! What `vnetlab run` tells the developer on stderr: one line per new
//! denied flow (rate limited), one hint per private destination it could
//! not reach without `--map`, and at the end a table of flows by
//! destination and decision. Built from the datapath's flow-log records,
//! with the NSG's names taken from the policy before it went to the engine.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use vnetlab_core::datapath::flowlog::{FlowRecord, RecordState};
use vnetlab_core::decision::{BlockedBy, Decision, DropReason};
use vnetlab_core::flow::{Flow, Proto};
use vnetlab_core::policy::Policy;

/// Deny lines printed per second at most; the rest are counted.
pub const DENY_LINES_PER_SEC: u32 = 10;

/// The NSG's names, for messages.
#[derive(Debug, Clone, Default)]
pub struct RuleNames {
    nsg: Option<String>,
    /// (name, priority) by rule index.
    rules: Vec<(String, u32)>,
}

impl RuleNames {
    pub fn of(p: &Policy) -> RuleNames {
        match p.nsg() {
            Some(n) => RuleNames { nsg: Some(n.name.clone()), rules: n.rules.iter().map(|r| (r.name.clone(), r.priority)).collect() },
            None => RuleNames::default(),
        }
    }

    /// `by NSG nsg-int rule DenyInternetOut (priority 300)`, or the route /
    /// platform rule.
    pub fn why(&self, d: &Decision) -> String {
        match (d.blocked_by, d.drop_reason) {
            (Some(BlockedBy::Nsg), _) => match (&self.nsg, d.nsg_rule.and_then(|i| self.rules.get(i as usize))) {
                (Some(n), Some((r, prio))) => format!("by NSG {n} rule {r} (priority {prio})"),
                _ => "by NSG".to_string(),
            },
            (Some(b), Some(r)) => format!("by {}: {}", b.as_str(), reason(r)),
            _ => "by policy".to_string(),
        }
    }

    /// The rule that allowed a flow, if an NSG decided.
    fn allowed_by(&self, d: &Decision) -> String {
        match (&self.nsg, d.nsg_rule.and_then(|i| self.rules.get(i as usize))) {
            (Some(n), Some((r, prio))) => format!("NSG {n} rule {r} ({prio})"),
            _ => String::new(),
        }
    }
}

fn reason(r: DropReason) -> &'static str {
    match r {
        DropReason::NoneRoute => "route with next hop None",
        DropReason::NoGateway => "gateway route but no virtual network gateway",
        DropReason::Port25 => "outbound TCP 25 to the internet is blocked",
        DropReason::NatGatewayProtocol => "a NAT gateway carries only TCP and UDP",
        DropReason::InternetHopNotInternet => "Internet next hop for a non-internet address",
        DropReason::NsgDeny => "NSG rule",
    }
}

/// The protocol as the deny lines spell it.
pub fn proto_name(p: Proto) -> &'static str {
    match p {
        Proto::Tcp => "tcp",
        Proto::Udp => "udp",
        Proto::Icmp => "icmp",
        Proto::Other(_) => "ip",
    }
}

fn tuple(f: &Flow) -> String {
    if f.proto.has_ports() {
        format!("{} {}:{} -> {}:{}", proto_name(f.proto), f.src, f.src_port, f.dst, f.dst_port)
    } else {
        format!("{} {} -> {}", proto_name(f.proto), f.src, f.dst)
    }
}

/// A row of the summary: flows to one destination with one decision.
#[derive(Debug, Default)]
struct Row {
    flows: u64,
    by: String,
    note: BTreeSet<String>,
}

/// Deny lines, hints and the summary.
pub struct Report {
    names: RuleNames,
    quiet: bool,
    window: Instant,
    lines_in_window: u32,
    suppressed: u64,
    /// (proto, destination, port, decision word) -> row.
    rows: BTreeMap<(&'static str, Ipv4Addr, u16, &'static str), Row>,
    hinted: BTreeSet<(Proto, Ipv4Addr, u16)>,
}

impl Report {
    pub fn new(names: RuleNames, quiet: bool) -> Report {
        Report { names, quiet, window: Instant::now(), lines_in_window: 0, suppressed: 0, rows: BTreeMap::new(), hinted: BTreeSet::new() }
    }

    /// Prints a line unless the window's budget is spent. Deny lines are
    /// printed even with --quiet: they are the point of the tool.
    fn line(&mut self, text: &str) {
        if self.window.elapsed() >= Duration::from_secs(1) {
            if self.suppressed > 0 {
                eprintln!("vnetlab: ({} more lines suppressed)", self.suppressed);
            }
            (self.window, self.lines_in_window, self.suppressed) = (Instant::now(), 0, 0);
        }
        if self.lines_in_window < DENY_LINES_PER_SEC {
            self.lines_in_window += 1;
            eprintln!("{text}");
        } else {
            self.suppressed += 1;
        }
    }

    /// New flows: a deny line each, and a row in the summary.
    pub fn records(&mut self, records: &[FlowRecord]) {
        for r in records.iter().filter(|r| r.state == RecordState::Begin) {
            let word = if r.decision.allowed { "allowed" } else { "denied" };
            let by = if r.decision.allowed { self.names.allowed_by(&r.decision) } else { self.names.why(&r.decision) };
            if !r.decision.allowed {
                self.line(&format!("vnetlab: DENY {} {by}", tuple(&r.flow)));
            }
            let row = self.rows.entry((proto_name(r.flow.proto), r.flow.dst, r.flow.dst_port, word)).or_default();
            row.flows += 1;
            row.by = by;
        }
    }

    /// An allowed flow to a private destination that nothing on this
    /// machine stands for: once per destination.
    pub fn unmapped(&mut self, f: &Flow) {
        // Called before the flow's begin record reaches `records`.
        let row = self.rows.entry((proto_name(f.proto), f.dst, f.dst_port, "allowed")).or_default();
        row.note.insert("not reached: no --map".into());
        if self.hinted.insert((f.proto, f.dst, f.dst_port)) {
            self.line(&format!(
                "vnetlab: ALLOW {} reaches no host service (private destination): the app sees a timeout; try --map {}:{}=127.0.0.1:PORT",
                tuple(f),
                f.dst,
                f.dst_port
            ));
        }
    }

    /// Where an allowed destination really went.
    pub fn reached(&mut self, f: &Flow, note: String) {
        self.rows.entry((proto_name(f.proto), f.dst, f.dst_port, "allowed")).or_default().note.insert(note);
    }

    /// The table printed at exit (empty with --quiet).
    pub fn summary(&self) -> String {
        if self.quiet {
            return String::new();
        }
        let mut s = String::new();
        if self.suppressed > 0 {
            s += &format!("vnetlab: ({} more lines suppressed)\n", self.suppressed);
        }
        s += "vnetlab: flows by destination\n";
        s += &format!("  {:<5} {:<24} {:<8} {:>5}  {}\n", "proto", "destination", "decision", "flows", "by / where");
        for ((proto, dst, port, word), row) in &self.rows {
            let dest = if *port == 0 { dst.to_string() } else { format!("{dst}:{port}") };
            let notes: Vec<&str> = row.note.iter().map(String::as_str).collect();
            let by = [row.by.as_str()].into_iter().chain(notes).filter(|x| !x.is_empty()).collect::<Vec<_>>().join("; ");
            s += &format!("  {proto:<5} {dest:<24} {word:<8} {:>5}  {by}\n", row.flows);
        }
        if self.rows.is_empty() {
            s += "  (no flows)\n";
        }
        s
    }
}
