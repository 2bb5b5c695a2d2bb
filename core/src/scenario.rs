//! From what the user names on the command line (templates, az output,
//! native TOML, parameters, service tags) to a compiled `Policy`: the only
//! place that reads input files. Also holds the embedded default scenario.

use crate::arm::{self, DeployContext, ParamValues, Resource};
use crate::error::Error;
use crate::model::{self, BuildOptions, Scenario};
use crate::policy::tags::ServiceTags;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

/// The default scenario: a conformance case whose template shows every
/// layer (Route All, NSG, NAT gateway, UDRs, a private endpoint, peering).
pub const DEFAULT_CASE: &str = include_str!("../../examples/default-scenario.json");
pub const DEFAULT_CASE_NAME: &str = "<embedded default scenario>";

#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// Templates, az output or native TOML; several are combined.
    pub files: Vec<PathBuf>,
    /// `-p name=value`.
    pub params: Vec<String>,
    /// `--parameters FILE`.
    pub param_files: Vec<PathBuf>,
    pub build: BuildOptions,
    pub ctx: DeployContext,
}

pub fn read(path: &Path) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|e| Error::Io { path: path.display().to_string(), source: e })
}

/// Parameter values in precedence order: files first, then `-p`.
pub fn param_values(inputs: &Inputs) -> Result<ParamValues, Error> {
    let mut pv = ParamValues::default();
    for f in &inputs.param_files {
        let file = f.display().to_string();
        for (k, v) in arm::read_parameters_file(&read(f)?, &file)? {
            pv.values.push((k, v, file.clone()));
        }
    }
    for p in &inputs.params {
        let (k, v) = arm::parse_param_assignment(p).map_err(|m| Error::BadArgument(format!("-p {p}: {m}")))?;
        pv.values.push((k, v, "-p".into()));
    }
    Ok(pv)
}

/// Loads and combines the input files into resources.
pub fn load_resources(inputs: &Inputs) -> Result<Vec<Resource>, Error> {
    let pv = param_values(inputs)?;
    let mut all = Vec::new();
    for f in &inputs.files {
        let file = f.display().to_string();
        all.extend(arm::detect_and_load(&read(f)?, &file, &pv, &inputs.ctx)?);
    }
    Ok(all)
}

pub fn load_scenario(inputs: &Inputs) -> Result<Scenario, Error> {
    let res = load_resources(inputs)?;
    Ok(model::build_with(&res, &inputs.build)?)
}

/// `NAME=ADDR` for `--public-ip` and `--public-dns`.
pub fn parse_name_addr(s: &str, flag: &str) -> Result<(String, Ipv4Addr), Error> {
    let (n, a) = s.split_once('=').ok_or_else(|| Error::BadArgument(format!("{flag} {s}: expected NAME=ADDRESS")))?;
    let a = a.trim().parse().map_err(|_| Error::BadArgument(format!("{flag} {s}: '{a}' is not an IPv4 address")))?;
    Ok((n.trim().to_string(), a))
}

pub fn load_service_tags(files: &[PathBuf]) -> Result<ServiceTags, Error> {
    let mut tags = ServiceTags::default();
    for f in files {
        tags.merge(&ServiceTags::from_azure_file(&read(f)?, &f.display().to_string())?);
    }
    Ok(tags)
}
