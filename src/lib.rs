//! vnetlab: an emulator of Azure's egress for apps with regional virtual
//! network integration.
//!
//! The policy core (`arm` -> `model` -> `policy`) is sans-IO and
//! deterministic; the datapath (`packet`, `flow`, `nat`, `datapath`) is a
//! state machine fed packets and a timestamp; `engine` and the testbed crate
//! are the thin I/O shells around them.

pub mod addr;
pub mod arm;
pub mod check;
pub mod conformance;
pub mod dns;
pub mod error;
pub mod explain;
pub mod lint;
pub mod model;
pub mod nsg;
pub mod policy;
pub mod route;
pub mod scenario;
pub mod tags;

// Live datapath (issue 3).
pub mod datapath;
pub mod dnswire;
pub mod engine;
pub mod flow;
pub mod flowlog;
pub mod nat;
pub mod packet;

// Testbed side of live mode (namespaces, live runner, `up`/`down`).
pub mod live;
pub mod testbed_cmd;
