//! vnetlab-engine: the I/O shell around `vnetlab-core`. It owns the TUN
//! devices, the async runtime, the testbed namespaces and the clock, and
//! feeds the core's `Datapath` packets and timestamps.
//!
//! - [`disk`]: the core's `Files` on the file system, bounded in size.
//! - [`engine`]: one thread, one tokio loop over the TUN descriptors.
//! - [`host`]: `vnetlab run`: a command behind the engine, reaching this machine.
//! - [`live`]: the live conformance runner (real packets through a testbed),
//!   the core's `conformance::LiveRunner`.
//! - [`up`]: `vnetlab up` / `vnetlab down`.

pub mod disk;
pub mod engine;
pub mod host;
pub mod live;
pub mod up;
