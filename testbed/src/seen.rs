//! What the responders saw: one record per connection, datagram or echo
//! request, shared between the responders of a run and whoever asserts on
//! them (the live runner checks the source address seen at the next hop).
//! Also the responder's answer line, which carries the same facts back to
//! the client.

use std::collections::VecDeque;
use std::fmt;
use std::net::SocketAddrV4;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// Protocol of a seen flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SeenProto {
    Tcp,
    Udp,
    /// An echo request; the "port" of its addresses is the echo identifier.
    Icmp,
}

impl SeenProto {
    pub fn as_str(self) -> &'static str {
        match self {
            SeenProto::Tcp => "tcp",
            SeenProto::Udp => "udp",
            SeenProto::Icmp => "icmp",
        }
    }
    fn parse(s: &str) -> Option<SeenProto> {
        match s {
            "tcp" => Some(SeenProto::Tcp),
            "udp" => Some(SeenProto::Udp),
            "icmp" => Some(SeenProto::Icmp),
            _ => None,
        }
    }
}

/// One flow as it arrived in a world.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub world: String,
    pub proto: SeenProto,
    pub src: SocketAddrV4,
    pub dst: SocketAddrV4,
}

impl fmt::Display for Seen {
    /// The responder's answer line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "vnetlab-responder world={} saw src={} dst={} proto={}", self.world, self.src, self.dst, self.proto.as_str())
    }
}

impl Seen {
    /// Parses an answer line (the first line that starts with
    /// `vnetlab-responder ` anywhere in `text`, e.g. inside an HTTP body).
    pub fn parse_line(text: &str) -> Option<Seen> {
        let line = text.lines().find(|l| l.starts_with("vnetlab-responder "))?;
        let mut world = None;
        let mut src = None;
        let mut dst = None;
        let mut proto = None;
        for field in line.split_whitespace().skip(1) {
            match field.split_once('=') {
                Some(("world", v)) => world = Some(v.to_string()),
                Some(("src", v)) => src = v.parse().ok(),
                Some(("dst", v)) => dst = v.parse().ok(),
                Some(("proto", v)) => proto = SeenProto::parse(v),
                _ => {}
            }
        }
        Some(Seen { world: world?, proto: proto?, src: src?, dst: dst? })
    }
}

/// A bounded log of seen flows (the oldest are dropped beyond capacity).
#[derive(Debug)]
pub struct SeenLog {
    inner: Mutex<Entries>,
    added: Condvar,
    capacity: usize,
}

#[derive(Debug, Default)]
struct Entries {
    list: VecDeque<Seen>,
    /// Records ever added: a mark that survives the dropping of old entries.
    total: u64,
}

impl SeenLog {
    pub fn new(capacity: usize) -> SeenLog {
        SeenLog { inner: Mutex::new(Entries::default()), added: Condvar::new(), capacity: capacity.max(1) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn record(&self, seen: Seen) {
        let mut e = self.lock();
        if e.list.len() == self.capacity {
            e.list.pop_front();
        }
        e.list.push_back(seen);
        e.total += 1;
        self.added.notify_all();
    }

    /// Everything still in the log, oldest first.
    pub fn snapshot(&self) -> Vec<Seen> {
        self.lock().list.iter().cloned().collect()
    }

    /// The most recent record matching `pred`.
    pub fn find_last(&self, pred: impl Fn(&Seen) -> bool) -> Option<Seen> {
        self.lock().list.iter().rev().find(|s| pred(s)).cloned()
    }

    /// A position in the log: `wait_since` only looks at what was recorded after it.
    pub fn mark(&self) -> u64 {
        self.lock().total
    }

    /// Waits (at most `timeout`) for a record after `mark` matching `pred`.
    /// For observations that arrive asynchronously, such as echo requests
    /// read by the responder while the kernel already answered.
    pub fn wait_since(&self, mark: u64, timeout: Duration, pred: impl Fn(&Seen) -> bool) -> Option<Seen> {
        let deadline = Instant::now() + timeout;
        let mut e = self.lock();
        loop {
            let newer = usize::try_from(e.total.saturating_sub(mark)).unwrap_or(usize::MAX).min(e.list.len());
            let skip = e.list.len() - newer;
            if let Some(found) = e.list.iter().skip(skip).find(|s| pred(s)) {
                return Some(found.clone());
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            e = self.added.wait_timeout(e, left).unwrap_or_else(|p| p.into_inner()).0;
        }
    }

    pub fn clear(&self) {
        self.lock().list.clear();
    }
}

impl Default for SeenLog {
    fn default() -> Self {
        SeenLog::new(10_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answer_line_round_trips() {
        let seen = Seen { world: "inet".into(), proto: SeenProto::Udp, src: "198.51.100.7:1024".parse().unwrap(), dst: "198.51.100.20:53".parse().unwrap() };
        let line = seen.to_string();
        assert_eq!(line, "vnetlab-responder world=inet saw src=198.51.100.7:1024 dst=198.51.100.20:53 proto=udp");
        let body = format!("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n{line}\n");
        assert_eq!(Seen::parse_line(&body), Some(seen));
        assert_eq!(Seen::parse_line("vnetlab-responder world=x proto=tcp"), None);
    }

    #[test]
    fn log_keeps_the_newest_within_capacity() {
        let log = SeenLog::new(2);
        for port in [1u16, 2, 3] {
            log.record(Seen {
                world: "vnet".into(),
                proto: SeenProto::Tcp,
                src: format!("10.0.2.4:{port}").parse().unwrap(),
                dst: "10.0.1.5:80".parse().unwrap(),
            });
        }
        let ports: Vec<u16> = log.snapshot().iter().map(|s| s.src.port()).collect();
        assert_eq!(ports, vec![2, 3]);
        assert_eq!(log.find_last(|s| s.src.port() < 3).map(|s| s.src.port()), Some(2));
        let mark = log.mark();
        assert_eq!(log.wait_since(mark, Duration::ZERO, |_| true), None);
        log.record(Seen { world: "inet".into(), proto: SeenProto::Icmp, src: "10.0.2.4:7".parse().unwrap(), dst: "198.51.100.9:7".parse().unwrap() });
        assert_eq!(log.wait_since(mark, Duration::ZERO, |s| s.proto == SeenProto::Tcp), None);
        assert_eq!(log.wait_since(mark, Duration::ZERO, |_| true).map(|s| s.world), Some("inet".to_string()));
    }
}
