//! Service tags: the two that depend on the configuration (`VirtualNetwork`,
//! `Internet`, derived as FORMAT.md says), the platform ones, and the rest
//! from the case's `service_tags` or Azure's published service-tags file.

use crate::addr::{nets_set, AddrSet};
use crate::decision::{AZURE_DNS, IMDS};
use crate::error::LoadError;
use crate::model::{RoutePrefix, Scenario, SubnetRef};
use ipnet::Ipv4Net;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// Tags whose prefixes come from outside the configuration.
#[derive(Debug, Clone, Default)]
pub struct ServiceTags {
    /// Lower-case name -> (name as given, IPv4 prefixes).
    tags: BTreeMap<String, (String, Vec<Ipv4Net>)>,
}

impl ServiceTags {
    pub fn insert(&mut self, name: &str, prefixes: Vec<Ipv4Net>) {
        self.tags.insert(name.to_ascii_lowercase(), (name.to_string(), prefixes));
    }

    pub fn get(&self, name: &str) -> Option<&[Ipv4Net]> {
        self.tags.get(&name.to_ascii_lowercase()).map(|(_, p)| p.as_slice())
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tags.values().map(|(n, _)| n.as_str())
    }

    /// `{"Tag": ["prefix", ...]}` as conformance cases give them.
    pub fn from_map(v: &serde_json::Value, file: &str, path: &str) -> Result<Self, LoadError> {
        let mut out = ServiceTags::default();
        let obj = v.as_object().ok_or_else(|| LoadError::new(file, path, "service_tags must be an object {\"Tag\": [\"prefix\", ...]}"))?;
        for (name, list) in obj {
            if is_derived(name) {
                return Err(LoadError::new(
                    file,
                    format!("{path}.{name}"),
                    format!("'{name}' is derived from the configuration and cannot be given in service_tags"),
                ));
            }
            let arr = list.as_array().ok_or_else(|| LoadError::new(file, format!("{path}.{name}"), "expected an array of prefixes"))?;
            let mut nets = Vec::new();
            for (i, p) in arr.iter().enumerate() {
                let at = format!("{path}.{name}[{i}]");
                let s = p.as_str().ok_or_else(|| LoadError::new(file, &at, "expected a prefix string"))?;
                if s.contains(':') {
                    continue; // IPv6: out of scope
                }
                nets.push(crate::addr::parse_prefix(s).map_err(|m| LoadError::new(file, &at, m))?.trunc());
            }
            out.insert(name, nets);
        }
        Ok(out)
    }

    /// Azure's published file (`ServiceTags_Public_*.json`):
    /// `{"values": [{"name": ..., "properties": {"addressPrefixes": [...]}}]}`.
    pub fn from_azure_file(text: &str, file: &str) -> Result<Self, LoadError> {
        let v: serde_json::Value =
            serde_json::from_str(text).map_err(|e| LoadError::new(file, format!("line {} column {}", e.line(), e.column()), format!("malformed JSON: {e}")))?;
        let values = v.get("values").and_then(|x| x.as_array()).ok_or_else(|| {
            LoadError::new(file, "$", "not a service-tags file: expected {\"values\": [{\"name\": ..., \"properties\": {\"addressPrefixes\": [...]}}]}")
        })?;
        let mut out = ServiceTags::default();
        for (i, t) in values.iter().enumerate() {
            let at = format!("$.values[{i}]");
            let name = t.get("name").and_then(|x| x.as_str()).ok_or_else(|| LoadError::new(file, &at, "missing name"))?;
            let list = t
                .get("properties")
                .and_then(|p| p.get("addressPrefixes"))
                .and_then(|x| x.as_array())
                .ok_or_else(|| LoadError::new(file, &at, "missing properties.addressPrefixes"))?;
            let mut nets = Vec::new();
            for (j, p) in list.iter().enumerate() {
                let s = p.as_str().unwrap_or("");
                if s.contains(':') {
                    continue;
                }
                let net = crate::addr::parse_prefix(s).map_err(|m| LoadError::new(file, format!("{at}.properties.addressPrefixes[{j}]"), m))?;
                nets.push(net.trunc());
            }
            out.insert(name, nets);
        }
        Ok(out)
    }

    /// Later tags override earlier ones of the same name.
    pub fn merge(&mut self, other: &ServiceTags) {
        for (k, v) in &other.tags {
            self.tags.insert(k.clone(), v.clone());
        }
    }
}

fn is_derived(name: &str) -> bool {
    ["virtualnetwork", "internet"].contains(&name.to_ascii_lowercase().as_str())
}

/// Destinations that are never `Internet` (FORMAT.md, NSG section).
const NOT_INTERNET: [(u8, u8, u8, u8, u8); 8] = [
    (0, 0, 0, 0, 8),
    (10, 0, 0, 0, 8),
    (100, 64, 0, 0, 10),
    (127, 0, 0, 0, 8),
    (169, 254, 0, 0, 16),
    (172, 16, 0, 0, 12),
    (192, 168, 0, 0, 16),
    (224, 0, 0, 0, 3),
];

/// Windows activation (KMS), which `AzurePlatformLKM` stands for: the
/// addresses Microsoft's "custom routes to enable KMS activation" article
/// routes to `Internet` for kms.core.windows.net (23.102.135.246) and
/// azkms.core.windows.net (20.118.99.224, 40.83.235.53). Unlike the two
/// addresses below they get no bypass: the fact sheet names only those.
const KMS: [Ipv4Addr; 3] = [Ipv4Addr::new(23, 102, 135, 246), Ipv4Addr::new(20, 118, 99, 224), Ipv4Addr::new(40, 83, 235, 53)];

/// The platform tags (lower case) and the addresses each stands for. A Deny
/// rule naming one is the only rule that applies to 168.63.129.16 and
/// 169.254.169.254.
const PLATFORM_TAGS: [(&str, &[Ipv4Addr]); 3] = [("azureplatformdns", &[AZURE_DNS]), ("azureplatformimds", &[IMDS]), ("azureplatformlkm", &KMS)];

/// Whether `tag` is `AzurePlatformDNS`, `AzurePlatformIMDS` or `AzurePlatformLKM`.
pub fn is_platform_tag(tag: &str) -> bool {
    PLATFORM_TAGS.iter().any(|(n, _)| tag.eq_ignore_ascii_case(n))
}

/// The tag a service endpoint's service takes.
pub fn service_endpoint_tag(service: &str) -> Option<&'static str> {
    Some(match service.to_ascii_lowercase().as_str() {
        "microsoft.storage" | "microsoft.storage.global" => "Storage",
        "microsoft.sql" => "Sql",
        "microsoft.keyvault" => "AzureKeyVault",
        "microsoft.servicebus" => "ServiceBus",
        "microsoft.eventhub" => "EventHub",
        "microsoft.azurecosmosdb" => "AzureCosmosDB",
        "microsoft.web" => "AppService",
        "microsoft.containerregistry" => "AzureContainerRegistry",
        _ => return None,
    })
}

/// Tag sets as seen from one subnet.
#[derive(Debug, Clone)]
pub struct TagContext {
    pub virtual_network: AddrSet,
    pub internet: AddrSet,
    pub given: ServiceTags,
    /// The VNet's region, for regional tags (`Storage.WestEurope`).
    pub region: String,
}

impl TagContext {
    pub fn for_subnet(sc: &Scenario, subnet: SubnetRef, given: &ServiceTags, default_region: &str) -> TagContext {
        let vi = subnet.0;
        let vnet = &sc.vnets[vi];
        let mut spaces: Vec<Ipv4Net> = vnet.address_space.clone();
        for (_, space, _) in sc.connected_peerings(vi) {
            spaces.extend(space);
        }
        // On-premises prefixes count whatever a route table says about propagation.
        spaces.extend(sc.gateway_prefixes(vi));
        let mut vn_nets = spaces.clone();
        vn_nets.push(Ipv4Net::new(AZURE_DNS, 32).expect("valid /32"));
        if let Some(rt) = sc.subnet(subnet).route_table {
            for r in &sc.route_tables[rt].routes {
                match &r.prefix {
                    RoutePrefix::Net(n) => vn_nets.push(n.trunc()),
                    RoutePrefix::Tag(t) => vn_nets.extend(given.get(t).unwrap_or(&[]).iter().copied()),
                }
            }
        }
        let not_internet = AddrSet::from_ranges(NOT_INTERNET.iter().map(|&(a, b, c, d, l)| {
            let n = Ipv4Net::new(Ipv4Addr::new(a, b, c, d), l).expect("valid constant prefix");
            crate::addr::net_range(&n)
        }))
        .union(&nets_set(&spaces));
        let region = if vnet.location.is_empty() { default_region } else { &vnet.location };
        TagContext {
            virtual_network: nets_set(&vn_nets),
            internet: not_internet.complement(),
            given: given.clone(),
            region: region.replace(' ', "").to_ascii_lowercase(),
        }
    }

    /// The address set of a tag, or an explanation of why it is unknown.
    pub fn resolve(&self, tag: &str) -> Result<AddrSet, String> {
        match tag.to_ascii_lowercase().as_str() {
            "virtualnetwork" => return Ok(self.virtual_network.clone()),
            "internet" => return Ok(self.internet.clone()),
            _ => {}
        }
        if let Some(p) = self.given.get(tag) {
            return Ok(nets_set(p));
        }
        let hosts = |addrs: &[Ipv4Addr]| AddrSet::from_ranges(addrs.iter().map(|&a| (u32::from(a), u32::from(a))));
        if tag.eq_ignore_ascii_case("AzureLoadBalancer") {
            return Ok(hosts(&[AZURE_DNS]));
        }
        match PLATFORM_TAGS.iter().find(|(n, _)| tag.eq_ignore_ascii_case(n)) {
            Some((_, addrs)) => Ok(hosts(addrs)),
            None => Err(format!(
                "unknown service tag '{tag}': give its prefixes in the case's service_tags or with --service-tags FILE (known: VirtualNetwork, Internet, AzureLoadBalancer, AzurePlatformDNS, AzurePlatformIMDS, AzurePlatformLKM{})",
                self.given.names().map(|n| format!(", {n}")).collect::<String>()
            )),
        }
    }

    /// Whether an `Internet` next hop delivers to `addr`: only addresses of
    /// the `Internet` tag; the platform drops the rest (FORMAT.md).
    pub fn internet_hop_delivers(&self, addr: Ipv4Addr) -> bool {
        self.internet.contains(u32::from(addr))
    }

    /// Whether an `Internet` next hop delivers none of `net` (a route that
    /// only black-holes traffic).
    pub fn internet_hop_drops_all(&self, net: &Ipv4Net) -> bool {
        !self.internet.overlaps(&crate::addr::net_set(net))
    }

    /// The prefixes of a service endpoint: the regional tag when given, else the top-level one.
    pub fn service_endpoint_prefixes(&self, service: &str) -> Result<(String, Vec<Ipv4Net>), String> {
        let tag = service_endpoint_tag(service).ok_or_else(|| format!("service endpoint '{service}' is not modelled (no service tag known for it)"))?;
        let regional = format!("{tag}.{}", self.region);
        if let Some(p) = self.given.get(&regional) {
            return Ok((regional, p.to_vec()));
        }
        if let Some(p) = self.given.get(tag) {
            return Ok((tag.to_string(), p.to_vec()));
        }
        Err(format!(
            "service endpoint '{service}' needs the prefixes of service tag '{regional}' or '{tag}': give them in service_tags or with --service-tags FILE"
        ))
    }
}
