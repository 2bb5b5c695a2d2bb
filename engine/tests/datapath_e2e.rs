//! The datapath against the conformance cases: each case's template is
//! compiled into a real `Policy`, and every check is replayed as packets
//! from the instance's address. Names are resolved through the datapath's
//! own DNS answer from 168.63.129.16. The datapath must agree with the
//! cases: allowed flows leave (with the expected source address) and their
//! replies come back to the app; denied flows are dropped, or answered with
//! RST / ICMP unreachable under `reject`.

use std::net::Ipv4Addr;
use std::path::PathBuf;

use etherparse::{Ipv4Header, PacketBuilder};
use vnetlab_core::arm::DeployContext;
use vnetlab_core::check::Dest;
use vnetlab_core::conformance::{self, CheckKind};
use vnetlab_core::datapath::packet::Offload;
use vnetlab_core::datapath::{Datapath, DatapathOptions, DropCause, Verdict};
use vnetlab_core::decision::World;
use vnetlab_core::flow::Proto;
use vnetlab_core::policy::Policy;
use vnetlab_core::time::Timestamp;

fn cases() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/conformance/cases");
    let mut v: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no conformance cases in {}", dir.display());
    v
}

fn first_packet(proto: Proto, src: Ipv4Addr, dst: Ipv4Addr, sport: u16, dport: u16) -> Vec<u8> {
    let b = PacketBuilder::ipv4(src.octets(), dst.octets(), 64);
    let mut v = Vec::new();
    match proto {
        Proto::Tcp => b.tcp(sport, dport, 1, 64240).syn().write(&mut v, &[]),
        Proto::Udp => b.udp(sport, dport).write(&mut v, b"probe"),
        _ => b.icmpv4_echo_request(sport, 1).write(&mut v, b"ping"),
    }
    .unwrap();
    v
}

/// The reply a world sends to a packet that left the datapath.
fn reply_to(proto: Proto, sent: &[u8]) -> Vec<u8> {
    let (ip, rest) = Ipv4Header::from_slice(sent).unwrap();
    let b = PacketBuilder::ipv4(ip.destination, ip.source, 64);
    let (sp, dp) = (u16::from_be_bytes([rest[0], rest[1]]), u16::from_be_bytes([rest[2], rest[3]]));
    let mut v = Vec::new();
    match proto {
        Proto::Tcp => b.tcp(dp, sp, 9, 64240).syn().ack(2).write(&mut v, &[]),
        Proto::Udp => b.udp(dp, sp).write(&mut v, b"answer"),
        _ => b.icmpv4_echo_reply(u16::from_be_bytes([rest[4], rest[5]]), 1).write(&mut v, b"ping"),
    }
    .unwrap();
    v
}

/// Resolves `name` by sending a DNS query through the datapath.
fn resolve(dp: &mut Datapath<Policy>, app: Ipv4Addr, name: &str, sport: u16) -> Vec<Ipv4Addr> {
    let mut q = vec![0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for l in name.split('.') {
        q.push(l.len() as u8);
        q.extend_from_slice(l.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    let mut pkt = Vec::new();
    PacketBuilder::ipv4(app.octets(), [168, 63, 129, 16], 64).udp(sport, 53).write(&mut pkt, &q).unwrap();
    let mut reply = [0u8; 1500];
    let Verdict::ReplyToApp { len } = dp.from_app(&mut pkt, Offload::default(), Timestamp(0), &mut reply) else { panic!("DNS query for {name} not answered") };
    let msg = &reply[28..len];
    let answers = u16::from_be_bytes([msg[6], msg[7]]) as usize;
    let qlen = q.len();
    (0..answers)
        .map(|i| {
            let rr = &msg[qlen + 16 * i..qlen + 16 * (i + 1)];
            Ipv4Addr::new(rr[12], rr[13], rr[14], rr[15])
        })
        .collect()
}

#[test]
fn datapath_agrees_with_every_conformance_case() {
    let mut checked = 0;
    for file in cases() {
        for reject in [false, true] {
            let case =
                conformance::load_case(&vnetlab_engine::disk::Disk, &file, &DeployContext::default()).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            let app = case.policy.instance_ip();
            let checks = case.checks.clone();
            let mut dp = Datapath::new(case.policy, DatapathOptions { reject, ..Default::default() });
            for (i, check) in checks.iter().enumerate() {
                let what = format!("{} / {} (reject {reject})", case.name, check.text);
                let sport = 40000 + i as u16;
                let spec = match &check.kind {
                    CheckKind::Flow(spec) => spec,
                    CheckKind::Resolve(name) => {
                        if let Some(want) = check.expect.get("addresses") {
                            let got: Vec<String> = resolve(&mut dp, app, name, sport).iter().map(|a| a.to_string()).collect();
                            let want: Vec<String> = want.as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
                            assert_eq!(got, want, "{what}");
                            checked += 1;
                        }
                        continue;
                    }
                };
                let dst = match &spec.dest {
                    Dest::Addr(a) => *a,
                    Dest::Name(n) => match resolve(&mut dp, app, n, sport).first() {
                        Some(&a) => a,
                        None => {
                            assert_eq!(check.expect.get("allowed"), Some(&false.into()), "{what}: NXDOMAIN");
                            checked += 1;
                            continue;
                        }
                    },
                };
                let mut pkt = first_packet(spec.proto, app, dst, sport, spec.port);
                let mut reply = [0u8; 1500];
                let verdict = dp.from_app(&mut pkt, Offload::default(), Timestamp::from_secs(1), &mut reply);
                let allowed = check.expect.get("allowed").and_then(|v| v.as_bool());
                match verdict {
                    Verdict::ToWorld(world) => {
                        assert_ne!(allowed, Some(false), "{what}: left to {world:?}");
                        let (ip, _) = Ipv4Header::from_slice(&pkt).unwrap();
                        if let Some(src) = check.expect.get("source").and_then(|s| s.as_str()) {
                            assert_eq!(Ipv4Addr::from(ip.source).to_string(), src, "{what}: source");
                        }
                        let mut back = reply_to(spec.proto, &pkt);
                        assert_eq!(dp.from_world(world, &mut back, Offload::default(), Timestamp::from_secs(1), &mut reply), Verdict::ToApp, "{what}: reply");
                        let (ip, _) = Ipv4Header::from_slice(&back).unwrap();
                        assert_eq!((Ipv4Addr::from(ip.source), Ipv4Addr::from(ip.destination)), (dst, app), "{what}: reply restored");
                        let other = World::FORWARDED.into_iter().find(|&w| w != world).unwrap();
                        let mut stray = reply_to(spec.proto, &pkt);
                        assert_eq!(
                            dp.from_world(other, &mut stray, Offload::default(), Timestamp::from_secs(1), &mut reply),
                            Verdict::Drop(DropCause::WrongWorld)
                        );
                    }
                    Verdict::Drop(cause) => {
                        assert!(!reject || cause != DropCause::Denied, "{what}: reject must answer");
                        assert_eq!(allowed, Some(false), "{what}: dropped ({cause:?})");
                    }
                    Verdict::ReplyToApp { len } => {
                        assert!(reject, "{what}: reply without reject");
                        assert_eq!(allowed, Some(false), "{what}: rejected");
                        let (ip, rest) = Ipv4Header::from_slice(&reply[..len]).unwrap();
                        assert_eq!(ip.destination, app.octets());
                        match spec.proto {
                            Proto::Tcp => assert_eq!(rest[13] & 0x04, 0x04, "{what}: RST"),
                            _ => assert_eq!((ip.protocol.0, rest[0], rest[1]), (1, 3, 13), "{what}: ICMP unreachable"),
                        }
                    }
                    Verdict::ToPlatform => {
                        // The platform host answers; the source stays the instance's.
                        assert_ne!(allowed, Some(false), "{what}: to the platform");
                        let (ip, _) = Ipv4Header::from_slice(&pkt).unwrap();
                        assert_eq!(Ipv4Addr::from(ip.source), app, "{what}: platform flows keep the private source");
                    }
                    Verdict::ToApp => panic!("{what}: from_app returned ToApp"),
                    Verdict::Connect { .. } => panic!("{what}: Connect without connect_first"),
                    Verdict::DnsUpstream => panic!("{what}: DnsUpstream without dns_upstream"),
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 40, "only {checked} checks replayed");
}
