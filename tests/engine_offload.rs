//! The engine with TUN offloads (checksum, TSO) on a real testbed, with the
//! bench scenario (benches/scenarios/datapath.toml: NSG, NAT gateway): a bulk
//! TCP transfer from the app to the internet world arrives byte for byte,
//! the server sees the NAT gateway's address, the engine carried segments
//! larger than the MTU (so the offload path really ran), and every packet
//! is accounted for. A flow the NSG denies is still dropped. Needs root;
//! without it the test says so and returns. The testbed carries a claimed
//! run prefix and is removed on drop, also when an assertion fails.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream};
use std::path::PathBuf;
use std::time::Duration;

use vnetlab::datapath::{Datapath, DatapathOptions, World};
use vnetlab::engine::{self, Devices, FlowLogWriter};
use vnetlab::policy::{Policy, PolicyOptions};
use vnetlab::scenario::{load_scenario, Inputs};
use vnetlab_testbed::{run_in_netns, Testbed, TopologySpec};

const SERVER: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 20);
const NAT_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 50);
const BYTES: usize = 32 << 20;
const TIMEOUT: Duration = Duration::from_secs(20);

fn policy() -> Policy {
    let files = vec![PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/scenarios/datapath.toml")];
    let scenario = load_scenario(&Inputs { files, ..Default::default() }).expect("bench scenario loads");
    Policy::compile(&scenario, &PolicyOptions::default()).expect("policy")
}

/// Deterministic bytes the receiver can check without a copy of them.
fn byte_at(i: usize) -> u8 {
    (i.wrapping_mul(2_654_435_761) >> 13) as u8
}

#[test]
fn bulk_tcp_crosses_the_engine_in_tso_segments_intact() {
    if !vnetlab_testbed::is_root() {
        eprintln!("skipped: needs root (network namespaces, TUN devices)");
        return;
    }
    let policy = policy();
    let mut spec = TopologySpec::standard(policy.instance_ip());
    spec.worlds = vec!["inet".into()];
    spec.offload = true;
    let mut bed = Testbed::create(&spec).expect("testbed");
    let app_fd = bed.take_app_tun().expect("app TUN");
    let inet_fd = bed.take_world_tun("inet").expect("inet TUN");
    let inet_ns = bed.worlds[0].netns.clone();
    let app_ns = bed.app_netns.clone();

    let log_path = std::env::temp_dir().join(format!("vnetlab-offload-{}.jsonl", std::process::id()));
    let log = FlowLogWriter::create(&log_path).expect("flow log");
    let datapath = Datapath::new(policy, DatapathOptions::default());
    let devices = Devices { app: app_fd, worlds: vec![(World::Internet, inet_fd)], vnet_hdr: true };
    let handle = engine::spawn(datapath, devices, Some(log)).expect("engine");

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
