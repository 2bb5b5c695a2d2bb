//! From what the user names (templates, az output, native TOML, parameters,
//! service tags, or a conformance case) to a scenario and the policy
//! options it states: the one loader. It reads input text only through a
//! [`Files`], so the core does no I/O.
//!
//! With no input files, the inputs are the embedded default scenario, a
//! conformance case: it loads through [`load_case_setup`], the same code
//! that loads every case file, so its template and its `public_dns` answers
//! are read exactly as a case's are.

use crate::arm::{self, DeployContext, ParamValues, Resource};
use crate::error::{Error, LoadError};
use crate::files::Files;
use crate::model::{self, BuildOptions, Scenario};
use crate::policy::tags::ServiceTags;
use crate::policy::{Policy, PolicyOptions};
use crate::warning::Warning;
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

/// The default scenario: a conformance case whose template shows every
/// layer (Route All, NSG, NAT gateway, UDRs, a private endpoint, peering).
pub const DEFAULT_CASE: &str = include_str!("../../examples/default-scenario.json");
pub const DEFAULT_CASE_NAME: &str = "<embedded default scenario>";

#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// Templates, az output or native TOML; several are combined. None: the
    /// embedded default scenario.
    pub files: Vec<PathBuf>,
    /// `-p name=value`.
    pub params: Vec<String>,
    /// `--parameters FILE`.
    pub param_files: Vec<PathBuf>,
    /// `--service-tags FILE`: Azure's published service tags.
    pub service_tag_files: Vec<PathBuf>,
    pub build: BuildOptions,
    pub ctx: DeployContext,
}

/// A scenario and the policy options its inputs state (a case's `site`,
/// `service_tags` and `public_dns`; the `--service-tags` files).
pub struct Loaded {
    pub scenario: Scenario,
    pub options: PolicyOptions,
}

/// The text of an input file; the error names it.
pub fn read(files: &dyn Files, path: &Path) -> Result<String, Error> {
    files.read(path).map_err(|e| Error::Io { path: path.display().to_string(), source: e })
}

/// Parameter values in precedence order: files first, then `-p`.
pub fn param_values(files: &dyn Files, inputs: &Inputs) -> Result<ParamValues, Error> {
    let mut pv = ParamValues::default();
    for f in &inputs.param_files {
        let file = f.display().to_string();
        for (k, v) in arm::read_parameters_file(&read(files, f)?, &file)? {
            pv.values.push((k, v, file.clone()));
        }
    }
    for p in &inputs.params {
        let (k, v) = arm::parse_param_assignment(p).map_err(|m| Error::BadArgument(format!("-p {p}: {m}")))?;
        pv.values.push((k, v, "-p".into()));
    }
    Ok(pv)
}

/// Loads and combines the input files into resources. Each parameter value
/// goes to the files that declare the parameter (see [`route_params`]), so
/// a parameterised template combines with az output or TOML; a template
/// reads what the other files hold (`arm::load_together`).
pub fn load_resources(files: &dyn Files, inputs: &Inputs) -> Result<Vec<Resource>, Error> {
    let pv = param_values(files, inputs)?;
    let ctx = deploy_context(inputs);
    let mut texts = Vec::with_capacity(inputs.files.len());
    for f in &inputs.files {
        let file = f.display().to_string();
        let text = read(files, f)?;
        let declared = declared_parameters(&text, &file)?;
        texts.push((file, text, declared));
    }
    let declared: Vec<(&str, Option<&[String]>)> = texts.iter().map(|(f, _, d)| (f.as_str(), d.as_deref())).collect();
    let routed = route_params(&pv, &declared)?;
    let together: Vec<arm::Input<'_>> = texts.iter().zip(&routed).map(|((file, text, _), params)| arm::Input { file, text, params }).collect();
    Ok(arm::load_together(&together, &ctx)?)
}

/// The context the templates of `inputs` deploy in: `inputs.ctx`, and the
/// public IP addresses the user gave, which `reference(pip).ipAddress`
/// reads (sharing `inputs.ctx`'s notes).
fn deploy_context(inputs: &Inputs) -> DeployContext {
    let mut ctx = inputs.ctx.clone();
    ctx.public_ips.extend(inputs.build.public_ips.iter().cloned());
    ctx
}

/// `vnetlab eval`: the value of each expression, in the context of the
/// template at `template` (read through `files`) with the `-p` values, or of
/// none, deployed in `ctx`: one result per expression, an error naming the
/// expression; the outer error is a template or `-p` value that cannot be
/// read. What only a default answered is noted in `ctx.notes`.
pub fn eval_expressions(
    files: &dyn Files,
    template: Option<&Path>,
    params: &[String],
    exprs: &[String],
    ctx: &DeployContext,
) -> Result<Vec<Result<Value, Error>>, Error> {
    let (t, file) = match template {
        Some(p) => {
            let file = p.display().to_string();
            (Some(arm::parse_json(&read(files, p)?, &file)?), file)
        }
        None if !params.is_empty() => return Err(Error::BadArgument("-p needs a template (-t FILE) that declares the parameter".into())),
        None => (None, "<expression>".to_string()),
    };
    let mut pv = ParamValues::default();
    for p in params {
        let (k, v) = arm::parse_param_assignment(p).map_err(|m| Error::BadArgument(format!("-p {p}: {m}")))?;
        pv.values.push((k, v, "-p".into()));
    }
    Ok(exprs.iter().map(|e| arm::eval(t.as_ref(), &file, &pv, ctx, e).map_err(|err| Error::BadArgument(format!("expression {e:?}: {err}")))).collect())
}

/// The top-level parameters a template input declares; `None` for inputs
/// that take no parameters (az output, native TOML). Detected by the same
/// shape `arm::detect_and_load` uses.
fn declared_parameters(text: &str, file: &str) -> Result<Option<Vec<String>>, Error> {
    if file.to_ascii_lowercase().ends_with(".toml") {
        return Ok(None);
    }
    let v = arm::parse_json(text, file)?;
    let Some(o) = v.as_object() else { return Ok(None) };
    let is_template = o.get("resources").is_some_and(|r| r.is_array() || r.is_object())
        || o.get("$schema").and_then(Value::as_str).is_some_and(|s| s.to_ascii_lowercase().contains("deploymenttemplate"));
    if !is_template {
        return Ok(None);
    }
    Ok(Some(o.get("parameters").and_then(Value::as_object).map(|p| p.keys().cloned().collect()).unwrap_or_default()))
}

/// Splits parameter values among the input files: a value whose name is
/// `FILE:NAME` (`-p FILE:NAME=VALUE`) goes to that file only (FILE as
/// given with `-t`, or its file name); any other goes to every file that
/// declares NAME. A value no file declares is an error naming the
/// parameter and what each file declares, as in ARM, where an unknown
/// parameter fails the deployment.
pub fn route_params(pv: &ParamValues, declared: &[(&str, Option<&[String]>)]) -> Result<Vec<ParamValues>, Error> {
    let mut out = vec![ParamValues::default(); declared.len()];
    let declares = |i: usize, name: &str| declared[i].1.is_some_and(|d| d.iter().any(|n| n.eq_ignore_ascii_case(name)));
    let describe = |(f, d): &(&str, Option<&[String]>)| match d {
        None => format!("{f} (takes no parameters)"),
        Some([]) => format!("{f} (declares none)"),
        Some(d) => format!("{f} (declares {})", d.join(", ")),
    };
    for (qualified, value, source) in &pv.values {
        // ARM parameter names cannot contain ':', so the last one separates
        // a file (which may contain one, e.g. C:\x.json) from the name.
        let (target, name) = match qualified.rsplit_once(':') {
            Some((f, n)) => (Some(f), n),
            None => (None, qualified.as_str()),
        };
        let targets: Vec<usize> = match target {
            Some(t) => {
                let Some(i) = declared.iter().position(|(f, _)| *f == t || Path::new(f).file_name().is_some_and(|n| n == t)) else {
                    let names: Vec<&str> = declared.iter().map(|(f, _)| *f).collect();
                    return Err(Error::BadArgument(format!(
                        "parameter '{qualified}' (given in {source}): '{t}' is none of the input files ({})",
                        if names.is_empty() { "none given".into() } else { names.join(", ") }
                    )));
                };
                if !declares(i, name) {
                    return Err(Error::BadArgument(format!("parameter '{name}' (given in {source}) is not declared by {}", describe(&declared[i]))));
                }
                vec![i]
            }
            None => (0..declared.len()).filter(|&i| declares(i, name)).collect(),
        };
        if targets.is_empty() {
            let files: Vec<String> = declared.iter().map(describe).collect();
            return Err(Error::BadArgument(format!(
                "parameter '{name}' (given in {source}) is declared by none of the inputs: {}",
                if files.is_empty() { "no input files".into() } else { files.join("; ") }
            )));
        }
        for i in targets {
            out[i].values.push((name.to_string(), value.clone(), source.clone()));
        }
    }
    Ok(out)
}

/// The scenario and stated options of `inputs` (the embedded default case
/// when it names no files), with the `--service-tags` files merged in.
pub fn load(files: &dyn Files, inputs: &Inputs) -> Result<Loaded, Error> {
    let mut loaded = if inputs.files.is_empty() {
        let pv = param_values(files, inputs)?;
        load_case_setup(&default_case_value()?, Path::new(DEFAULT_CASE_NAME), files, &pv, &inputs.build, &deploy_context(inputs))?
    } else {
        let res = load_resources(files, inputs)?;
        let build = BuildOptions { resource_group: inputs.ctx.group(), ..inputs.build.clone() };
        Loaded { scenario: model::build_with(&res, &build)?, options: PolicyOptions::default() }
    };
    // One warning for every read of what only a default answered.
    loaded.scenario.warnings.extend(inputs.ctx.take_warnings().into_iter().map(Warning::always));
    loaded.options.service_tags.merge(&load_service_tags(files, &inputs.service_tag_files)?);
    Ok(loaded)
}

pub fn load_scenario(files: &dyn Files, inputs: &Inputs) -> Result<Scenario, Error> {
    Ok(load(files, inputs)?.scenario)
}

/// The compiled policy of `inputs`; `given` (the command line's options)
/// extends what the inputs state and wins where both name one value.
pub fn load_policy(files: &dyn Files, inputs: &Inputs, given: &PolicyOptions) -> Result<Policy, Error> {
    let loaded = load(files, inputs)?;
    Policy::compile(&loaded.scenario, &merge_options(loaded.options, given))
}

fn merge_options(stated: PolicyOptions, given: &PolicyOptions) -> PolicyOptions {
    let mut out = stated;
    out.site = given.site.clone().or(out.site);
    out.subnet = given.subnet.clone().or(out.subnet);
    out.service_tags.merge(&given.service_tags);
    for (name, addrs) in &given.public_dns {
        out.public_dns.entry(name.to_ascii_lowercase()).or_default().extend(addrs);
    }
    out.allow_port_25 |= given.allow_port_25;
    out.public_dns_placeholders |= given.public_dns_placeholders;
    out.placeholder_avoid.extend(&given.placeholder_avoid);
    out
}

/// The embedded default scenario, a conformance case, as JSON.
pub fn default_case_value() -> Result<Value, LoadError> {
    arm::parse_json(DEFAULT_CASE, DEFAULT_CASE_NAME)
}

/// What a case file (FORMAT.md) states besides its checks: its scenario
/// (template inline or by path relative to `file`, with the case's
/// `parameters`, then `extra` on top) and its `site`, `service_tags` and
/// `public_dns`. Errors name the file and the JSON path.
pub fn load_case_setup(v: &Value, file: &Path, files: &dyn Files, extra: &ParamValues, build: &BuildOptions, ctx: &DeployContext) -> Result<Loaded, LoadError> {
    let f = file.display().to_string();
    let mut params = ParamValues::default();
    if let Some(p) = v.get("parameters") {
        for (k, val) in arm::parameter_values_from_object(p, &f, "$.parameters")? {
            params.values.push((k, val, f.clone()));
        }
    }
    params.values.extend(extra.values.iter().cloned());
    let resources = match v.get("template") {
        Some(Value::String(rel)) => {
            let path = file.parent().unwrap_or(Path::new(".")).join(rel);
            let tf = path.display().to_string();
            let text = files.read(&path).map_err(|e| LoadError::new(&f, "$.template", format!("cannot read template '{tf}': {e}")))?;
            arm::detect_and_load(&text, &tf, &params, ctx)?
        }
        Some(t @ Value::Object(_)) => arm::expand_template(t, &f, &params, ctx)?,
        _ => return Err(LoadError::new(&f, "$.template", "expected an inline template object or a path")),
    };
    let scenario = model::build_with(&resources, &BuildOptions { resource_group: ctx.group(), ..build.clone() })?;
    let service_tags = match v.get("service_tags") {
        Some(t) => ServiceTags::from_map(t, &f, "$.service_tags")?,
        None => ServiceTags::default(),
    };
    let public_dns = match v.get("public_dns") {
        Some(m) => parse_public_dns(m, &f)?,
        None => BTreeMap::new(),
    };
    let site = v.get("site").and_then(|s| s.as_str()).map(str::to_string);
    Ok(Loaded { scenario, options: PolicyOptions { site, service_tags, public_dns, ..Default::default() } })
}

/// A case's `public_dns`: `{"host.name": "a.b.c.d" | ["a.b.c.d", ...]}`.
fn parse_public_dns(m: &Value, f: &str) -> Result<BTreeMap<String, Vec<Ipv4Addr>>, LoadError> {
    let obj = m.as_object().ok_or_else(|| LoadError::new(f, "$.public_dns", "expected an object {\"host.name\": \"a.b.c.d\"}"))?;
    let mut out = BTreeMap::new();
    for (host, a) in obj {
        let at = format!("$.public_dns.{host}");
        let list: Vec<&Value> = match a {
            Value::Array(xs) => xs.iter().collect(),
            other => vec![other],
        };
        let mut addrs = Vec::new();
        for x in list {
            let s = x.as_str().ok_or_else(|| LoadError::new(f, &at, "expected an IPv4 address string"))?;
            addrs.push(s.parse().map_err(|_| LoadError::new(f, &at, format!("'{s}' is not an IPv4 address")))?);
        }
        out.insert(host.to_ascii_lowercase(), addrs);
    }
    Ok(out)
}

/// `NAME=ADDR` for `--public-ip` and `--public-dns`.
pub fn parse_name_addr(s: &str, flag: &str) -> Result<(String, Ipv4Addr), Error> {
    let (n, a) = s.split_once('=').ok_or_else(|| Error::BadArgument(format!("{flag} {s}: expected NAME=ADDRESS")))?;
    let a = a.trim().parse().map_err(|_| Error::BadArgument(format!("{flag} {s}: '{a}' is not an IPv4 address")))?;
    Ok((n.trim().to_string(), a))
}

pub fn load_service_tags(files: &dyn Files, paths: &[PathBuf]) -> Result<ServiceTags, Error> {
    let mut tags = ServiceTags::default();
    for f in paths {
        tags.merge(&ServiceTags::from_azure_file(&read(files, f)?, &f.display().to_string())?);
    }
    Ok(tags)
}
