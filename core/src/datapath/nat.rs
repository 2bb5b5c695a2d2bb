//! Source NAT port allocation, per public address and destination.
//!
//! Models Azure NAT gateway (fact sheet §4) and, with other parameters, the
//! site's default outbound SNAT (§3.4):
//! - ports 1024..=65535 (64,512) on each public address; a NAT gateway's
//!   addresses are one shared inventory, filled in order
//!   (`NatGatewayInfo::snat_order`): a flow gets a port on the first address
//!   with one free for its destination, so first flows leave from the first
//!   address, which is the source `Policy::decide` reports;
//! - one port may serve different destinations at once; flows to the same
//!   destination (protocol, address, port) need distinct ports;
//! - after a flow ends, its (port, destination) pair cools down before reuse:
//!   NAT gateway TCP FIN 65 s, RST 16 s, half-open 30 s, UDP 65 s; default
//!   outbound SNAT (fact sheet 13.3) FIN 240 s, RST 15 s, and an idle flow's
//!   port is free as its 4-minute idle timeout ends (the flow table's TCP and
//!   UDP idle timeouts are 4 minutes, so the cooldown after idle is 0);
//!   half-open is not documented for it and follows NAT gateway (30 s);
//! - site outbound SNAT: App Service pre-allocates 128 ports per instance per
//!   destination address and port (fact sheet 13.3), modelled as a cap of 128
//!   ports (in use or cooling) per `Destination` (protocol, address, port) on
//!   the site's first outbound address: another port or address is another
//!   128;
//! - exhaustion (no port free for a destination on any address): `allocate`
//!   says None and existing flows are untouched; the datapath fails the new
//!   flow for a NAT gateway and makes it wait for default outbound SNAT.
//!
//! Allocation is O(1): each (address, destination) walks its own
//! pseudo-random permutation of the port range (a random start and a stride
//! coprime with 64,512) so fresh ports never need a scan; once the walk is
//! done, released ports come back from per-cause FIFO queues as their
//! cooldown ends. Randomness comes from a seeded SplitMix64, never a clock.

use std::collections::{HashMap, VecDeque};
use std::net::Ipv4Addr;

use crate::flow::Proto;
use crate::time::Timestamp;

/// First port handed out.
pub const FIRST_PORT: u16 = 1024;
/// Ports per public address (1024..=65535).
pub const PORTS_PER_IP: u32 = 65536 - FIRST_PORT as u32;
/// App Service's pre-allocated SNAT ports per instance per destination.
pub const SITE_OUTBOUND_PORTS_PER_DESTINATION: u32 = 128;

/// Where a translated flow goes; flows to one destination need distinct ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Destination {
    pub proto: Proto,
    pub addr: Ipv4Addr,
    pub port: u16,
}

/// How a flow ended, which sets its port's cooldown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Release {
    /// TCP closed with FINs.
    Fin = 0,
    /// TCP reset.
    Rst = 1,
    /// TCP SYN never answered.
    HalfOpen = 2,
    /// TCP established flow reached its idle timeout.
    TcpIdle = 3,
    /// UDP (or ICMP echo) flow ended by its idle timeout.
    Udp = 4,
}

const RELEASE_KINDS: usize = 5;

/// Cooldown in seconds per `Release` kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cooldowns(pub [u64; RELEASE_KINDS]);

impl Cooldowns {
    /// NAT gateway: FIN 65 s, RST 16 s, half-open 30 s, UDP 65 s. An idle
    /// TCP timeout is not documented; it is treated like FIN (65 s).
    pub const NAT_GATEWAY: Cooldowns = Cooldowns([65, 16, 30, 65, 65]);
    /// Default outbound SNAT (fact sheet 13.3): FIN 240 s, RST 15 s, and
    /// reusable once the 4-minute idle timeout has ended an idle flow (TCP or
    /// UDP: no cooldown after the expiry); half-open is not documented and
    /// follows NAT gateway (30 s).
    pub const SITE_OUTBOUND: Cooldowns = Cooldowns([240, 15, 30, 0, 0]);
}

/// SplitMix64: tiny, seeded, good enough to spread ports (and to shape the
/// benches' synthetic data).
#[derive(Debug, Clone)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// The ports of one public address towards one destination.
#[derive(Debug)]
struct DestPorts {
    start: u32,
    /// Coprime with `PORTS_PER_IP`, so `start + i * stride` visits every port once.
    stride: u32,
    /// Fresh ports handed out so far.
    walked: u32,
    /// How many ports this destination may ever use.
    limit: u32,
    in_use: u32,
    /// Released ports with the time their cooldown ends, per release kind
    /// (each queue is in release order, so its front ends first).
    cooling: [VecDeque<(u16, Timestamp)>; RELEASE_KINDS],
}

impl DestPorts {
    fn new(rng: &mut SplitMix64, limit: u32) -> DestPorts {
        let r = rng.next_u64();
        let start = (r % u64::from(PORTS_PER_IP)) as u32;
        // 64,512 = 2^10 * 3^2 * 7: an odd stride not divisible by 3 or 7.
        let mut stride = ((r >> 32) % u64::from(PORTS_PER_IP)) as u32 | 1;
        while stride % 3 == 0 || stride % 7 == 0 {
            stride += 2;
        }
        DestPorts { start, stride, walked: 0, limit, in_use: 0, cooling: Default::default() }
    }

    fn take(&mut self, now: Timestamp) -> Option<u16> {
        let port = if self.walked < self.limit {
            let i = (u64::from(self.start) + u64::from(self.walked) * u64::from(self.stride)) % u64::from(PORTS_PER_IP);
            self.walked += 1;
            FIRST_PORT + i as u16
        } else {
            let q = self.cooling.iter_mut().filter(|q| q.front().is_some_and(|&(_, ready)| ready <= now)).min_by_key(|q| q.front().map(|&(_, ready)| ready))?;
            q.pop_front()?.0
        };
        self.in_use += 1;
        Some(port)
    }

    /// Nothing in use and every cooldown over: forgetting this entry loses nothing.
    fn idle(&self, now: Timestamp) -> bool {
        self.in_use == 0 && self.cooling.iter().all(|q| q.back().is_none_or(|&(_, ready)| ready <= now))
    }
}

/// A SNAT port inventory over one or more public addresses.
#[derive(Debug)]
pub struct SnatPool {
    ips: Vec<Ipv4Addr>,
    per_destination: u32,
    cooldowns: Cooldowns,
    dests: HashMap<(u8, Destination), DestPorts>,
    rng: SplitMix64,
    in_use: u64,
}

impl SnatPool {
    /// A NAT gateway's inventory over its public addresses, in the order
    /// they are used (`NatGatewayInfo::snat_order`).
    pub fn nat_gateway(ips: &[Ipv4Addr], seed: u64) -> SnatPool {
        SnatPool::new(ips, PORTS_PER_IP, Cooldowns::NAT_GATEWAY, seed)
    }

    /// The site's default outbound SNAT on one outbound address.
    pub fn site_outbound(ip: Ipv4Addr, seed: u64) -> SnatPool {
        SnatPool::new(&[ip], SITE_OUTBOUND_PORTS_PER_DESTINATION, Cooldowns::SITE_OUTBOUND, seed)
    }

    pub fn new(ips: &[Ipv4Addr], per_destination: u32, cooldowns: Cooldowns, seed: u64) -> SnatPool {
        SnatPool {
            // Addresses are indexed by a u8 in `dests`.
            ips: ips.iter().copied().take(usize::from(u8::MAX) + 1).collect(),
            per_destination: per_destination.min(PORTS_PER_IP),
            cooldowns,
            dests: HashMap::new(),
            rng: SplitMix64(seed),
            in_use: 0,
        }
    }

    pub fn ips(&self) -> &[Ipv4Addr] {
        &self.ips
    }

    /// Ports currently held by flows, over all addresses and destinations.
    pub fn in_use(&self) -> u64 {
        self.in_use
    }

    /// A public address and port for a new flow to `dest`: the first
    /// address in order with a port free for `dest`; None when every
    /// address is exhausted for that destination.
    pub fn allocate(&mut self, dest: Destination, now: Timestamp) -> Option<(Ipv4Addr, u16)> {
        for i in 0..self.ips.len() {
            let (rng, limit) = (&mut self.rng, self.per_destination);
            let ports = self.dests.entry((i as u8, dest)).or_insert_with(|| DestPorts::new(rng, limit));
            if let Some(port) = ports.take(now) {
                self.in_use += 1;
                return Some((self.ips[i], port));
            }
        }
        None
    }

    /// Returns a port after its flow ended at `ended` (`how` sets the cooldown).
    /// Unknown pairs are ignored.
    pub fn release(&mut self, ip: Ipv4Addr, port: u16, dest: Destination, how: Release, ended: Timestamp) {
        let ready = ended.saturating_add_secs(self.cooldowns.0[how as usize]);
        let Some(ports) = self.give_back(ip, dest) else { return };
        ports.cooling[how as usize].push_back((port, ready));
    }

    /// Returns a port that never carried a packet (its flow could not be
    /// installed): usable again at once.
    pub fn cancel(&mut self, ip: Ipv4Addr, port: u16, dest: Destination) {
        let Some(ports) = self.give_back(ip, dest) else { return };
        ports.cooling[Release::Rst as usize].push_front((port, Timestamp(0)));
    }

    /// Counts one port of (`ip`, `dest`) as no longer in use and hands back
    /// that destination's ports so the caller can queue it. None for an
    /// unknown pair or one with nothing in use, so a stray or repeated
    /// return cannot underflow the counters.
    fn give_back(&mut self, ip: Ipv4Addr, dest: Destination) -> Option<&mut DestPorts> {
        let i = self.ips.iter().position(|&a| a == ip)?;
        let ports = self.dests.get_mut(&(i as u8, dest))?;
        if ports.in_use == 0 {
            return None;
        }
        ports.in_use -= 1;
        self.in_use -= 1;
        Some(ports)
    }

    /// Forgets destinations with nothing in use or cooling (bounds memory).
    pub fn gc(&mut self, now: Timestamp) {
        self.dests.retain(|_, p| !p.idle(now));
    }

    /// Destinations currently tracked (for tests and diagnostics).
    pub fn tracked_destinations(&self) -> usize {
        self.dests.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    const NAT_IP: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 10);
    const NAT_IP2: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 11);

    fn dest(port: u16) -> Destination {
        Destination { proto: Proto::Tcp, addr: Ipv4Addr::new(198, 18, 0, 5), port }
    }

    fn exhaust(pool: &mut SnatPool, d: Destination, now: Timestamp) -> Vec<(Ipv4Addr, u16)> {
        let mut got = Vec::new();
        while let Some(a) = pool.allocate(d, now) {
            got.push(a);
            assert!(got.len() <= 16 * PORTS_PER_IP as usize, "allocator never runs out");
        }
        got
    }

    #[test]
    fn exhausts_at_64512_unique_ports_per_destination_and_ip() {
        let mut pool = SnatPool::nat_gateway(&[NAT_IP], 7);
        let t = Timestamp::from_secs(1);
        let got = exhaust(&mut pool, dest(443), t);
        assert_eq!(got.len(), 64_512);
        let unique: HashSet<_> = got.iter().collect();
        assert_eq!(unique.len(), 64_512);
        assert!(got.iter().all(|&(ip, p)| ip == NAT_IP && p >= 1024));
        // Existing allocations are untouched; another destination still works
        // and necessarily reuses a port that is busy towards the first one.
        let other = pool.allocate(dest(80), t).unwrap();
        assert!(unique.contains(&other));
        assert_eq!(pool.in_use(), 64_513);
    }

    #[test]
    fn two_addresses_double_the_inventory() {
        let mut pool = SnatPool::nat_gateway(&[NAT_IP, NAT_IP2], 1);
        let got = exhaust(&mut pool, dest(443), Timestamp::from_secs(0));
        assert_eq!(got.len(), 2 * 64_512);
        assert_eq!(got.iter().collect::<HashSet<_>>().len(), got.len());
    }

    #[test]
    fn allocation_is_deterministic_for_a_seed() {
        let run = |seed| {
            let mut pool = SnatPool::nat_gateway(&[NAT_IP, NAT_IP2], seed);
            (0..20).map(|i| pool.allocate(dest(i), Timestamp(0))).collect::<Vec<_>>()
        };
        assert_eq!(run(3), run(3));
        assert_ne!(run(3), run(4));
    }

    /// Addresses fill in order: the first until its ports towards a
    /// destination are used up, then the second, and so on; a port freed on
    /// an earlier address is taken before a later address is touched, and
    /// another destination starts again on the first address.
    #[test]
    fn addresses_fill_in_order_per_destination() {
        const NAT_IP3: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 3);
        let t = Timestamp::from_secs(0);
        for seed in [0, 1, 2, 3] {
            let mut pool = SnatPool::nat_gateway(&[NAT_IP, NAT_IP2, NAT_IP3], seed);
            let first: Vec<_> = (0..PORTS_PER_IP).map(|_| pool.allocate(dest(443), t).unwrap()).collect();
            assert!(first.iter().all(|&(ip, _)| ip == NAT_IP), "seed {seed}: the first address serves until it is used up");
            assert_eq!(pool.allocate(dest(443), t).unwrap().0, NAT_IP2, "seed {seed}: then the second");
            assert_eq!(pool.allocate(dest(80), t).unwrap().0, NAT_IP, "seed {seed}: another destination starts on the first");
            let (ip, port) = first[7];
            pool.release(ip, port, dest(443), Release::Rst, t);
            let later = t.saturating_add_secs(Cooldowns::NAT_GATEWAY.0[Release::Rst as usize]);
            assert_eq!(pool.allocate(dest(443), later), Some((ip, port)), "seed {seed}: a freed port on the first address comes before the second");
            assert_eq!(pool.allocate(dest(443), later).unwrap().0, NAT_IP2);
        }
        // Small inventories make the whole order visible: 2 ports per address.
        let mut pool = SnatPool::new(&[NAT_IP3, NAT_IP, NAT_IP2], 2, Cooldowns::NAT_GATEWAY, 9);
        let ips: Vec<_> = exhaust(&mut pool, dest(443), t).into_iter().map(|a| a.0).collect();
        assert_eq!(ips, [NAT_IP3, NAT_IP3, NAT_IP, NAT_IP, NAT_IP2, NAT_IP2]);
    }

    /// Exhausts one destination, releases one port at `t0` with `how`, and
    /// returns whether it can be had again at each of `probes` seconds later.
    fn reusable_after(pool: &mut SnatPool, how: Release, probes: &[u64]) -> Vec<bool> {
        let t0 = Timestamp::from_secs(100);
        let got = exhaust(pool, dest(443), t0);
        let (ip, port) = got[got.len() / 2];
        pool.release(ip, port, dest(443), how, t0);
        probes
            .iter()
            .map(|&s| match pool.allocate(dest(443), t0.saturating_add_secs(s)) {
                Some(a) => {
                    assert_eq!(a, (ip, port));
                    true
                }
                None => false,
            })
            .collect()
    }

    #[test]
    fn cooldowns_follow_the_nat_gateway_table() {
        let pool = || SnatPool::nat_gateway(&[NAT_IP], 9);
        assert_eq!(reusable_after(&mut pool(), Release::Fin, &[64, 65]), [false, true]);
        assert_eq!(reusable_after(&mut pool(), Release::Rst, &[15, 16]), [false, true]);
        assert_eq!(reusable_after(&mut pool(), Release::HalfOpen, &[29, 30]), [false, true]);
        assert_eq!(reusable_after(&mut pool(), Release::Udp, &[64, 65]), [false, true]);
    }

    #[test]
    fn cooling_port_is_free_for_other_destinations() {
        let mut pool = SnatPool::new(&[NAT_IP], 1, Cooldowns::NAT_GATEWAY, 5);
        let t = Timestamp::from_secs(10);
        let (ip, p) = pool.allocate(dest(443), t).unwrap();
        pool.release(ip, p, dest(443), Release::Fin, t);
        assert_eq!(pool.allocate(dest(443), t), None, "one port, cooling");
        assert!(pool.allocate(dest(80), t).is_some());
    }

    #[test]
    fn cancelled_port_is_free_at_once_and_stray_returns_are_ignored() {
        let mut pool = SnatPool::new(&[NAT_IP], 1, Cooldowns::NAT_GATEWAY, 5);
        let t = Timestamp::from_secs(10);
        let (ip, p) = pool.allocate(dest(443), t).unwrap();
        pool.cancel(ip, p, dest(443));
        // Nothing is in use any more: a second cancel or a late release must
        // neither underflow the counters nor queue the port twice.
        pool.cancel(ip, p, dest(443));
        pool.release(ip, p, dest(443), Release::Fin, t);
        assert_eq!(pool.in_use(), 0);
        assert_eq!(pool.allocate(dest(443), t), Some((ip, p)), "no cooldown after a cancel");
        assert_eq!(pool.allocate(dest(443), t), None, "the port was queued once");
        pool.release(NAT_IP2, p, dest(443), Release::Fin, t);
        pool.release(ip, p, dest(80), Release::Fin, t);
        assert_eq!(pool.in_use(), 1, "returns for an unknown address or destination are ignored");
    }

    #[test]
    fn site_outbound_caps_ports_per_destination_at_128() {
        let mut pool = SnatPool::site_outbound(NAT_IP, 2);
        let t = Timestamp::from_secs(0);
        assert_eq!(exhaust(&mut pool, dest(443), t).len(), 128);
        assert_eq!(exhaust(&mut pool, dest(8443), t).len(), 128);
        // Fact sheet 13.3: 240 s after FIN, 15 s after RST, at once after the idle timeout.
        assert_eq!(reusable_after(&mut SnatPool::site_outbound(NAT_IP, 3), Release::Fin, &[239, 240]), [false, true]);
        assert_eq!(reusable_after(&mut SnatPool::site_outbound(NAT_IP, 3), Release::Rst, &[14, 15]), [false, true]);
        assert_eq!(reusable_after(&mut SnatPool::site_outbound(NAT_IP, 3), Release::TcpIdle, &[0]), [true]);
        assert_eq!(reusable_after(&mut SnatPool::site_outbound(NAT_IP, 3), Release::Udp, &[0]), [true]);
    }

    #[test]
    fn gc_forgets_only_finished_destinations() {
        let mut pool = SnatPool::nat_gateway(&[NAT_IP], 1);
        let t = Timestamp::from_secs(0);
        let (ip, p) = pool.allocate(dest(1), t).unwrap();
        pool.allocate(dest(2), t).unwrap();
        pool.release(ip, p, dest(1), Release::Rst, t);
        pool.gc(Timestamp::from_secs(15));
        assert_eq!(pool.tracked_destinations(), 2);
        pool.gc(Timestamp::from_secs(16));
        assert_eq!(pool.tracked_destinations(), 1);
    }
}
