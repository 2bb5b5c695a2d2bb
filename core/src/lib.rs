//! vnetlab-core: what Azure does with an App Service / Functions app's
//! outbound traffic under regional virtual network integration, as a
//! deterministic library with no I/O (no sockets, files, clock or async
//! runtime; the shells in `vnetlab-engine` and the `vnetlab` CLI bring those).
//!
//! Read it in this order:
//!
//! - **Vocabulary** (leaf modules every layer imports): [`flow`] (the
//!   question: a 5-tuple), [`decision`] (the answer, its next hop and
//!   world), [`time`] (timestamps passed in), [`addr`] (address and port
//!   sets), [`error`], [`files`] (the trait through which the shells hand
//!   the loaders input text), [`warning`] (what vnetlab assumes, and which
//!   answers use it).
//! - **Loading**: [`arm`] evaluates ARM templates and normalises `az` JSON
//!   and native TOML into resources; [`model`] builds the scenario (VNets,
//!   NSGs, route tables, sites...); [`scenario`] is the one loader, from
//!   input files (or the embedded default case) to a scenario and the
//!   policy options it states.
//! - **The policy engine**: [`policy`] compiles one site's view (service
//!   tags, NSG classifier, effective routes, DNS) and answers
//!   `Policy::decide(&Flow) -> Decision`; [`explain`] renders traces, routes
//!   and rules; [`lint`] judges a scenario; [`check`] and [`conformance`]
//!   are the check model shared by `verify`, the static and the live runner;
//!   [`appenv`] is the environment App Service gives the app.
//! - **The datapath**: [`datapath`] is the per-packet state machine (bytes and
//!   a timestamp in, a `Verdict` out): packet parsing and rewriting, the flow
//!   table, SNAT, flow-log records, the platform DNS on the wire;
//!   [`platform`] is the platform host's endpoints beside it (DNS over TCP,
//!   wireserver, IMDS, on smoltcp), which the datapath hands platform flows.

// Vocabulary.
pub mod addr;
pub mod decision;
pub mod error;
pub mod files;
pub mod flow;
pub mod time;
pub mod warning;

// Loading.
pub mod arm;
pub mod model;
pub mod scenario;

// The policy engine and what is built on it.
pub mod appenv;
pub mod check;
pub mod conformance;
pub mod explain;
pub mod lint;
pub mod policy;

// The per-packet datapath, and the platform host's endpoints beside it.
pub mod datapath;
pub mod platform;
