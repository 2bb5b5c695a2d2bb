//! What `vnetlab run` tells the developer on stderr: one line per new
//! denied flow and per flow waiting for a default outbound SNAT port (rate
//! limited), one hint per private destination it could not reach without
//! `--map`, and at the end a table of flows by destination (address:port,
//! protocol) and decision: allowed, denied (by which rule), unreachable (no
//! `--map`), refused (by the host target), snat wait, failed (NAT gateway
//! ports exhausted, table full). Built from the datapath's flow-log
//! records, with the NSG's names taken from the policy before it went to
//! the engine. `--quiet` prints none of it: stderr is CMD's alone.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use vnetlab_core::datapath::flowlog::{FlowRecord, RecordState};
use vnetlab_core::datapath::nat::SITE_OUTBOUND_PORTS_PER_DESTINATION;
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
    /// First packets that found no SNAT port (`snat wait` rows).
    attempts: u64,
    by: String,
    note: BTreeSet<String>,
}

/// The decision column of the summary.
const ALLOWED: &str = "allowed";
const DENIED: &str = "denied";
/// Allowed, but a private destination with no `--map`: nothing answers.
const UNREACHABLE: &str = "unreachable";
/// Allowed, and the host target refused the connect (the app got an RST).
const REFUSED: &str = "refused";
/// Default outbound SNAT had no port: the flow waited (and may have gone
/// through later, then it is counted as allowed too).
const SNAT_WAIT: &str = "snat wait";
/// Allowed but not installed: NAT gateway ports exhausted, table full.
const FAILED: &str = "failed";

/// Distinct waiting flows remembered for the summary's count; beyond this
/// every further attempt counts as a flow (bounded memory).
const MAX_WAITING_FLOWS: usize = 1 << 16;

/// Deny lines, hints and the summary.
pub struct Report {
    names: RuleNames,
    quiet: bool,
    window: Instant,
    lines_in_window: u32,
    suppressed: u64,
    /// (proto, destination, port, decision word) -> row.
    rows: BTreeMap<(&'static str, Ipv4Addr, u16, &'static str), Row>,
    /// Destinations nothing on this machine stands for (one hint each).
    hinted: BTreeSet<(Proto, Ipv4Addr, u16)>,
    /// Flows that waited for a default outbound SNAT port (one line each).
    waited: HashSet<Flow>,
}

impl Report {
    pub fn new(names: RuleNames, quiet: bool) -> Report {
        Report {
            names,
            quiet,
            window: Instant::now(),
            lines_in_window: 0,
            suppressed: 0,
            rows: BTreeMap::new(),
            hinted: BTreeSet::new(),
            waited: HashSet::new(),
        }
    }

    /// Prints a line unless the window's budget is spent; nothing at all
    /// with --quiet, which keeps stderr for CMD alone.
    fn line(&mut self, text: &str) {
        if self.quiet {
            return;
        }
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

    fn row(&mut self, f: &Flow, word: &'static str) -> &mut Row {
        self.rows.entry((proto_name(f.proto), f.dst, f.dst_port, word)).or_default()
    }

    /// New flows (a deny line each, and a row in the summary) and the ends
    /// that change a flow's row: refused connects, SNAT waits, failures.
    pub fn records(&mut self, records: &[FlowRecord]) {
        for r in records {
            match (r.state, r.reason) {
                (RecordState::Begin, _) => self.begin(r),
                (RecordState::End, Some("refused")) => self.refused(&r.flow),
                (RecordState::End, Some("snat_wait")) => self.snat_wait(&r.flow),
                (RecordState::End, Some(why @ ("snat_exhausted" | "table_full" | "tuple_conflict"))) => {
                    let row = self.row(&r.flow, FAILED);
                    row.flows += 1;
                    row.by = why.replace('_', " ");
                }
                _ => {}
            }
        }
    }

    fn begin(&mut self, r: &FlowRecord) {
        let f = &r.flow;
        if !r.decision.allowed {
            let by = self.names.why(&r.decision);
            self.line(&format!("vnetlab: DENY {} {by}", tuple(f)));
            let row = self.row(f, DENIED);
            row.flows += 1;
            row.by = by;
            return;
        }
        let by = self.names.allowed_by(&r.decision);
        // `unmapped` comes before the flow's begin record.
        let word = if self.hinted.contains(&(f.proto, f.dst, f.dst_port)) { UNREACHABLE } else { ALLOWED };
        let row = self.row(f, word);
        row.flows += 1;
        row.by = by;
    }

    /// The host target refused an allowed flow: it moves to `refused`.
    fn refused(&mut self, f: &Flow) {
        let key = (proto_name(f.proto), f.dst, f.dst_port, ALLOWED);
        let mut note = BTreeSet::new();
        if let Some(row) = self.rows.get_mut(&key) {
            row.flows = row.flows.saturating_sub(1);
            note = row.note.clone();
            if row.flows == 0 {
                self.rows.remove(&key);
            }
        }
        let row = self.row(f, REFUSED);
        row.flows += 1;
        row.by = "the host target refused the connect (the app got an RST)".into();
        row.note.extend(note);
    }

    /// A first packet that found no default outbound SNAT port: one line
    /// per flow, a row counting flows and attempts.
    fn snat_wait(&mut self, f: &Flow) {
        let first = if self.waited.len() < MAX_WAITING_FLOWS { self.waited.insert(*f) } else { true };
        if first {
            self.line(&format!(
                "vnetlab: SNAT WAIT {}: the {SITE_OUTBOUND_PORTS_PER_DESTINATION} default outbound SNAT ports to this destination are in use or cooling down; the connection waits for one (retransmissions retry)",
                tuple(f)
            ));
        }
        let row = self.row(f, SNAT_WAIT);
        row.flows += u64::from(first);
        row.attempts += 1;
        row.by = format!("{SITE_OUTBOUND_PORTS_PER_DESTINATION} default outbound SNAT ports in use or cooling ({} SYNs held back)", row.attempts);
    }

    /// An allowed flow to a private destination that nothing on this
    /// machine stands for: once per destination.
    pub fn unmapped(&mut self, f: &Flow) {
        // Called before the flow's begin record reaches `records`.
        self.row(f, UNREACHABLE).note.insert("nothing here: no --map".into());
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
        self.row(f, ALLOWED).note.insert(note);
    }

    /// The table printed at exit: per destination (address:port, protocol)
    /// and decision, the flows and why. Empty with --quiet.
    pub fn summary(&self) -> String {
        if self.quiet {
            return String::new();
        }
        let mut s = String::new();
        if self.suppressed > 0 {
            s += &format!("vnetlab: ({} more lines suppressed)\n", self.suppressed);
        }
        s += "vnetlab: flows by destination\n";
        s += &format!("  {:<5} {:<24} {:<11} {:>5}  {}\n", "proto", "destination", "decision", "flows", "by / where");
        for ((proto, dst, port, word), row) in &self.rows {
            // A row made only by a note (a hint, a target) with no flow of its own.
            if row.flows == 0 {
                continue;
            }
            let dest = if *port == 0 { dst.to_string() } else { format!("{dst}:{port}") };
            let notes: Vec<&str> = row.note.iter().map(String::as_str).collect();
            let by = [row.by.as_str()].into_iter().chain(notes).filter(|x| !x.is_empty()).collect::<Vec<_>>().join("; ");
            s += &format!("  {proto:<5} {dest:<24} {word:<11} {:>5}  {by}\n", row.flows);
        }
        if self.rows.values().all(|r| r.flows == 0) {
            s += "  (no flows)\n";
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vnetlab_core::datapath::table::Count;
    use vnetlab_core::decision::{AppRouting, Path, SourceNat, World};
    use vnetlab_core::time::Timestamp;

    fn record(sport: u16, dport: u16, state: RecordState, reason: Option<&'static str>) -> FlowRecord {
        let flow = Flow { proto: Proto::Tcp, src: Ipv4Addr::new(10, 0, 2, 4), src_port: sport, dst: Ipv4Addr::new(198, 18, 0, 9), dst_port: dport };
        let decision = Decision {
            allowed: true,
            path: Path::Direct,
            app_routing: AppRouting::NotRouted,
            route: None,
            next_hop: None,
            next_hop_ip: None,
            nsg_rule: None,
            source: Ipv4Addr::new(198, 51, 100, 77),
            snat: SourceNat::SiteOutbound,
            world: World::Internet,
            blocked_by: None,
            drop_reason: None,
        };
        FlowRecord { at: Timestamp(0), state, flow, decision, rule: None, translated: None, world: None, out: Count::default(), inb: Count::default(), reason }
    }

    /// Rows of the summary as (destination, decision, flows).
    fn rows(s: &str) -> Vec<(String, String, String)> {
        s.lines()
            .skip(2)
            .map(|l| {
                let mut w = l.split_whitespace().skip(1);
                let dest = w.next().unwrap_or("").to_string();
                let rest: Vec<&str> = w.collect();
                // "snat wait" is two words.
                let (decision, flows) = match rest.as_slice() {
                    ["snat", "wait", n, ..] => ("snat wait".to_string(), n.to_string()),
                    [d, n, ..] => (d.to_string(), n.to_string()),
                    _ => (String::new(), String::new()),
                };
                (dest, decision, flows)
            })
            .collect()
    }

    #[test]
    fn snat_waits_count_flows_once_and_a_later_success_counts_as_allowed() {
        let mut r = Report::new(RuleNames::default(), false);
        // Flow 41000 waits twice (a retransmission), then goes through; 41001 waits once.
        r.records(&[record(41000, 443, RecordState::End, Some("snat_wait")), record(41001, 443, RecordState::End, Some("snat_wait"))]);
        r.records(&[record(41000, 443, RecordState::End, Some("snat_wait")), record(41000, 443, RecordState::Begin, None)]);
        r.records(&[record(5, 80, RecordState::End, Some("snat_exhausted"))]);
        let s = r.summary();
        assert_eq!(
            rows(&s),
            [
                ("198.18.0.9:80".into(), "failed".into(), "1".into()),
                ("198.18.0.9:443".into(), "allowed".into(), "1".into()),
                ("198.18.0.9:443".into(), "snat wait".into(), "2".into()),
            ],
            "{s}"
        );
        assert!(s.contains("(3 SYNs held back)"), "{s}");
    }

    #[test]
    fn refused_connects_move_from_allowed_to_refused() {
        let mut r = Report::new(RuleNames::default(), false);
        let f = record(40000, 443, RecordState::Begin, None);
        r.reached(&f.flow, "-> 127.0.0.1:9".into());
        r.records(&[f, record(40001, 443, RecordState::Begin, None)]);
        r.records(&[record(40000, 443, RecordState::End, Some("refused"))]);
        let s = r.summary();
        assert_eq!(rows(&s), [("198.18.0.9:443".into(), "allowed".into(), "1".into()), ("198.18.0.9:443".into(), "refused".into(), "1".into())], "{s}");
    }

    #[test]
    fn quiet_has_no_summary() {
        let mut r = Report::new(RuleNames::default(), true);
        r.records(&[record(40000, 443, RecordState::Begin, None)]);
        assert_eq!(r.summary(), "");
    }
}
