//! Minimal DNS wire format for the platform resolver at 168.63.129.16:53:
//! parse a standard query with one question, write an answer from
//! `Policy::resolve`. [`reply`] is the whole answer to one message, used by
//! the datapath for UDP and by the platform endpoints for TCP (RFC 1035
//! 4.2.2 framing is the caller's), so both transports answer the same.
//!
//! - A (and ANY) queries get the name's addresses as A records, TTL 10 s.
//! - A name that does not exist gets NXDOMAIN (rcode 3) whatever the type.
//! - Any other type (AAAA, MX, ...) of an existing name gets an empty
//!   NOERROR answer (the emulated VNet is IPv4 only).
//! - A message that is too short to carry an ID, or is a response, is
//!   dropped; a query that cannot be understood (question count not 1,
//!   compressed or overlong name, truncated question) gets FORMERR; a
//!   non-standard opcode gets NOTIMP.
//! - Answers over UDP are capped to the classic 512-byte message (no EDNS):
//!   addresses that do not fit are left out and TC is set, so a resolver
//!   retries over TCP, where a message may take up to 65,535 bytes.
//!
//! Nothing here allocates or panics on message contents.

use std::net::Ipv4Addr;

use crate::decision::Resolution;

/// TTL of every answer record.
pub const ANSWER_TTL: u32 = 10;
/// Largest DNS message over UDP without EDNS.
pub const MAX_UDP_MESSAGE: usize = 512;
/// Largest DNS message over TCP (its length prefix is 16 bits).
pub const MAX_TCP_MESSAGE: usize = 65_535;

pub const TYPE_A: u16 = 1;
pub const TYPE_AAAA: u16 = 28;
pub const TYPE_ANY: u16 = 255;
const CLASS_IN: u16 = 1;

pub const RCODE_NOERROR: u8 = 0;
pub const RCODE_FORMERR: u8 = 1;
pub const RCODE_NXDOMAIN: u8 = 3;
pub const RCODE_NOTIMP: u8 = 4;

/// Why a message is not a query that can be answered normally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DnsError {
    /// Shorter than a header, or a response: drop it.
    Drop,
    /// Answer with this rcode and no question (FORMERR or NOTIMP).
    Error { id: u16, flags: u16, rcode: u8 },
}

/// A name in lower case without the trailing dot, in a fixed buffer.
#[derive(Clone)]
pub struct NameBuf {
    buf: [u8; 255],
    len: usize,
}

impl Default for NameBuf {
    fn default() -> Self {
        NameBuf { buf: [0; 255], len: 0 }
    }
}

impl NameBuf {
    pub fn as_str(&self) -> &str {
        // Only ASCII is ever written (parse_query checks), so this cannot fail.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

/// A parsed standard query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Query<'a> {
    pub id: u16,
    /// The query's flags word (opcode and RD are echoed back).
    pub flags: u16,
    pub qtype: u16,
    pub qclass: u16,
    /// The raw question (name, type, class), copied into the answer.
    pub question: &'a [u8],
}

fn get16(b: &[u8], off: usize) -> u16 {
    u16::from_be_bytes([b[off], b[off + 1]])
}

fn put16(b: &mut [u8], off: usize, v: u16) {
    b[off..off + 2].copy_from_slice(&v.to_be_bytes());
}

/// Parses `msg` as a standard query; the question's name goes to `name`.
pub fn parse_query<'a>(msg: &'a [u8], name: &mut NameBuf) -> Result<Query<'a>, DnsError> {
    if msg.len() < 12 {
        return Err(DnsError::Drop);
    }
    let (id, flags) = (get16(msg, 0), get16(msg, 2));
    if flags & 0x8000 != 0 {
        return Err(DnsError::Drop);
    }
    let formerr = DnsError::Error { id, flags, rcode: RCODE_FORMERR };
    if (flags >> 11) & 0xf != 0 {
        return Err(DnsError::Error { id, flags, rcode: RCODE_NOTIMP });
    }
    if get16(msg, 4) != 1 {
        return Err(formerr);
    }
    name.len = 0;
    let mut i = 12;
    loop {
        let Some(&l) = msg.get(i) else { return Err(formerr) };
        let l = usize::from(l);
        i += 1;
        if l == 0 {
            break;
        }
        // 0xc0: a compression pointer; 0x40/0x80: reserved label types.
        if l > 63 {
            return Err(formerr);
        }
        let Some(label) = msg.get(i..i + l) else { return Err(formerr) };
        let extra = usize::from(name.len > 0);
        if name.len + extra + l > name.buf.len() || !label.iter().all(|c| c.is_ascii_graphic()) {
            return Err(formerr);
        }
        if extra == 1 {
            name.buf[name.len] = b'.';
            name.len += 1;
        }
        for &c in label {
            name.buf[name.len] = c.to_ascii_lowercase();
            name.len += 1;
        }
        i += l;
    }
    let Some(tc) = msg.get(i..i + 4) else { return Err(formerr) };
    Ok(Query { id, flags, qtype: get16(tc, 0), qclass: get16(tc, 2), question: &msg[12..i + 4] })
}

/// What to answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer<'r> {
    Addresses(&'r [Ipv4Addr]),
    NoData,
    NxDomain,
}

/// The answer for a question of `qtype` about a name resolved as `res`.
pub fn answer_for(qtype: u16, qclass: u16, res: &Resolution) -> Answer<'_> {
    match res {
        Resolution::NxDomain { .. } => Answer::NxDomain,
        Resolution::Addresses { addrs, .. } if (qtype == TYPE_A || qtype == TYPE_ANY) && qclass == CLASS_IN => Answer::Addresses(addrs),
        Resolution::Addresses { .. } => Answer::NoData,
    }
}

/// The response header flags: QR, the query's opcode and RD, RA, `rcode`.
fn response_flags(query_flags: u16, rcode: u8) -> u16 {
    0x8000 | (query_flags & 0x7900) | 0x0080 | u16::from(rcode & 0xf)
}

/// Writes the response to `q` into `out`, at most `max` bytes; returns its
/// length (None if that cannot hold the header and question). Addresses
/// that do not fit are left out and the TC flag says so.
pub fn write_response(q: &Query, answer: Answer, max: usize, out: &mut [u8]) -> Option<usize> {
    let limit = out.len().min(max);
    let qend = 12 + q.question.len();
    if qend > limit {
        return None;
    }
    let (rcode, addrs): (u8, &[Ipv4Addr]) = match answer {
        Answer::Addresses(a) => (RCODE_NOERROR, a),
        Answer::NoData => (RCODE_NOERROR, &[]),
        Answer::NxDomain => (RCODE_NXDOMAIN, &[]),
    };
    const RR: usize = 16;
    let n = addrs.len().min((limit - qend) / RR);
    let truncated = if n < addrs.len() { FLAG_TC } else { 0 };
    put16(out, 0, q.id);
    put16(out, 2, response_flags(q.flags, rcode) | truncated);
    put16(out, 4, 1);
    put16(out, 6, n as u16);
    put16(out, 8, 0);
    put16(out, 10, 0);
    out[12..qend].copy_from_slice(q.question);
    let mut at = qend;
    for a in &addrs[..n] {
        let rr = &mut out[at..at + RR];
        put16(rr, 0, 0xc00c); // pointer to the question's name
        put16(rr, 2, TYPE_A);
        put16(rr, 4, CLASS_IN);
        rr[6..10].copy_from_slice(&ANSWER_TTL.to_be_bytes());
        put16(rr, 10, 4);
        rr[12..16].copy_from_slice(&a.octets());
        at += RR;
    }
    Some(at)
}

/// The truncation flag of the header.
pub const FLAG_TC: u16 = 0x0200;

/// What [`reply`] made of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// An answer of this length is in `out`.
    Answer(usize),
    /// An error response (FORMERR, NOTIMP) of this length is in `out`.
    Error(usize),
    /// Nothing to send (not a query, or `out` too small).
    Drop,
    /// Nothing written: public DNS decides a name the input does not
    /// answer, and the caller asked for the real upstream (`vnetlab run`).
    Upstream,
}

/// The platform resolver's reply to one DNS message `msg`: the answer from
/// `resolve` (the policy's DNS model), at most `max` bytes of `out`. With
/// `upstream`, a name only public DNS could answer is left to the caller.
pub fn reply(msg: &[u8], max: usize, upstream: bool, resolve: impl FnOnce(&str) -> Resolution, out: &mut [u8]) -> Reply {
    let mut name = NameBuf::default();
    match parse_query(msg, &mut name) {
        Ok(q) => {
            let res = resolve(name.as_str());
            if upstream && matches!(res, Resolution::NxDomain { public: true, .. }) {
                return Reply::Upstream;
            }
            write_response(&q, answer_for(q.qtype, q.qclass, &res), max, out).map_or(Reply::Drop, Reply::Answer)
        }
        Err(DnsError::Error { id, flags, rcode }) => write_error(id, flags, rcode, out).map_or(Reply::Drop, Reply::Error),
        Err(DnsError::Drop) => Reply::Drop,
    }
}

/// Writes a question-less error response (FORMERR, NOTIMP).
pub fn write_error(id: u16, query_flags: u16, rcode: u8, out: &mut [u8]) -> Option<usize> {
    let h = out.get_mut(..12)?;
    put16(h, 0, id);
    put16(h, 2, response_flags(query_flags, rcode));
    h[4..12].fill(0);
    Some(12)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
        let mut m = vec![0u8; 12];
        put16(&mut m, 0, id);
        put16(&mut m, 2, 0x0100); // RD
        put16(&mut m, 4, 1);
        for label in name.split('.') {
            m.push(label.len() as u8);
            m.extend_from_slice(label.as_bytes());
        }
        m.push(0);
        m.extend_from_slice(&qtype.to_be_bytes());
        m.extend_from_slice(&CLASS_IN.to_be_bytes());
        m
    }

    fn addrs(list: &[[u8; 4]]) -> Resolution {
        Resolution::Addresses { addrs: list.iter().map(|&a| a.into()).collect(), chain: vec![], answered_by: "test".into(), placeholder: false }
    }

    #[test]
    fn answers_a_query_with_a_records() {
        let m = query(0x1234, "Acct.Blob.Core.Windows.NET", TYPE_A);
        let mut name = NameBuf::default();
        let q = parse_query(&m, &mut name).unwrap();
        assert_eq!(name.as_str(), "acct.blob.core.windows.net");
        let res = addrs(&[[10, 0, 2, 5], [10, 0, 2, 6]]);
        let mut out = [0u8; 512];
        let n = write_response(&q, answer_for(q.qtype, q.qclass, &res), MAX_UDP_MESSAGE, &mut out).unwrap();
        assert_eq!(n, m.len() + 32);
        assert_eq!(get16(&out, 0), 0x1234);
        assert_eq!(get16(&out, 2), 0x8180, "QR RD RA NOERROR");
        assert_eq!((get16(&out, 4), get16(&out, 6)), (1, 2));
        assert_eq!(&out[12..m.len()], &m[12..]);
        let rr = &out[m.len()..m.len() + 16];
        assert_eq!((get16(rr, 0), get16(rr, 2), get16(rr, 4)), (0xc00c, TYPE_A, CLASS_IN));
        assert_eq!(u32::from_be_bytes([rr[6], rr[7], rr[8], rr[9]]), 10);
        assert_eq!(&rr[12..16], &[10, 0, 2, 5]);
    }

    #[test]
    fn nxdomain_and_empty_aaaa() {
        let mut name = NameBuf::default();
        let m = query(1, "nope.example", TYPE_A);
        let q = parse_query(&m, &mut name).unwrap();
        let nx = Resolution::NxDomain { chain: vec![], answered_by: "test".into(), public: false };
        let mut out = [0u8; 512];
        write_response(&q, answer_for(q.qtype, q.qclass, &nx), MAX_UDP_MESSAGE, &mut out).unwrap();
        assert_eq!((get16(&out, 2) & 0xf, get16(&out, 6)), (3, 0));
        let m = query(2, "there.example", TYPE_AAAA);
        let q = parse_query(&m, &mut name).unwrap();
        let there = addrs(&[[1, 2, 3, 4]]);
        let a = answer_for(q.qtype, q.qclass, &there);
        assert_eq!(a, Answer::NoData);
        let n = write_response(&q, a, MAX_UDP_MESSAGE, &mut out).unwrap();
        assert_eq!((get16(&out, 2) & 0xf, get16(&out, 6), n), (0, 0, m.len()));
    }

    #[test]
    fn udp_answers_are_capped_to_512_bytes_and_say_so() {
        let m = query(3, "many.example", TYPE_A);
        let mut name = NameBuf::default();
        let q = parse_query(&m, &mut name).unwrap();
        let res = addrs(&[[10, 0, 0, 1]; 40]);
        let mut out = [0u8; 1500];
        let n = write_response(&q, answer_for(q.qtype, q.qclass, &res), MAX_UDP_MESSAGE, &mut out).unwrap();
        assert!(n <= 512);
        assert_eq!(usize::from(get16(&out, 6)), (512 - m.len()) / 16);
        assert_eq!(get16(&out, 2) & FLAG_TC, FLAG_TC, "truncated: TC set");
        // Over TCP all of them fit, and TC stays clear.
        let mut big = vec![0u8; MAX_TCP_MESSAGE];
        let n = write_response(&q, answer_for(q.qtype, q.qclass, &res), MAX_TCP_MESSAGE, &mut big).unwrap();
        assert_eq!((n, get16(&big, 6), get16(&big, 2) & FLAG_TC), (m.len() + 40 * 16, 40, 0));
    }

    #[test]
    fn reply_answers_errors_and_drops() {
        let there = |_: &str| addrs(&[[10, 0, 1, 4]]);
        let mut out = [0u8; 512];
        let m = query(7, "x.example", TYPE_A);
        assert_eq!(reply(&m, MAX_UDP_MESSAGE, false, there, &mut out), Reply::Answer(m.len() + 16));
        let mut bad = m.clone();
        put16(&mut bad, 4, 0);
        assert_eq!(reply(&bad, MAX_UDP_MESSAGE, false, there, &mut out), Reply::Error(12));
        assert_eq!(reply(&m[..5], MAX_UDP_MESSAGE, false, there, &mut out), Reply::Drop);
    }

    #[test]
    fn only_names_public_dns_decides_go_upstream() {
        let m = query(8, "x.example", TYPE_A);
        let mut out = [0u8; 512];
        let public = |_: &str| Resolution::NxDomain { chain: vec![], answered_by: "public".into(), public: true };
        let zone = |_: &str| Resolution::NxDomain { chain: vec![], answered_by: "zone".into(), public: false };
        assert_eq!(reply(&m, MAX_UDP_MESSAGE, true, public, &mut out), Reply::Upstream);
        // A linked zone without the record is authoritative: NXDOMAIN, upstream or not.
        assert_eq!(reply(&m, MAX_UDP_MESSAGE, true, zone, &mut out), Reply::Answer(m.len()));
        assert_eq!(reply(&m, MAX_UDP_MESSAGE, false, public, &mut out), Reply::Answer(m.len()));
        assert_eq!(out[3] & 0x0f, RCODE_NXDOMAIN);
    }

    #[test]
    fn malformed_queries_are_dropped_or_formerr() {
        let mut name = NameBuf::default();
        assert_eq!(parse_query(&[0; 11], &mut name), Err(DnsError::Drop));
        let mut resp = query(1, "a.b", TYPE_A);
        resp[2] |= 0x80;
        assert_eq!(parse_query(&resp, &mut name), Err(DnsError::Drop));
        let good = query(9, "a.b", TYPE_A);
        let mut two = good.clone();
        put16(&mut two, 4, 2);
        assert!(matches!(parse_query(&two, &mut name), Err(DnsError::Error { id: 9, rcode: RCODE_FORMERR, .. })));
        let mut compressed = good[..12].to_vec();
        compressed.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1]);
        assert!(matches!(parse_query(&compressed, &mut name), Err(DnsError::Error { rcode: RCODE_FORMERR, .. })));
        assert!(matches!(parse_query(&good[..good.len() - 1], &mut name), Err(DnsError::Error { rcode: RCODE_FORMERR, .. })));
        let mut notimp = good.clone();
        notimp[2] |= 0x10; // opcode 2 (STATUS)
        assert!(matches!(parse_query(&notimp, &mut name), Err(DnsError::Error { rcode: RCODE_NOTIMP, .. })));
        let mut out = [0u8; 12];
        write_error(9, 0x0100, RCODE_FORMERR, &mut out).unwrap();
        assert_eq!(get16(&out, 2), 0x8181);
    }

    proptest::proptest! {
        #[test]
        fn random_messages_never_panic(m in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let mut name = NameBuf::default();
            if let Ok(q) = parse_query(&m, &mut name) {
                let mut out = [0u8; 512];
                let res = addrs(&[[1, 1, 1, 1]; 3]);
                let _ = write_response(&q, answer_for(q.qtype, q.qclass, &res), MAX_UDP_MESSAGE, &mut out);
                proptest::prop_assert!(name.as_str().len() <= 255);
            }
        }
    }
}
