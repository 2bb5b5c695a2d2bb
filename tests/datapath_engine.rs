//! The engine over real TUN devices: an app namespace sends UDP to an
//! internet namespace through the engine (NAT gateway SNAT) and gets the
//! echo back; the flow log is written. Needs root (namespaces, TUN); without
//! it the test says so and returns. Everything it creates carries the prefix
//! `vnlh3<pid>` and is removed at the end, also when the test fails.
//! (The full testbed is H4's; this is only the engine's smoke test.)

use std::fs::File;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::Command;
use std::time::Duration;

use vnetlab::datapath::{Datapath, DatapathOptions, PolicyView, World};
use vnetlab::engine::{self, Devices, FlowLogWriter};
use vnetlab::policy::{AppRouting, Decision, Egress, Flow, NatGatewayInfo, NextHopType, Path, Resolution, RuleIdx, SourceNat};

const NAT_IP: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 10);
const APP_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 4);
const SERVER: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 9);

struct InternetViaNat(NatGatewayInfo);

impl PolicyView for InternetViaNat {
    fn decide(&self, _f: &Flow) -> Decision {
        Decision {
            allowed: true,
            path: Path::Vnet,
            app_routing: AppRouting::RouteAll,
            route: Some(0),
            next_hop: Some(NextHopType::Internet),
            next_hop_ip: None,
            nsg_rule: None,
            source: NAT_IP,
            snat: SourceNat::NatGateway,
            egress: Egress::Internet,
            blocked_by: None,
            drop_reason: None,
        }
    }
    fn nat_gateway(&self) -> Option<&NatGatewayInfo> {
        Some(&self.0)
    }
    fn outbound_ips(&self) -> &[Ipv4Addr] {
        &[]
    }
    fn resolve(&self, _name: &str) -> Resolution {
        Resolution::NxDomain { chain: vec![], answered_by: "test".into() }
    }
    fn rule_name(&self, _idx: RuleIdx) -> &str {
        ""
    }
}

fn ip(args: &[&str]) {
    let st = Command::new("ip").args(args).status().expect("running ip");
    assert!(st.success(), "ip {args:?} failed");
}

/// Removes the namespaces (and with them the TUN devices moved into them).
struct Cleanup(Vec<String>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for ns in &self.0 {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

fn tun(name: &str) -> OwnedFd {
    // SAFETY: open(2) of a device node with a NUL-terminated literal.
    let raw = unsafe { libc::open(c"/dev/net/tun".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
    assert!(raw >= 0, "open /dev/net/tun");
    // SAFETY: raw is a fresh descriptor owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    // SAFETY: ifreq is plain old data.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in req.ifr_name.iter_mut().zip(name.bytes()) {
        *d = s as libc::c_char;
    }
    req.ifr_ifru.ifru_flags = (libc::IFF_TUN | libc::IFF_NO_PI) as libc::c_short;
    // SAFETY: TUNSETIFF with an ifreq on our stack.
    assert!(unsafe { libc::ioctl(fd.as_raw_fd(), libc::TUNSETIFF, &mut req) } >= 0, "TUNSETIFF {name}");
    fd
}

/// A UDP socket bound inside namespace `ns` (created on a thread that entered it).
fn socket_in(ns: &str, bind: SocketAddrV4) -> UdpSocket {
    let path = format!("/var/run/netns/{ns}");
    std::thread::scope(|s| {
        s.spawn(|| {
            let f = File::open(&path).expect("netns file");
            // SAFETY: setns on this thread only, with a namespace fd we hold.
            assert_eq!(unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) }, 0, "setns {ns}");
            UdpSocket::bind(bind).expect("bind")
        })
        .join()
        .expect("socket thread")
    })
}

#[test]
fn udp_round_trip_through_the_engine() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root for namespaces and TUN devices");
        return;
    }
    let prefix = format!("vnlh3{}", std::process::id());
    let (app_ns, inet_ns) = (format!("{prefix}a"), format!("{prefix}i"));
    let _cleanup = Cleanup(vec![app_ns.clone(), inet_ns.clone()]);
    ip(&["netns", "add", &app_ns]);
    ip(&["netns", "add", &inet_ns]);
    let (app_dev, inet_dev) = (format!("{prefix}ta"), format!("{prefix}ti"));
    let app_fd = tun(&app_dev);
    let inet_fd = tun(&inet_dev);
    ip(&["link", "set", "dev", &app_dev, "netns", &app_ns]);
    ip(&["link", "set", "dev", &inet_dev, "netns", &inet_ns]);
    for (ns, dev, addr) in [(&app_ns, &app_dev, "10.0.1.4/32"), (&inet_ns, &inet_dev, "198.18.0.9/32")] {
        ip(&["-n", ns, "link", "set", "lo", "up"]);
        ip(&["-n", ns, "addr", "add", addr, "dev", dev]);
        ip(&["-n", ns, "link", "set", dev, "up"]);
        ip(&["-n", ns, "route", "add", "default", "dev", dev]);
    }

    let log_path = std::env::temp_dir().join(format!("{prefix}-flows.jsonl"));
    let _ = std::fs::remove_file(&log_path);
    let policy = InternetViaNat(NatGatewayInfo { name: "nat".into(), public_ips: vec![NAT_IP], idle_timeout_minutes: 4 });
    let dp = Datapath::new(policy, DatapathOptions { reject: false, max_flows: 100, seed: 1 });
    let devices = Devices { app: app_fd, worlds: vec![(World::Internet, inet_fd)], vnet_hdr: false };
    let handle = engine::spawn(dp, devices, Some(FlowLogWriter::create(&log_path).unwrap())).unwrap();

    let server = socket_in(&inet_ns, SocketAddrV4::new(SERVER, 7777));
    server.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let client = socket_in(&app_ns, SocketAddrV4::new(APP_IP, 40000));
    client.set_read_timeout(Some(Duration::from_secs(5))).unwrap();

    let mut buf = [0u8; 64];
    let mut seen_from = None;
    for i in 0..5u8 {
        client.send_to(&[i; 10], SocketAddrV4::new(SERVER, 7777)).unwrap();
        let (n, from) = server.recv_from(&mut buf).expect("server got the datagram");
        assert_eq!(&buf[..n], &[i; 10]);
        seen_from = Some(from);
        server.send_to(&buf[..n], from).unwrap();
        let (n, back_from) = client.recv_from(&mut buf).expect("client got the echo");
        assert_eq!((&buf[..n], back_from), (&[i; 10][..], SocketAddrV4::new(SERVER, 7777).into()));
    }
    let from = seen_from.unwrap();
    assert_eq!(from.ip(), std::net::IpAddr::V4(NAT_IP), "the server sees the NAT gateway's address");
    assert!(from.port() >= 1024);

    let counters = handle.stop().unwrap();
    assert_eq!((counters.from_app.packets, counters.to_world.packets), (5, 5));
    assert_eq!((counters.from_world.packets, counters.to_app.packets), (5, 5));
    assert_eq!(counters.flows_created, 1);
    let log = std::fs::read_to_string(&log_path).unwrap();
    let _ = std::fs::remove_file(&log_path);
    let first: serde_json::Value = serde_json::from_str(log.lines().next().expect("a begin record")).unwrap();
    assert_eq!(first["state"], "begin");
    assert_eq!(first["translated_src"], format!("{NAT_IP}:{}", from.port()));
}
