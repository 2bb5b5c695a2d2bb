//! The live datapath: one packet's whole path, top to bottom. A pure state
//! machine (bytes and a timestamp in, a `Verdict` out, like boringtun's
//! `Tunn`); the engine wraps it with TUN devices.
//!
//! From the app:
//! 1. parse (malformed, fragments, non-IPv4: dropped and counted);
//! 2. fast path: the flow table knows the tuple: apply the cached rewrite
//!    (or drop) and update state and counters;
//! 3. slow path, first packet only: a TCP segment that is not a SYN has no
//!    flow (Azure's NAT answers unknown flows with RST: dropped, or RST with
//!    `reject`); otherwise `policy.decide`: denied -> a drop entry (later
//!    packets drop fast) and a deny record, with `reject` a TCP RST or ICMP
//!    unreachable (administratively prohibited); platform addresses -> DNS
//!    over UDP to 168.63.129.16:53 is answered here (no flow entry), other
//!    IP protocols are dropped, and TCP, UDP and ICMP echo get a flow entry
//!    (private source, no translation) and go out as `Verdict::ToPlatform`
//!    to the caller's platform endpoints (`crate::platform`), whose answers
//!    come back through `from_platform`; allowed -> a SNAT port per `Decision::snat` (NAT gateway:
//!    the gateway's addresses, first to last; site outbound: the first
//!    outbound address; private: the source port is kept), a flow entry and
//!    a begin record. No port free: a NAT gateway fails the new flow
//!    (`SnatExhausted`); default outbound SNAT makes it wait (fact sheet
//!    13.3): the first packet is dropped without a flow entry
//!    (`SnatWait`, counted in `snat_waits`, an end record with reason
//!    `snat_wait`), so the app's own retransmitted SYN asks again and goes
//!    through once a port has cooled down — dropping rather than holding
//!    keeps no state per waiting flow and lets the app's SYN timeout bound
//!    the wait, as on Azure;
//! 4. rewrite the source, deliver to the decision's world. With
//!    `connect_first` (`vnetlab run`) a new TCP flow's translated SYN is
//!    handed to the caller instead (`Verdict::Connect`), which connects to
//!    the real destination first and reports with `connect_result`:
//!    connected releases the SYN, refused answers the app with an RST, a
//!    timeout leaves the app to its own SYN timeout (as on Azure, where a
//!    blocked connect hangs). Retransmitted SYNs meanwhile are dropped.
//!
//! From a world: the reply index finds the flow (else drop: NSGs are
//! stateful for return traffic, but nothing enters unasked), the destination
//! is restored to the app's tuple. ICMP errors are matched through the header
//! they quote, and both the outer destination and the quoted source restored;
//! errors the app sends about packets it received go out the same way
//! mirrored (outer source and quoted destination translated).
//!
//! `tick` expires flows (releasing their ports into cooldown) and writes
//! periodic and end records. Nothing on the per-packet path allocates.

mod counters;
pub mod dnswire;
pub mod flowlog;
pub mod nat;
pub mod packet;
pub mod table;
mod verdict;

pub use counters::Counters;
pub use verdict::{ConnectOutcome, DatapathOptions, DropCause, PolicyView, Verdict};

use crate::decision::{Decision, SourceNat, World, AZURE_DNS};
use crate::flow::{Flow, Proto};
use crate::policy::Policy;
use crate::time::Timestamp;
use flowlog::{FlowRecord, RecordState};
use nat::{Destination, Release, SnatPool};
use packet::{End, Offload, Packet, Transport, ICMP_CODE_ADMIN_PROHIBITED};
use table::{Action, Count, Dir, FlowEntry, FlowId, FlowState, FlowTable, InsertError, TCP_IDLE_DEFAULT_SECS};

/// How often a living flow gets a "continue" record (NSG flow logs: 5 min).
pub const CONTINUE_RECORD_SECS: u64 = 300;
/// Pending flow-log records kept when nobody drains them; more are counted and lost.
pub const MAX_PENDING_RECORDS: usize = 1 << 16;

/// The datapath of one emulated site.
pub struct Datapath<P: PolicyView = Policy> {
    policy: P,
    opts: DatapathOptions,
    flows: FlowTable,
    nat_gateway: Option<SnatPool>,
    site_outbound: Option<SnatPool>,
    /// Established TCP idle timeout of NAT gateway flows.
    nat_tcp_idle_secs: u64,
    counters: Counters,
    log: Vec<FlowRecord>,
    /// Reused by `tick`.
    expired: Vec<FlowId>,
}

impl<P: PolicyView> Datapath<P> {
    pub fn new(policy: P, opts: DatapathOptions) -> Datapath<P> {
        let nat_gateway = policy.nat_gateway().map(|n| SnatPool::nat_gateway(n.snat_order(), opts.seed));
        // idleTimeoutInMinutes is 4..=120.
        let nat_tcp_idle_secs = policy.nat_gateway().map_or(TCP_IDLE_DEFAULT_SECS, |n| u64::from(n.idle_timeout_minutes.clamp(4, 120)) * 60);
        let site_outbound = policy.outbound_ips().first().map(|&ip| SnatPool::site_outbound(ip, opts.seed ^ 0x5157));
        Datapath {
            policy,
            opts,
            flows: FlowTable::new(opts.max_flows),
            nat_gateway,
            site_outbound,
            nat_tcp_idle_secs,
            counters: Counters::default(),
            log: Vec::new(),
            expired: Vec::new(),
        }
    }

    pub fn policy(&self) -> &P {
        &self.policy
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Called by the engine when a verdict's packet could not be written.
    pub fn count_write_error(&mut self) {
        self.counters.write_errors += 1;
    }

    /// Live flow entries (allowed and denied).
    pub fn active_flows(&self) -> usize {
        self.flows.len()
    }

    /// Moves the flow-log records made since the last call into `out`.
    pub fn drain_log(&mut self, out: &mut Vec<FlowRecord>) {
        out.append(&mut self.log);
    }

    fn drop(&mut self, cause: DropCause) -> Verdict {
        self.counters.count_drop(cause);
        Verdict::Drop(cause)
    }

    // -----------------------------------------------------------------------
    // From the app

    /// A packet the app sent, with what its device said about it (`off`:
    /// partial checksum, TSO). `reply` receives RSTs, ICMP errors and DNS
    /// answers (1500 bytes are enough); they are always plain packets.
    pub fn from_app(&mut self, pkt: &mut [u8], off: Offload, now: Timestamp, reply: &mut [u8]) -> Verdict {
        let mut p = match packet::parse(pkt) {
            Ok(p) => p.with_offload(off),
            Err(e) => return self.drop(DropCause::of(e)),
        };
        add(&mut self.counters.from_app, p.segments, p.len);
        self.counters.tso_segments += u64::from(p.segments > 1);
        match p.transport {
            Transport::IcmpEcho { request: true } => {}
            Transport::IcmpEcho { request: false } => return self.drop(DropCause::NoFlowFromApp),
            Transport::IcmpError { quote, .. } => return self.error_out(pkt, &mut p, quote),
            Transport::IcmpOther { .. } => return self.drop(DropCause::Unsupported),
            _ => {}
        }
        let key = Flow { proto: p.proto, src: p.src, src_port: p.src_port, dst: p.dst, dst_port: p.dst_port };

        // Fast path.
        if let Some(id) = self.flows.lookup_app(&key) {
            let closed = self.flows.get(id).is_some_and(FlowEntry::is_closed);
            if !(closed && p.is_tcp_syn()) {
                return self.forward_out(id, pkt, &mut p, now, reply);
            }
            // The app reuses the tuple of a closed flow: start afresh.
            self.end_flow(id, now, Some("replaced"));
        }

        // Slow path.
        if p.proto == Proto::Tcp && !p.is_tcp_syn() {
            return self.reject_or_drop(DropCause::NoFlowFromApp, pkt, &p, reply);
        }
        let asked = match p.proto {
            Proto::Icmp => Flow { src_port: 0, dst_port: 0, ..key },
            _ => key,
        };
        let decision = self.policy.decide(&asked);
        if !decision.allowed {
            return self.deny(key, decision, pkt, &mut p, now, reply);
        }
        if decision.world == World::Platform {
            if p.proto == Proto::Udp && p.dst == AZURE_DNS && p.dst_port == 53 {
                return self.answer_dns(pkt, &p, reply);
            }
            if let Proto::Other(_) = p.proto {
                return self.drop(DropCause::Platform);
            }
            // The platform host's endpoints answer (the caller's `Platform`):
            // a flow entry like any allowed flow, so the counters and the
            // flow log see it, and its packets go out as `ToPlatform`.
        }
        match self.install(key, decision, now) {
            Ok(id) => {
                let v = self.forward_out(id, pkt, &mut p, now, reply);
                let Verdict::ToWorld(world) = v else { return v };
                if !(self.opts.connect_first && p.proto == Proto::Tcp) {
                    return v;
                }
                if let Some(e) = self.flows.get_mut(id) {
                    e.connecting = true;
                }
                self.counters.connects += 1;
                Verdict::Connect { flow: key, world }
            }
            Err(cause) => self.drop(cause),
        }
    }

    /// The caller's connect for `flow` (from `Verdict::Connect`) ended.
    /// `held` is the translated SYN it kept (without any device header).
    /// Connected: `ToWorld(world)`, write `held` there. Refused: an RST to
    /// the app in `reply` (`ReplyToApp`) and the flow ends (`refused`).
    /// Timed out: `Drop(Connecting)`, the flow stays half-open and expires.
    /// A flow that is gone or not connecting: `Drop(NoFlowFromApp)`.
    pub fn connect_result(&mut self, flow: &Flow, outcome: ConnectOutcome, held: &[u8], now: Timestamp, reply: &mut [u8]) -> Verdict {
        let Some(id) = self.flows.lookup_app(flow) else { return Verdict::Drop(DropCause::NoFlowFromApp) };
        let Some(e) = self.flows.get_mut(id) else { return Verdict::Drop(DropCause::NoFlowFromApp) };
        let Action::Forward { world, .. } = e.action else { return Verdict::Drop(DropCause::NoFlowFromApp) };
        if !e.connecting {
            return Verdict::Drop(DropCause::NoFlowFromApp);
        }
        match outcome {
            ConnectOutcome::Connected => {
                e.connecting = false;
                Verdict::ToWorld(world)
            }
            ConnectOutcome::TimedOut => {
                self.counters.connects_timed_out += 1;
                Verdict::Drop(DropCause::Connecting)
            }
            ConnectOutcome::Refused => {
                e.state = FlowState::Closed { at: now, by: Release::Rst };
                self.counters.connects_refused += 1;
                // The RST answers the app's own SYN: the held one with the
                // app's source put back.
                let len = packet::parse(held).ok().and_then(|mut p| {
                    (p.src, p.src_port) = (flow.src, flow.src_port);
                    packet::build_tcp_rst(&p, reply)
                });
                self.end_flow(id, now, Some("refused"));
                match len {
                    Some(len) => {
                        // Balances the held SYN, counted as delivered when read.
                        self.counters.rejects += 1;
                        add(&mut self.counters.to_app, 1, len);
                        Verdict::ReplyToApp { len }
                    }
                    None => Verdict::Drop(DropCause::Malformed),
                }
            }
        }
    }

    /// An ICMP error the app's stack sent about a packet it received (say,
    /// port unreachable for a UDP reply to a closed socket). The quoted
    /// packet came from the world, so reversed it is the flow's own tuple:
    /// the error goes to that flow's world with the outer source and the
    /// quoted destination translated, like the flow's packets. Errors about
    /// nothing the engine carried are dropped.
    fn error_out(&mut self, pkt: &mut [u8], p: &mut Packet, q: packet::Quote) -> Verdict {
        let key = Flow { proto: q.proto, src: q.dst, src_port: q.dst_port, dst: q.src, dst_port: q.src_port };
        let Some(e) = self.flows.lookup_app(&key).and_then(|id| self.flows.get_mut(id)) else {
            return self.drop(DropCause::NoFlowFromApp);
        };
        let Action::Forward { world, src, src_port } = e.action else { return self.drop(DropCause::Denied) };
        if world == World::Platform {
            // The platform's endpoints take no ICMP errors.
            return self.drop(DropCause::Platform);
        }
        // Errors count as traffic but neither refresh nor change state.
        add(&mut e.out, p.segments, p.len);
        packet::rewrite_quote(pkt, p, End::Dst, src, src_port);
        packet::rewrite(pkt, p, End::Src, src, 0);
        add(&mut self.counters.to_world, p.segments, p.len);
        Verdict::ToWorld(world)
    }

    /// The cached action for a known flow.
    fn forward_out(&mut self, id: FlowId, pkt: &mut [u8], p: &mut Packet, now: Timestamp, reply: &mut [u8]) -> Verdict {
        let Some(e) = self.flows.get_mut(id) else { return self.drop(DropCause::NoFlowFromApp) };
        if e.connecting {
            // The first SYN is held by the caller; retransmissions wait too.
            return self.drop(DropCause::Connecting);
        }
        e.on_packet(Dir::Out, p.len, p.segments, p.tcp_flags(), now);
        match e.action {
            Action::Forward { world: World::Platform, .. } => {
                // Private source, port kept: nothing to rewrite.
                add(&mut self.counters.to_platform, p.segments, p.len);
                Verdict::ToPlatform
            }
            Action::Forward { world, src, src_port } => {
                packet::rewrite(pkt, p, End::Src, src, src_port);
                add(&mut self.counters.to_world, p.segments, p.len);
                Verdict::ToWorld(world)
            }
            Action::Drop => self.reject_or_drop(DropCause::Denied, pkt, p, reply),
        }
    }

    /// A denied first packet: a drop entry, a begin record, then the drop.
    fn deny(&mut self, key: Flow, d: Decision, pkt: &mut [u8], p: &mut Packet, now: Timestamp, reply: &mut [u8]) -> Verdict {
        let entry = FlowEntry::new(key, Action::Drop, d, 0, now);
        self.record(&entry, now, RecordState::Begin, None);
        match self.flows.insert(entry) {
            Ok(id) => {
                self.counters.flows_denied += 1;
                self.forward_out(id, pkt, p, now, reply)
            }
            // No room to remember the denial: still deny this packet.
            Err(_) => self.reject_or_drop(DropCause::Denied, pkt, p, reply),
        }
    }

    /// Translates and installs an allowed flow; a failure is logged.
    pub fn install(&mut self, key: Flow, d: Decision, now: Timestamp) -> Result<FlowId, DropCause> {
        let has_port = key.proto.has_ports() || key.proto == Proto::Icmp;
        let dest = Destination { proto: key.proto, addr: key.dst, port: key.dst_port };
        let pool = match d.snat {
            SourceNat::Private => None,
            SourceNat::NatGateway => Some(self.nat_gateway.as_mut()),
            SourceNat::SiteOutbound => Some(self.site_outbound.as_mut()),
        };
        let (src, src_port) = match pool {
            None => (d.source, key.src_port),
            Some(None) => return Err(self.failed(key, d, now, DropCause::SnatExhausted)),
            Some(Some(pool)) if !has_port => match pool.ips().first() {
                Some(&ip) => (ip, 0),
                None => return Err(self.failed(key, d, now, DropCause::SnatExhausted)),
            },
            Some(Some(pool)) => match pool.allocate(dest, now) {
                Some(a) => a,
                None if d.snat == SourceNat::SiteOutbound => {
                    self.counters.snat_waits += 1;
                    return Err(self.failed(key, d, now, DropCause::SnatWait));
                }
                None => return Err(self.failed(key, d, now, DropCause::SnatExhausted)),
            },
        };
        let idle = if d.snat == SourceNat::NatGateway { self.nat_tcp_idle_secs } else { TCP_IDLE_DEFAULT_SECS };
        let mut entry = FlowEntry::new(key, Action::Forward { world: d.world, src, src_port }, d, idle, now);
        entry.next_report = now.saturating_add_secs(CONTINUE_RECORD_SECS);
        let record = self.make_record(&entry, now, RecordState::Begin, None);
        match self.flows.insert(entry) {
            Ok(id) => {
                self.counters.flows_created += 1;
                self.push_record(record);
                Ok(id)
            }
            Err(e) => {
                if has_port {
                    if let Some(pool) = self.pool_mut(d.snat) {
                        pool.cancel(src, src_port, dest);
                    }
                }
                let cause = if e == InsertError::Full { DropCause::TableFull } else { DropCause::TupleConflict };
                Err(self.failed(key, d, now, cause))
            }
        }
    }

    /// Logs an allowed flow that could not be installed; returns the cause.
    fn failed(&mut self, key: Flow, d: Decision, now: Timestamp, cause: DropCause) -> DropCause {
        let entry = FlowEntry::new(key, Action::Drop, d, 0, now);
        self.record(&entry, now, RecordState::End, Some(cause.name()));
        cause
    }

    fn pool_mut(&mut self, snat: SourceNat) -> Option<&mut SnatPool> {
        match snat {
            SourceNat::Private => None,
            SourceNat::NatGateway => self.nat_gateway.as_mut(),
            SourceNat::SiteOutbound => self.site_outbound.as_mut(),
        }
    }

    /// Drops, or with `reject` answers with a TCP RST / ICMP unreachable.
    fn reject_or_drop(&mut self, cause: DropCause, pkt: &[u8], p: &Packet, reply: &mut [u8]) -> Verdict {
        self.counters.count_drop(cause);
        if !self.opts.reject {
            return Verdict::Drop(cause);
        }
        let len = match p.proto {
            Proto::Tcp => packet::build_tcp_rst(p, reply),
            _ => packet::build_icmp_unreachable(pkt, p, ICMP_CODE_ADMIN_PROHIBITED, reply),
        };
        match len {
            Some(len) => {
                self.counters.rejects += 1;
                add(&mut self.counters.to_app, 1, len);
                Verdict::ReplyToApp { len }
            }
            None => Verdict::Drop(cause),
        }
    }

    /// Answers a query to the platform resolver from `Policy::resolve`
    /// (`dnswire::reply`, the same answer the platform endpoints give over TCP).
    fn answer_dns(&mut self, pkt: &[u8], p: &Packet, reply: &mut [u8]) -> Verdict {
        let Transport::Udp { payload_len } = p.transport else { return self.drop(DropCause::DnsMalformed) };
        let start = p.l4 + 8;
        let msg = &pkt[start..start + payload_len];
        let Some(out) = reply.get_mut(packet::UDP_REPLY_PAYLOAD..) else { return self.drop(DropCause::DnsMalformed) };
        let policy = &self.policy;
        let written = match dnswire::reply(msg, dnswire::MAX_UDP_MESSAGE, self.opts.dns_upstream, |name| policy.resolve(name), out) {
            dnswire::Reply::Upstream => {
                self.counters.dns_upstream += 1;
                return Verdict::DnsUpstream;
            }
            dnswire::Reply::Answer(n) => Some(n),
            dnswire::Reply::Error(n) => {
                self.counters.dns_errors += 1;
                Some(n)
            }
            dnswire::Reply::Drop => None,
        };
        let len = written.and_then(|n| packet::finish_udp_reply(reply, p.dst, p.dst_port, p.src, p.src_port, n));
        match len {
            Some(len) => {
                self.counters.dns_responses += 1;
                add(&mut self.counters.to_app, 1, len);
                Verdict::ReplyToApp { len }
            }
            None => self.drop(DropCause::DnsMalformed),
        }
    }

    /// The upstream resolver's `answer` to `query` (the packet that got
    /// `Verdict::DnsUpstream`), as the platform resolver's reply to the app.
    /// An answer that does not match the query's id, or does not fit the
    /// reply buffer, is lost: the app's resolver retries.
    pub fn dns_upstream_answer(&mut self, query: &[u8], answer: &[u8], reply: &mut [u8]) -> Verdict {
        // Nothing here was read from a device: failures are not drops.
        let lost = |dp: &mut Self| {
            dp.counters.write_errors += 1;
            Verdict::Drop(DropCause::DnsMalformed)
        };
        let Ok(p) = packet::parse(query) else { return lost(self) };
        let Transport::Udp { payload_len } = p.transport else { return lost(self) };
        let msg = &query[p.l4 + 8..p.l4 + 8 + payload_len];
        // The size is the app's business (EDNS0): it sent the query as it is.
        let fits = answer.len() >= 12 && msg.len() >= 2 && answer[..2] == msg[..2];
        let Some(out) = reply.get_mut(packet::UDP_REPLY_PAYLOAD..packet::UDP_REPLY_PAYLOAD + answer.len()).filter(|_| fits) else {
            return lost(self);
        };
        out.copy_from_slice(answer);
        match packet::finish_udp_reply(reply, p.dst, p.dst_port, p.src, p.src_port, answer.len()) {
            Some(len) => {
                self.counters.dns_upstream_answers += 1;
                add(&mut self.counters.to_app, 1, len);
                Verdict::ReplyToApp { len }
            }
            None => lost(self),
        }
    }

    // -----------------------------------------------------------------------
    // From a world

    /// A packet arriving from `world` (addressed to a translated source).
    pub fn from_world(&mut self, world: World, pkt: &mut [u8], off: Offload, now: Timestamp, reply: &mut [u8]) -> Verdict {
        self.world_packet(Some(world), pkt, off, now, reply)
    }

    /// A packet from a device that stands for every forwarded world
    /// (`vnetlab run`'s host world): `from_world` without the check that the
    /// reply comes from the world its flow went to.
    pub fn from_any_world(&mut self, pkt: &mut [u8], off: Offload, now: Timestamp, reply: &mut [u8]) -> Verdict {
        self.world_packet(None, pkt, off, now, reply)
    }

    /// A packet the platform's endpoints (`Platform`) sent back on a flow
    /// that came to them as `ToPlatform`: `ToApp` (counted on its flow, whose
    /// TCP state it moves as a world's reply would), or dropped.
    pub fn from_platform(&mut self, pkt: &mut [u8], now: Timestamp) -> Verdict {
        self.world_packet(Some(World::Platform), pkt, Offload::default(), now, &mut [])
    }

    fn world_packet(&mut self, world: Option<World>, pkt: &mut [u8], off: Offload, now: Timestamp, _reply: &mut [u8]) -> Verdict {
        let mut p = match packet::parse(pkt) {
            Ok(p) => p.with_offload(off),
            Err(e) => return self.drop(DropCause::of(e)),
        };
        let from = if world == Some(World::Platform) { &mut self.counters.from_platform } else { &mut self.counters.from_world };
        add(from, p.segments, p.len);
        self.counters.tso_segments += u64::from(p.segments > 1);
        let (reply_key, is_error) = match p.transport {
            // The quote is a packet the world got from us: reversed, it is a reply tuple.
            Transport::IcmpError { quote: q, .. } => (Flow { proto: q.proto, src: q.dst, src_port: q.dst_port, dst: q.src, dst_port: q.src_port }, true),
            Transport::IcmpOther { .. } | Transport::IcmpEcho { request: true } => return self.drop(DropCause::NoFlowFromWorld),
            _ => (Flow { proto: p.proto, src: p.src, src_port: p.src_port, dst: p.dst, dst_port: p.dst_port }, false),
        };
        let Some(id) = self.flows.lookup_world(&reply_key) else { return self.drop(DropCause::NoFlowFromWorld) };
        let Some(e) = self.flows.get_mut(id) else { return self.drop(DropCause::NoFlowFromWorld) };
        if !matches!(e.action, Action::Forward { world: w, .. } if world.is_none_or(|world| w == world)) {
            return self.drop(DropCause::WrongWorld);
        }
        let app = e.key;
        if is_error {
            // Errors count as traffic but neither refresh nor change state.
            add(&mut e.inb, p.segments, p.len);
            packet::rewrite_quote(pkt, &mut p, End::Src, app.src, app.src_port);
            packet::rewrite(pkt, &mut p, End::Dst, app.src, 0);
        } else {
            e.on_packet(Dir::In, p.len, p.segments, p.tcp_flags(), now);
            packet::rewrite(pkt, &mut p, End::Dst, app.src, app.src_port);
        }
        add(&mut self.counters.to_app, p.segments, p.len);
        Verdict::ToApp
    }

    // -----------------------------------------------------------------------
    // Time

    /// Expires idle and closed flows (their ports go into cooldown) and
    /// writes continue/end records. Call at least once a second.
    pub fn tick(&mut self, now: Timestamp) {
        let mut expired = std::mem::take(&mut self.expired);
        expired.clear();
        self.flows.expired(now, &mut expired);
        for &id in &expired {
            self.end_flow(id, now, None);
        }
        self.expired = expired;

        let mut due = Vec::new();
        for (_, e) in self.flows.iter_mut() {
            if matches!(e.action, Action::Forward { .. }) && e.next_report <= now {
                e.next_report = now.saturating_add_secs(CONTINUE_RECORD_SECS);
                due.push(make_record(&self.policy, e, now, RecordState::Continue, None));
            }
        }
        for r in due {
            self.push_record(r);
        }
        for pool in [self.nat_gateway.as_mut(), self.site_outbound.as_mut()].into_iter().flatten() {
            pool.gc(now);
        }
    }

    /// Ends every flow, so that the flow log accounts for every packet the
    /// engine moved: the engine calls this as it stops. Flows already closed
    /// (lingering after FIN or RST) keep their own reason; the others end
    /// with `shutdown`.
    pub fn end_all(&mut self, now: Timestamp) {
        let ids: Vec<(FlowId, bool)> = self.flows.iter_mut().map(|(id, e)| (id, e.is_closed())).collect();
        for (id, closed) in ids {
            self.end_flow(id, now, (!closed).then_some("shutdown"));
        }
    }

    /// Removes a flow, releases its port into cooldown, writes its end record.
    fn end_flow(&mut self, id: FlowId, now: Timestamp, reason: Option<&'static str>) {
        let Some(e) = self.flows.remove(id) else { return };
        self.counters.flows_ended += 1;
        let (_, how) = e.expiry();
        if let Action::Forward { src, src_port, .. } = e.action {
            if e.key.proto.has_ports() || e.key.proto == Proto::Icmp {
                let dest = Destination { proto: e.key.proto, addr: e.key.dst, port: e.key.dst_port };
                let ended = e.ended_at();
                if let Some(pool) = self.pool_mut(e.snat()) {
                    pool.release(src, src_port, dest, how, ended);
                }
            }
        }
        let reason = reason.or(Some(match e.state {
            FlowState::Closed { by: Release::Rst, .. } => "rst",
            FlowState::Closed { .. } => "fin",
            FlowState::SynSent => "half_open",
            _ => "idle",
        }));
        self.record(&e, now, RecordState::End, reason);
    }

    fn make_record(&self, e: &FlowEntry, now: Timestamp, state: RecordState, reason: Option<&'static str>) -> FlowRecord {
        make_record(&self.policy, e, now, state, reason)
    }

    fn record(&mut self, e: &FlowEntry, now: Timestamp, state: RecordState, reason: Option<&'static str>) {
        let r = self.make_record(e, now, state, reason);
        self.push_record(r);
    }

    fn push_record(&mut self, r: FlowRecord) {
        if self.log.len() >= MAX_PENDING_RECORDS {
            self.counters.records_lost += 1;
        } else {
            self.log.push(r);
        }
    }
}

fn add(c: &mut Count, segments: u32, len: usize) {
    c.packets += u64::from(segments);
    c.bytes += len as u64;
}

fn make_record<P: PolicyView>(policy: &P, e: &FlowEntry, now: Timestamp, state: RecordState, reason: Option<&'static str>) -> FlowRecord {
    let (translated, world) = match e.action {
        Action::Forward { world, src, src_port } => (Some((src, src_port)), Some(world)),
        Action::Drop => (None, None),
    };
    FlowRecord {
        at: now,
        state,
        flow: e.key,
        decision: e.decision,
        rule: e.decision.nsg_rule.map(|i| flowlog::rule_label(policy.rule_name(i))),
        translated,
        world,
        out: e.out,
        inb: e.inb,
        reason,
    }
}
