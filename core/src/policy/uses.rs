//! What each kind of answer of a compiled policy uses, for the warnings a
//! command shows (`crate::warning`; a traced flow's are `check::Outcome::uses`):
//! a decision uses its source and next hop, and the sender's plan kind when the app
//! routing sent the flow out directly (on Flex Consumption it would have
//! entered the VNet); the route and rule tables use their prefixes and next
//! hops; a running app (`up`, `run`) may meet anything the policy holds.

use super::{Policy, Sender};
use crate::decision::{AppRouting, Decision};
use crate::model::AddrItem;
use crate::warning::Uses;

impl Policy {
    /// What deciding `d` used, besides the destination.
    pub fn uses_of_decision(&self, d: &Decision) -> Uses {
        let mut u = Uses::default();
        u.address(d.source);
        if let Some(ip) = d.next_hop_ip {
            u.address(ip);
        }
        if d.app_routing == AppRouting::NotRouted {
            self.uses_plan(&mut u);
        }
        u
    }

    /// What the effective routes (`routes`) show.
    pub fn uses_of_routes(&self) -> Uses {
        let mut u = Uses::default();
        for r in &self.routes.routes {
            u.net(r.prefix);
            if let Some(ip) = r.next_hop_ip {
                u.address(ip);
            }
        }
        u
    }

    /// What the effective security rules (`rules`) show.
    pub fn uses_of_rules(&self) -> Uses {
        let mut u = Uses::default();
        for r in self.nsg.iter().flat_map(|n| n.rules.iter()) {
            for it in r.source.iter().chain(&r.destination) {
                if let AddrItem::Prefix(n) = it {
                    u.net(*n);
                }
            }
        }
        u
    }

    /// Everything an app running behind this policy may meet (`up`, `run`):
    /// any source, route, rule or DNS answer, and the plan when Route All
    /// leaves internet traffic outside the VNet.
    pub fn uses_all(&self) -> Uses {
        let mut u = self.uses_of_routes();
        u.extend(self.uses_of_rules());
        for a in self.outbound_ips.iter().chain(self.nat.iter().flat_map(|n| n.public_ips.iter())).copied().chain(self.dns.addresses()) {
            u.address(a);
        }
        if self.all_in.is_none() {
            self.uses_plan(&mut u);
        }
        u
    }

    fn uses_plan(&self, u: &mut Uses) {
        if let Sender::Site { name, .. } = &self.sender {
            u.plan_of(name);
        }
    }
}
