//! placeholder
/// Where the engine delivers packets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum World { Vnet, OnPremises, Appliance, Internet }
