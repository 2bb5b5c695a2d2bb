//! The unified flow table: Azure's host switch (VFP) decides a flow once, on
//! its first packet, and caches the composed result as one header rewrite;
//! every later packet costs a hash lookup. Here too.
//!
//! - Key: the 5-tuple as the app sent it (`policy::Flow`; ICMP echo uses the
//!   identifier as source port, see `packet`).
//! - Second index: the translated tuple as the world sends it back (reverse
//!   direction), so return traffic finds its flow and passes whatever the
//!   NSG rules say (NSGs are stateful).
//! - Entry: the cached action (forward to a world with a source rewrite, or
//!   drop), the policy decision (for the flow log), TCP state, counters, and
//!   created/last-seen timestamps.
//! - Timeouts are computed from timestamps passed in, never a clock:
//!   TCP half-open 30 s, established idle = the NAT gateway's
//!   idleTimeoutInMinutes (else 4 min), closed (FIN both ways or RST) lingers
//!   10 s so the last ACK and retransmitted FINs still pass; UDP 4 min (fixed
//!   on NAT gateway), ICMP echo 60 s, other protocols 4 min; a denied flow's
//!   drop entry lives 30 s after its last packet (long enough to absorb SYN
//!   and query retransmissions).
//! - Bounded: at `max_flows` entries new flows are refused, never grown.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::net::Ipv4Addr;

use super::nat::Release;
use super::packet::TcpFlags;
use crate::decision::{Decision, SourceNat, World};
use crate::flow::{Flow, Proto};
use crate::time::Timestamp;

/// TCP half-open (SYN without answer) timeout.
pub const TCP_HALF_OPEN_SECS: u64 = 30;
/// TCP established idle timeout without a NAT gateway (and its default).
pub const TCP_IDLE_DEFAULT_SECS: u64 = 4 * 60;
/// How long a closed TCP flow stays to carry the last ACK / FIN retransmits.
pub const CLOSED_LINGER_SECS: u64 = 10;
/// UDP idle timeout (NAT gateway: fixed 4 minutes).
pub const UDP_IDLE_SECS: u64 = 4 * 60;
/// ICMP echo idle timeout.
pub const ICMP_IDLE_SECS: u64 = 60;
/// Idle lifetime of a denied flow's drop entry.
pub const DENIED_IDLE_SECS: u64 = 30;

/// What every later packet of the flow gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Rewrite the source to (`src`, `src_port`) and deliver to `world`.
    Forward { world: World, src: Ipv4Addr, src_port: u16 },
    /// Drop (a denied flow).
    Drop,
}

/// Where a flow is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowState {
    /// TCP: the app's SYN was sent, no SYN-ACK yet.
    SynSent,
    /// TCP: the world answered the SYN.
    Established,
    /// TCP: one side sent FIN.
    Closing { fin_out: bool, fin_in: bool },
    /// TCP: FIN both ways or RST; removed after a short linger.
    Closed { at: Timestamp, by: Release },
    /// UDP, ICMP echo or another protocol: alive while packets flow.
    Open,
    /// A denied flow's drop entry.
    Denied,
}

/// Which way a packet goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// From the app towards a world.
    Out,
    /// From a world back to the app.
    In,
}

/// Packets and bytes in one direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Count {
    pub packets: u64,
    pub bytes: u64,
}

/// One flow.
#[derive(Debug, Clone)]
pub struct FlowEntry {
    /// The tuple as the app sent it.
    pub key: Flow,
    pub action: Action,
    pub decision: Decision,
    pub state: FlowState,
    pub out: Count,
    pub inb: Count,
    pub created: Timestamp,
    pub last_seen: Timestamp,
    /// Established TCP idle timeout for this flow.
    pub tcp_idle_secs: u64,
    /// When the next periodic ("continue") log record is due.
    pub next_report: Timestamp,
    /// `connect_first`: the first SYN is held while the caller connects;
    /// nothing of the flow reaches the world until it reports success.
    pub connecting: bool,
}

impl FlowEntry {
    /// A new entry for `key`'s first packet at `now`.
    pub fn new(key: Flow, action: Action, decision: Decision, tcp_idle_secs: u64, now: Timestamp) -> FlowEntry {
        let state = match (action, key.proto) {
            (Action::Drop, _) => FlowState::Denied,
            (_, Proto::Tcp) => FlowState::SynSent,
            _ => FlowState::Open,
        };
        FlowEntry {
            key,
            action,
            decision,
            state,
            out: Count::default(),
            inb: Count::default(),
            created: now,
            last_seen: now,
            tcp_idle_secs,
            next_report: now,
            connecting: false,
        }
    }

    /// The tuple replies carry as they arrive from the world, for a forwarded flow.
    pub fn reply_key(&self) -> Option<Flow> {
        match self.action {
            Action::Forward { src, src_port, .. } => {
                Some(Flow { proto: self.key.proto, src: self.key.dst, src_port: self.key.dst_port, dst: src, dst_port: src_port })
            }
            Action::Drop => None,
        }
    }

    /// The source NAT applied (the decision's).
    pub fn snat(&self) -> SourceNat {
        self.decision.snat
    }

    /// Accounts a packet of `len` bytes (standing for `segments` wire
    /// packets, see `Packet::segments`) and advances the TCP state.
    pub fn on_packet(&mut self, dir: Dir, len: usize, segments: u32, tcp: Option<TcpFlags>, now: Timestamp) {
        let c = if dir == Dir::Out { &mut self.out } else { &mut self.inb };
        c.packets += u64::from(segments);
        c.bytes += len as u64;
        self.last_seen = now;
        let Some(flags) = tcp else { return };
        if matches!(self.state, FlowState::Closed { .. } | FlowState::Denied) {
            return;
        }
        if flags.rst() {
            self.state = FlowState::Closed { at: now, by: Release::Rst };
            return;
        }
        if dir == Dir::In && self.state == FlowState::SynSent && flags.syn() && flags.ack() {
            self.state = FlowState::Established;
        }
        if flags.fin() {
            let (mut fin_out, mut fin_in) = match self.state {
                FlowState::Closing { fin_out, fin_in } => (fin_out, fin_in),
                _ => (false, false),
            };
            if dir == Dir::Out {
                fin_out = true;
            } else {
                fin_in = true;
            }
            self.state = if fin_out && fin_in { FlowState::Closed { at: now, by: Release::Fin } } else { FlowState::Closing { fin_out, fin_in } };
        }
    }

    /// When this entry expires if no packet comes, and how its port is released.
    pub fn expiry(&self) -> (Timestamp, Release) {
        let idle = |secs| self.last_seen.saturating_add_secs(secs);
        match self.state {
            FlowState::SynSent => (idle(TCP_HALF_OPEN_SECS), Release::HalfOpen),
            FlowState::Established | FlowState::Closing { .. } => (idle(self.tcp_idle_secs), Release::TcpIdle),
            FlowState::Closed { at, by } => (at.saturating_add_secs(CLOSED_LINGER_SECS), by),
            FlowState::Denied => (idle(DENIED_IDLE_SECS), Release::Udp),
            FlowState::Open => match self.key.proto {
                Proto::Icmp => (idle(ICMP_IDLE_SECS), Release::Udp),
                _ => (idle(UDP_IDLE_SECS), Release::Udp),
            },
        }
    }

    /// The time the flow ended, for the port cooldown: the close for a
    /// closed TCP flow, else the expiry.
    pub fn ended_at(&self) -> Timestamp {
        match self.state {
            FlowState::Closed { at, .. } => at,
            _ => self.expiry().0,
        }
    }

    pub fn is_closed(&self) -> bool {
        matches!(self.state, FlowState::Closed { .. })
    }
}

/// A fast, non-cryptographic hasher for tuples (FxHash's mixing). Flow keys
/// are chosen by the app and the worlds of one emulated site, not by an
/// adversary, and the table is bounded.
#[derive(Default, Clone, Copy)]
pub struct TupleHasher(u64);

impl Hasher for TupleHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(w));
        }
    }
    fn write_u8(&mut self, v: u8) {
        self.write_u64(u64::from(v));
    }
    fn write_u16(&mut self, v: u16) {
        self.write_u64(u64::from(v));
    }
    fn write_u32(&mut self, v: u32) {
        self.write_u64(u64::from(v));
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    fn write_usize(&mut self, v: usize) {
        self.write_u64(v as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

type TupleMap = HashMap<Flow, u32, BuildHasherDefault<TupleHasher>>;

/// Index of an entry in the table (valid until it is removed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlowId(u32);

/// Why an entry could not be added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsertError {
    /// The table holds `max_flows` entries.
    Full,
    /// The app tuple or the reply tuple is already taken.
    Conflict,
}

/// The flow table.
#[derive(Debug)]
pub struct FlowTable {
    slots: Vec<Option<FlowEntry>>,
    free: Vec<u32>,
    by_app: TupleMap,
    by_world: TupleMap,
    max_flows: usize,
}

impl FlowTable {
    pub fn new(max_flows: usize) -> FlowTable {
        let reserve = max_flows.min(1 << 16);
        FlowTable {
            slots: Vec::with_capacity(reserve),
            free: Vec::new(),
            by_app: TupleMap::with_capacity_and_hasher(reserve, Default::default()),
            by_world: TupleMap::with_capacity_and_hasher(reserve, Default::default()),
            max_flows,
        }
    }

    pub fn len(&self) -> usize {
        self.by_app.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_app.is_empty()
    }

    /// The flow the app's packet with tuple `key` belongs to.
    pub fn lookup_app(&self, key: &Flow) -> Option<FlowId> {
        self.by_app.get(key).map(|&i| FlowId(i))
    }

    /// The flow a world's packet with tuple `key` (as received) answers.
    pub fn lookup_world(&self, key: &Flow) -> Option<FlowId> {
        self.by_world.get(key).map(|&i| FlowId(i))
    }

    pub fn get(&self, id: FlowId) -> Option<&FlowEntry> {
        self.slots.get(id.0 as usize)?.as_ref()
    }

    pub fn get_mut(&mut self, id: FlowId) -> Option<&mut FlowEntry> {
        self.slots.get_mut(id.0 as usize)?.as_mut()
    }

    /// Adds an entry (indexed by its app tuple and, if forwarded, its reply tuple).
    pub fn insert(&mut self, entry: FlowEntry) -> Result<FlowId, InsertError> {
        if self.by_app.len() >= self.max_flows {
            return Err(InsertError::Full);
        }
        let reply = entry.reply_key();
        if self.by_app.contains_key(&entry.key) || reply.is_some_and(|r| self.by_world.contains_key(&r)) {
            return Err(InsertError::Conflict);
        }
        let key = entry.key;
        let idx = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = Some(entry);
                i
            }
            None => {
                self.slots.push(Some(entry));
                (self.slots.len() - 1) as u32
            }
        };
        self.by_app.insert(key, idx);
        if let Some(r) = reply {
            self.by_world.insert(r, idx);
        }
        Ok(FlowId(idx))
    }

    /// Removes an entry and returns it.
    pub fn remove(&mut self, id: FlowId) -> Option<FlowEntry> {
        let entry = self.slots.get_mut(id.0 as usize)?.take()?;
        self.by_app.remove(&entry.key);
        if let Some(r) = entry.reply_key() {
            self.by_world.remove(&r);
        }
        self.free.push(id.0);
        Some(entry)
    }

    /// Appends to `out` the entries whose expiry is at or before `now`.
    pub fn expired(&self, now: Timestamp, out: &mut Vec<FlowId>) {
        for (i, slot) in self.slots.iter().enumerate() {
            if let Some(e) = slot {
                if e.expiry().0 <= now {
                    out.push(FlowId(i as u32));
                }
            }
        }
    }

    /// All live entries with their ids.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (FlowId, &mut FlowEntry)> {
        self.slots.iter_mut().enumerate().filter_map(|(i, s)| s.as_mut().map(|e| (FlowId(i as u32), e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::{AppRouting, Path, World};

    fn decision() -> Decision {
        Decision {
            allowed: true,
            path: Path::Vnet,
            app_routing: AppRouting::RouteAll,
            route: None,
            next_hop: None,
            next_hop_ip: None,
            nsg_rule: None,
            source: Ipv4Addr::new(198, 51, 100, 10),
            snat: SourceNat::NatGateway,
            world: World::Internet,
            blocked_by: None,
            drop_reason: None,
        }
    }

    fn key(proto: Proto, sport: u16) -> Flow {
        Flow { proto, src: Ipv4Addr::new(10, 0, 1, 4), src_port: sport, dst: Ipv4Addr::new(198, 18, 0, 9), dst_port: 443 }
    }

    fn fwd(port: u16) -> Action {
        Action::Forward { world: World::Internet, src: Ipv4Addr::new(198, 51, 100, 10), src_port: port }
    }

    const SYN: Option<TcpFlags> = Some(TcpFlags(TcpFlags::SYN));
    const SYN_ACK: Option<TcpFlags> = Some(TcpFlags(TcpFlags::SYN | TcpFlags::ACK));
    const ACK: Option<TcpFlags> = Some(TcpFlags(TcpFlags::ACK));
    const FIN: Option<TcpFlags> = Some(TcpFlags(TcpFlags::FIN | TcpFlags::ACK));
    const RST: Option<TcpFlags> = Some(TcpFlags(TcpFlags::RST));

    fn at(s: u64) -> Timestamp {
        Timestamp::from_secs(s)
    }

    #[test]
    fn reply_tuple_finds_the_flow() {
        let mut t = FlowTable::new(10);
        let id = t.insert(FlowEntry::new(key(Proto::Tcp, 40000), fwd(5555), decision(), 240, at(0))).unwrap();
        let reply = Flow { proto: Proto::Tcp, src: Ipv4Addr::new(198, 18, 0, 9), src_port: 443, dst: Ipv4Addr::new(198, 51, 100, 10), dst_port: 5555 };
        assert_eq!(t.lookup_world(&reply), Some(id));
        assert_eq!(t.lookup_world(&Flow { dst_port: 5556, ..reply }), None);
        assert_eq!(t.lookup_app(&key(Proto::Tcp, 40000)), Some(id));
        t.remove(id);
        assert_eq!(t.lookup_world(&reply), None);
        assert!(t.is_empty());
    }

    #[test]
    fn table_is_bounded_and_rejects_conflicts() {
        let mut t = FlowTable::new(2);
        t.insert(FlowEntry::new(key(Proto::Udp, 1), fwd(1), decision(), 240, at(0))).unwrap();
        assert_eq!(t.insert(FlowEntry::new(key(Proto::Udp, 2), fwd(1), decision(), 240, at(0))).err(), Some(InsertError::Conflict));
        t.insert(FlowEntry::new(key(Proto::Udp, 2), fwd(2), decision(), 240, at(0))).unwrap();
        assert_eq!(t.insert(FlowEntry::new(key(Proto::Udp, 3), fwd(3), decision(), 240, at(0))).err(), Some(InsertError::Full));
    }

    #[test]
    fn tcp_state_machine_and_timeouts() {
        let mut e = FlowEntry::new(key(Proto::Tcp, 1), fwd(1), decision(), 600, at(0));
        e.on_packet(Dir::Out, 60, 1, SYN, at(0));
        assert_eq!(e.expiry(), (at(30), Release::HalfOpen));
        e.on_packet(Dir::In, 60, 1, SYN_ACK, at(1));
        assert_eq!(e.state, FlowState::Established);
        e.on_packet(Dir::Out, 52, 1, ACK, at(2));
        assert_eq!(e.expiry(), (at(602), Release::TcpIdle));
        e.on_packet(Dir::Out, 52, 1, FIN, at(10));
        assert_eq!(e.state, FlowState::Closing { fin_out: true, fin_in: false });
        e.on_packet(Dir::In, 52, 1, FIN, at(11));
        assert_eq!(e.state, FlowState::Closed { at: at(11), by: Release::Fin });
        e.on_packet(Dir::Out, 52, 1, ACK, at(12));
        assert_eq!(e.expiry(), (at(11 + CLOSED_LINGER_SECS), Release::Fin));
        assert_eq!(e.ended_at(), at(11));
        assert_eq!((e.out.packets, e.out.bytes, e.inb.packets, e.inb.bytes), (4, 216, 2, 112));
    }

    #[test]
    fn rst_closes_at_once_and_syn_ack_is_needed_to_establish() {
        let mut e = FlowEntry::new(key(Proto::Tcp, 1), fwd(1), decision(), 240, at(0));
        e.on_packet(Dir::In, 40, 1, ACK, at(1));
        assert_eq!(e.state, FlowState::SynSent);
        e.on_packet(Dir::In, 40, 1, RST, at(2));
        assert_eq!(e.expiry(), (at(2 + CLOSED_LINGER_SECS), Release::Rst));
    }

    #[test]
    fn udp_icmp_and_denied_idle_timeouts() {
        let mut u = FlowEntry::new(key(Proto::Udp, 1), fwd(1), decision(), 240, at(0));
        u.on_packet(Dir::In, 100, 1, None, at(100));
        assert_eq!(u.expiry(), (at(340), Release::Udp));
        let i = FlowEntry::new(key(Proto::Icmp, 1), fwd(1), decision(), 240, at(5));
        assert_eq!(i.expiry().0, at(65));
        let d = FlowEntry::new(key(Proto::Tcp, 1), Action::Drop, decision(), 240, at(5));
        assert_eq!((d.state, d.expiry().0, d.reply_key()), (FlowState::Denied, at(35), None));
    }

    #[test]
    fn expired_lists_only_due_entries() {
        let mut t = FlowTable::new(10);
        let a = t.insert(FlowEntry::new(key(Proto::Udp, 1), fwd(1), decision(), 240, at(0))).unwrap();
        let b = t.insert(FlowEntry::new(key(Proto::Icmp, 1), fwd(1), decision(), 240, at(0))).unwrap();
        let mut out = Vec::new();
        t.expired(at(59), &mut out);
        assert!(out.is_empty());
        t.expired(at(60), &mut out);
        assert_eq!(out, vec![b]);
        out.clear();
        t.expired(at(240), &mut out);
        assert_eq!(out, vec![a, b]);
    }
}
