//! vnetlab-testbed: the real-network side of vnetlab's live mode.
//!
//! A testbed is a set of network namespaces under one unique run prefix: the
//! app's namespace (`<p>-app`, whose only way out is a TUN device) and one
//! namespace per world (`<p>-vnet`, `<p>-inet`, ...), each reachable only
//! through its own TUN device. The TUN descriptors are handed to the engine,
//! which runs in the caller's (root) namespace and moves packets between
//! them. Responders in the worlds answer any address and record what they
//! saw. Everything carries the run prefix and is removed on drop, and
//! `cleanup_stale` removes what a crashed run left behind.

pub mod cleanup;
pub mod dnsq;
pub mod netns;
pub mod os;
pub mod probe;
pub mod responder;
pub mod seen;
pub mod tun;
pub mod world;

pub use cleanup::{cleanup_stale, remove_all, CleanupReport};
pub use netns::run_in_netns;
pub use os::is_root;
pub use probe::{ProbeOptions, ProbeReply, PROBE_SOURCE_PORT};
pub use responder::{Responder, ResponderSpec};
pub use seen::{Seen, SeenLog, SeenProto};
pub use tun::{create_tun_here, create_tun_in, create_tun_in_with, TunOptions, VNET_HDR_LEN};
pub use world::{Testbed, TopologySpec, WorldNs, AZURE_DNS};
