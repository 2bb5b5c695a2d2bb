//! The thin I/O shell around the datapath: TUN devices in, TUN devices out.
//!
//! One device for the app and one per world, handed over as owned file
//! descriptors (the testbed creates them inside namespaces: raw IPv4, no
//! packet-info header). A single-threaded tokio loop waits for readiness on
//! every device, reads a batch (up to `BATCH` packets per device per wakeup,
//! so no device starves the others), calls `Datapath::from_app` /
//! `from_world` and writes the result to the target device at once. `tick`
//! runs every second, and the flow-log records it and the packets produced
//! go to a writer thread (JSON lines), so file I/O never blocks the packet
//! loop. The shutdown future ends the loop; the counters are returned.
//!
//! With offloads (`Devices::vnet_hdr`) every packet read or written starts
//! with a virtio-net header: the engine hands its checksum and segmentation
//! facts to the datapath (`Offload`) and writes the same header back out, so
//! a 64 KiB TCP segment crosses the engine in one read and one write and is
//! cut into MTU-sized packets by nobody (the receiving stack takes it whole).
//!
//! Per packet nothing is allocated: one receive buffer and one reply buffer
//! are reused. The clock is read here, once per batch, and passed in as a
//! `Timestamp`.
//!
//! `run_with` adds a `Sidecar`: what `vnetlab run` puts next to the TUN
//! devices (host sockets). It receives the held SYNs of `Verdict::Connect`,
//! may take packets bound for a world (the UDP relay), sees the flow-log
//! records as they are made, and feeds back connect outcomes and packets
//! that stand for a world's replies. Its worlds may share one device
//! (`WorldDevices::Shared`). `run` is `run_with` without a sidecar.
//!
//! Beside the datapath runs the platform host (`vnetlab_core::platform`):
//! packets of platform flows (`Verdict::ToPlatform`) go to its endpoints
//! (on smoltcp), with the policy's DNS for DNS over TCP; what they send
//! back goes through `Datapath::from_platform` (counted on the flow) to the
//! app. Their timers run on the engine's clock: the loop also wakes at
//! `Platform::poll_at`.

use std::future::{poll_fn, Future};
use std::io::{self, BufWriter, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;
use std::sync::mpsc;
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::io::unix::AsyncFd;

use vnetlab_core::datapath::flowlog::{FlowRecord, WallClock};
use vnetlab_core::datapath::packet::Offload;
use vnetlab_core::datapath::{ConnectOutcome, Counters, Datapath, PolicyView, Verdict};
use vnetlab_core::decision::World;
use vnetlab_core::flow::Flow;
use vnetlab_core::platform::Platform;
use vnetlab_core::time::Timestamp;
use vnetlab_testbed::VNET_HDR_LEN;

/// Packets read from one device per wakeup before the others get a turn.
pub const BATCH: usize = 64;
/// Receive buffer: one packet of at most 64 KiB (a TSO segment with
/// offloads) after its virtio-net header.
const RX_BUF: usize = VNET_HDR_LEN + 65_536;

/// The TUN devices the engine drives (raw IPv4, IFF_NO_PI).
pub struct Devices {
    pub app: OwnedFd,
    pub worlds: Vec<(World, OwnedFd)>,
    /// Every device carries virtio-net headers (`TunOptions::vnet_hdr`).
    pub vnet_hdr: bool,
}

/// The virtio-net header's facts the datapath needs (flags byte 0: bit 0
/// NEEDS_CSUM; byte 1 gso_type, 0 for none; bytes 4-5 gso_size, in the
/// host's byte order as TUN devices write it).
fn offload_of(hdr: &[u8]) -> Offload {
    let gso = hdr[1] & 0x7f != 0;
    Offload { csum_partial: hdr[0] & 0x01 != 0, gso_size: if gso { u16::from_ne_bytes([hdr[4], hdr[5]]) } else { 0 } }
}

/// Appends flow-log records as JSON lines to a file from its own thread.
pub struct FlowLogWriter {
    tx: mpsc::Sender<(WallClock, Vec<FlowRecord>)>,
    thread: JoinHandle<io::Result<()>>,
}

impl FlowLogWriter {
    /// Creates (or appends to) the file at `path`.
    pub fn create(path: &Path) -> io::Result<FlowLogWriter> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| io::Error::new(e.kind(), format!("flow log {}: {e}", path.display())))?;
        let (tx, rx) = mpsc::channel::<(WallClock, Vec<FlowRecord>)>();
        let thread = std::thread::Builder::new().name("vnetlab-flowlog".into()).spawn(move || {
            let mut out = BufWriter::new(file);
            for (wall, batch) in rx {
                for r in &batch {
                    out.write_all(r.to_json_line(wall).as_bytes())?;
                }
                out.flush()?;
            }
            out.flush()
        })?;
        Ok(FlowLogWriter { tx, thread })
    }

    fn send(&self, wall: WallClock, batch: Vec<FlowRecord>) {
        if !batch.is_empty() {
            // A send fails only if the thread died; its error surfaces in `finish`.
            let _ = self.tx.send((wall, batch));
        }
    }

    /// Flushes everything sent so far and closes the file.
    pub fn finish(self) -> io::Result<()> {
        drop(self.tx);
        self.thread.join().map_err(|_| io::Error::other("flow log writer panicked"))?
    }
}

fn set_nonblocking(fd: &OwnedFd) -> io::Result<()> {
    // SAFETY: fcntl on a descriptor we own, with integer arguments only.
    let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above.
    if unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn read_fd(fd: &OwnedFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for `buf.len()` writable bytes.
    let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

fn write_fd(fd: &OwnedFd, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for `buf.len()` readable bytes.
    let n = unsafe { libc::write(fd.as_raw_fd(), buf.as_ptr().cast(), buf.len()) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// What a device stands for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    App,
    World(World),
    /// Every forwarded world (`WorldDevices::Shared`).
    AnyWorld,
}

/// A device slot: index 0 is the app, then the worlds.
struct Dev {
    fd: AsyncFd<OwnedFd>,
    role: Role,
}

/// The world side of the engine: one device per world (`up`, live runs),
/// or one device that every forwarded world shares (`vnetlab run`'s host
/// world, where every allowed flow reaches this machine).
pub enum WorldDevices {
    PerWorld(Vec<(World, OwnedFd)>),
    Shared(OwnedFd),
}

/// What the sidecar hands back to the loop.
#[derive(Debug)]
pub enum SidecarEvent {
    /// The connect for `flow` ended; `held` is the SYN from `Sidecar::connect`
    /// (with its device header).
    ConnectDone { flow: Flow, held: Vec<u8>, outcome: ConnectOutcome },
    /// A packet (plain IPv4, no device header) that a world sent towards a
    /// translated source, such as a relayed UDP reply.
    FromWorld(Vec<u8>),
    /// The upstream resolver's `answer` to `query` (the packet of
    /// `Verdict::DnsUpstream`, plain IPv4, no device header).
    DnsAnswer { query: Vec<u8>, answer: Vec<u8> },
}

/// Host-side work beside the devices (see the module comment). Called on
/// the engine's thread, inside its tokio runtime, so it may spawn tasks.
pub trait Sidecar {
    /// `Verdict::Connect`: `held` is the translated SYN after `hdr` bytes of
    /// device header; answer later with `SidecarEvent::ConnectDone`.
    fn connect(&mut self, flow: Flow, world: World, held: &[u8], hdr: usize);
    /// `Verdict::DnsUpstream`: `query` (after `hdr` bytes of header) is a
    /// DNS query for the upstream resolver; answer with
    /// `SidecarEvent::DnsAnswer`. Without an upstream the query is lost and
    /// the app's resolver times out, as with no resolver at all.
    fn dns_upstream(&mut self, _query: &[u8], _hdr: usize) {}
    /// A packet bound for `world` (after `hdr` bytes of header): true if the
    /// sidecar took it, false to write it to the world's device.
    fn to_world(&mut self, world: World, pkt: &[u8], hdr: usize) -> bool;
    /// Flow-log records, as soon as the datapath made them.
    fn records(&mut self, records: &[FlowRecord]);
    /// Once a second.
    fn tick(&mut self);
    /// The next event, if any.
    fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<SidecarEvent>;
}

/// No sidecar: `run`.
pub struct NoSidecar;

impl Sidecar for NoSidecar {
    fn connect(&mut self, _: Flow, _: World, _: &[u8], _: usize) {}
    fn to_world(&mut self, _: World, _: &[u8], _: usize) -> bool {
        false
    }
    fn records(&mut self, _: &[FlowRecord]) {}
    fn tick(&mut self) {}
    fn poll_event(&mut self, _: &mut Context<'_>) -> Poll<SidecarEvent> {
        Poll::Pending
    }
}

/// Runs the datapath and the platform host over `devices` until `shutdown`
/// completes; returns the counters.
pub async fn run<P: PolicyView>(
    datapath: Datapath<P>,
    platform: Platform,
    devices: Devices,
    log: Option<FlowLogWriter>,
    shutdown: impl Future<Output = ()>,
) -> io::Result<Counters> {
    run_with(datapath, platform, devices.app, WorldDevices::PerWorld(devices.worlds), devices.vnet_hdr, log, &mut NoSidecar, shutdown).await
}

/// Writes `bytes` to device `dst`. A full device queue or a vanished device
/// loses the packet, as a congested link would; TCP recovers.
fn write_dev<P: PolicyView>(datapath: &mut Datapath<P>, devs: &[Dev], dst: usize, bytes: &[u8]) {
    match devs.get(dst) {
        Some(d) => {
            if write_fd(d.fd.get_ref(), bytes).is_err() {
                datapath.count_write_error();
            }
        }
        None => datapath.count_write_error(),
    }
}

/// Writes what the platform's endpoints sent to the app (device 0), after
/// `h` zero bytes of device header (plain packets, checksums complete).
fn platform_to_app<P: PolicyView>(datapath: &mut Datapath<P>, platform: &mut Platform, devs: &[Dev], h: usize, t: Timestamp, buf: &mut Vec<u8>) {
    while let Some(mut pkt) = platform.pop() {
        if let Verdict::ToApp = datapath.from_platform(&mut pkt, t) {
            buf.clear();
            buf.resize(h, 0);
            buf.extend_from_slice(&pkt);
            write_dev(datapath, devs, 0, buf);
        }
    }
}

/// Where a verdict's bytes go.
enum Out {
    Dev(usize),
    /// Taken by the sidecar, or dropped.
    Done,
}

/// `run` with worlds that may share a device and a sidecar.
// The sans-IO pair (datapath, platform), the devices, the log, the sidecar
// and the stop signal: each caller names every one of them.
#[allow(clippy::too_many_arguments)]
pub async fn run_with<P: PolicyView, S: Sidecar>(
    mut datapath: Datapath<P>,
    mut platform: Platform,
    app: OwnedFd,
    worlds: WorldDevices,
    vnet_hdr: bool,
    log: Option<FlowLogWriter>,
    sidecar: &mut S,
    shutdown: impl Future<Output = ()>,
) -> io::Result<Counters> {
    // Packets start after the header room; replies get an all-zero header
    // (a plain packet, checksums complete).
    let h = if vnet_hdr { VNET_HDR_LEN } else { 0 };
    let worlds: Vec<(Role, OwnedFd)> = match worlds {
        WorldDevices::PerWorld(v) => v.into_iter().map(|(w, fd)| (Role::World(w), fd)).collect(),
        WorldDevices::Shared(fd) => vec![(Role::AnyWorld, fd)],
    };
    let mut devs = Vec::with_capacity(1 + worlds.len());
    for (role, fd) in std::iter::once((Role::App, app)).chain(worlds) {
        set_nonblocking(&fd)?;
        // SAFETY: the OwnedFd is moved into the AsyncFd, which keeps it open
        // (and its number unchanged) for its whole lifetime.
        let fd = unsafe { AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) }?;
        devs.push(Dev { fd, role });
    }
    // world -> device index, for delivery.
    let mut target = [usize::MAX; World::FORWARDED.len()];
    for (i, d) in devs.iter().enumerate() {
        match d.role {
            Role::World(w) => target[w as usize] = i,
            Role::AnyWorld => target = [i; World::FORWARDED.len()],
            Role::App => {}
        }
    }
    let write = write_dev::<P>;

    let origin = Instant::now();
    let unix_now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let wall = WallClock { unix_nanos_at_origin: unix_now.as_nanos() as u64 };
    let now = || Timestamp(origin.elapsed().as_nanos() as u64);
    // The platform's timers on the engine's clock (a far future when none).
    let wake_at = |t: Option<Timestamp>| tokio::time::Instant::from_std(origin + Duration::from_nanos(t.map_or(u64::MAX / 4, |t| t.as_nanos())));
    let mut platform_buf = Vec::new();

    let mut rx = vec![0u8; RX_BUF];
    let mut reply = vec![0u8; VNET_HDR_LEN + 2048];
    let mut records = Vec::new();
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);

    loop {
        let platform_wake = platform.poll_at();
        let ready = tokio::select! {
            biased;
            () = &mut shutdown => break,
            () = tokio::time::sleep_until(wake_at(platform_wake)), if platform_wake.is_some() => {
                let t = now();
                platform.poll(t, &|name| datapath.policy().resolve(name));
                platform_to_app(&mut datapath, &mut platform, &devs, h, t, &mut platform_buf);
                let seen = records.len();
                datapath.drain_log(&mut records);
                sidecar.records(&records[seen..]);
                continue;
            }
            _ = ticker.tick() => {
                datapath.tick(now());
                sidecar.tick();
                let seen = records.len();
                datapath.drain_log(&mut records);
                sidecar.records(&records[seen..]);
                if let Some(w) = &log {
                    w.send(wall, std::mem::take(&mut records));
                } else {
                    records.clear();
                }
                continue;
            }
            ev = poll_fn(|cx| sidecar.poll_event(cx)) => {
                let t = now();
                match ev {
                    SidecarEvent::ConnectDone { flow, held, outcome } => {
                        let pkt = held.get(h..).unwrap_or_default();
                        match datapath.connect_result(&flow, outcome, pkt, t, &mut reply[h..]) {
                            Verdict::ToWorld(w) => write(&mut datapath, &devs, target[w as usize], &held),
                            Verdict::ReplyToApp { len } => write(&mut datapath, &devs, 0, &reply[..h + len]),
                            _ => {}
                        }
                    }
                    SidecarEvent::DnsAnswer { query, answer } => {
                        if let Verdict::ReplyToApp { len } = datapath.dns_upstream_answer(&query, &answer, &mut reply[h..]) {
                            write(&mut datapath, &devs, 0, &reply[..h + len]);
                        }
                    }
                    SidecarEvent::FromWorld(pkt) => {
                        let Some(buf) = rx.get_mut(..h + pkt.len()) else { continue };
                        buf[..h].fill(0);
                        buf[h..].copy_from_slice(&pkt);
                        if let Verdict::ToApp = datapath.from_any_world(&mut buf[h..], Offload::default(), t, &mut reply[h..]) {
                            write(&mut datapath, &devs, 0, &rx[..h + pkt.len()]);
                        }
                    }
                }
                let seen = records.len();
                datapath.drain_log(&mut records);
                sidecar.records(&records[seen..]);
                continue;
            }
            i = poll_fn(|cx| {
                for (i, d) in devs.iter().enumerate() {
                    if d.fd.poll_read_ready(cx).is_ready() {
                        return Poll::Ready(i);
                    }
                }
                Poll::Pending
            }) => i,
        };

        let t = now();
        let mut guard = devs[ready].fd.readable().await?;
        for _ in 0..BATCH {
            let n = match guard.try_io(|fd| read_fd(fd.get_ref(), &mut rx)) {
                Ok(Ok(n)) => n,
                Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => break,
            };
            // A read shorter than the header leaves an empty packet, which
            // the datapath counts as malformed.
            let (hdr, pkt) = rx[..n].split_at_mut(h.min(n));
            let off = if h > 0 && hdr.len() == h { offload_of(hdr) } else { Offload::default() };
            let verdict = match devs[ready].role {
                Role::App => datapath.from_app(pkt, off, t, &mut reply[h..]),
                Role::World(w) => datapath.from_world(w, pkt, off, t, &mut reply[h..]),
                Role::AnyWorld => datapath.from_any_world(pkt, off, t, &mut reply[h..]),
            };
            // Forwarded packets keep their header: the rewrite changed no
            // length or offset in it.
            let (dst, bytes): (Out, &[u8]) = match verdict {
                Verdict::ToPlatform => {
                    platform.from_app(&rx[h.min(n)..n], t, &|name| datapath.policy().resolve(name));
                    platform_to_app(&mut datapath, &mut platform, &devs, h, t, &mut platform_buf);
                    continue;
                }
                Verdict::ToWorld(w) if sidecar.to_world(w, &rx[..n], h) => (Out::Done, &[]),
                Verdict::ToWorld(w) => (Out::Dev(target[w as usize]), &rx[..n]),
                Verdict::ToApp => (Out::Dev(0), &rx[..n]),
                Verdict::ReplyToApp { len } => (Out::Dev(0), &reply[..h + len]),
                Verdict::Connect { flow, world } => {
                    sidecar.connect(flow, world, &rx[..n], h);
                    (Out::Done, &[])
                }
                Verdict::DnsUpstream => {
                    sidecar.dns_upstream(&rx[..n], h);
                    continue;
                }
                Verdict::Drop(_) => continue,
            };
            if let Out::Dev(dst) = dst {
                write(&mut datapath, &devs, dst, bytes);
            }
        }
        drop(guard);
        let seen = records.len();
        datapath.drain_log(&mut records);
        sidecar.records(&records[seen..]);
    }

    datapath.end_all(now());
    let seen = records.len();
    datapath.drain_log(&mut records);
    sidecar.records(&records[seen..]);
    if let Some(w) = log {
        w.send(wall, records);
        w.finish()?;
    }
    Ok(datapath.counters().clone())
}

/// The engine running on its own thread (a current-thread tokio runtime).
pub struct EngineHandle {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<io::Result<Counters>>>,
}

/// Starts `run` on a new thread; stop it with `EngineHandle::stop`.
pub fn spawn<P: PolicyView + Send + 'static>(
    datapath: Datapath<P>,
    platform: Platform,
    devices: Devices,
    log: Option<FlowLogWriter>,
) -> io::Result<EngineHandle> {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::Builder::new().name("vnetlab-engine".into()).spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        rt.block_on(run(datapath, platform, devices, log, async move {
            // A dropped handle stops the engine too.
            let _ = rx.await;
        }))
    })?;
    Ok(EngineHandle { stop: Some(tx), thread: Some(thread) })
}

impl EngineHandle {
    /// Stops the loop and returns the counters.
    pub fn stop(mut self) -> io::Result<Counters> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> io::Result<Counters> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        match self.thread.take() {
            Some(t) => t.join().map_err(|_| io::Error::other("engine thread panicked"))?,
            None => Err(io::Error::other("engine already stopped")),
        }
    }
}

impl Drop for EngineHandle {
    fn drop(&mut self) {
        if self.thread.is_some() {
            let _ = self.shutdown();
        }
    }
}
