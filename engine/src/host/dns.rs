//! The platform resolver's way out in `vnetlab run`: names that no private
//! zone and no `--public-dns` entry answers are resolved by a real upstream
//! resolver, as Azure DNS resolves public names. The datapath hands such
//! queries over (`Verdict::DnsUpstream`); each goes to the upstream over UDP
//! from a host socket, and the answer comes back through
//! `Datapath::dns_upstream_answer` as 168.63.129.16's.
//!
//! A sidecar around another (`WithDns<HostRelay>`), so the relay knows
//! nothing of DNS. Bounded: at most `MAX_INFLIGHT` queries at once (more are
//! lost, and the app's resolver retries), each waiting `UPSTREAM_TIMEOUT`.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::{mpsc, Semaphore};

use vnetlab_core::datapath::flowlog::FlowRecord;
use vnetlab_core::datapath::packet;
use vnetlab_core::decision::World;
use vnetlab_core::flow::Flow;

use crate::engine::{Sidecar, SidecarEvent};

/// Queries waiting for the upstream at once.
pub const MAX_INFLIGHT: usize = 256;
/// How long one query waits for its answer (a resolver's own retry is
/// faster than this; a late answer is useless).
pub const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(3);
/// Largest answer taken from the upstream (EDNS0 answers can exceed 512).
const MAX_ANSWER: usize = 1232;

/// The upstream: `--dns-upstream`, else the host's first IPv4 `nameserver`.
pub fn upstream(given: Option<&str>) -> Result<SocketAddr, String> {
    if let Some(s) = given {
        return s
            .parse::<SocketAddrV4>()
            .map(SocketAddr::V4)
            .or_else(|_| s.parse::<Ipv4Addr>().map(|a| SocketAddr::V4(SocketAddrV4::new(a, 53))))
            .map_err(|_| format!("--dns-upstream {s}: expected ADDRESS or ADDRESS:PORT (IPv4)"));
    }
    let text = std::fs::read_to_string("/etc/resolv.conf").map_err(|e| format!("/etc/resolv.conf: {e} (give --dns-upstream ADDRESS:PORT)"))?;
    first_nameserver(&text).ok_or_else(|| "/etc/resolv.conf names no IPv4 nameserver: give --dns-upstream ADDRESS:PORT".to_string())
}

/// The first IPv4 `nameserver` line of a resolv.conf.
fn first_nameserver(text: &str) -> Option<SocketAddr> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .find_map(|rest| rest.trim().parse::<Ipv4Addr>().ok())
        .map(|a| SocketAddr::V4(SocketAddrV4::new(a, 53)))
}

/// `inner` plus the upstream resolver.
pub struct WithDns<S> {
    pub inner: S,
    upstream: SocketAddr,
    slots: Arc<Semaphore>,
    tx: mpsc::UnboundedSender<SidecarEvent>,
    rx: mpsc::UnboundedReceiver<SidecarEvent>,
}

impl<S> WithDns<S> {
    pub fn new(inner: S, upstream: SocketAddr) -> WithDns<S> {
        let (tx, rx) = mpsc::unbounded_channel();
        WithDns { inner, upstream, slots: Arc::new(Semaphore::new(MAX_INFLIGHT)), tx, rx }
    }
}

/// One query to the upstream and its answer (None: no answer in time).
async fn ask(upstream: SocketAddr, query: &[u8]) -> io::Result<Option<Vec<u8>>> {
    let sock = UdpSocket::bind(SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0))).await?;
    sock.connect(upstream).await?;
    sock.send(query).await?;
    let mut buf = vec![0u8; MAX_ANSWER];
    // Datagrams that are not this query's answer (another id) are skipped, a bounded number of times.
    for _ in 0..8 {
        match tokio::time::timeout(UPSTREAM_TIMEOUT, sock.recv(&mut buf)).await {
            Ok(Ok(n)) if n >= 2 && buf[..2] == query[..2] => return Ok(Some(buf[..n].to_vec())),
            Ok(Ok(_)) => continue,
            Ok(Err(e)) => return Err(e),
            Err(_) => return Ok(None),
        }
    }
    Ok(None)
}

impl<S: Sidecar> Sidecar for WithDns<S> {
    fn connect(&mut self, flow: Flow, world: World, held: &[u8], hdr: usize) {
        self.inner.connect(flow, world, held, hdr)
    }

    fn dns_upstream(&mut self, query: &[u8], hdr: usize) {
        let Some(pkt) = query.get(hdr..) else { return };
        let Ok(p) = packet::parse(pkt) else { return };
        let packet::Transport::Udp { payload_len } = p.transport else { return };
        let Some(msg) = pkt.get(p.l4 + 8..p.l4 + 8 + payload_len) else { return };
        let Ok(slot) = self.slots.clone().try_acquire_owned() else { return };
        let (tx, upstream, query, msg) = (self.tx.clone(), self.upstream, pkt.to_vec(), msg.to_vec());
        tokio::spawn(async move {
            let _slot = slot;
            if let Ok(Some(answer)) = ask(upstream, &msg).await {
                let _ = tx.send(SidecarEvent::DnsAnswer { query, answer });
            }
        });
    }

    fn to_world(&mut self, world: World, pkt: &[u8], hdr: usize) -> bool {
        self.inner.to_world(world, pkt, hdr)
    }

    fn records(&mut self, records: &[FlowRecord]) {
        self.inner.records(records)
    }

    fn tick(&mut self) {
        self.inner.tick()
    }

    fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<SidecarEvent> {
        if let Poll::Ready(ev) = self.inner.poll_event(cx) {
            return Poll::Ready(ev);
        }
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(ev)) => Poll::Ready(ev),
            // We hold a sender, so the channel never closes.
            Poll::Ready(None) | Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_from_flag_or_resolv_conf() {
        assert_eq!(upstream(Some("127.0.0.1:5353")), Ok("127.0.0.1:5353".parse().unwrap()));
        assert_eq!(upstream(Some("127.0.0.53")), Ok("127.0.0.53:53".parse().unwrap()));
        assert!(upstream(Some("resolver")).unwrap_err().contains("--dns-upstream resolver"));
        let conf = "# generated\nsearch example\nnameserver fe80::1\nnameserver 198.51.100.53\nnameserver 198.51.100.54\n";
        assert_eq!(first_nameserver(conf), Some("198.51.100.53:53".parse().unwrap()));
        assert_eq!(first_nameserver("options ndots:1\n"), None);
    }
}
