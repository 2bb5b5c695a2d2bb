//! The conformance runner (FORMAT.md): loads case files, answers every
//! check from the policy engine (static mode) and compares only the keys a
//! check expects. A case that cannot be loaded fails each of its checks and
//! never stops the run.
//!
//! Live mode uses the same check model: a [`LiveRunner`] (implemented by
//! vnetlab-engine) sends the case's [`Check`]s as real traffic and returns
//! "actual" objects shaped like [`static_actual`]'s, with null for what
//! traffic cannot show; [`judge`] compares both with the expectations and
//! with each other.

use crate::arm::{self, DeployContext, ParamValues};
use crate::check::{self, FlowSpec, Outcome};
use crate::error::{Error, LoadError};
use crate::files::Files;
use crate::model::BuildOptions;
use crate::policy::Policy;
use crate::scenario;
use serde_json::{json, Map, Value};
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
    pub expect: Map<String, Value>,
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

impl Report {
    fn absorb(&mut self, other: Report) {
        self.passed += other.passed;
        self.failed += other.failed;
        self.failures.extend(other.failures);
        self.cases += other.cases;
    }

    /// A case that could not be loaded or run: each of its checks fails.
    fn fail_all(&mut self, case: &str, checks: usize, err: String) {
        let n = checks.max(1);
        self.failed += n;
        self.failures.push(Failure {
            case: case.into(),
            check: format!("({n} checks)"),
            key: "load".into(),
            expected: Value::Null,
            actual: Value::String(err),
        });
    }
}

/// The live half of `conformance --live`: sends checks as real traffic.
pub trait LiveRunner {
    /// Runs `checks` against `policy` (given by value: a datapath owns it)
    /// and returns one actual object per check, in order: the keys of
    /// [`static_actual`], null where traffic cannot show a key; flows also
    /// carry `world`. An error when the run could not happen at all.
    fn run(&mut self, policy: Policy, checks: &[Check]) -> Result<Vec<Value>, String>;
}

/// Every case file below `paths`: `*.json` and `*.toml` with a top-level `checks` key, sorted.
pub fn discover(files: &dyn Files, paths: &[PathBuf]) -> Result<Vec<PathBuf>, Error> {
    let mut out = Vec::new();
    for p in paths {
        match files.list(p) {
            Ok(Some(entries)) => walk(files, entries, &mut out),
            Ok(None) => out.push(p.clone()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::BadArgument(format!("{}: no such file or directory", p.display())));
            }
            Err(e) => return Err(Error::Io { path: p.display().to_string(), source: e }),
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn walk(files: &dyn Files, entries: Vec<PathBuf>, out: &mut Vec<PathBuf>) {
    for p in entries {
        // An entry that cannot be examined is treated as a file: if it looks
        // like a case, loading it reports why it cannot be read.
        if let Ok(Some(sub)) = files.list(&p) {
            walk(files, sub, out);
        } else if matches!(p.extension().and_then(|x| x.to_str()), Some("json" | "toml")) && has_checks(files, &p) {
            out.push(p);
        }
    }
}

fn has_checks(files: &dyn Files, p: &Path) -> bool {
    parse_case_value(files, p).map(|v| v.get("checks").is_some()).unwrap_or(true)
}

/// A case file as JSON (TOML converted), or a load error with line/column.
fn parse_case_value(files: &dyn Files, p: &Path) -> Result<Value, LoadError> {
    let file = p.display().to_string();
    let text = files.read(p).map_err(|e| LoadError::new(&file, "", format!("cannot read: {e}")))?;
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
pub fn load_case_value(v: &Value, file: &Path, files: &dyn Files, ctx: &DeployContext) -> Result<Case, LoadError> {
    let f = file.display().to_string();
    let name = v.get("name").and_then(|n| n.as_str()).ok_or_else(|| LoadError::new(&f, "$.name", "missing case name"))?.to_string();
    let checks = parse_checks(v, &f)?;
    let setup = scenario::load_case_setup(v, file, files, &ParamValues::default(), &BuildOptions::default(), ctx)?;
    let policy = Policy::compile(&setup.scenario, &setup.options).map_err(|e| match e {
        Error::Load(l) => l,
        other => LoadError::new(&f, "$.template", other.to_string()),
    })?;
    Ok(Case { name, about: v.get("about").and_then(|a| a.as_str()).map(str::to_string), file: file.to_path_buf(), checks, policy })
}

pub fn load_case(files: &dyn Files, file: &Path, ctx: &DeployContext) -> Result<Case, LoadError> {
    load_case_value(&parse_case_value(files, file)?, file, files, ctx)
}

/// The embedded default scenario as a case (`vnetlab demo`).
pub fn load_default_case(files: &dyn Files, ctx: &DeployContext) -> Result<Case, LoadError> {
    load_case_value(&scenario::default_case_value()?, Path::new(scenario::DEFAULT_CASE_NAME), files, ctx)
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

/// The actual values for a check, answered by the policy engine. Flows
/// also carry `world`: where an allowed flow arrives (`World::name`:
/// `platform` for 168.63.129.16 and 169.254.169.254, which the engine's
/// platform host answers; null for denied flows); no case expects it, live
/// traffic is compared with it.
pub fn static_actual(policy: &Policy, check: &Check) -> (Value, Option<Outcome>) {
    match &check.kind {
        CheckKind::Flow(spec) => {
            let o = check::evaluate(policy, spec);
            let mut v = o.actual(policy);
            let world = o.decision.filter(|d| d.allowed).map(|d| d.world.name());
            v["world"] = json!(world);
            (v, Some(o))
        }
        CheckKind::Resolve(name) => (resolve_actual(&check::resolved_addresses(&policy.resolve(name))), None),
    }
}

/// The actual object of a resolve check.
pub fn resolve_actual(addrs: &[Ipv4Addr]) -> Value {
    json!({ "addresses": addrs.iter().map(|a| a.to_string()).collect::<Vec<_>>() })
}

/// The actual object of a flow observed as traffic: whether an answer came
/// back, the source address and the world it arrived in. Path, next hop,
/// rule and blocking layer do not show on the wire: null.
pub fn observed_flow_actual(allowed: bool, source: Option<Ipv4Addr>, world: Option<&str>) -> Value {
    let mut m: Map<String, Value> = EXPECT_KEYS.iter().filter(|k| **k != "addresses").map(|k| (k.to_string(), Value::Null)).collect();
    m.insert("allowed".into(), json!(allowed));
    m.insert("source".into(), json!(source.map(|s| s.to_string())));
    m.insert("world".into(), json!(world));
    Value::Object(m)
}

/// What live traffic must show exactly as the policy says.
const LIVE_EQUALS_STATIC: [&str; 4] = ["allowed", "source", "addresses", "world"];

/// Judges one check: the static answer against `expect`; with an observed
/// (`live`) answer, its non-null keys against `expect` too (key suffixed
/// `(live)`), and against the static answer (`(live vs static)`).
pub fn judge(case: &str, check: &Check, stat: &Value, live: Option<&Value>) -> Vec<Failure> {
    let mut fails = compare(case, check, stat);
    let Some(obs) = live else { return fails };
    let observed = |k: &str| obs.get(k).is_some_and(|v| !v.is_null());
    let seen = Check { expect: check.expect.iter().filter(|(k, _)| observed(k)).map(|(k, v)| (k.clone(), v.clone())).collect(), ..check.clone() };
    for mut f in compare(case, &seen, obs) {
        f.key = format!("{} (live)", f.key);
        fails.push(f);
    }
    for k in LIVE_EQUALS_STATIC {
        let want = stat.get(k).cloned().unwrap_or(Value::Null);
        if observed(k) && !same(k, &want, &obs[k]) {
            fails.push(Failure { case: case.into(), check: check.text.clone(), key: format!("{k} (live vs static)"), expected: want, actual: obs[k].clone() });
        }
    }
    fails
}

/// Runs one loaded case: every check answered statically and, with `live`,
/// as traffic too. The report counts one case.
pub fn run_case(case: Case, live: Option<&mut (dyn LiveRunner + '_)>) -> Report {
    let mut report = Report { cases: 1, ..Default::default() };
    let Case { name, checks, policy, .. } = case;
    let statics: Vec<Value> = checks.iter().map(|c| static_actual(&policy, c).0).collect();
    let observed = match live {
        Some(l) => match l.run(policy, &checks) {
            Ok(v) => Some(v),
            Err(e) => {
                report.fail_all(&name, checks.len(), format!("live run failed: {e}"));
                return report;
            }
        },
        None => None,
    };
    for (i, (check, stat)) in checks.iter().zip(&statics).enumerate() {
        let fails = judge(&name, check, stat, observed.as_ref().and_then(|o| o.get(i)));
        if fails.is_empty() {
            report.passed += 1;
        } else {
            report.failed += 1;
            report.failures.extend(fails);
        }
    }
    report
}

/// Runs all cases under `paths`. `live`, when given, is asked for observed
/// values too; they must match the expectations and the static answers.
pub fn run(
    files: &dyn Files,
    paths: &[PathBuf],
    ctx: &DeployContext,
    mut live: Option<&mut dyn LiveRunner>,
    mut progress: impl FnMut(&str),
) -> Result<Report, Error> {
    let mut report = Report::default();
    let mut names: BTreeMap<String, PathBuf> = BTreeMap::new();
    let found = discover(files, paths)?;
    if found.is_empty() {
        let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        return Err(Error::BadArgument(format!(
            "no conformance cases in {} (a case is a *.json or *.toml file with a top-level 'checks' array)",
            if shown.is_empty() { "the given paths".to_string() } else { shown.join(", ") }
        )));
    }
    for file in found {
        let fname = file.display().to_string();
        let value = match parse_case_value(files, &file) {
            Ok(v) => v,
            Err(e) => {
                report.cases += 1;
                report.fail_all(&fname, 1, e.to_string());
                continue;
            }
        };
        let case = match load_case_value(&value, &file, files, ctx) {
            Ok(c) => c,
            Err(e) => {
                report.cases += 1;
                let name = value.get("name").and_then(|n| n.as_str()).unwrap_or(&fname).to_string();
                let n_checks = parse_checks(&value, &fname).map(|c| c.len()).unwrap_or(1);
                report.fail_all(&name, n_checks, e.to_string());
                continue;
            }
        };
        if let Some(prev) = names.insert(case.name.clone(), file.clone()) {
            report.cases += 1;
            report.fail_all(&case.name, case.checks.len(), format!("{fname}: case name '{}' is already used by {}", case.name, prev.display()));
            continue;
        }
        progress(&case.name);
        report.absorb(run_case(case, live.as_deref_mut()));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::MemFiles;

    fn default_case() -> Case {
        load_default_case(&MemFiles::default(), &DeployContext::default()).expect("embedded case loads")
    }

    #[test]
    fn observed_flows_have_the_static_shape() {
        let case = default_case();
        let flow = case.checks.iter().find(|c| matches!(c.kind, CheckKind::Flow(_))).expect("a flow check");
        let (stat, _) = static_actual(&case.policy, flow);
        let obs = observed_flow_actual(true, None, None);
        let keys = |v: &Value| v.as_object().map(|m| m.keys().cloned().collect::<std::collections::BTreeSet<_>>()).unwrap_or_default();
        assert_eq!(keys(&stat), keys(&obs));
    }

    #[test]
    fn live_answers_are_judged_against_expect_and_static() {
        let case = default_case();
        // tcp www.example.org:443: allowed from the NAT gateway address to the internet.
        let check = &case.checks[0];
        let (stat, _) = static_actual(&case.policy, check);
        assert_eq!(stat["world"], "inet");
        let src = Some(Ipv4Addr::new(198, 18, 0, 50));
        assert!(judge(&case.name, check, &stat, Some(&observed_flow_actual(true, src, Some("inet")))).is_empty());
        // Unobserved keys are not judged.
        assert!(judge(&case.name, check, &stat, Some(&observed_flow_actual(true, None, None))).is_empty());
        let keys: Vec<String> = judge(&case.name, check, &stat, Some(&observed_flow_actual(true, Some(Ipv4Addr::new(10, 0, 2, 4)), Some("vnet"))))
            .into_iter()
            .map(|f| f.key)
            .collect();
        assert_eq!(keys, ["source (live)", "source (live vs static)", "world (live vs static)"]);
    }

    #[test]
    fn a_failing_live_runner_fails_every_check_of_the_case() {
        struct Broken;
        impl LiveRunner for Broken {
            fn run(&mut self, _: Policy, _: &[Check]) -> Result<Vec<Value>, String> {
                Err("no testbed".into())
            }
        }
        let case = default_case();
        let n = case.checks.len();
        let r = run_case(case, Some(&mut Broken));
        assert_eq!((r.passed, r.failed, r.cases), (0, n, 1));
        assert!(r.failures[0].line().contains("live run failed: no testbed"));
    }
}
