//! DNS to the platform resolver when the model has no answer: with
//! `dns_upstream` (`vnetlab run`) the query goes to the caller's upstream
//! resolver and its answer comes back to the app as 168.63.129.16's; without
//! it the static answer (NXDOMAIN) stays. Names the model answers (private
//! zones, `public_dns`) never go upstream.

mod common;

use std::net::Ipv4Addr;

use etherparse::{PacketBuilder, UdpHeader};
use vnetlab_core::datapath::packet::Offload;
use vnetlab_core::datapath::{Datapath, DatapathOptions, DropCause, Verdict};
use vnetlab_core::decision::AZURE_DNS;
use vnetlab_core::files::MemFiles;
use vnetlab_core::policy::Policy;
use vnetlab_core::scenario::{self, Inputs};
use vnetlab_core::time::Timestamp;

const APP_PORT: u16 = 40_000;

fn policy() -> Policy {
    scenario::load_policy(&MemFiles::default(), &Inputs::default(), &Default::default()).expect("embedded scenario loads")
}

/// A DNS query message for an A record of `name`, with id `id`.
fn dns_query(id: u16, name: &str) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.split('.') {
        m.push(label.len() as u8);
        m.extend_from_slice(label.as_bytes());
    }
    m.extend_from_slice(&[0, 0, 1, 0, 1]);
    m
}

/// The app's UDP packet to 168.63.129.16:53 carrying `payload`.
fn udp_to_dns(app: Ipv4Addr, payload: &[u8]) -> Vec<u8> {
    let b = PacketBuilder::ipv4(app.octets(), AZURE_DNS.octets(), 64).udp(APP_PORT, 53);
    let mut out = Vec::with_capacity(b.size(payload.len()));
    b.write(&mut out, payload).unwrap();
    out
}

fn rcode(dns: &[u8]) -> u8 {
    dns[3] & 0x0f
}

fn ask(dp: &mut Datapath, app: Ipv4Addr, q: &[u8], reply: &mut [u8]) -> (Vec<u8>, Verdict) {
    let mut pkt = udp_to_dns(app, q);
    let v = dp.from_app(&mut pkt, Offload::default(), Timestamp::from_secs(1), reply);
    (pkt, v)
}

#[test]
fn unknown_public_names_go_upstream_and_the_answer_comes_back_from_the_platform_resolver() {
    let policy = policy();
    let app = policy.instance_ip();
    let mut dp = Datapath::new(policy, DatapathOptions { dns_upstream: true, ..Default::default() });
    let mut reply = [0u8; 2048];

    // A private endpoint name: the model answers, as always.
    let (_, v) = ask(&mut dp, app, &dns_query(1, "stfuncdata.blob.core.windows.net"), &mut reply);
    assert!(matches!(v, Verdict::ReplyToApp { .. }), "{v:?}");
    // A name the case's public_dns gives: the model answers too.
    let (_, v) = ask(&mut dp, app, &dns_query(2, "www.example.org"), &mut reply);
    assert!(matches!(v, Verdict::ReplyToApp { .. }), "{v:?}");

    // A name nobody in the input answers: the caller's upstream decides.
    let q = dns_query(0x4242, "api.unknown-example.net");
    let (query_pkt, v) = ask(&mut dp, app, &q, &mut reply);
    assert_eq!(v, Verdict::DnsUpstream);

    // The upstream's answer (id echoed, one A record 198.51.100.99).
    let mut answer = q.clone();
    answer[2] = 0x81;
    answer[3] = 0x80;
    answer[7] = 1;
    answer.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 198, 51, 100, 99]);
    let Verdict::ReplyToApp { len } = dp.dns_upstream_answer(&query_pkt, &answer, &mut reply) else { panic!("no reply") };
    let (ip, transport) = common::checked(&reply[..len]);
    assert_eq!((Ipv4Addr::from(ip.source), Ipv4Addr::from(ip.destination)), (AZURE_DNS, app));
    let (udp, payload) = UdpHeader::from_slice(&transport).unwrap();
    assert_eq!((udp.source_port, udp.destination_port), (53, APP_PORT));
    assert_eq!(payload, &answer[..], "the upstream's answer reaches the app as it is");

    // An answer with another id is not this query's: lost, never delivered.
    let mut wrong = answer.clone();
    wrong[1] ^= 1;
    assert_eq!(dp.dns_upstream_answer(&query_pkt, &wrong, &mut reply), Verdict::Drop(DropCause::DnsMalformed));

    let c = dp.counters();
    assert_eq!((c.dns_upstream, c.dns_upstream_answers, c.dns_responses), (1, 1, 2));
    assert_eq!(c.unaccounted(), 0, "{c:?}");
}

#[test]
fn without_an_upstream_unknown_names_stay_nxdomain() {
    let policy = policy();
    let app = policy.instance_ip();
    let mut dp = Datapath::new(policy, DatapathOptions::default());
    let mut reply = [0u8; 2048];
    let (_, v) = ask(&mut dp, app, &dns_query(7, "api.unknown-example.net"), &mut reply);
    let Verdict::ReplyToApp { len } = v else { panic!("{v:?}") };
    let (_, transport) = common::checked(&reply[..len]);
    let (_, dns) = UdpHeader::from_slice(&transport).unwrap();
    assert_eq!(rcode(dns), 3, "NXDOMAIN");
    assert_eq!(dp.counters().dns_upstream, 0);
}
