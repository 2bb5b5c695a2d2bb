//! End to end through real namespaces: the app's TUN relayed to a world's
//! TUN by a trivial copy loop proves TUN creation inside namespaces, the
//! app's routing and the world's AnyIP: connections to arbitrary public
//! test addresses reach the responder with the app's own source.

mod common;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4, TcpStream, UdpSocket};
use std::sync::Arc;
use std::time::Duration;

use vnetlab_testbed::{
    netns, probe, run_in_netns, ProbeOptions, ProbeReply, Responder, ResponderSpec, Seen, SeenLog, SeenProto, Testbed, TopologySpec, PROBE_SOURCE_PORT,
};

const APP_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 4);
const TIMEOUT: Duration = Duration::from_secs(3);

fn spec() -> TopologySpec {
    TopologySpec { instance_ip: APP_IP, tun_name: "vltun0".into(), worlds: vec!["inet".into()], mtu: 1500, offload: false }
}

#[test]
#[ignore = "needs root: network namespaces and TUN devices"]
fn traffic_from_app_reaches_any_address_in_the_world() {
    common::require_root();
    let mut bed = Testbed::create(&spec()).expect("testbed");
    let app_ns = bed.app_netns.clone();
    let inet_ns = bed.world_netns("inet").expect("inet world").to_string();
    assert!(netns::exists(&app_ns) && netns::exists(&inet_ns));
    assert!(std::path::Path::new(&format!("/etc/netns/{app_ns}/resolv.conf")).exists());

    let log = Arc::new(SeenLog::default());
    let responder = Responder::start(&ResponderSpec { world: "inet".into(), netns: inet_ns.clone(), tcp: vec![443], udp: vec![53], icmp: true }, log.clone())
        .expect("responder");
    let relay = common::Relay::start(bed.take_app_tun().unwrap(), bed.take_world_tun("inet").unwrap(), 10_000);

    // TCP to an address nobody configured, from the fixed probe port.
    let opts = ProbeOptions::default();
    let dst: SocketAddrV4 = "198.51.100.20:443".parse().unwrap();
    let ProbeReply::Answer { text, .. } = probe::tcp_probe(&app_ns, dst, &opts).expect("tcp probe") else { panic!("no tcp answer") };
    let seen = Seen::parse_line(&text).expect("answer line");
    assert_eq!(seen.world, "inet");
    assert_eq!(seen.proto, SeenProto::Tcp);
    assert_eq!(seen.src, SocketAddrV4::new(APP_IP, PROBE_SOURCE_PORT));
    assert_eq!(seen.dst, dst);
    assert_eq!(log.find_last(|s| s.proto == SeenProto::Tcp), Some(seen));
    // Again from the same source port: the probe port is reusable.
    assert!(probe::tcp_probe(&app_ns, dst, &opts).expect("second tcp probe").answered());
    // A port nobody listens on: the world's kernel resets, the probe reports a reject.
    let closed: SocketAddrV4 = "198.51.100.20:8443".parse().unwrap();
    assert!(matches!(probe::tcp_probe(&app_ns, closed, &opts).expect("probe"), ProbeReply::Rejected(_)));
    let closed_udp: SocketAddrV4 = "198.51.100.20:5353".parse().unwrap();
    assert!(matches!(probe::udp_probe(&app_ns, closed_udp, &opts).expect("probe"), ProbeReply::Rejected(_)));

    // HTTP gets an HTTP answer.
    let http = run_in_netns(&app_ns, || -> std::io::Result<String> {
        let mut s = TcpStream::connect_timeout(&dst.into(), TIMEOUT)?;
        s.set_read_timeout(Some(TIMEOUT))?;
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")?;
        let mut a = String::new();
        s.take(4096).read_to_string(&mut a)?;
        Ok(a)
    })
    .unwrap()
    .expect("http answer");
    assert!(http.starts_with("HTTP/1.1 200 OK\r\n"), "{http}");
    assert!(Seen::parse_line(&http).is_some());

    // UDP: the answer comes from the address the datagram was sent to.
    let udp_dst: SocketAddrV4 = "198.51.100.21:53".parse().unwrap();
    let (from, text) = run_in_netns(&app_ns, || -> std::io::Result<(std::net::SocketAddr, String)> {
        let s = UdpSocket::bind("0.0.0.0:49153")?;
        s.set_read_timeout(Some(TIMEOUT))?;
        s.send_to(b"ping", udp_dst)?;
        let mut buf = [0u8; 512];
        let (n, from) = s.recv_from(&mut buf)?;
        Ok((from, String::from_utf8_lossy(&buf[..n]).into_owned()))
    })
    .unwrap()
    .expect("udp answer");
    assert_eq!(from, udp_dst.into());
    let seen = Seen::parse_line(&text).expect("udp line");
    assert_eq!(seen.src, SocketAddrV4::new(APP_IP, 49153));
    assert_eq!(seen.dst, udp_dst);
    let ProbeReply::Answer { text, .. } = probe::udp_probe(&app_ns, udp_dst, &opts).expect("udp probe") else { panic!("no udp probe answer") };
    assert_eq!(Seen::parse_line(&text).map(|s| s.src), Some(SocketAddrV4::new(APP_IP, PROBE_SOURCE_PORT)));

    // ICMP echo to another arbitrary address: the world's kernel answers, the responder records it.
    let echo_dst = Ipv4Addr::new(198, 18, 7, 9);
    let mark = log.mark();
    assert!(probe::icmp_probe(&app_ns, echo_dst, &opts).expect("icmp probe").answered());
    let seen = log.wait_since(mark, TIMEOUT, |s| s.proto == SeenProto::Icmp).expect("icmp seen");
    assert_eq!(seen.src, SocketAddrV4::new(APP_IP, PROBE_SOURCE_PORT));
    assert_eq!(*seen.dst.ip(), echo_dst);

    assert!(relay.stop() >= 6);
    responder.stop();
    let names = bed.namespaces.clone();
    let state = bed.state_file().to_path_buf();
    drop(bed);
    for ns in names {
        assert!(!netns::exists(&ns), "{ns} left behind");
        assert!(!std::path::Path::new("/etc/netns").join(&ns).exists());
    }
    assert!(!state.exists());
}
