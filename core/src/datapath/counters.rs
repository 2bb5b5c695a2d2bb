//! What the datapath counts: packets and bytes each way, flows, replies,
//! and drops by cause, with the balance check (`unaccounted`) and the JSON
//! that `vnetlab up --stats` prints.

use super::table::Count;
use super::verdict::DropCause;

/// Everything the datapath counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    /// Packets read from the app's device.
    pub from_app: Count,
    /// Packets read from the worlds' devices.
    pub from_world: Count,
    /// Packets delivered to worlds.
    pub to_world: Count,
    /// Packets delivered to the app (return traffic and replies).
    pub to_app: Count,
    /// Packets of platform flows handed to the platform's endpoints
    /// (`Verdict::ToPlatform`), and the packets they sent back.
    pub to_platform: Count,
    pub from_platform: Count,
    /// TCP RSTs and ICMP unreachables written (`reject`).
    pub rejects: u64,
    /// DNS responses written (answers and FORMERR/NOTIMP).
    pub dns_responses: u64,
    /// DNS queries answered with FORMERR/NOTIMP.
    pub dns_errors: u64,
    /// DNS queries handed to the upstream resolver (`Verdict::DnsUpstream`),
    /// and the upstream answers written to the app (also in `to_app`).
    pub dns_upstream: u64,
    pub dns_upstream_answers: u64,
    /// Allowed flows installed.
    pub flows_created: u64,
    /// Denied flows installed as drop entries.
    pub flows_denied: u64,
    /// Flows removed (expired, closed, replaced).
    pub flows_ended: u64,
    /// Flow-log records lost because nobody drained them.
    pub records_lost: u64,
    /// Packets the engine could not write to their device (full queue, device gone).
    pub write_errors: u64,
    /// Packets that were TSO segments (several wire packets each, counted
    /// as such above): non-zero only with TUN offloads.
    pub tso_segments: u64,
    /// `connect_first`: first SYNs held for the caller to connect, and how
    /// those connects ended (refused ones answered with an RST).
    pub connects: u64,
    pub connects_refused: u64,
    pub connects_timed_out: u64,
    /// Default outbound SNAT: first packets of new flows that found every
    /// port towards their destination taken and were dropped to wait (each
    /// retransmitted SYN that still finds none counts again).
    pub snat_waits: u64,
    drops: [u64; DropCause::ALL.len()],
}

impl Counters {
    pub fn drops(&self, cause: DropCause) -> u64 {
        self.drops[cause as usize]
    }
    pub(super) fn count_drop(&mut self, cause: DropCause) {
        self.drops[cause as usize] += 1;
    }
    pub fn total_drops(&self) -> u64 {
        self.drops.iter().sum()
    }

    /// Packets read but neither delivered, answered nor dropped; 0 unless a
    /// path forgot to count. Each packet read ends in exactly one of: a
    /// world, the platform's endpoints, the app, a drop (a reject is a drop
    /// plus a reply), or a DNS answer; unparsable packets count only as drops. A held SYN counts
    /// as delivered to its world when it is read (`connect_first`); a
    /// refused connect's RST as a packet to the app and a reject.
    pub fn unaccounted(&self) -> i64 {
        let unparsed: u64 = [DropCause::Malformed, DropCause::Fragment, DropCause::NotIpv4].map(|c| self.drops(c)).iter().sum();
        let read = self.from_app.packets + self.from_world.packets + self.from_platform.packets + unparsed;
        // Rejects and upstream DNS answers are written without a packet read
        // for each; a query handed upstream is settled when handed.
        let settled = self.to_world.packets + self.to_platform.packets + self.to_app.packets - self.rejects - self.dns_upstream_answers
            + self.dns_upstream
            + self.total_drops();
        read as i64 - settled as i64
    }

    /// The counters as JSON (`vnetlab up --stats`), drops keyed by cause name.
    pub fn to_json(&self) -> serde_json::Value {
        let count = |c: &Count| serde_json::json!({ "packets": c.packets, "bytes": c.bytes });
        let drops: serde_json::Map<String, serde_json::Value> = DropCause::ALL.iter().map(|&c| (c.name().to_string(), self.drops(c).into())).collect();
        serde_json::json!({
            "from_app": count(&self.from_app),
            "from_world": count(&self.from_world),
            "to_world": count(&self.to_world),
            "to_app": count(&self.to_app),
            "to_platform": count(&self.to_platform),
            "from_platform": count(&self.from_platform),
            "rejects": self.rejects,
            "dns_responses": self.dns_responses,
            "dns_errors": self.dns_errors,
            "dns_upstream": self.dns_upstream,
            "dns_upstream_answers": self.dns_upstream_answers,
            "flows_created": self.flows_created,
            "flows_denied": self.flows_denied,
            "flows_ended": self.flows_ended,
            "records_lost": self.records_lost,
            "write_errors": self.write_errors,
            "tso_segments": self.tso_segments,
            "connects": self.connects,
            "connects_refused": self.connects_refused,
            "connects_timed_out": self.connects_timed_out,
            "snat_waits": self.snat_waits,
            "drops": drops,
            "unaccounted": self.unaccounted(),
        })
    }
}
