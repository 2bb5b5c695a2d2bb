//! The engine on a real testbed with the bench scenario
//! (benches/scenarios/datapath.toml: NSG allowing TCP 5201-5202 and UDP 5201,
//! NAT gateway 198.18.0.50):
//! - with TUN offloads (checksum, TSO): a bulk TCP transfer arrives byte for
//!   byte, the server sees the NAT gateway's address, the engine carried TSO
//!   segments (so the offload path really ran), every packet is accounted
//!   for, and a flow the NSG denies is still dropped;
//! - without offloads: UDP datagrams and their echoes cross both ways, the
//!   counters count each, and the flow log names the translated source.
//!
//! Needs root; without it the tests say so and return. Each testbed carries a
//! claimed run prefix and is removed on drop, also when an assertion fails.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::time::Duration;

use vnetlab_core::datapath::{Datapath, DatapathOptions};
use vnetlab_core::decision::World;
use vnetlab_core::platform::{Instance, Mode, Platform};
use vnetlab_core::policy::{Policy, PolicyOptions};
use vnetlab_core::scenario::{load_scenario, Inputs};
use vnetlab_engine::disk::Disk;
use vnetlab_engine::engine::{self, Devices, EngineHandle, FlowLogWriter};
use vnetlab_testbed::{run_in_netns, Testbed, TopologySpec};

const SERVER: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 20);
const NAT_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 50);
const BYTES: usize = 32 << 20;
const TIMEOUT: Duration = Duration::from_secs(20);

fn policy() -> Policy {
    let files = vec![PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../benches/scenarios/datapath.toml")];
    let scenario = load_scenario(&Disk, &Inputs { files, ..Default::default() }).expect("bench scenario loads");
    Policy::compile(&scenario, &PolicyOptions::default()).expect("policy")
}

/// Deterministic bytes the receiver can check without a copy of them.
fn byte_at(i: usize) -> u8 {
    (i.wrapping_mul(2_654_435_761) >> 13) as u8
}

/// A testbed with the app and the internet world, and the engine between them.
struct Running {
    bed: Testbed,
    engine: EngineHandle,
    log_path: PathBuf,
}

fn start(offload: bool) -> Running {
    let policy = policy();
    let mut spec = TopologySpec::standard(policy.instance_ip());
    spec.worlds = vec!["inet".into()];
    spec.offload = offload;
    let mut bed = Testbed::create(&spec).expect("testbed");
    let app_fd = bed.take_app_tun().expect("app TUN");
    let inet_fd = bed.take_world_tun("inet").expect("inet TUN");
    let log_path = std::env::temp_dir().join(format!("vnetlab-{}-flows.jsonl", bed.prefix));
    let log = FlowLogWriter::create(&log_path).expect("flow log");
    let platform = Platform::new(Instance::of(&policy), Mode::Endpoints);
    let datapath = Datapath::new(policy, DatapathOptions::default());
    let devices = Devices { app: app_fd, worlds: vec![(World::Internet, inet_fd)], vnet_hdr: offload };
    let engine = engine::spawn(datapath, platform, devices, Some(log)).expect("engine");
    Running { bed, engine, log_path }
}

#[test]
#[ignore = "needs root: network namespaces and TUN devices"]
fn bulk_tcp_crosses_the_engine_in_tso_segments_intact() {
    assert!(vnetlab_testbed::is_root(), "needs root: network namespaces and TUN devices");
    let Running { bed, engine: handle, log_path } = start(true);
    let inet_ns = bed.worlds[0].netns.clone();
    let app_ns = bed.app_netns.clone();

    // The server: accepts one connection, checks every byte, reports the peer.
    let listener = run_in_netns(&inet_ns, || TcpListener::bind("0.0.0.0:5201")).expect("netns").expect("bind");
    let server = std::thread::spawn(move || -> std::io::Result<(SocketAddrV4, usize, usize)> {
        listener.set_nonblocking(false)?;
        let (mut s, peer) = listener.accept()?;
        s.set_read_timeout(Some(TIMEOUT))?;
        let mut buf = vec![0u8; 1 << 16];
        let (mut got, mut wrong) = (0usize, 0usize);
        loop {
            let n = s.read(&mut buf)?;
            if n == 0 {
                break;
            }
            wrong += buf[..n].iter().enumerate().filter(|&(k, &b)| b != byte_at(got + k)).count();
            got += n;
        }
        s.write_all(&(got as u64).to_be_bytes())?;
        let std::net::SocketAddr::V4(peer) = peer else { return Err(std::io::Error::other("IPv6 peer")) };
        Ok((peer, got, wrong))
    });

    let sent = run_in_netns(&app_ns, || -> std::io::Result<u64> {
        let mut s = TcpStream::connect_timeout(&SocketAddrV4::new(SERVER, 5201).into(), TIMEOUT)?;
        s.set_write_timeout(Some(TIMEOUT))?;
        s.set_read_timeout(Some(TIMEOUT))?;
        let mut chunk = vec![0u8; 1 << 16];
        let mut off = 0;
        while off < BYTES {
            for (k, b) in chunk.iter_mut().enumerate() {
                *b = byte_at(off + k);
            }
            s.write_all(&chunk)?;
            off += chunk.len();
        }
        s.shutdown(std::net::Shutdown::Write)?;
        let mut ack = [0u8; 8];
        s.read_exact(&mut ack)?;
        // A denied port (80: DenyInternetOut) times out instead of connecting.
        let denied = TcpStream::connect_timeout(&SocketAddrV4::new(SERVER, 80).into(), Duration::from_secs(1));
        assert!(denied.is_err(), "port 80 must be dropped by the NSG");
        Ok(u64::from_be_bytes(ack))
    })
    .expect("netns")
    .expect("client");

    let (peer, got, wrong) = server.join().expect("server thread").expect("server");
    let counters = handle.stop().expect("engine stops");
    let records = std::fs::read_to_string(&log_path).expect("flow log written");
    let _ = std::fs::remove_file(&log_path);

    assert_eq!((sent as usize, got, wrong), (BYTES, BYTES, 0), "every byte arrives, unchanged");
    assert_eq!(*peer.ip(), NAT_IP, "the server sees the NAT gateway's address");
    assert_eq!(counters.unaccounted(), 0, "{counters:?}");
    assert_eq!(counters.flows_created, 1, "{counters:?}");
    assert_eq!(counters.flows_denied, 1, "{counters:?}");
    // The kernel handed the engine TSO segments, and each still counts as
    // the wire packets it stands for.
    assert!(counters.tso_segments > 0, "{counters:?}");
    assert!(counters.to_world.packets as usize >= BYTES / 1500, "{counters:?}");
    let end = records.lines().find(|l| l.contains("\"state\":\"end\"") && l.contains("\"decision\":\"allow\""));
    let end = end.expect("an end record for the allowed flow");
    assert!(end.contains(&format!("\"packets_out\":{}", counters.to_world.packets)), "{end}");
    drop(bed);
}

#[test]
#[ignore = "needs root: network namespaces and TUN devices"]
fn udp_round_trip_through_the_engine_without_offloads() {
    assert!(vnetlab_testbed::is_root(), "needs root: network namespaces and TUN devices");
    let Running { bed, engine: handle, log_path } = start(false);
    let server_addr = SocketAddrV4::new(SERVER, 5201);
    // Bound to the address itself (local in the world's AnyIP table), so the
    // echoes leave from it.
    let server = run_in_netns(&bed.worlds[0].netns, || UdpSocket::bind(server_addr)).expect("netns").expect("bind");
    let client = run_in_netns(&bed.app_netns, || UdpSocket::bind("0.0.0.0:40000")).expect("netns").expect("bind");
    for s in [&server, &client] {
        s.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    }
    let mut buf = [0u8; 64];
    let mut seen_from = None;
    for i in 0..5u8 {
        client.send_to(&[i; 10], server_addr).expect("send");
        let (n, from) = server.recv_from(&mut buf).expect("the server got the datagram");
        assert_eq!(&buf[..n], &[i; 10]);
        seen_from = Some(from);
        server.send_to(&buf[..n], from).expect("echo");
        let (n, back_from) = client.recv_from(&mut buf).expect("the client got the echo");
        assert_eq!((&buf[..n], back_from), (&[i; 10][..], server_addr.into()));
    }
    let from = seen_from.expect("five round trips");
    assert_eq!(from.ip(), std::net::IpAddr::V4(NAT_IP), "the server sees the NAT gateway's address");
    assert!(from.port() >= 1024);

    let counters = handle.stop().expect("engine stops");
    assert_eq!((counters.from_app.packets, counters.to_world.packets), (5, 5));
    assert_eq!((counters.from_world.packets, counters.to_app.packets), (5, 5));
    assert_eq!((counters.flows_created, counters.tso_segments, counters.unaccounted()), (1, 0, 0));
    let log = std::fs::read_to_string(&log_path).expect("flow log written");
    let _ = std::fs::remove_file(&log_path);
    let first: serde_json::Value = serde_json::from_str(log.lines().next().expect("a begin record")).expect("JSON");
    assert_eq!(first["state"], "begin");
    assert_eq!(first["translated_src"], format!("{NAT_IP}:{}", from.port()));
    drop(bed);
}
