//! Placeholder with the classifier's API (linear); replaced by the compiled
//! classifier.

use crate::addr::{AddrSet, PortSet};
use crate::policy::Proto;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProtoMask(pub u8);

impl ProtoMask {
    pub const TCP: ProtoMask = ProtoMask(1);
    pub const UDP: ProtoMask = ProtoMask(2);
    pub const ICMP: ProtoMask = ProtoMask(4);
    pub const ESP: ProtoMask = ProtoMask(8);
    pub const AH: ProtoMask = ProtoMask(16);
    pub const OTHER: ProtoMask = ProtoMask(32);
    pub const ANY: ProtoMask = ProtoMask(63);
    pub fn contains(self, p: Proto) -> bool {
        let bit = match p {
            Proto::Tcp => 1,
            Proto::Udp => 2,
            Proto::Icmp => 4,
            Proto::Other(50) => 8,
            Proto::Other(51) => 16,
            Proto::Other(_) => 32,
        };
        self.0 & bit != 0
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MatchRule {
    pub protocols: ProtoMask,
    pub src: AddrSet,
    pub src_ports: PortSet,
    pub dst: AddrSet,
    pub dst_ports: PortSet,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    pub proto: Proto,
    pub src: u32,
    pub src_port: u16,
    pub dst: u32,
    pub dst_port: u16,
}

fn matches(r: &MatchRule, k: &Key) -> bool {
    r.protocols.contains(k.proto)
        && r.src.contains(k.src)
        && r.dst.contains(k.dst)
        && if k.proto.has_ports() {
            r.src_ports.contains(k.src_port) && r.dst_ports.contains(k.dst_port)
        } else {
            r.src_ports.is_all() && r.dst_ports.is_all()
        }
}

pub fn first_match_linear(rules: &[MatchRule], key: &Key) -> Option<usize> {
    rules.iter().position(|r| matches(r, key))
}

pub struct Classifier {
    rules: Vec<MatchRule>,
}

impl Classifier {
    pub fn new(rules: &[MatchRule]) -> Classifier {
        Classifier { rules: rules.to_vec() }
    }
    pub fn first_match(&self, key: &Key) -> Option<usize> {
        first_match_linear(&self.rules, key)
    }
    pub fn len(&self) -> usize {
        self.rules.len()
    }
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}
