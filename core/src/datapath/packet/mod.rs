//! IPv4 packets as the datapath handles them: a checked, zero-copy view of
//! IPv4 + TCP/UDP/ICMP over the caller's buffer, in-place source/destination
//! rewrites with incremental checksum updates (RFC 1624), and the few replies
//! the datapath writes itself (TCP RST, ICMP unreachable, UDP for DNS).
//!
//! Conventions shared with the flow table:
//! - An ICMP echo request carries its identifier as the *source* port and 0 as
//!   the destination port; an echo reply carries 0 as the source port and the
//!   identifier as the destination port. A reply's tuple is thus exactly the
//!   request's tuple reversed, like TCP and UDP.
//! - An ICMP error (unreachable, time exceeded, parameter problem) carries the
//!   header of the packet it complains about (the *quote*), parsed with the
//!   same conventions so the error can be matched to its flow.
//! - Fragments are refused: a NAT gateway does not carry them.
//!
//! Nothing here allocates or panics on packet contents.
//!
//! Reading (`view`), checksums (`checksum`), rewriting (`rewrite`) and the
//! replies the datapath writes (`reply`) live in their own files; their
//! public items are all here.

mod checksum;
mod reply;
mod rewrite;
mod view;

pub use checksum::{checksum, pseudo_header_sum, sum};
pub use reply::{build_icmp_unreachable, build_tcp_rst, finish_udp_reply, ICMP_CODE_ADMIN_PROHIBITED, UDP_REPLY_PAYLOAD};
pub use rewrite::{rewrite, rewrite_quote, End};
pub use view::{parse, Offload, Packet, PacketError, Quote, TcpFlags, Transport};
