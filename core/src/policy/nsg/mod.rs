//! Network security groups as they apply to one subnet: custom rules plus
//! Azure's default rules, service tags expanded for that subnet, compiled
//! into a classifier (with the linear evaluator kept beside it as oracle).

pub mod classify;

use crate::addr::{AddrSet, PortSet};
use crate::error::LoadError;
use crate::model::{Access, AddrItem, Direction, Nsg, NsgProtocol, SecurityRule};
use crate::policy::tags::TagContext;
use classify::{Classifier, Key, MatchRule, ProtoMask};

/// A rule as evaluated: its identity, and its match fields as sets.
#[derive(Debug, Clone)]
pub struct EffectiveRule {
    pub name: String,
    pub priority: u32,
    pub access: Access,
    pub protocol: NsgProtocol,
    pub default: bool,
    /// The fields as written (tags unexpanded), for display.
    pub source: Vec<AddrItem>,
    pub source_ports: Vec<(u16, u16)>,
    pub destination: Vec<AddrItem>,
    pub destination_ports: Vec<(u16, u16)>,
    pub uses_asgs: bool,
    /// Its destination names a platform tag (`tags::is_platform_tag`): the
    /// only rules that apply to 168.63.129.16 and 169.254.169.254.
    pub platform_tag: bool,
    pub matcher: MatchRule,
}

impl EffectiveRule {
    /// `securityRules/X` or `defaultSecurityRules/X`, as IP flow verify names them.
    pub fn qualified_name(&self) -> String {
        if self.default {
            format!("defaultSecurityRules/{}", self.name)
        } else {
            format!("securityRules/{}", self.name)
        }
    }
}

/// One direction of an NSG, compiled for one subnet.
pub struct EffectiveNsg {
    pub name: String,
    pub direction: Direction,
    /// Sorted by priority: index = evaluation order.
    pub rules: Vec<EffectiveRule>,
    matchers: Vec<MatchRule>,
    classifier: Classifier,
}

impl EffectiveNsg {
    pub fn compile(nsg: &Nsg, direction: Direction, tags: &TagContext) -> Result<EffectiveNsg, LoadError> {
        let mut rules = Vec::new();
        for r in nsg.rules.iter().filter(|r| r.direction == direction).chain(default_rules(direction).iter()) {
            rules.push(effective(r, tags)?);
        }
        rules.sort_by_key(|r| r.priority);
        let matchers: Vec<MatchRule> = rules.iter().map(|r| r.matcher.clone()).collect();
        let classifier = Classifier::new(&matchers);
        Ok(EffectiveNsg { name: nsg.name.clone(), direction, rules, matchers, classifier })
    }

    pub fn classify(&self, key: &Key) -> Option<usize> {
        self.classifier.first_match(key)
    }

    pub fn classify_linear(&self, key: &Key) -> Option<usize> {
        classify::first_match_linear(&self.matchers, key)
    }
}

fn effective(r: &SecurityRule, tags: &TagContext) -> Result<EffectiveRule, LoadError> {
    let set = |items: &[AddrItem]| -> Result<AddrSet, LoadError> {
        let mut out = AddrSet::empty();
        for it in items {
            let s = match it {
                AddrItem::Any => AddrSet::all(),
                AddrItem::Prefix(n) => crate::addr::net_set(n),
                AddrItem::Tag(t) => tags.resolve(t).map_err(|m| LoadError::new(&r.origin.file, &r.origin.path, format!("rule '{}': {m}", r.name)))?,
            };
            out = out.union(&s);
        }
        Ok(out)
    };
    let protocols = match r.protocol {
        NsgProtocol::Tcp => ProtoMask::TCP,
        NsgProtocol::Udp => ProtoMask::UDP,
        NsgProtocol::Icmp => ProtoMask::ICMP,
        NsgProtocol::Esp => ProtoMask::ESP,
        NsgProtocol::Ah => ProtoMask::AH,
        NsgProtocol::Any => ProtoMask::ANY,
    };
    // An App Service instance has no NIC, so no ASG ever holds it: a rule
    // naming ASGs can never match (an empty protocol mask says so).
    let protocols = if r.uses_asgs { ProtoMask(0) } else { protocols };
    let matcher = MatchRule {
        protocols,
        src: set(&r.source)?,
        src_ports: PortSet::from_ranges(r.source_ports.iter().copied()),
        dst: set(&r.destination)?,
        dst_ports: PortSet::from_ranges(r.destination_ports.iter().copied()),
    };
    let platform_tag = r.destination.iter().any(|d| matches!(d, AddrItem::Tag(t) if crate::policy::tags::is_platform_tag(t)));
    Ok(EffectiveRule {
        name: r.name.clone(),
        priority: r.priority,
        access: r.access,
        protocol: r.protocol,
        default: r.default,
        source: r.source.clone(),
        source_ports: r.source_ports.clone(),
        destination: r.destination.clone(),
        destination_ports: r.destination_ports.clone(),
        uses_asgs: r.uses_asgs,
        platform_tag,
        matcher,
    })
}

/// Azure's default rules (API casing), which every NSG ends with.
pub fn default_rules(direction: Direction) -> Vec<SecurityRule> {
    let rule = |name: &str, priority, src: AddrItem, dst: AddrItem, access| SecurityRule {
        name: name.to_string(),
        priority,
        direction,
        access,
        protocol: NsgProtocol::Any,
        source: vec![src],
        source_ports: vec![(0, 65535)],
        destination: vec![dst],
        destination_ports: vec![(0, 65535)],
        uses_asgs: false,
        default: true,
        origin: Default::default(),
    };
    let tag = |t: &str| AddrItem::Tag(t.to_string());
    match direction {
        Direction::Outbound => vec![
            rule("AllowVnetOutBound", 65000, tag("VirtualNetwork"), tag("VirtualNetwork"), Access::Allow),
            rule("AllowInternetOutBound", 65001, AddrItem::Any, tag("Internet"), Access::Allow),
            rule("DenyAllOutBound", 65500, AddrItem::Any, AddrItem::Any, Access::Deny),
        ],
        Direction::Inbound => vec![
            rule("AllowVnetInBound", 65000, tag("VirtualNetwork"), tag("VirtualNetwork"), Access::Allow),
            rule("AllowAzureLoadBalancerInBound", 65001, tag("AzureLoadBalancer"), AddrItem::Any, Access::Allow),
            rule("DenyAllInBound", 65500, AddrItem::Any, AddrItem::Any, Access::Deny),
        ],
    }
}
