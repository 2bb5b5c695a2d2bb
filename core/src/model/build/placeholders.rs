//! The builder's side of deploy-time values (the rules are in
//! `deploytime`): a runtime placeholder where an address is needed becomes
//! the user's `--deploy-value` for that JSON path, the public IP's address,
//! or a synthetic address with one warning naming the file, the path and
//! the flag.

use super::builder::{Builder, T_VNET};
use super::deploytime::{Need, Pool};
use crate::addr::parse_prefix;
use crate::arm::expr::{placeholder, Placeholder};
use crate::arm::resource::Resource;
use crate::error::LoadError;
use crate::warning::Warning;
use ipnet::Ipv4Net;
use std::net::Ipv4Addr;

impl Builder<'_> {
    /// The address the user gave for `path` of `file` with --deploy-value.
    fn given_value(&self, file: &str, path: &str) -> Option<Ipv4Addr> {
        let (i, v) = self.opts.deploy_values.iter().enumerate().rev().find(|(_, v)| v.matches(file, path))?;
        self.deploy.borrow_mut().matched.insert(i);
        Some(v.addr)
    }

    /// For a runtime placeholder `text` at `path` of `file`: the address it
    /// stands for (see the module comment), with a warning when synthetic.
    /// `None`: `text` is no placeholder, the caller reads it as it is.
    pub(super) fn deploy_addr(&self, file: &str, path: &str, text: &str, need: Need) -> Result<Option<Ipv4Addr>, LoadError> {
        let Some(ph) = placeholder(text) else { return Ok(None) };
        if let Some(a) = self.given_value(file, path) {
            return Ok(Some(a));
        }
        let mut st = self.deploy.borrow_mut();
        let name = match ph {
            Placeholder::PublicIp(pip) => match st.public_ips.get(&pip.to_ascii_lowercase()) {
                Some(a) => return Ok(Some(*a)),
                None => "ipAddress",
            },
            Placeholder::Property(n) => n,
        };
        let public = need == Need::ByName && (name.eq_ignore_ascii_case("ipAddress") || name.to_ascii_lowercase().contains("public"));
        let (a, rule) = if public {
            (st.public(Pool::Value), "a synthetic public address")
        } else {
            (st.private(), "a synthetic private address at the top of the first virtual network")
        };
        let Some(a) = a else {
            return Err(LoadError::new(
                file,
                path,
                format!("'{text}' is known only after deployment and no synthetic address is left; give it with {}", flag(file, path)),
            ));
        };
        // Shown with the answers that use the address (`warning`).
        st.warnings.push(Warning::placeholder(
            a,
            format!(
                "{file}: {path} is '{}', which Azure knows only after deployment; using {a} ({rule}). Give the real address with {}",
                text.trim(),
                flag(file, path)
            ),
        ));
        Ok(Some(a))
    }

    /// As [`Builder::deploy_addr`] for a prefix: a placeholder alone (a /32)
    /// or followed by `/N` (`'${pip.properties.ipAddress}/32'`).
    pub(super) fn deploy_prefix(&self, file: &str, path: &str, text: &str, need: Need) -> Result<Option<Ipv4Net>, LoadError> {
        let t = text.trim();
        let (ph, len) = match t.rsplit_once('/') {
            Some((a, n)) if a.ends_with('>') => (a, n.trim().parse::<u8>().ok()),
            _ => (t, Some(32)),
        };
        let Some(a) = self.deploy_addr(file, path, ph, need)? else { return Ok(None) };
        let net = len.and_then(|n| Ipv4Net::new(a, n).ok()).ok_or_else(|| LoadError::new(file, path, format!("'{t}': the prefix length is not 0 to 32")))?;
        Ok(Some(net.trunc()))
    }

    /// For a placeholder where the builder can do without the value (a
    /// private endpoint's static address): the given address, else `None`
    /// and a warning saying what stands in.
    pub(super) fn deploy_optional(&self, file: &str, path: &str, text: &str, instead: &str) -> Option<Option<Ipv4Addr>> {
        placeholder(text)?;
        if let Some(a) = self.given_value(file, path) {
            return Some(Some(a));
        }
        self.deploy.borrow_mut().warnings.push(Warning::always(format!(
            "{file}: {path} is '{}', which Azure knows only after deployment; {instead}. Give the real address with {}",
            text.trim(),
            flag(file, path)
        )));
        Some(None)
    }

    /// The warnings for `--deploy-value`s that matched no deploy-time value.
    pub(super) fn unmatched_deploy_values(&self) -> Vec<Warning> {
        let st = self.deploy.borrow();
        self.opts
            .deploy_values
            .iter()
            .enumerate()
            .filter(|(i, _)| !st.matched.contains(i))
            .map(|(_, v)| {
                let key = match &v.file {
                    Some(f) => format!("{f}:{}", v.path),
                    None => v.path.clone(),
                };
                Warning::always(format!("--deploy-value {key}={} matched no deploy-time value: the paths are those the warnings name", v.addr))
            })
            .collect()
    }
}

/// The flag that gives the value at `path` of `file`, ready to paste.
fn flag(file: &str, path: &str) -> String {
    format!("--deploy-value '{file}:{path}=ADDRESS'")
}

/// The first address prefix of the first VNet in the input, if it parses.
pub(super) fn first_vnet_prefix(resources: &[Resource]) -> Option<Ipv4Net> {
    let r = resources.iter().find(|r| r.rtype.eq_ignore_ascii_case(T_VNET))?;
    let s = r.body.get("properties")?.get("addressSpace")?.get("addressPrefixes")?.get(0)?.as_str()?;
    parse_prefix(s).ok().map(|n| n.trunc())
}
