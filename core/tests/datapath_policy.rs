//! The datapath driven by a real `Policy` compiled from a template: what
//! `verify` reports (`Decision.source`) is the address the datapath really
//! translates to, for a NAT gateway with several public addresses and a
//! public IP prefix.

use std::net::Ipv4Addr;

use etherparse::{Ipv4Header, PacketBuilder};
use vnetlab_core::arm::{self, DeployContext, ParamValues};
use vnetlab_core::datapath::packet::Offload;
use vnetlab_core::datapath::{Datapath, DatapathOptions, Verdict};
use vnetlab_core::decision::{SourceNat, World};
use vnetlab_core::flow::{Flow, Proto};
use vnetlab_core::model::{self, BuildOptions};
use vnetlab_core::policy::{Policy, PolicyOptions};
use vnetlab_core::time::Timestamp;

/// Given by `--public-ip` (the template states none), listed first.
const PIP_A: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 60);
/// Stated in the template; numerically lower than the first, so "first"
/// cannot be mistaken for "lowest".
const PIP_B: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 51);
/// The first address of the public IP prefix, after the addresses.
const PREFIX_FIRST: Ipv4Addr = Ipv4Addr::new(198, 18, 7, 16);

/// Route All on, a NAT gateway with two public IP addresses and a prefix.
const TEMPLATE: &str = r#"{
  "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
  "contentVersion": "1.0.0.0",
  "resources": [
    {"type": "Microsoft.Network/publicIPAddresses", "apiVersion": "2023-09-01", "name": "pip-a", "location": "westeurope",
     "sku": {"name": "Standard"}, "properties": {"publicIPAllocationMethod": "Static"}},
    {"type": "Microsoft.Network/publicIPAddresses", "apiVersion": "2023-09-01", "name": "pip-b", "location": "westeurope",
     "sku": {"name": "Standard"}, "properties": {"publicIPAllocationMethod": "Static", "ipAddress": "198.18.0.51"}},
    {"type": "Microsoft.Network/publicIPPrefixes", "apiVersion": "2023-09-01", "name": "pfx", "location": "westeurope",
     "sku": {"name": "Standard"}, "properties": {"prefixLength": 28, "ipPrefix": "198.18.7.16/28"}},
    {"type": "Microsoft.Network/natGateways", "apiVersion": "2023-09-01", "name": "natgw", "location": "westeurope",
     "sku": {"name": "Standard"},
     "properties": {
       "idleTimeoutInMinutes": 4,
       "publicIpAddresses": [
         {"id": "[resourceId('Microsoft.Network/publicIPAddresses', 'pip-a')]"},
         {"id": "[resourceId('Microsoft.Network/publicIPAddresses', 'pip-b')]"}
       ],
       "publicIpPrefixes": [{"id": "[resourceId('Microsoft.Network/publicIPPrefixes', 'pfx')]"}]
     }},
    {"type": "Microsoft.Network/virtualNetworks", "apiVersion": "2023-09-01", "name": "vnet-app", "location": "westeurope",
     "properties": {
       "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
       "subnets": [{"name": "integration", "properties": {
         "addressPrefix": "10.0.2.0/24",
         "natGateway": {"id": "[resourceId('Microsoft.Network/natGateways', 'natgw')]"},
         "delegations": [{"name": "delegation", "properties": {"serviceName": "Microsoft.Web/serverFarms"}}]
       }}]
     }},
    {"type": "Microsoft.Web/serverfarms", "apiVersion": "2023-12-01", "name": "plan", "location": "westeurope",
     "sku": {"name": "P1v3", "tier": "PremiumV3"}, "properties": {"reserved": true}},
    {"type": "Microsoft.Web/sites", "apiVersion": "2023-12-01", "name": "web-app", "location": "westeurope", "kind": "app,linux",
     "properties": {
       "serverFarmId": "[resourceId('Microsoft.Web/serverfarms', 'plan')]",
       "virtualNetworkSubnetId": "[resourceId('Microsoft.Network/virtualNetworks/subnets', 'vnet-app', 'integration')]",
       "vnetRouteAllEnabled": true,
       "outboundIpAddresses": "198.51.100.10,198.51.100.11"
     }}
  ]
}"#;

fn policy() -> Policy {
    let res = arm::detect_and_load(TEMPLATE, "nat-three-addresses.json", &ParamValues::default(), &DeployContext::default()).expect("template loads");
    let build = BuildOptions { public_ips: vec![("pip-a".into(), PIP_A)], ..Default::default() };
    let sc = model::build_with(&res, &build).expect("scenario builds");
    Policy::compile(&sc, &PolicyOptions::default()).expect("policy compiles")
}

fn syn(f: &Flow) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv4(f.src.octets(), f.dst.octets(), 64).tcp(f.src_port, f.dst_port, 1000, 64240).syn().write(&mut v, &[]).unwrap();
    v
}

fn udp(f: &Flow) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv4(f.src.octets(), f.dst.octets(), 64).udp(f.src_port, f.dst_port).write(&mut v, b"q").unwrap();
    v
}

#[test]
fn nat_gateway_addresses_are_in_template_order() {
    let p = policy();
    assert_eq!(p.nat_gateway().expect("the subnet has a NAT gateway").public_ips, [PIP_A, PIP_B, PREFIX_FIRST]);
}

/// The first flow to each destination leaves from the NAT gateway's first
/// public address, which is what `decide` (and so `verify`) reports, for
/// any seed of the port choice.
#[test]
fn first_flows_leave_from_the_source_decide_reports() {
    let dests =
        [(Proto::Tcp, [198, 51, 100, 20], 443), (Proto::Tcp, [203, 0, 113, 7], 80), (Proto::Udp, [198, 51, 100, 20], 123), (Proto::Udp, [192, 0, 2, 1], 53)];
    for seed in [0, 1, 2, 42, 0x0076_6e65_746c_6162] {
        let mut dp = Datapath::new(policy(), DatapathOptions { seed, ..Default::default() });
        let src = dp.policy().instance_ip();
        for (i, &(proto, dst, dst_port)) in dests.iter().enumerate() {
            let flow = Flow { proto, src, src_port: 40000 + i as u16, dst: dst.into(), dst_port };
            let d = dp.policy().decide(&flow);
            assert_eq!((d.allowed, d.snat, d.source), (true, SourceNat::NatGateway, PIP_A), "{flow:?}");
            let mut pkt = if proto == Proto::Tcp { syn(&flow) } else { udp(&flow) };
            let v = dp.from_app(&mut pkt, Offload::default(), Timestamp::from_secs(1), &mut [0; 1500]);
            assert_eq!(v, Verdict::ToWorld(World::Internet), "{flow:?}");
            let source = Ipv4Header::from_slice(&pkt).unwrap().0.source;
            assert_eq!(Ipv4Addr::from(source), d.source, "seed {seed}, {flow:?}: translated source vs decide");
        }
    }
}
