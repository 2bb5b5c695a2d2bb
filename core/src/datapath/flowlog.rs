//! Flow-log records: what the datapath did with each flow, as JSON lines in
//! the spirit of NSG flow logs version 2 (fact sheet §7), one object per line.
//!
//! Records are made at a flow's begin, every 5 minutes while it lives
//! ("continue"), and at its end — never per packet. A denied flow gets a
//! begin record when its first packet is dropped and an end record when its
//! drop entry expires. A flow that was allowed but could not be translated
//! (SNAT ports exhausted, flow table full) gets a single end record with a
//! `reason`.
//!
//! Fields, in order:
//! - `time`: RFC 3339 UTC time of the event (wall-clock base given by the
//!   engine + the datapath's monotonic timestamp), millisecond precision.
//! - `flow`: the NSG v2 tuple `epochSec,src,dst,sport,dport,P,O,A|D,B|C|E,
//!   pktsOut,bytesOut,pktsIn,bytesIn` with P = `T`, `U`, `I` (ICMP, an
//!   extension) or the protocol number; always `O` (outbound); begin rows
//!   have empty counters like NSG v2; counters are totals since the flow
//!   began (of dropped packets for a denied flow).
//! - `rule`: `UserRule_<name>` / `DefaultRule_<name>` for the integration
//!   subnet NSG's rule that decided, null when no NSG applied.
//! - `src`, `dst`, `sport`, `dport`, `proto` (`tcp`/`udp`/`icmp`/number):
//!   the tuple as the app sent it (ICMP echo: `sport` is the identifier).
//! - `decision`: `allow` or `deny`; `state`: `begin`, `continue` or `end`.
//! - `reason`: why the flow ended (`fin`, `rst`, `half_open`, `idle`,
//!   `replaced` by a new SYN on the same tuple, `refused` by the host
//!   target, `snat_exhausted` (NAT gateway: the flow failed), `snat_wait`
//!   (default outbound SNAT: this first packet found no port and was
//!   dropped to wait; each retransmission that still finds none writes
//!   another), `table_full`), null otherwise.
//! - `translated_src`: `ip:port` the world sees, null if denied or failed.
//! - `world`: where packets were delivered (`vnet`, `onprem`, `nva`, `inet`).
//! - `next_hop`, `next_hop_ip`: the effective route's hop (null on path direct).
//! - `path`: `vnet` or `direct`; `snat`: `private`, `nat_gateway`,
//!   `site_outbound`; `blocked_by`, `drop_reason`: why a flow was denied.
//! - `packets_out`, `bytes_out`, `packets_in`, `bytes_in`: the counters.

use std::net::Ipv4Addr;

use serde_json::{json, Value};

use super::table::Count;
use crate::decision::World;
use crate::decision::{Decision, Path, SourceNat};
use crate::flow::{Flow, Proto};
use crate::time::Timestamp;

/// Which moment of a flow a record describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordState {
    Begin,
    Continue,
    End,
}

impl RecordState {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordState::Begin => "begin",
            RecordState::Continue => "continue",
            RecordState::End => "end",
        }
    }
    fn letter(self) -> char {
        match self {
            RecordState::Begin => 'B',
            RecordState::Continue => 'C',
            RecordState::End => 'E',
        }
    }
}

/// One flow-log record (owned: made at begin/end only).
#[derive(Debug, Clone, PartialEq)]
pub struct FlowRecord {
    pub at: Timestamp,
    pub state: RecordState,
    /// The tuple as the app sent it.
    pub flow: Flow,
    pub decision: Decision,
    /// `UserRule_x` / `DefaultRule_x`.
    pub rule: Option<String>,
    pub translated: Option<(Ipv4Addr, u16)>,
    pub world: Option<World>,
    pub out: Count,
    pub inb: Count,
    pub reason: Option<&'static str>,
}

/// NSG default rules (outbound and inbound), which flow logs prefix with `DefaultRule_`.
const DEFAULT_RULES: [&str; 6] =
    ["AllowVnetOutBound", "AllowInternetOutBound", "DenyAllOutBound", "AllowVnetInBound", "AllowAzureLoadBalancerInBound", "DenyAllInBound"];

/// The flow-log name of an NSG rule: `DefaultRule_<name>` for Azure's
/// default rules (compared case-insensitively), else `UserRule_<name>`.
pub fn rule_label(name: &str) -> String {
    if DEFAULT_RULES.iter().any(|d| d.eq_ignore_ascii_case(name)) {
        format!("DefaultRule_{name}")
    } else {
        format!("UserRule_{name}")
    }
}

/// Maps the datapath's monotonic timestamps to wall-clock time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WallClock {
    /// Unix time (ns) at `Timestamp(0)`.
    pub unix_nanos_at_origin: u64,
}

impl WallClock {
    pub fn unix_nanos(self, t: Timestamp) -> u64 {
        self.unix_nanos_at_origin.saturating_add(t.as_nanos())
    }
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` for a Unix time in nanoseconds.
pub fn rfc3339(unix_nanos: u64) -> String {
    let secs = unix_nanos / 1_000_000_000;
    let millis = (unix_nanos / 1_000_000) % 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z", rem / 3600, rem / 60 % 60, rem % 60)
}

/// Gregorian date of a day count since 1970-01-01 (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn proto_name(p: Proto) -> Value {
    match p {
        Proto::Tcp => json!("tcp"),
        Proto::Udp => json!("udp"),
        Proto::Icmp => json!("icmp"),
        Proto::Other(n) => json!(n),
    }
}

fn proto_letter(p: Proto) -> String {
    match p {
        Proto::Tcp => "T".into(),
        Proto::Udp => "U".into(),
        Proto::Icmp => "I".into(),
        Proto::Other(n) => n.to_string(),
    }
}

impl FlowRecord {
    /// The NSG v2 style tuple.
    pub fn tuple(&self, wall: WallClock) -> String {
        let f = &self.flow;
        let epoch = wall.unix_nanos(self.at) / 1_000_000_000;
        let ad = if self.decision.allowed { 'A' } else { 'D' };
        let counters = if self.state == RecordState::Begin {
            ",,,".to_string()
        } else {
            format!("{},{},{},{}", self.out.packets, self.out.bytes, self.inb.packets, self.inb.bytes)
        };
        format!("{epoch},{},{},{},{},{},O,{ad},{},{counters}", f.src, f.dst, f.src_port, f.dst_port, proto_letter(f.proto), self.state.letter())
    }

    /// The record as one JSON object (see the module documentation).
    pub fn to_json(&self, wall: WallClock) -> Value {
        let d = &self.decision;
        json!({
            "time": rfc3339(wall.unix_nanos(self.at)),
            "flow": self.tuple(wall),
            "rule": self.rule,
            "src": self.flow.src.to_string(),
            "dst": self.flow.dst.to_string(),
            "sport": self.flow.src_port,
            "dport": self.flow.dst_port,
            "proto": proto_name(self.flow.proto),
            "decision": if d.allowed { "allow" } else { "deny" },
            "state": self.state.as_str(),
            "reason": self.reason,
            "translated_src": self.translated.map(|(ip, port)| format!("{ip}:{port}")),
            "world": self.world.map(World::name),
            "next_hop": d.next_hop.map(|h| h.as_str()),
            "next_hop_ip": d.next_hop_ip.map(|ip| ip.to_string()),
            "path": match d.path { Path::Vnet => "vnet", Path::Direct => "direct" },
            "snat": match d.snat {
                SourceNat::Private => "private",
                SourceNat::NatGateway => "nat_gateway",
                SourceNat::SiteOutbound => "site_outbound",
            },
            "blocked_by": d.blocked_by.map(|b| b.as_str()),
            "drop_reason": d.drop_reason.map(|r| format!("{r:?}")),
            "packets_out": self.out.packets,
            "bytes_out": self.out.bytes,
            "packets_in": self.inb.packets,
            "bytes_in": self.inb.bytes,
        })
    }

    /// The record as one line of JSON (with the trailing newline).
    pub fn to_json_line(&self, wall: WallClock) -> String {
        let mut s = self.to_json(wall).to_string();
        s.push('\n');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::{AppRouting, BlockedBy, DropReason, NextHopType, World};

    fn record(state: RecordState, allowed: bool) -> FlowRecord {
        FlowRecord {
            at: Timestamp::from_millis(1_500),
            state,
            flow: Flow { proto: Proto::Tcp, src: Ipv4Addr::new(10, 0, 1, 4), src_port: 40000, dst: Ipv4Addr::new(198, 18, 0, 9), dst_port: 443 },
            decision: Decision {
                allowed,
                path: Path::Vnet,
                app_routing: AppRouting::RouteAll,
                route: Some(0),
                next_hop: Some(NextHopType::Internet),
                next_hop_ip: None,
                nsg_rule: Some(1),
                source: Ipv4Addr::new(198, 51, 100, 10),
                snat: SourceNat::NatGateway,
                world: World::Internet,
                blocked_by: (!allowed).then_some(BlockedBy::Nsg),
                drop_reason: (!allowed).then_some(DropReason::NsgDeny),
            },
            rule: Some(rule_label("DenyAllOutBound")),
            translated: allowed.then_some((Ipv4Addr::new(198, 51, 100, 10), 5555)),
            world: allowed.then_some(World::Internet),
            out: Count { packets: 3, bytes: 180 },
            inb: Count { packets: 2, bytes: 120 },
            reason: None,
        }
    }

    #[test]
    fn rule_labels_follow_nsg_flow_logs() {
        assert_eq!(rule_label("denyalloutbound"), "DefaultRule_denyalloutbound");
        assert_eq!(rule_label("AllowInternetOutBound"), "DefaultRule_AllowInternetOutBound");
        assert_eq!(rule_label("deny-smtp"), "UserRule_deny-smtp");
    }

    #[test]
    fn rfc3339_of_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400_000_000_000 + 1_234_000_000), "2000-02-29T00:00:01.234Z");
        assert_eq!(rfc3339(1_735_689_599_999_000_000), "2024-12-31T23:59:59.999Z");
    }

    #[test]
    fn tuple_and_json_fields() {
        let wall = WallClock { unix_nanos_at_origin: 1_700_000_000_000_000_000 };
        let b = record(RecordState::Begin, true);
        assert_eq!(b.tuple(wall), "1700000001,10.0.1.4,198.18.0.9,40000,443,T,O,A,B,,,,");
        let e = record(RecordState::End, false);
        assert_eq!(e.tuple(wall), "1700000001,10.0.1.4,198.18.0.9,40000,443,T,O,D,E,3,180,2,120");
        let v = e.to_json(wall);
        assert_eq!(v["time"], "2023-11-14T22:13:21.500Z");
        assert_eq!(v["rule"], "DefaultRule_DenyAllOutBound");
        assert_eq!(v["decision"], "deny");
        assert_eq!(v["state"], "end");
        assert_eq!(v["translated_src"], Value::Null);
        assert_eq!(v["blocked_by"], "nsg");
        let v = b.to_json(wall);
        assert_eq!(v["translated_src"], "198.51.100.10:5555");
        assert_eq!(v["world"], "inet");
        assert_eq!(v["next_hop"], "Internet");
        assert_eq!(v["path"], "vnet");
        assert_eq!(v["snat"], "nat_gateway");
        assert!(b.to_json_line(wall).ends_with("}\n"));
    }
}
