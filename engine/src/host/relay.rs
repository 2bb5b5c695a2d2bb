//! The host side of `vnetlab run` (the engine's `Sidecar`): allowed flows
//! re-originated from this machine's own sockets ("let the kernel do TCP").
//!
//! TCP, connect before forwarding: on `Verdict::Connect` the held SYN waits
//! while a host socket connects to the target (`target::choose`), bounded by
//! `CONNECT_TIMEOUT`. Connected: a listener on the destination port exists
//! in the host-world namespace (AnyIP: it accepts any destination address;
//! one per port, made once by a helper thread that enters the namespace),
//! the pending connection is registered under (translated source,
//! destination), and the SYN is released; the world's kernel answers the
//! app, the accepted socket is matched and spliced to the host socket
//! (`splice`). Refused: the datapath answers the app with an RST. Anything
//! else (timeout, unreachable, private destination without a map): nothing,
//! the app's own SYN timeout plays out as on Azure.
//!
//! The TCP side (listeners, connects, splices) runs on a runtime of its own
//! with one worker thread, "vnetlab-relay": on the engine's thread the copies
//! and the engine's TUN reads and writes took turns on one core
//! (`scripts/bench-hostmode.sh`, BENCHMARKS.md "Host mode").
//!
//! UDP: every allowed, translated datagram is taken from the engine and
//! sent on a host socket connected to the target (one per translated
//! tuple); replies are built as IPv4/UDP packets from the destination to
//! the translated source and go back through the datapath. A socket idle
//! for the flow table's UDP timeout is closed.

use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::Interest;
use tokio::net::{TcpSocket, TcpStream, UdpSocket};
use tokio::runtime::{Handle, Runtime};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::report::Report;
use super::target::{self, MapRule, Target};
use crate::engine::{Sidecar, SidecarEvent};
use vnetlab_core::datapath::flowlog::FlowRecord;
use vnetlab_core::datapath::packet::{self, Transport, UDP_REPLY_PAYLOAD};
use vnetlab_core::datapath::table::UDP_IDLE_SECS;
use vnetlab_core::datapath::ConnectOutcome;
use vnetlab_core::decision::World;
use vnetlab_core::flow::{Flow, Proto};

/// How long a host connect may take before the app is left to its own SYN
/// timeout. Azure documents 21 s for a blocked connect; a host target that
/// does not answer within this is treated the same way.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(21);
/// How long a connected host socket waits for the world's kernel to hand
/// over the app's side (the SYN-ACK round trip through the engine).
const ACCEPT_TIMEOUT: Duration = Duration::from_secs(10);

/// Pending splices: (translated source, destination) -> the host socket's half.
type Pending = Arc<Mutex<HashMap<(SocketAddrV4, SocketAddrV4), oneshot::Sender<TcpStream>>>>;

struct UdpRelay {
    /// Sends directly (a tokio socket's `try_send` refuses until its first
    /// readiness event); a clone of it feeds the reader task.
    sock: std::net::UdpSocket,
    reader: JoinHandle<()>,
    last: Instant,
}

/// `vnetlab run`'s sidecar.
pub struct HostRelay {
    /// The TCP relay's own runtime (None: it could not be made, and the
    /// engine's runs the relay too).
    _tcp_rt: TcpRuntime,
    /// Where TCP tasks run: `_tcp_rt`'s handle or the engine's.
    tcp: Handle,
    host_ns: OwnedFd,
    maps: Vec<MapRule>,
    tx: mpsc::UnboundedSender<SidecarEvent>,
    rx: mpsc::UnboundedReceiver<SidecarEvent>,
    listeners: HashMap<u16, JoinHandle<()>>,
    pending: Pending,
    udp: HashMap<Flow, UdpRelay>,
    pub report: Report,
}

impl HostRelay {
    /// `host_ns`: the host world's network namespace (a descriptor of it).
    /// Called on the engine's runtime.
    pub fn new(host_ns: OwnedFd, maps: Vec<MapRule>, report: Report) -> HostRelay {
        let (tx, rx) = mpsc::unbounded_channel();
        let tcp_rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("vnetlab-relay")
            .enable_all()
            .build()
            .map_err(|e| eprintln!("vnetlab: relay thread: {e} (the engine's thread relays)"))
            .ok();
        let tcp = tcp_rt.as_ref().map_or_else(Handle::current, |rt| rt.handle().clone());
        HostRelay {
            _tcp_rt: TcpRuntime(tcp_rt),
            tcp,
            host_ns,
            maps,
            tx,
            rx,
            listeners: HashMap::new(),
            pending: Pending::default(),
            udp: HashMap::new(),
            report,
        }
    }

    /// A listener on `port` in the host world, accepting for any address.
    fn ensure_listener(&mut self, port: u16) -> io::Result<()> {
        if self.listeners.contains_key(&port) {
            return Ok(());
        }
        let ns = self.host_ns.as_raw_fd();
        let std_listener = std::thread::scope(|s| {
            s.spawn(|| -> io::Result<std::net::TcpListener> {
                // SAFETY: setns changes only this helper thread's namespace;
                // the descriptor outlives the scope.
                if unsafe { libc::setns(ns, libc::CLONE_NEWNET) } != 0 {
                    return Err(io::Error::last_os_error());
                }
                std::net::TcpListener::bind((Ipv4Addr::UNSPECIFIED, port))
            })
            .join()
            .map_err(|_| io::Error::other("listener thread panicked"))?
        })?;
        std_listener.set_nonblocking(true)?;
        unpaced(std_listener.as_raw_fd());
        let listener = {
            let _rt = self.tcp.enter();
            tokio::net::TcpListener::from_std(std_listener)?
        };
        let pending = self.pending.clone();
        let task = self.tcp.spawn(async move {
            while let Ok((stream, SocketAddr::V4(peer))) = listener.accept().await {
                let Ok(SocketAddr::V4(local)) = stream.local_addr() else { continue };
                let waiting = pending.lock().ok().and_then(|mut p| p.remove(&(peer, local)));
                if let Some(tx) = waiting {
                    let _ = tx.send(stream);
                }
                // Unmatched: dropped (the app sees a reset); only released SYNs get here.
            }
        });
        self.listeners.insert(port, task);
        Ok(())
    }

    fn udp_out(&mut self, key: Flow, world: World, payload: &[u8]) {
        if let Some(r) = self.udp.get_mut(&key) {
            r.last = Instant::now();
            let _ = r.sock.send(payload);
            return;
        }
        let (to, bind) = match target::choose(&self.maps, world, key.dst, key.dst_port, key.src) {
            Target::Host { to, bind } => (to, bind),
            Target::Unmapped => {
                self.report.unmapped(&Flow { src: key.src, ..key });
                return;
            }
        };
        let (sock, reader_sock) = match udp_socket(to, bind) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("vnetlab: udp {}:{} -> {to}: {e}", key.dst, key.dst_port);
                return;
            }
        };
        self.report.reached(&key, format!("-> {to}"));
        let _ = sock.send(payload);
        let tx = self.tx.clone();
        let reader = tokio::spawn(async move {
            let mut buf = vec![0u8; 65_536];
            while let Ok(n) = reader_sock.recv(&mut buf[UDP_REPLY_PAYLOAD..]).await {
                let mut pkt = vec![0u8; UDP_REPLY_PAYLOAD + n];
                pkt[UDP_REPLY_PAYLOAD..].copy_from_slice(&buf[UDP_REPLY_PAYLOAD..UDP_REPLY_PAYLOAD + n]);
                // From the destination to the translated source, as the world would answer.
                if let Some(len) = packet::finish_udp_reply(&mut pkt, key.dst, key.dst_port, key.src, key.src_port, n) {
                    pkt.truncate(len);
                    if tx.send(SidecarEvent::FromWorld(pkt)).is_err() {
                        break;
                    }
                }
            }
        });
        self.udp.insert(key, UdpRelay { sock, reader, last: Instant::now() });
    }
}

/// A host socket connected to `to`: the sending half and the reader.
fn udp_socket(to: SocketAddrV4, bind: Option<Ipv4Addr>) -> io::Result<(std::net::UdpSocket, UdpSocket)> {
    let s = std::net::UdpSocket::bind((bind.unwrap_or(Ipv4Addr::UNSPECIFIED), 0))?;
    s.connect(to)?;
    s.set_nonblocking(true)?;
    let reader = UdpSocket::from_std(s.try_clone()?)?;
    Ok((s, reader))
}

async fn tcp_connect(to: SocketAddrV4, bind: Option<Ipv4Addr>) -> io::Result<TcpStream> {
    let s = TcpSocket::new_v4()?;
    unpaced(s.as_raw_fd());
    if let Some(b) = bind {
        s.bind(SocketAddr::V4(SocketAddrV4::new(b, 0)))?;
    }
    s.connect(SocketAddr::V4(to)).await
}

/// Best effort: CUBIC for the relay's own sockets (the host world's
/// listener, whose accepted sockets inherit it, and the host sockets), both
/// ends of links inside this machine. Where the machine's default is BBR it
/// paces every send by timer, which on these links with no loss and no
/// queue only adds work: iperf3 through `vnetlab run` moved 10-50% more per
/// CPU second with CUBIC (BENCHMARKS.md "Host mode"). Unprivileged users
/// may only pick algorithms in `net.ipv4.tcp_allowed_congestion_control`.
fn unpaced(fd: RawFd) {
    const CC: &[u8] = b"cubic";
    // SAFETY: setsockopt on a socket we hold, with a buffer of the given length.
    unsafe { libc::setsockopt(fd, libc::IPPROTO_TCP, libc::TCP_CONGESTION, CC.as_ptr().cast(), CC.len() as libc::socklen_t) };
}

/// The TCP relay's runtime, shut down when the relay is dropped: that ends
/// the open splices (their sockets close) as the engine's runtime ending did
/// when they ran there; `shutdown_background` may be called from async code,
/// where dropping a runtime panics.
struct TcpRuntime(Option<Runtime>);

impl Drop for TcpRuntime {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

/// Bytes one `splice` may move, and the size a pipe grows to once its
/// direction has moved `GROW_AFTER` bytes: 1 MiB (the default
/// `fs.pipe-max-size`) takes a loopback socket's queue in a few calls where
/// the default 64 KiB pipe needs one call per 16 pages. Only bulk flows
/// grow: pipe pages count against the user's quota (`fs.pipe-user-pages-soft`,
/// 64 MiB), past which every new pipe of that user, vnetlab's or not, is
/// made with two pages.
const PIPE_SIZE: usize = 1 << 20;
const GROW_AFTER: u64 = 1 << 20;

/// A pipe, the buffer of one direction of a splice.
struct Pipe {
    r: OwnedFd,
    w: OwnedFd,
}

impl Pipe {
    fn new() -> io::Result<Pipe> {
        let mut fds = [0; 2];
        // SAFETY: pipe2 fills the two-element array.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: both descriptors were just made and are owned by nobody else.
        let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        Ok(Pipe { r, w })
    }

    /// Best effort: past the user's quota the pipe keeps its size.
    fn grow(&self) {
        // SAFETY: fcntl on our own descriptor.
        unsafe { libc::fcntl(self.w.as_raw_fd(), libc::F_SETPIPE_SZ, PIPE_SIZE as libc::c_int) };
    }
}

fn splice(from: RawFd, to: RawFd, len: usize) -> io::Result<usize> {
    // SAFETY: splice(2) between two descriptors we hold; no user memory.
    let n = unsafe { libc::splice(from, std::ptr::null_mut(), to, std::ptr::null_mut(), len, libc::SPLICE_F_MOVE | libc::SPLICE_F_NONBLOCK) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// Moves `from`'s bytes to `to` through `pipe` in the kernel (no copy
/// through this process) until `from` ends, then shuts down `to`'s writing
/// half, as `copy_bidirectional` does. The pipe is emptied before the next
/// read, so EAGAIN on a read always means `from` has nothing (the readiness
/// tokio clears is the socket's own).
async fn splice_one_way(from: &TcpStream, to: &TcpStream, pipe: &Pipe) -> io::Result<()> {
    let (src, dst) = (from.as_raw_fd(), to.as_raw_fd());
    let mut moved = 0u64;
    loop {
        let n = from.async_io(Interest::READABLE, || splice(src, pipe.w.as_raw_fd(), PIPE_SIZE)).await?;
        if n == 0 {
            // SAFETY: shutdown(2) on a socket we hold.
            unsafe { libc::shutdown(dst, libc::SHUT_WR) };
            return Ok(());
        }
        let mut left = n;
        while left > 0 {
            match to.async_io(Interest::WRITABLE, || splice(pipe.r.as_raw_fd(), dst, left)).await? {
                0 => return Err(io::ErrorKind::WriteZero.into()),
                m => left -= m,
            }
        }
        let before = moved;
        moved += n as u64;
        if before < GROW_AFTER && moved >= GROW_AFTER {
            pipe.grow();
        }
    }
}

/// The app's accepted connection and the host connection, spliced both ways
/// until both directions ended or one failed (then both are closed).
async fn splice_both(app: TcpStream, host: TcpStream) {
    match (Pipe::new(), Pipe::new()) {
        (Ok(up), Ok(down)) => {
            let _ = tokio::try_join!(splice_one_way(&app, &host, &up), splice_one_way(&host, &app, &down));
        }
        // Out of descriptors for pipes: copy through this process instead.
        _ => {
            let (mut app, mut host) = (app, host);
            let _ = tokio::io::copy_bidirectional(&mut app, &mut host).await;
        }
    }
}

impl Sidecar for HostRelay {
    fn connect(&mut self, flow: Flow, world: World, held: &[u8], hdr: usize) {
        let tx = self.tx.clone();
        let held = held.to_vec();
        let timed_out = |tx: &mpsc::UnboundedSender<SidecarEvent>, held: Vec<u8>| {
            let _ = tx.send(SidecarEvent::ConnectDone { flow, held, outcome: ConnectOutcome::TimedOut });
        };
        let Some(p) = held.get(hdr..).and_then(|b| packet::parse(b).ok()) else { return timed_out(&tx, held) };
        let (src, dst) = (SocketAddrV4::new(p.src, p.src_port), SocketAddrV4::new(p.dst, p.dst_port));
        let (to, bind) = match target::choose(&self.maps, world, p.dst, p.dst_port, p.src) {
            Target::Host { to, bind } => (to, bind),
            Target::Unmapped => {
                self.report.unmapped(&flow);
                return timed_out(&tx, held);
            }
        };
        if let Err(e) = self.ensure_listener(p.dst_port) {
            eprintln!("vnetlab: listener for port {} in the host world: {e}", p.dst_port);
            return timed_out(&tx, held);
        }
        self.report.reached(&flow, format!("-> {to}"));
        let pending = self.pending.clone();
        self.tcp.spawn(async move {
            let outcome = match tokio::time::timeout(CONNECT_TIMEOUT, tcp_connect(to, bind)).await {
                Ok(Ok(out)) => Ok(out),
                Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionRefused => Err(ConnectOutcome::Refused),
                _ => Err(ConnectOutcome::TimedOut),
            };
            let out = match outcome {
                Ok(out) => out,
                Err(outcome) => {
                    let _ = tx.send(SidecarEvent::ConnectDone { flow, held, outcome });
                    return;
                }
            };
            let (ptx, prx) = oneshot::channel();
            if let Ok(mut p) = pending.lock() {
                p.insert((src, dst), ptx);
            }
            let _ = tx.send(SidecarEvent::ConnectDone { flow, held, outcome: ConnectOutcome::Connected });
            match tokio::time::timeout(ACCEPT_TIMEOUT, prx).await {
                Ok(Ok(inbound)) => splice_both(inbound, out).await,
                _ => {
                    if let Ok(mut p) = pending.lock() {
                        p.remove(&(src, dst));
                    }
                }
            }
        });
    }

    fn to_world(&mut self, world: World, pkt: &[u8], hdr: usize) -> bool {
        let Some(p) = pkt.get(hdr..).and_then(|b| packet::parse(b).ok()) else { return false };
        let Transport::Udp { payload_len } = p.transport else { return false };
        let start = hdr + p.l4 + 8;
        let Some(payload) = pkt.get(start..start + payload_len) else { return true };
        let key = Flow { proto: Proto::Udp, src: p.src, src_port: p.src_port, dst: p.dst, dst_port: p.dst_port };
        self.udp_out(key, world, payload);
        true
    }

    fn records(&mut self, records: &[FlowRecord]) {
        self.report.records(records);
    }

    fn tick(&mut self) {
        let idle = Duration::from_secs(UDP_IDLE_SECS);
        self.udp.retain(|_, r| {
            let keep = r.last.elapsed() < idle;
            if !keep {
                r.reader.abort();
            }
            keep
        });
    }

    fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<SidecarEvent> {
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(ev)) => Poll::Ready(ev),
            // The relay holds a sender itself: the channel never closes.
            _ => Poll::Pending,
        }
    }
}
