//! Inbound for `vnetlab run`: `--publish [ADDR:]HOSTPORT[:APPPORT]` (and
//! `--publish-scm`) forwards a port of this machine to the app's port in
//! its namespace, so HTTP triggers can be called, and the site's access
//! restrictions (core `policy::access`, fact sheet 13.2) decide who may.
//!
//! - Listeners are bound on this machine (ADDR defaults to 127.0.0.1)
//!   before CMD starts, so a taken port fails the run at once.
//! - One helper thread enters the app's network namespace (`setns`) and
//!   runs a current-thread tokio loop: every socket it creates to reach the
//!   app is created there, and connects to the instance's private address
//!   (10.0.2.4:APPPORT), as the front ends reach a worker. An app that
//!   listens on 127.0.0.1 only is therefore not reachable, as on Azure.
//! - The client's address as the restrictions see it: a loopback peer is
//!   mapped by `--client-source 127.0.0.N=PUBLIC_ADDR`, else judged as
//!   `DEFAULT_CLIENT` (198.51.100.1, "some client on the internet"); any
//!   other peer is judged as itself.
//! - Headers: only when the list has header rules is the request head read
//!   first (at most `HEAD_LIMIT` bytes within `HEAD_TIMEOUT`); the bytes
//!   read are then sent on to the app unchanged.
//! - Denied: `HTTP/1.1 403 Forbidden` naming the rule, and a DENY line on
//!   stderr. The app not answering (refused, nothing listening yet, or no
//!   answer within `APP_CONNECT_TIMEOUT`): `HTTP/1.1 502 Bad Gateway`, the
//!   answer Azure's front end gives when the worker does not answer.
//!   Before either answer the request head is read (bounded), so that
//!   closing does not reset the connection under an unread request.
//! - Allowed: spliced to the app (`copy_bidirectional`), nothing added.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::oneshot;
use vnetlab_core::policy::access::{parse_head, AccessPolicy};

/// How a loopback client without `--client-source` is judged.
pub const DEFAULT_CLIENT: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
/// The most of a request head read before deciding on headers.
pub const HEAD_LIMIT: usize = 16 * 1024;
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(5);
/// A connect to the app's port on the app's own address is local: this is
/// only a bound for an app namespace that does not answer at all.
pub const APP_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a closing answer waits for the client to finish sending.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(1);

/// One `--publish` / `--publish-scm`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishSpec {
    /// Where this machine listens.
    pub bind: SocketAddrV4,
    /// The app's port in its namespace.
    pub app_port: u16,
    /// Judged by the scm site's list.
    pub scm: bool,
}

/// `--publish` options of `vnetlab run`.
#[derive(Debug, Clone, Default)]
pub struct PublishOptions {
    pub ports: Vec<PublishSpec>,
    /// `--client-source LOOPBACK=PUBLIC`.
    pub client_sources: Vec<(Ipv4Addr, Ipv4Addr)>,
    /// The site's restrictions; `None`: everyone is allowed.
    pub access: Option<AccessPolicy>,
}

fn port(s: &str, what: &str) -> Result<u16, String> {
    s.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| format!("{what} {s:?} is not a port (1-65535)"))
}

/// Parses `[ADDR:]HOSTPORT[:APPPORT]` (with two parts, the first is ADDR
/// when it is an IPv4 address, else HOSTPORT).
pub fn parse_publish(text: &str, scm: bool) -> Result<PublishSpec, String> {
    let flag = if scm { "--publish-scm" } else { "--publish" };
    let bad = |why: String| format!("{flag} {text:?}: {why} (expected [ADDR:]HOSTPORT[:APPPORT], e.g. 7071, 8080:7071, 127.0.0.1:8080:7071)");
    let parts: Vec<&str> = text.split(':').collect();
    let local = Ipv4Addr::LOCALHOST;
    let addr = |s: &str| s.parse::<Ipv4Addr>().map_err(|_| bad(format!("{s:?} is not an IPv4 address")));
    let (a, h, p) = match parts.as_slice() {
        [h] => (local, port(h, "HOSTPORT").map_err(bad)?, None),
        [a, h] if a.parse::<Ipv4Addr>().is_ok() => (addr(a)?, port(h, "HOSTPORT").map_err(bad)?, None),
        [h, p] => (local, port(h, "HOSTPORT").map_err(bad)?, Some(port(p, "APPPORT").map_err(bad)?)),
        [a, h, p] => (addr(a)?, port(h, "HOSTPORT").map_err(bad)?, Some(port(p, "APPPORT").map_err(bad)?)),
        _ => return Err(bad("too many ':'".into())),
    };
    Ok(PublishSpec { bind: SocketAddrV4::new(a, h), app_port: p.unwrap_or(h), scm })
}

/// Parses `--client-source 127.0.0.N=PUBLIC_ADDR`.
pub fn parse_client_source(text: &str) -> Result<(Ipv4Addr, Ipv4Addr), String> {
    let bad = |why: &str| format!("--client-source {text:?}: {why} (expected LOOPBACK=ADDRESS, e.g. 127.0.0.7=198.51.100.7)");
    let (l, p) = text.split_once('=').ok_or_else(|| bad("no '='"))?;
    let l: Ipv4Addr = l.trim().parse().map_err(|_| bad("the left side is not an IPv4 address"))?;
    if !l.is_loopback() {
        return Err(bad("the left side must be a loopback address (127.0.0.0/8)"));
    }
    let p: Ipv4Addr = p.trim().parse().map_err(|_| bad("the right side is not an IPv4 address"))?;
    Ok((l, p))
}

/// The client address the restrictions judge for a connection from `peer`.
pub fn client_address(sources: &[(Ipv4Addr, Ipv4Addr)], peer: Ipv4Addr) -> Ipv4Addr {
    if !peer.is_loopback() {
        return peer;
    }
    sources.iter().find(|(l, _)| *l == peer).map_or(DEFAULT_CLIENT, |(_, p)| *p)
}

#[derive(Default)]
struct Counts {
    allowed: AtomicU64,
    denied: AtomicU64,
    unreachable: AtomicU64,
}

struct Ctx {
    access: Option<AccessPolicy>,
    sources: Vec<(Ipv4Addr, Ipv4Addr)>,
    instance_ip: Ipv4Addr,
    counts: Counts,
}

/// The running publisher; dropping it stops it (and prints its counts
/// unless quiet).
pub struct Published {
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    ctx: Arc<Ctx>,
    quiet: bool,
}

impl Drop for Published {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let c = &self.ctx.counts;
        let (a, d, u) = (c.allowed.load(Ordering::Relaxed), c.denied.load(Ordering::Relaxed), c.unreachable.load(Ordering::Relaxed));
        if !self.quiet && a + d + u > 0 {
            eprintln!("vnetlab: inbound: {a} connections allowed, {d} denied by access restrictions, {u} answered 502 (the app did not answer)");
        }
    }
}

/// Binds the published ports and starts forwarding into `app_ns`; `None`
/// when nothing is published.
pub fn start(opts: &PublishOptions, app_ns: &OwnedFd, instance_ip: Ipv4Addr, quiet: bool) -> io::Result<Option<Published>> {
    if opts.ports.is_empty() {
        return Ok(None);
    }
    let mut listeners = Vec::new();
    for spec in &opts.ports {
        let l = std::net::TcpListener::bind(spec.bind).map_err(|e| io::Error::new(e.kind(), format!("listening on {}: {e}", spec.bind)))?;
        l.set_nonblocking(true)?;
        if !quiet {
            let (site, list) = opts.access.as_ref().map_or(("", 0), |a| (a.site.as_str(), a.list(spec.scm).rules.len()));
            let which = if spec.scm { "scm site" } else { "site" };
            eprintln!("vnetlab: publishing {} -> app {instance_ip}:{} ({which} {site}: {list} access restriction(s))", spec.bind, spec.app_port);
        }
        listeners.push((l, spec.clone()));
    }
    let ns = app_ns.try_clone()?;
    let ctx = Arc::new(Ctx { access: opts.access.clone(), sources: opts.client_sources.clone(), instance_ip, counts: Counts::default() });
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<io::Result<()>>();
    let tctx = ctx.clone();
    let thread = std::thread::Builder::new().name("vnetlab-publish".into()).spawn(move || {
        // SAFETY: setns changes only this thread's namespace; `ns` is open.
        if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            let _ = ready_tx.send(Err(io::Error::last_os_error()));
            return;
        }
        let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(rt) => rt,
            Err(e) => {
                let _ = ready_tx.send(Err(e));
                return;
            }
        };
        rt.block_on(async move {
            let mut tasks = Vec::new();
            for (l, spec) in listeners {
                let l = match TcpListener::from_std(l) {
                    Ok(l) => l,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                tasks.push(tokio::spawn(accept_loop(l, Arc::new(spec), tctx.clone())));
            }
            let _ = ready_tx.send(Ok(()));
            let _ = stop_rx.await;
            for t in tasks {
                t.abort();
            }
        });
    })?;
    ready_rx.recv().map_err(|_| io::Error::other("publish thread ended"))??;
    Ok(Some(Published { stop: Some(stop_tx), thread: Some(thread), ctx, quiet }))
}

async fn accept_loop(l: TcpListener, spec: Arc<PublishSpec>, ctx: Arc<Ctx>) {
    loop {
        match l.accept().await {
            Ok((s, SocketAddr::V4(peer))) => {
                tokio::spawn(serve(s, peer, spec.clone(), ctx.clone()));
            }
            Ok(_) => {}
            // Out of descriptors and the like: keep serving the others.
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Reads (bounded) until the request head is complete; returns its headers.
async fn read_head(s: &mut TcpStream, buf: &mut Vec<u8>) -> Vec<(String, String)> {
    let deadline = tokio::time::Instant::now() + HEAD_TIMEOUT;
    let mut chunk = [0u8; 4096];
    loop {
        let (done, headers) = parse_head(buf);
        if done || buf.len() >= HEAD_LIMIT {
            return headers;
        }
        match tokio::time::timeout_at(deadline, s.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => buf.extend_from_slice(&chunk[..n]),
            _ => return headers,
        }
    }
}

/// Answers with `status` and closes without resetting the client.
async fn answer(mut s: TcpStream, mut head: Vec<u8>, status: &str, body: String) {
    if head.is_empty() {
        read_head(&mut s, &mut head).await;
    }
    let resp = format!("HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
    if s.write_all(resp.as_bytes()).await.is_err() {
        return;
    }
    let _ = s.shutdown().await;
    let mut sink = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + DRAIN_TIMEOUT;
    while let Ok(Ok(n)) = tokio::time::timeout_at(deadline, s.read(&mut sink)).await {
        if n == 0 {
            break;
        }
    }
}

async fn serve(mut s: TcpStream, peer: SocketAddrV4, spec: Arc<PublishSpec>, ctx: Arc<Ctx>) {
    let client = client_address(&ctx.sources, *peer.ip());
    let mut head = Vec::new();
    if let Some(access) = &ctx.access {
        let headers = if access.needs_headers(spec.scm) { read_head(&mut s, &mut head).await } else { Vec::new() };
        let d = access.decide(client, spec.scm, &headers);
        if !d.allowed {
            ctx.counts.denied.fetch_add(1, Ordering::Relaxed);
            eprintln!("vnetlab: DENY inbound {peer} (as {client}) -> {}: {d}", spec.bind);
            return answer(s, head, "403 Forbidden", format!("vnetlab: {d}\n")).await;
        }
    }
    let app = SocketAddrV4::new(ctx.instance_ip, spec.app_port);
    let connected = match TcpSocket::new_v4() {
        Ok(sock) => tokio::time::timeout(APP_CONNECT_TIMEOUT, sock.connect(SocketAddr::V4(app)))
            .await
            .unwrap_or_else(|_| Err(io::Error::new(io::ErrorKind::TimedOut, "no answer"))),
        Err(e) => Err(e),
    };
    let mut up = match connected {
        Ok(up) => up,
        Err(e) => {
            ctx.counts.unreachable.fetch_add(1, Ordering::Relaxed);
            return answer(s, head, "502 Bad Gateway", format!("vnetlab: the app does not answer on {app} ({e})\n")).await;
        }
    };
    ctx.counts.allowed.fetch_add(1, Ordering::Relaxed);
    if up.write_all(&head).await.is_ok() {
        let _ = tokio::io::copy_bidirectional(&mut s, &mut up).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_specs() {
        let s = |t: &str| parse_publish(t, false);
        let lo = Ipv4Addr::LOCALHOST;
        assert_eq!(s("7071").unwrap(), PublishSpec { bind: SocketAddrV4::new(lo, 7071), app_port: 7071, scm: false });
        assert_eq!(s("8080:7071").unwrap(), PublishSpec { bind: SocketAddrV4::new(lo, 8080), app_port: 7071, scm: false });
        assert_eq!(s("0.0.0.0:8080").unwrap(), PublishSpec { bind: SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 8080), app_port: 8080, scm: false });
        assert_eq!(
            parse_publish("127.0.0.2:8080:7071", true).unwrap(),
            PublishSpec { bind: SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 2), 8080), app_port: 7071, scm: true }
        );
        for bad in ["", "0", "x:1", "1:2:3:4", "127.0.0.1:70000", "8080:0", "host:1:2"] {
            assert!(s(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn client_sources_map_loopback_peers_only() {
        let m = vec![parse_client_source("127.0.0.7=198.51.100.7").unwrap()];
        assert_eq!(client_address(&m, Ipv4Addr::new(127, 0, 0, 7)), Ipv4Addr::new(198, 51, 100, 7));
        assert_eq!(client_address(&m, Ipv4Addr::new(127, 0, 0, 1)), DEFAULT_CLIENT);
        assert_eq!(client_address(&m, Ipv4Addr::new(198, 18, 0, 5)), Ipv4Addr::new(198, 18, 0, 5));
        assert!(parse_client_source("10.0.0.1=198.51.100.7").is_err());
        assert!(parse_client_source("127.0.0.7").is_err());
        assert!(parse_client_source("127.0.0.7=x").is_err());
    }
}
