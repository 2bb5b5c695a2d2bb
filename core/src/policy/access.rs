//! Inbound access restrictions (fact sheet 13.2): may a client reach the
//! site (or its scm site) through the public front ends?
//!
//! `AccessPolicy::compile` takes a site's restrictions as loaded (model
//! `SiteAccess`) and resolves service tags through the policy's tags;
//! `decide(client, scm, headers)` then scans linearly, top to bottom:
//!
//! 1. `publicNetworkAccess: Disabled` (or unset with a private endpoint to
//!    the site) closes the public path: every client is denied;
//! 2. the scm site uses its own list, or the main one with
//!    `scmIpSecurityRestrictionsUseMain`;
//! 3. rules by priority, lowest first, equal priorities in list order; the
//!    first rule whose source and headers both match decides;
//! 4. no rule matched: the explicit default action
//!    (`...DefaultAction`, or the exported `Any` pseudo-rule), else allow
//!    when the list is empty and deny (implicit) when it is not.
//!
//! Service-endpoint rules (`vnetSubnetResourceId`) match only traffic from
//! a VNet subnet with a `Microsoft.Web` service endpoint: a client on this
//! machine never is, so they never match. Header rules see only the
//! headers of the request head the caller passes (none: they do not match).

use crate::addr::{nets_set, parse_prefix, AddrSet};
use crate::error::{Error, LoadError};
use crate::model::{Access, AccessRules, AccessSource, AddrItem, Scenario, SiteAccess};
use ipnet::Ipv4Net;
use std::fmt;
use std::net::Ipv4Addr;

use crate::policy::tags::TagContext;

/// A header condition of a rule: the request must carry the header with
/// one of the values (matching logic of Azure's `IpSecurityRestriction.headers`).
#[derive(Debug, Clone)]
enum HeaderRule {
    /// Any address of the chain (port removed) in one of the prefixes.
    ForwardedFor(Vec<Ipv4Net>),
    /// A host (port removed, case-insensitive) equal to a value, or one
    /// label under a `*.` wildcard (not the root, not two labels).
    ForwardedHost(Vec<String>),
    /// `x-azure-fdid`, `x-fd-healthprobe`: exact, case-insensitive.
    Exact(String, Vec<String>),
}

#[derive(Debug, Clone)]
enum Source {
    Addresses(AddrSet),
    /// A service-endpoint rule: no local client is in a VNet subnet.
    ServiceEndpoint,
}

/// One rule, ready to evaluate.
#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    pub priority: u32,
    pub action: Access,
    source: Source,
    headers: Vec<HeaderRule>,
}

impl Rule {
    fn matches(&self, client: Ipv4Addr, headers: &[(String, String)]) -> bool {
        let source = match &self.source {
            Source::Addresses(set) => set.contains(u32::from(client)),
            Source::ServiceEndpoint => false,
        };
        source && self.headers.iter().all(|h| header_matches(h, headers))
    }

    pub fn has_headers(&self) -> bool {
        !self.headers.is_empty()
    }

    pub fn is_service_endpoint(&self) -> bool {
        matches!(self.source, Source::ServiceEndpoint)
    }
}

/// A list in evaluation order and what happens when no rule matches.
#[derive(Debug, Clone, Default)]
pub struct RuleList {
    /// Sorted by priority; equal priorities keep list order.
    pub rules: Vec<Rule>,
    pub default_action: Option<(Access, String)>,
}

/// Which part of the evaluation decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessBy {
    Rule {
        name: String,
        priority: u32,
    },
    /// No rules and no explicit default action.
    NoRules,
    /// The explicit default action and the input that set it.
    DefaultAction {
        by: String,
    },
    /// Rules exist, none matched, no explicit default action.
    ImplicitDeny {
        rules: usize,
    },
    PublicNetworkAccessDisabled {
        by: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessDecision {
    pub allowed: bool,
    pub client: Ipv4Addr,
    pub scm: bool,
    pub by: AccessBy,
}

impl fmt::Display for AccessDecision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = if self.allowed { "allows" } else { "denies" };
        let scm = if self.scm { "scm " } else { "" };
        let c = self.client;
        match &self.by {
            AccessBy::Rule { name, priority } => write!(f, "{scm}access restriction {name} (priority {priority}) {verb} {c}"),
            AccessBy::NoRules => write!(f, "no {scm}access restrictions: allows {c}"),
            AccessBy::DefaultAction { by } => write!(f, "{scm}default action {} ({by}) {verb} {c}", if self.allowed { "Allow" } else { "Deny" }),
            AccessBy::ImplicitDeny { rules } => write!(f, "implicit deny after {rules} {scm}access restriction(s) denies {c}"),
            AccessBy::PublicNetworkAccessDisabled { by } => write!(f, "public network access is disabled ({by}): denies {c}"),
        }
    }
}

/// One site's inbound access, compiled.
#[derive(Debug, Clone)]
pub struct AccessPolicy {
    /// The site's name (empty for a NIC, which has no restrictions).
    pub site: String,
    pub public_network_access: bool,
    pub public_decided_by: String,
    pub main: RuleList,
    pub scm: RuleList,
    pub scm_use_main: bool,
}

impl AccessPolicy {
    /// Resolves service tags through `tags`; errors name the rule's input.
    pub fn compile(site: &str, access: &SiteAccess, tags: &TagContext) -> Result<AccessPolicy, LoadError> {
        Ok(AccessPolicy {
            site: site.to_string(),
            public_network_access: access.public_network_access,
            public_decided_by: access.public_decided_by.clone(),
            main: compile_list(&access.main, tags)?,
            scm: compile_list(&access.scm, tags)?,
            scm_use_main: access.scm_use_main,
        })
    }

    /// The access of site `site` of `sc` (a policy's `Sender::Site`); no
    /// site (a NIC, `--subnet`) has no restrictions: all allowed.
    pub fn for_site(sc: &Scenario, site: Option<&str>, tags: &TagContext) -> Result<AccessPolicy, Error> {
        let Some(name) = site else {
            return Ok(AccessPolicy::compile("", &SiteAccess::default(), tags)?);
        };
        let site =
            sc.sites.iter().find(|s| s.name.eq_ignore_ascii_case(name)).ok_or_else(|| Error::BadArgument(format!("no site named '{name}' in the input")))?;
        Ok(AccessPolicy::compile(&site.name, &site.access, tags)?)
    }

    /// The list that judges the main site or the scm site.
    pub fn list(&self, scm: bool) -> &RuleList {
        if scm && !self.scm_use_main {
            &self.scm
        } else {
            &self.main
        }
    }

    /// Whether a decision may depend on request headers (the caller then
    /// reads the request head before deciding).
    pub fn needs_headers(&self, scm: bool) -> bool {
        self.public_network_access && self.list(scm).rules.iter().any(Rule::has_headers)
    }

    /// May `client` reach the site (or the scm site)? `headers` are the
    /// request's, names in lower case (empty when not read).
    pub fn decide(&self, client: Ipv4Addr, scm: bool, headers: &[(String, String)]) -> AccessDecision {
        let d = |allowed, by| AccessDecision { allowed, client, scm, by };
        if !self.public_network_access {
            return d(false, AccessBy::PublicNetworkAccessDisabled { by: self.public_decided_by.clone() });
        }
        let list = self.list(scm);
        for r in &list.rules {
            if r.matches(client, headers) {
                return d(r.action == Access::Allow, AccessBy::Rule { name: r.name.clone(), priority: r.priority });
            }
        }
        match (&list.default_action, list.rules.len()) {
            (Some((a, by)), _) => d(*a == Access::Allow, AccessBy::DefaultAction { by: by.clone() }),
            (None, 0) => d(true, AccessBy::NoRules),
            (None, n) => d(false, AccessBy::ImplicitDeny { rules: n }),
        }
    }
}

fn compile_list(rules: &AccessRules, tags: &TagContext) -> Result<RuleList, LoadError> {
    let mut out = Vec::new();
    for r in &rules.rules {
        let err = |m: String| LoadError::new(&r.origin.file, &r.origin.path, format!("access restriction '{}': {m}", r.name));
        let source = match &r.source {
            AccessSource::Subnet(_) => Source::ServiceEndpoint,
            AccessSource::Addresses(items) => {
                let mut set = AddrSet::empty();
                for item in items {
                    let s = match item {
                        AddrItem::Any => AddrSet::all(),
                        AddrItem::Prefix(n) => nets_set([n]),
                        AddrItem::Tag(t) => tags.resolve(t).map_err(err)?,
                    };
                    set = set.union(&s);
                }
                Source::Addresses(set)
            }
        };
        let mut headers = Vec::new();
        for (name, values) in &r.headers {
            headers.push(match name.as_str() {
                "x-forwarded-for" => {
                    let nets = values.iter().filter(|v| !v.contains(':')).map(|v| parse_prefix(v).map(|n| n.trunc())).collect::<Result<Vec<_>, _>>();
                    HeaderRule::ForwardedFor(nets.map_err(|m| err(format!("headers.x-forwarded-for: {m}")))?)
                }
                "x-forwarded-host" => HeaderRule::ForwardedHost(values.iter().map(|v| v.trim().to_ascii_lowercase()).collect()),
                _ => HeaderRule::Exact(name.clone(), values.iter().map(|v| v.trim().to_string()).collect()),
            });
        }
        out.push(Rule { name: r.name.clone(), priority: r.priority, action: r.action, source, headers });
    }
    // Stable: equal priorities stay in list order.
    out.sort_by_key(|r| r.priority);
    Ok(RuleList { rules: out, default_action: rules.default_action.clone() })
}

/// The values of request header `name` (lower case), each comma-separated
/// item on its own, trimmed.
fn values<'a>(headers: &'a [(String, String)], name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    headers.iter().filter(move |(n, _)| n == name).flat_map(|(_, v)| v.split(',')).map(str::trim).filter(|v| !v.is_empty())
}

/// `host:port` -> `host` (an IPv6 literal keeps its brackets).
fn strip_port(v: &str) -> &str {
    match v.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') && p.chars().all(|c| c.is_ascii_digit()) => h,
        _ => v,
    }
}

fn host_matches(pattern: &str, host: &str) -> bool {
    match pattern.strip_prefix("*.") {
        Some(root) => host.strip_suffix(root).and_then(|l| l.strip_suffix('.')).is_some_and(|label| !label.is_empty() && !label.contains('.')),
        None => pattern == host,
    }
}

fn header_matches(rule: &HeaderRule, headers: &[(String, String)]) -> bool {
    match rule {
        HeaderRule::ForwardedFor(nets) => {
            values(headers, "x-forwarded-for").filter_map(|v| strip_port(v).parse::<Ipv4Addr>().ok()).any(|a| nets.iter().any(|n| n.contains(&a)))
        }
        HeaderRule::ForwardedHost(hosts) => {
            values(headers, "x-forwarded-host").map(|v| strip_port(v).to_ascii_lowercase()).any(|h| hosts.iter().any(|p| host_matches(p, &h)))
        }
        HeaderRule::Exact(name, want) => headers.iter().filter(|(n, _)| n == name).any(|(_, v)| want.iter().any(|w| w.eq_ignore_ascii_case(v.trim()))),
    }
}

/// The headers of an HTTP request head read so far: (complete, headers
/// with lower-case names). Lines not of the form `name: value` are skipped;
/// an incomplete head gives the complete lines before its end.
pub fn parse_head(buf: &[u8]) -> (bool, Vec<(String, String)>) {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n");
    let text = String::from_utf8_lossy(&buf[..end.unwrap_or(buf.len())]);
    let mut lines: Vec<&str> = text.split("\r\n").collect();
    if end.is_none() {
        lines.pop(); // possibly cut in the middle
    }
    let headers = lines
        .iter()
        .skip(1) // the request line
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .filter(|(n, _)| !n.is_empty() && !n.contains(' '))
        .collect();
    (end.is_some(), headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_wildcards() {
        assert!(host_matches("www.contoso.com", "www.contoso.com"));
        assert!(host_matches("*.contoso.com", "foo.contoso.com"));
        assert!(!host_matches("*.contoso.com", "contoso.com"));
        assert!(!host_matches("*.contoso.com", "foo.bar.contoso.com"));
        assert_eq!(strip_port("www.contoso.com:8080"), "www.contoso.com");
        assert_eq!(strip_port("198.51.100.7:443"), "198.51.100.7");
    }

    #[test]
    fn request_heads() {
        let (done, h) = parse_head(b"GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 198.51.100.7, 10.0.0.1\r\n\r\nbody");
        assert!(done);
        assert_eq!(h, vec![("host".into(), "a".into()), ("x-forwarded-for".into(), "198.51.100.7, 10.0.0.1".into())]);
        let (done, h) = parse_head(b"GET / HTTP/1.1\r\nHost: a\r\nX-Forw");
        assert!(!done);
        assert_eq!(h.len(), 1);
    }
}
