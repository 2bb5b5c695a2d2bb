//! The conformance runner (FORMAT.md): loads case files, answers every
//! check from the policy engine (static mode) and compares only the keys a
//! check expects. A case that cannot be loaded fails each of its checks and
//! never stops the run.

use crate::arm::{self, DeployContext, ParamValues};
use crate::check::{self, FlowSpec, Outcome};
use crate::error::{Error, LoadError};
use crate::model;
use crate::policy::tags::ServiceTags;
use crate::policy::{Policy, PolicyOptions};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub enum CheckKind {
    Flow(FlowSpec),
    Resolve(String),
}

#[derive(Debug, Clone)]
pub struct Check {
    /// As written: `tcp 10.0.1.4:1433` or `resolve host.name`.
    pub text: String,
    pub kind: CheckKind,
    /// The `expect` object.
    pub expect: serde_json::Map<String, Value>,
}

/// A loaded case, ready to compile.
pub struct Case {
    pub name: String,
    pub about: Option<String>,
    pub file: PathBuf,
    pub checks: Vec<Check>,
    pub policy: Policy,
}

/// One failed comparison (or a load failure, `key` = "load").
#[derive(Debug, Clone)]
pub struct Failure {
    pub case: String,
    pub check: String,
    pub key: String,
    pub expected: Value,
    pub actual: Value,
}

#[derive(Debug, Default)]
pub struct Report {
    pub passed: usize,
    pub failed: usize,
    pub failures: Vec<Failure>,
    pub cases: usize,
}

/// Every case file below `paths`: `*.json` and `*.toml` with a top-level `checks` key, sorted.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>, Error> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, &mut out)?;
        } else if p.exists() {
            out.push(p.clone());
        } else {
            return Err(Error::BadArgument(format!("{}: no such file or directory", p.display())));
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), Error> {
    let rd = std::fs::read_dir(dir).map_err(|e| Error::Io { path: dir.display().to_string(), source: e })?;
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out)?;
        } else if matches!(p.extension().and_then(|x| x.to_str()), Some("json" | "toml")) && has_checks(&p) {
            out.push(p);
        }
    }
    Ok(())
}

fn has_checks(p: &Path) -> bool {
    parse_case_value(p).map(|v| v.get("checks").is_some()).unwrap_or(true)
}

/// A case file as JSON (TOML converted), or a load error with line/column.
fn parse_case_value(p: &Path) -> Result<Value, LoadError> {
    let file = p.display().to_string();
    let text = std::fs::read_to_string(p).map_err(|e| LoadError::new(&file, "", format!("cannot read: {e}")))?;
    if p.extension().and_then(|x| x.to_str()) == Some("toml") {
        let t: toml::Value = toml::from_str(&text).map_err(|e| LoadError::new(&file, "", format!("malformed TOML: {e}")))?;
        serde_json::to_value(t).map_err(|e| LoadError::new(&file, "", e.to_string()))
    } else {
        arm::parse_json(&text, &file)
    }
}

/// The checks of a case value; errors name their JSON path.
fn parse_checks(v: &Value, file: &str) -> Result<Vec<Check>, LoadError> {
    let arr = v.get("checks").and_then(|c| c.as_array()).ok_or_else(|| LoadError::new(file, "$.checks", "expected an array of checks"))?;
    let mut out = Vec::new();
    for (i, c) in arr.iter().enumerate() {
        let at = format!("$.checks[{i}]");
        let expect = c.get("expect").and_then(|e| e.as_object()).cloned().ok_or_else(|| LoadError::new(file, &at, "missing 'expect' object"))?;
        let (text, kind) = if let Some(f) = c.get("flow").and_then(|f| f.as_str()) {
            let spec = check::parse_flow(f).map_err(|m| LoadError::new(file, format!("{at}.flow"), m))?;
            (f.to_string(), CheckKind::Flow(spec))
        } else if let Some(n) = c.get("resolve").and_then(|f| f.as_str()) {
            (format!("resolve {n}"), CheckKind::Resolve(n.to_string()))
        } else {
            return Err(LoadError::new(file, &at, "a check needs 'flow' (\"PROTO DEST:PORT\") or 'resolve' (\"host.name\")"));
        };
        for k in expect.keys() {
            if !EXPECT_KEYS.contains(&k.as_str()) {
                return Err(LoadError::new(file, format!("{at}.expect.{k}"), format!("unknown expect key (known: {})", EXPECT_KEYS.join(", "))));
            }
        }
        out.push(Check { text, kind, expect });
    }
    Ok(out)
}

const EXPECT_KEYS: [&str; 8] = ["allowed", "path", "next_hop", "next_hop_ip", "nsg_rule", "source", "blocked_by", "addresses"];

/// Loads a case from its JSON value: template (inline or path), parameters, tags, DNS.
pub fn load_case_value(v: &Value, file: &Path, ctx: &DeployContext) -> Result<Case, LoadError> {
    let f = file.display().to_string();
    let name = v.get("name").and_then(|n| n.as_str()).ok_or_else(|| LoadError::new(&f, "$.name", "missing case name"))?.to_string();
    let checks = parse_checks(v, &f)?;
    let mut params = ParamValues::default();
    if let Some(p) = v.get("parameters") {
        for (k, val) in arm::parameter_values_from_object(p, &f, "$.parameters")? {
            params.values.push((k, val, f.clone()));
        }
    }
    let resources = match v.get("template") {
        Some(Value::String(rel)) => {
            let path = file.parent().unwrap_or(Path::new(".")).join(rel);
            let tf = path.display().to_string();
            let text = std::fs::read_to_string(&path).map_err(|e| LoadError::new(&f, "$.template", format!("cannot read template '{tf}': {e}")))?;
            arm::detect_and_load(&text, &tf, &params, ctx)?
        }
        Some(t @ Value::Object(_)) => arm::expand_template(t, &f, &params, ctx)?,
        _ => return Err(LoadError::new(&f, "$.template", "expected an inline template object or a path")),
    };
    let scenario = model::build(&resources)?;
    let service_tags = match v.get("service_tags") {
        Some(t) => ServiceTags::from_map(t, &f, "$.service_tags")?,
        None => ServiceTags::default(),
    };
    let mut public_dns: BTreeMap<String, Vec<Ipv4Addr>> = BTreeMap::new();
    if let Some(m) = v.get("public_dns") {
        let obj = m.as_object().ok_or_else(|| LoadError::new(&f, "$.public_dns", "expected an object {\"host.name\": \"a.b.c.d\"}"))?;
        for (host, a) in obj {
            let at = format!("$.public_dns.{host}");
            let list: Vec<&Value> = match a {
                Value::Array(xs) => xs.iter().collect(),
                other => vec![other],
            };
            let mut addrs = Vec::new();
            for x in list {
                let s = x.as_str().ok_or_else(|| LoadError::new(&f, &at, "expected an IPv4 address string"))?;
                addrs.push(s.parse().map_err(|_| LoadError::new(&f, &at, format!("'{s}' is not an IPv4 address")))?);
            }
            public_dns.insert(host.to_ascii_lowercase(), addrs);
        }
    }
    let opts = PolicyOptions { site: v.get("site").and_then(|s| s.as_str()).map(str::to_string), service_tags, public_dns, ..Default::default() };
    let policy = Policy::compile(&scenario, &opts).map_err(|e| match e {
        Error::Load(l) => l,
        other => LoadError::new(&f, "$.template", other.to_string()),
    })?;
    Ok(Case { name, about: v.get("about").and_then(|a| a.as_str()).map(str::to_string), file: file.to_path_buf(), checks, policy })
}

pub fn load_case(file: &Path, ctx: &DeployContext) -> Result<Case, LoadError> {
    load_case_value(&parse_case_value(file)?, file, ctx)
}

/// Compares one check's expectations with what happened; returns the failures.
pub fn compare(case: &str, check: &Check, actual: &Value) -> Vec<Failure> {
    let mut out = Vec::new();
    for (k, want) in &check.expect {
        let got = actual.get(k).cloned().unwrap_or(Value::Null);
        if !same(k, want, &got) {
            out.push(Failure { case: case.into(), check: check.text.clone(), key: k.clone(), expected: want.clone(), actual: got });
        }
    }
    out
}

/// Names and enum values compare case-insensitively; address lists ignore order.
fn same(key: &str, want: &Value, got: &Value) -> bool {
    match (want, got) {
        (Value::String(a), Value::String(b)) => a.eq_ignore_ascii_case(b),
        (Value::Array(a), Value::Array(b)) if key == "addresses" => {
            let norm = |v: &Vec<Value>| {
                let mut x: Vec<String> = v.iter().map(|s| s.as_str().unwrap_or("").to_ascii_lowercase()).collect();
                x.sort();
                x
            };
            norm(a) == norm(b)
        }
        (a, b) => a == b,
    }
}

/// The actual values for a check, answered by the policy engine.
pub fn static_actual(policy: &Policy, check: &Check) -> (Value, Option<Outcome>) {
    match &check.kind {
        CheckKind::Flow(spec) => {
            let o = check::evaluate(policy, spec);
            (o.actual(policy), Some(o))
        }
        CheckKind::Resolve(name) => {
            let r = policy.resolve(name);
            let addrs: Vec<String> = check::resolved_addresses(&r).iter().map(|a| a.to_string()).collect();
            (json!({ "addresses": addrs }), None)
        }
    }
}

/// Hook for the live runner: given a compiled case, the actual values observed.
pub type LiveRunner<'a> = dyn FnMut(&Case) -> Result<Vec<Value>, String> + 'a;

/// Runs all cases under `paths`. `live`, when given, is asked for observed
/// values too; they must match the expectations and the static answers.
pub fn run(paths: &[PathBuf], ctx: &DeployContext, mut live: Option<&mut LiveRunner<'_>>, mut progress: impl FnMut(&str)) -> Result<Report, Error> {
    let files = discover(paths)?;
    let mut report = Report::default();
    let mut names: BTreeMap<String, PathBuf> = BTreeMap::new();
    for file in files {
        report.cases += 1;
        let fname = file.display().to_string();
        let fail_all = |report: &mut Report, name: &str, checks: usize, err: String| {
            let n = checks.max(1);
            report.failed += n;
            report.failures.push(Failure {
                case: name.into(),
                check: format!("({n} checks)"),
                key: "load".into(),
                expected: Value::Null,
                actual: Value::String(err),
            });
        };
        let value = match parse_case_value(&file) {
            Ok(v) => v,
            Err(e) => {
                fail_all(&mut report, &fname, 1, e.to_string());
                continue;
            }
        };
        let n_checks = parse_checks(&value, &fname).map(|c| c.len()).unwrap_or(1);
        let case = match load_case_value(&value, &file, ctx) {
            Ok(c) => c,
            Err(e) => {
                let name = value.get("name").and_then(|n| n.as_str()).unwrap_or(&fname).to_string();
                fail_all(&mut report, &name, n_checks, e.to_string());
                continue;
            }
        };
        if let Some(prev) = names.insert(case.name.clone(), file.clone()) {
            fail_all(&mut report, &case.name, case.checks.len(), format!("{fname}: case name '{}' is already used by {}", case.name, prev.display()));
            continue;
        }
        progress(&case.name);
        let observed = match live.as_mut() {
            Some(l) => match l(&case) {
                Ok(v) => Some(v),
                Err(e) => {
                    fail_all(&mut report, &case.name, case.checks.len(), format!("live run failed: {e}"));
                    continue;
                }
            },
            None => None,
        };
        for (i, check) in case.checks.iter().enumerate() {
            let (stat, _) = static_actual(&case.policy, check);
            let mut fails = compare(&case.name, check, &stat);
            if let Some(obs) = observed.as_ref().and_then(|o| o.get(i)) {
                // Live traffic shows only what arrived, and from where: compare
                // the expectations on the keys it observed.
                let seen = Check {
                    expect: check
                        .expect
                        .iter()
                        .filter(|(k, _)| obs.get(k.as_str()).is_some_and(|v| !v.is_null()))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                    ..check.clone()
                };
                for mut f in compare(&case.name, &seen, obs) {
                    f.key = format!("{} (live)", f.key);
                    fails.push(f);
                }
                // The live result must equal the static one on what both observe.
                for k in ["allowed", "source", "addresses"] {
                    if let (Some(a), Some(b)) = (stat.get(k), obs.get(k)) {
                        if !b.is_null() && !same(k, a, b) {
                            fails.push(Failure {
                                case: case.name.clone(),
                                check: check.text.clone(),
                                key: format!("{k} (live vs static)"),
                                expected: a.clone(),
                                actual: b.clone(),
                            });
                        }
                    }
                }
            }
            if fails.is_empty() {
                report.passed += 1;
            } else {
                report.failed += 1;
                report.failures.extend(fails);
            }
        }
    }
    Ok(report)
}

impl Failure {
    pub fn line(&self) -> String {
        if self.key == "load" {
            return format!("FAIL {} {}: could not load: {}", self.case, self.check, self.actual.as_str().unwrap_or(""));
        }
        format!("FAIL {} [{}] {}: expected {}, got {}", self.case, self.check, self.key, self.expected, self.actual)
    }
}
