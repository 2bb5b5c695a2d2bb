//! End to end through real namespaces: the app's TUN relayed to a world's
//! TUN by a trivial copy loop proves TUN creation inside namespaces, the
//! app's routing and the world's AnyIP: connections to arbitrary public
//! test addresses reach the responder with the app's own source.

mod common;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4, TcpStream, UdpSocket};
use std::sync::Arc;
use std::time::Duration;

use vnetlab_testbed::{netns, run_in_netns, Responder, ResponderSpec, Seen, SeenLog, SeenProto, Testbed, TopologySpec};

const APP_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 4);
const TIMEOUT: Duration = Duration::from_secs(3);

fn spec() -> TopologySpec {
    TopologySpec { instance_ip: APP_IP, tun_name: "vltun0".into(), worlds: vec!["inet".into()], mtu: 1500 }
}

fn tcp_probe(dst: SocketAddrV4) -> std::io::Result<String> {
    let stream = TcpStream::connect_timeout(&dst.into(), TIMEOUT)?;
    let mut stream = stream;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.write_all(b"hello from the app\n")?;
    let mut answer = String::new();
    stream.take(4096).read_to_string(&mut answer)?;
    Ok(answer)
}

#[test]
fn traffic_from_app_reaches_any_address_in_the_world() {
    if !common::root_or_skip() {
        return;
    }
    let mut bed = Testbed::create(&spec()).expect("testbed");
    let app_ns = bed.app_netns.clone();
    let inet_ns = bed.world_netns("inet").expect("inet world").to_string();
    assert!(netns::exists(&app_ns) && netns::exists(&inet_ns));
    assert!(std::path::Path::new(&format!("/etc/netns/{app_ns}/resolv.conf")).exists());

    let log = Arc::new(SeenLog::default());
    let responder = Responder::start(
        &ResponderSpec { world: "inet".into(), netns: inet_ns.clone(), tcp: vec![443], udp: vec![53], icmp: true },
        log.clone(),
    )
    .expect("responder");
    let relay = common::Relay::start(bed.take_app_tun().unwrap(), bed.take_world_tun("inet").unwrap(), 10_000);

    // TCP to an address nobody configured.
    let dst: SocketAddrV4 = "198.51.100.20:443".parse().unwrap();
    let answer = run_in_netns(&app_ns, || tcp_probe(dst)).unwrap().expect("tcp answer");
    let seen = Seen::parse_line(&answer).expect("answer line");
    assert_eq!(seen.world, "inet");
    assert_eq!(seen.proto, SeenProto::Tcp);
    assert_eq!(*seen.src.ip(), APP_IP);
    assert_eq!(seen.dst, dst);
    assert_eq!(log.find_last(|s| s.proto == SeenProto::Tcp), Some(seen));

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
        let s = UdpSocket::bind("0.0.0.0:49152")?;
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
    assert_eq!(seen.src, SocketAddrV4::new(APP_IP, 49152));
    assert_eq!(seen.dst, udp_dst);

    // ICMP echo to another arbitrary address: the world's kernel answers, the responder records it.
    let echo_dst = Ipv4Addr::new(198, 18, 7, 9);
    let reply_from = run_in_netns(&app_ns, || icmp_echo(echo_dst)).unwrap().expect("echo reply");
    assert_eq!(reply_from, echo_dst);
    let seen = log.find_last(|s| s.proto == SeenProto::Icmp).expect("icmp seen");
    assert_eq!((*seen.src.ip(), *seen.dst.ip()), (APP_IP, echo_dst));

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

/// One echo request over an ICMP datagram socket; the address that answered.
fn icmp_echo(dst: Ipv4Addr) -> std::io::Result<Ipv4Addr> {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, Some(socket2::Protocol::ICMPV4))?;
    sock.set_read_timeout(Some(TIMEOUT))?;
    let request = [8u8, 0, 0, 0, 0, 1, 0, 1, b'v', b'l'];
    sock.send_to(&request, &SocketAddrV4::new(dst, 0).into())?;
    let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 512];
    let (n, from) = sock.recv_from(&mut buf)?;
    // SAFETY: recv_from initialised the first n bytes.
    let first = unsafe { buf[0].assume_init() };
    if n < 8 || first != 0 {
        return Err(std::io::Error::other("not an echo reply"));
    }
    from.as_socket_ipv4().map(|a| *a.ip()).ok_or_else(|| std::io::Error::other("not IPv4"))
}
