//! A minimal DNS client message codec: one A query out, the A records of
//! the answer back. Enough for the live runner to resolve names the way the
//! app does (a real query to the platform resolver from the app namespace)
//! without depending on the engine's own DNS code it is meant to check.

use std::net::Ipv4Addr;

/// What an answer said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DnsAnswer {
    /// RCODE 0; the A records of the answer section in order (CNAMEs followed by the server).
    Addresses(Vec<Ipv4Addr>),
    NxDomain,
    /// Any other RCODE (SERVFAIL, REFUSED, ...).
    Error(u8),
}

/// An A/IN query for `name` with recursion desired. None for a name that
/// cannot be encoded (empty label, label over 63 bytes, name over 253).
pub fn build_query(id: u16, name: &str) -> Option<Vec<u8>> {
    let name = name.trim_end_matches('.');
    if name.is_empty() || name.len() > 253 {
        return None;
    }
    let mut q = Vec::with_capacity(18 + name.len());
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.split('.') {
        if label.is_empty() || label.len() > 63 {
            return None;
        }
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    Some(q)
}

/// Parses the answer to query `id`; None if it is not a well-formed answer to it.
pub fn parse_answer(id: u16, msg: &[u8]) -> Option<DnsAnswer> {
    if msg.len() < 12 || msg[0..2] != id.to_be_bytes() || msg[2] & 0x80 == 0 {
        return None;
    }
    match msg[3] & 0x0f {
        0 => {}
        3 => return Some(DnsAnswer::NxDomain),
        rcode => return Some(DnsAnswer::Error(rcode)),
    }
    let qdcount = u16::from_be_bytes([msg[4], msg[5]]);
    let ancount = u16::from_be_bytes([msg[6], msg[7]]);
    let mut pos = 12;
    for _ in 0..qdcount {
        pos = skip_name(msg, pos)? + 4;
    }
    let mut addrs = Vec::new();
    for _ in 0..ancount {
        pos = skip_name(msg, pos)?;
        let fixed = msg.get(pos..pos + 10)?;
        let rtype = u16::from_be_bytes([fixed[0], fixed[1]]);
        let class = u16::from_be_bytes([fixed[2], fixed[3]]);
        let rdlen = usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
        let rdata = msg.get(pos + 10..pos + 10 + rdlen)?;
        if rtype == 1 && class == 1 && rdlen == 4 {
            addrs.push(Ipv4Addr::new(rdata[0], rdata[1], rdata[2], rdata[3]));
        }
        pos += 10 + rdlen;
    }
    Some(DnsAnswer::Addresses(addrs))
}

/// The position after a (possibly compressed) name starting at `pos`.
fn skip_name(msg: &[u8], mut pos: usize) -> Option<usize> {
    // A name has at most 127 labels; the bound also stops malformed loops.
    for _ in 0..128 {
        let len = *msg.get(pos)?;
        match len {
            0 => return Some(pos + 1),
            l if l & 0xc0 == 0xc0 => {
                msg.get(pos + 1)?;
                return Some(pos + 2);
            }
            l if l & 0xc0 == 0 => pos += 1 + usize::from(l),
            _ => return None,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(id: u16, rcode: u8, records: &[(&[u8], u16, &[u8])]) -> Vec<u8> {
        let mut m = build_query(id, "acct.blob.core.windows.net").unwrap();
        m[2] = 0x81;
        m[3] = 0x80 | rcode;
        m[7] = records.len() as u8;
        for (name, rtype, rdata) in records {
            m.extend_from_slice(name);
            m.extend_from_slice(&rtype.to_be_bytes());
            m.extend_from_slice(&[0, 1, 0, 0, 0, 60]);
            m.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
            m.extend_from_slice(rdata);
        }
        m
    }

    #[test]
    fn query_encodes_labels() {
        let q = build_query(0x1234, "a.bc.").unwrap();
        assert_eq!(q, [0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, b'a', 2, b'b', b'c', 0, 0, 1, 0, 1]);
        assert_eq!(build_query(1, "a..b"), None);
        assert_eq!(build_query(1, &"x".repeat(64)), None);
    }

    #[test]
    fn answers_follow_cname_then_a_and_reject_strangers() {
        let cname_target = b"\x04acct\x0bprivatelink\xc0\x11";
        let msg = answer(7, 0, &[(b"\xc0\x0c", 5, cname_target), (b"\xc0\x0c", 1, &[10, 0, 1, 5])]);
        assert_eq!(parse_answer(7, &msg), Some(DnsAnswer::Addresses(vec![Ipv4Addr::new(10, 0, 1, 5)])));
        assert_eq!(parse_answer(8, &msg), None);
        assert_eq!(parse_answer(7, &answer(7, 3, &[])), Some(DnsAnswer::NxDomain));
        assert_eq!(parse_answer(7, &answer(7, 2, &[])), Some(DnsAnswer::Error(2)));
        let mut truncated = msg.clone();
        truncated.truncate(msg.len() - 2);
        assert_eq!(parse_answer(7, &truncated), None);
    }
}
