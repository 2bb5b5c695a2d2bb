//! One template's evaluation scope: what its expressions can read
//! (parameters, variables, user functions, other resources through
//! `reference()`), cycle detection, and evaluation of JSON trees with
//! property-level `copy`.

use super::external::External;
use super::limits::{check_sections, too_many_resources, MAX_COPY, MAX_RESOURCES};
use super::names::{child_path, obj_get};
use super::types::Definitions;
use crate::arm::deploy::{DeployContext, ParamValues};
use crate::arm::expr::budget::{descend, Budget, ENTRY, MAP, SLOT};
use crate::arm::expr::{self, CopyFrame, Env, EvalError, Evaluator, Expr, UserFunction};
use crate::arm::resource::Resource;
use crate::error::LoadError;
use serde_json::{Map, Value};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
/// Bound on variables/parameters/references being evaluated at once.
const MAX_EVAL_CHAIN: usize = 100;

/// One concrete resource instance found while enumerating.
pub(super) struct Instance<'t> {
    pub(super) rtype: String,
    pub(super) name: String,
    pub(super) id: String,
    pub(super) symbol: Option<String>,
    pub(super) raw: &'t Map<String, Value>,
    pub(super) copies: Vec<CopyFrame>,
    pub(super) path: String,
    /// A `Microsoft.Resources/deployments` (its body is its outputs).
    pub(super) deployment: bool,
    /// A Bicep `existing` resource: declared elsewhere, read, not deployed.
    pub(super) existing: bool,
}

/// What the expansion emits, in template order.
pub(super) enum Output {
    Instance(usize),
    /// The resources of an inner-scope nested deployment (an instance).
    Nested(usize),
}

pub(super) struct ParamDecl<'t> {
    pub(super) name: String,
    pub(super) decl: &'t Map<String, Value>,
}

/// An inner-scope nested deployment (a Bicep module) seen from inside: its
/// name (what `deployment().name` gives) and what errors about parameters
/// its parent must pass need to say.
pub(super) struct ModuleInfo {
    pub(super) name: String,
    /// The JSON path of the deployment resource in its parent.
    pub(super) path: String,
    /// Module parameters the parent passes as `[parameters('P')]`, with P.
    pub(super) from_parent: Vec<(String, String)>,
    /// Whether the parent is the top-level template (what `-p` sets).
    pub(super) parent_is_top: bool,
}

/// Everything one template's expressions can read.
pub(super) struct Scope<'t> {
    pub(super) file: String,
    pub(super) base: String,
    pub(super) ctx: DeployContext,
    pub(super) depth: usize,
    pub(super) params: Vec<ParamDecl<'t>>,
    /// languageVersion 2.0 `definitions`, what parameters' `$ref`s name.
    pub(super) definitions: Definitions<'t>,
    pub(super) user_values: HashMap<String, (Value, String)>,
    pub(super) variables: Option<&'t Map<String, Value>>,
    pub(super) functions: HashMap<String, UserFunction>,
    pub(super) param_cache: RefCell<HashMap<String, Value>>,
    pub(super) var_cache: RefCell<HashMap<String, Value>>,
    /// What is being evaluated right now, for cycle detection.
    pub(super) stack: RefCell<Vec<String>>,
    pub(super) instances: RefCell<Vec<Instance<'t>>>,
    /// The symbolic names of resources (languageVersion 2.0) enumerated
    /// here, deployed or not: what `references()` may name.
    pub(super) symbols: RefCell<Vec<String>>,
    pub(super) bodies: RefCell<HashMap<usize, Value>>,
    pub(super) outputs: RefCell<Vec<Output>>,
    /// Resources of expanded inner-scope nested deployments, by instance.
    pub(super) nested: RefCell<HashMap<usize, Vec<Resource>>>,
    /// Resources counted per template: this one (0) and each outer-scope
    /// nested template enumerated here, which has limits of its own.
    pub(super) counts: RefCell<Vec<usize>>,
    /// Shared by every scope of the expansion.
    pub(super) budget: Rc<Budget>,
    /// Expressions parsed once, however often a copy loop evaluates them.
    pub(super) parsed: RefCell<HashMap<String, Rc<Expr>>>,
    /// What `deployment().name` gives: an inner-scope nested deployment's
    /// own name, else the top-level deployment's.
    pub(super) deployment_name: String,
    /// Set inside an inner-scope nested deployment.
    pub(super) module: Option<ModuleInfo>,
    /// An outer-scope nested template expanded on its own (its template is
    /// computed): the parameters, variables, functions and resources of the
    /// template around it, which its expressions read.
    pub(super) outer: Option<&'t dyn Env>,
    /// Resources of the other inputs, for what this template reads but
    /// does not declare.
    pub(super) external: Option<&'t External>,
}

impl<'t> Scope<'t> {
    pub(super) fn new(
        template: &'t Value,
        file: &str,
        pv: &ParamValues,
        ctx: &DeployContext,
        base: &str,
        depth: usize,
        budget: Rc<Budget>,
    ) -> Result<Self, LoadError> {
        let Some(t) = template.as_object() else {
            return Err(LoadError::new(file, base, format!("a template must be a JSON object but is {}", expr::kind(template))));
        };
        check_sections(t, file, base)?;
        let mut params = Vec::new();
        match obj_get(t, "parameters") {
            None | Some(Value::Null) => {}
            Some(Value::Object(p)) => {
                for (name, decl) in p {
                    let Some(decl) = decl.as_object() else {
                        return Err(LoadError::new(
                            file,
                            child_path(&format!("{base}.parameters"), name),
                            "a parameter declaration must be an object with a 'type'",
                        ));
                    };
                    params.push(ParamDecl { name: name.clone(), decl });
                }
            }
            Some(_) => return Err(LoadError::new(file, format!("{base}.parameters"), "'parameters' must be an object")),
        }
        let mut user_values = HashMap::new();
        for (name, value, source) in &pv.values {
            if !params.iter().any(|p| p.name.eq_ignore_ascii_case(name)) {
                let declared: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
                return Err(LoadError::new(
                    file,
                    format!("{base}.parameters"),
                    format!(
                        "parameter '{name}' (given in {source}) is not declared by the template; declared: {}",
                        if declared.is_empty() { "none".to_string() } else { declared.join(", ") }
                    ),
                ));
            }
            user_values.insert(name.to_ascii_lowercase(), (value.clone(), source.clone()));
        }
        let variables = match obj_get(t, "variables") {
            None | Some(Value::Null) => None,
            Some(Value::Object(v)) => Some(v),
            Some(_) => return Err(LoadError::new(file, format!("{base}.variables"), "'variables' must be an object")),
        };
        let functions = read_functions(t, file, base)?;
        let definitions = match obj_get(t, "definitions") {
            None | Some(Value::Null) => Definitions::new(None),
            Some(Value::Object(d)) => Definitions::new(Some(d)),
            Some(_) => return Err(LoadError::new(file, format!("{base}.definitions"), "'definitions' must be an object")),
        };
        Ok(Scope {
            file: file.to_string(),
            base: base.to_string(),
            ctx: ctx.clone(),
            depth,
            params,
            definitions,
            user_values,
            variables,
            functions,
            param_cache: RefCell::new(HashMap::new()),
            var_cache: RefCell::new(HashMap::new()),
            stack: RefCell::new(Vec::new()),
            instances: RefCell::new(Vec::new()),
            symbols: RefCell::new(Vec::new()),
            bodies: RefCell::new(HashMap::new()),
            outputs: RefCell::new(Vec::new()),
            nested: RefCell::new(HashMap::new()),
            counts: RefCell::new(vec![0]),
            budget,
            parsed: RefCell::new(HashMap::new()),
            deployment_name: "vnetlab".to_string(),
            module: None,
            outer: None,
            external: None,
        })
    }

    /// Counts one more resource of template `tmpl` (an index into
    /// `counts`) and of the whole expansion.
    pub(super) fn count_resource(&self, tmpl: usize, path: &str) -> Result<(), LoadError> {
        let mut counts = self.counts.borrow_mut();
        if let Some(n) = counts.get_mut(tmpl) {
            *n += 1;
            if *n > MAX_RESOURCES {
                return Err(too_many_resources(&self.file, path));
            }
        }
        self.budget.count_resource().map_err(|m| self.err(path, m))
    }

    /// A fresh resource count for an outer-scope nested template.
    pub(super) fn new_template_count(&self) -> usize {
        let mut counts = self.counts.borrow_mut();
        counts.push(0);
        counts.len() - 1
    }

    /// Charges `bytes` of values built at `path` to the expansion's budget.
    fn pay(&self, bytes: u64, path: &str) -> Result<(), LoadError> {
        self.budget.charge_bytes(bytes).map_err(|m| self.err(path, m))
    }

    pub(super) fn err(&self, path: impl Into<String>, msg: impl Into<String>) -> LoadError {
        LoadError::new(&self.file, path, msg)
    }

    /// Enters an evaluation frame; a frame already on the stack is a cycle.
    pub(super) fn enter(&self, label: String, path: &str) -> Result<(), LoadError> {
        let mut st = self.stack.borrow_mut();
        if let Some(pos) = st.iter().position(|l| l.eq_ignore_ascii_case(&label)) {
            let mut chain: Vec<String> = st[pos..].to_vec();
            chain.push(label);
            return Err(self.err(path, format!("cycle: {}", chain.join(" -> "))));
        }
        // Long chains of variables or references would otherwise exhaust
        // the stack on hostile input; real templates stay far below this.
        if st.len() >= MAX_EVAL_CHAIN {
            return Err(self.err(path, format!("evaluation chain too long (more than {MAX_EVAL_CHAIN} variables, parameters or references deep)")));
        }
        st.push(label);
        Ok(())
    }

    pub(super) fn leave(&self) {
        self.stack.borrow_mut().pop();
    }

    // -- evaluation of JSON trees --------------------------------------------

    fn eval_str(&self, s: &str, path: &str, copies: &[CopyFrame]) -> Result<Value, LoadError> {
        let cached = self.parsed.borrow().get(s).cloned();
        let e = match cached {
            Some(e) => e,
            None => {
                let e = Rc::new(expr::parse_expression(s).map_err(|e| e.locate(&self.file, path, s))?);
                self.parsed.borrow_mut().insert(s.to_string(), e.clone());
                e
            }
        };
        let mut ev = Evaluator::new(self, copies);
        ev.eval_expr(&e).map_err(|e| e.locate(&self.file, path, s))
    }

    /// Evaluates a resource body's JSON tree: as [`Scope::eval_value`], but
    /// null-valued properties and array items are dropped, because Bicep
    /// (and ARM's request body) omits null-valued properties from what is
    /// sent to the resource provider.
    pub(super) fn eval_json(&self, v: &Value, path: &str, copies: &[CopyFrame]) -> Result<Value, LoadError> {
        self.eval_tree(v, path, copies, false)
    }

    /// Evaluates a value's JSON tree (a variable, a parameter value or
    /// default, an output) keeping nulls: `{"k": null}` still has `k`.
    pub(super) fn eval_value(&self, v: &Value, path: &str, copies: &[CopyFrame]) -> Result<Value, LoadError> {
        self.eval_tree(v, path, copies, true)
    }

    /// Evaluates every expression in a JSON tree (object keys included) and
    /// expands property-level `copy`; nulls are kept only with `keep_nulls`.
    /// Every level counts towards the evaluation depth, and every value
    /// copied or built is paid for (expression results by the evaluator),
    /// with the JSON path built for it.
    fn eval_tree(&self, v: &Value, path: &str, copies: &[CopyFrame], keep_nulls: bool) -> Result<Value, LoadError> {
        let _level = descend().map_err(|m| self.err(path, m))?;
        self.pay(SLOT + path.len() as u64, path)?;
        match v {
            Value::String(s) if expr::is_expression(s) => self.eval_str(s, path, copies),
            Value::String(s) => {
                self.pay(s.len() as u64, path)?;
                Ok(Value::String(expr::unescape_literal(s).to_string()))
            }
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, it) in items.iter().enumerate() {
                    let e = self.eval_tree(it, &format!("{path}[{i}]"), copies, keep_nulls)?;
                    if keep_nulls || !e.is_null() {
                        out.push(e);
                    }
                }
                Ok(Value::Array(out))
            }
            Value::Object(o) => {
                self.pay(MAP + o.keys().map(|k| ENTRY + k.len() as u64).sum::<u64>(), path)?;
                let mut out = Map::new();
                for (k, val) in o {
                    let p = child_path(path, k);
                    if k == "copy" && is_property_copy(val) {
                        self.property_copy(val, &p, copies, &mut out, keep_nulls)?;
                        continue;
                    }
                    let key = if expr::is_expression(k) { expr::stringify(&self.eval_str(k, &p, copies)?) } else { expr::unescape_literal(k).to_string() };
                    let e = self.eval_tree(val, &p, copies, keep_nulls)?;
                    if keep_nulls || !e.is_null() {
                        out.insert(key, e);
                    }
                }
                Ok(Value::Object(out))
            }
            other => Ok(other.clone()),
        }
    }

    pub(super) fn copy_count(&self, v: Option<&Value>, path: &str, copies: &[CopyFrame]) -> Result<i64, LoadError> {
        let p = format!("{path}.count");
        let Some(v) = v else { return Err(self.err(path, "a copy loop needs a 'count'")) };
        let n = self.eval_json(v, &p, copies)?;
        let n = match &n {
            Value::Number(x) => x.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
        .ok_or_else(|| self.err(&p, format!("copy count must be an integer but is {n}")))?;
        if !(0..=MAX_COPY).contains(&n) {
            return Err(self.err(&p, format!("copy count must be between 0 and {MAX_COPY} but is {n}")));
        }
        Ok(n)
    }

    fn property_copy(&self, spec: &Value, path: &str, copies: &[CopyFrame], out: &mut Map<String, Value>, keep_nulls: bool) -> Result<(), LoadError> {
        let Some(list) = spec.as_array() else { return Ok(()) };
        for (i, entry) in list.iter().enumerate() {
            let p = format!("{path}[{i}]");
            let Some(e) = entry.as_object() else { return Err(self.err(&p, "a copy entry must be an object {name, count, input}")) };
            let name = match obj_get(e, "name").map(|n| self.eval_json(n, &format!("{p}.name"), copies)).transpose()? {
                Some(Value::String(s)) => s,
                _ => return Err(self.err(&p, "a property copy entry needs a string 'name'")),
            };
            let count = self.copy_count(obj_get(e, "count"), &p, copies)?;
            let input = obj_get(e, "input").ok_or_else(|| self.err(&p, "a property copy entry needs an 'input'"))?;
            let mut items = Vec::new();
            for idx in 0..count {
                let mut frames = copies.to_vec();
                frames.push(CopyFrame { name: Some(name.clone()), index: idx, answers_unnamed: false });
                let e = self.eval_tree(input, &format!("{p}.input (copy {idx})"), &frames, keep_nulls)?;
                if keep_nulls || !e.is_null() {
                    items.push(e);
                }
            }
            out.insert(name, Value::Array(items));
        }
        Ok(())
    }
}

impl Env for Scope<'_> {
    fn ctx(&self) -> &DeployContext {
        &self.ctx
    }
    fn parameter(&self, name: &str) -> Result<Value, EvalError> {
        if let Some(o) = self.outer {
            return o.parameter(name);
        }
        self.parameter_value(name).map_err(EvalError::At)
    }
    fn variable(&self, name: &str) -> Result<Value, EvalError> {
        if let Some(o) = self.outer {
            return o.variable(name);
        }
        self.variable_value(name).map_err(EvalError::At)
    }
    fn reference(&self, target: &str, full: bool) -> Result<Value, EvalError> {
        let Some(idx) = self.find_instance(target) else {
            if let Some(o) = self.outer {
                return o.reference(target, full);
            }
            // Not in the template: what another input holds, or unknown.
            return match self.declared_elsewhere(target)? {
                Some(b) => Ok(referenced(b, target, full, &self.ctx)),
                None => Ok(unknown_resource(Value::Null, target, full)),
            };
        };
        let (id, existing) = {
            let i = &self.instances.borrow()[idx];
            (i.id.clone(), i.existing)
        };
        let body = if existing {
            // Declared elsewhere: its body is what another input holds, or
            // unknown.
            match self.declared_elsewhere(&id)? {
                Some(b) => b,
                None => return Ok(unknown_resource(self.body(idx).map_err(EvalError::At)?, &id, full)),
            }
        } else if self.reads_itself(idx) {
            // A resource that reads its own state reads what it was before.
            self.earlier_state(idx)?
        } else {
            self.body(idx).map_err(EvalError::At)?
        };
        let (rtype, name) = {
            let inst = &self.instances.borrow()[idx];
            (inst.rtype.clone(), inst.name.clone())
        };
        Ok(shaped(body, &id, &rtype, &name, full, &self.ctx))
    }
    fn references(&self, symbol: &str, full: bool) -> Result<Value, EvalError> {
        self.collection_states(symbol, full)
    }
    fn user_function(&self, q: &str) -> Option<UserFunction> {
        self.functions.get(&q.to_ascii_lowercase()).cloned().or_else(|| self.outer.and_then(|o| o.user_function(q)))
    }
    fn budget(&self) -> Option<&Budget> {
        Some(&self.budget)
    }
    fn deployment_name(&self) -> String {
        self.deployment_name.clone()
    }
    fn note_deployment_location(&self) {
        self.ctx.note_deployment_location(&self.file);
    }
}

/// A public IP's `ipAddress` exists only after deployment: the one the user
/// gave (`--public-ip NAME=ADDRESS`), else a placeholder naming the
/// resource, so that the model builder gives it the address it gives the
/// resource itself (`model::build::deploytime`).
fn add_public_ip(props: &mut Map<String, Value>, rtype: &str, name: &str, ctx: &DeployContext) {
    if !rtype.eq_ignore_ascii_case("Microsoft.Network/publicIPAddresses") || expr::lookup(props, "ipAddress").is_some() {
        return;
    }
    let v = match ctx.public_ip(name) {
        Some(a) => a.to_string(),
        None => expr::public_ip_placeholder(name),
    };
    props.insert("ipAddress".into(), Value::String(v));
}

/// What `reference()` gives of a resource another input holds (its type
/// and name are in its body).
fn referenced(body: Value, id: &str, full: bool, ctx: &DeployContext) -> Value {
    let rtype = body.get("type").and_then(Value::as_str).unwrap_or_default().to_string();
    let name = body.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
    shaped(body, id, &rtype, &name, full, ctx)
}

/// A resource's body as `reference()` gives it: its child collections
/// with their ids and a public IP's address filled in; without `full`,
/// only its properties.
fn shaped(mut body: Value, id: &str, rtype: &str, name: &str, full: bool, ctx: &DeployContext) -> Value {
    if let Some(Value::Object(props)) = body.get_mut("properties") {
        add_child_ids(props, id);
        add_public_ip(props, rtype, name, ctx);
    }
    if full {
        body
    } else {
        body.get("properties").cloned().unwrap_or_else(|| Value::Object(Map::new()))
    }
}

/// What `reference()` of a resource no input holds gives: its properties
/// are unknown (`expr::unknown`) and name it, so what is derived from them
/// stays recognisable; with `full`, what the template states of it (type,
/// name, id) is kept around them.
fn unknown_resource(stated: Value, target: &str, full: bool) -> Value {
    let props = Value::String(expr::unknown::marker("properties", Some(target)));
    match (full, stated) {
        (true, Value::Object(mut o)) => {
            o.insert("properties".into(), props);
            Value::Object(o)
        }
        (true, _) => Value::String(expr::unknown::marker("reference()", Some(target))),
        (false, _) => props,
    }
}

/// ARM's runtime gives each element of a child collection (`subnets`,
/// `securityRules`, `virtualNetworkPeerings`, ...) its id; templates read it
/// through `reference(...).subnets[0].id`.
fn add_child_ids(props: &mut Map<String, Value>, parent_id: &str) {
    for (k, v) in props.iter_mut() {
        if let Value::Array(items) = v {
            for it in items.iter_mut() {
                if let Value::Object(o) = it {
                    if o.contains_key("id") {
                        continue;
                    }
                    if let Some(Value::String(n)) = o.get("name") {
                        let id = format!("{parent_id}/{k}/{n}");
                        o.insert("id".into(), Value::String(id));
                    }
                }
            }
        }
    }
}

fn is_property_copy(v: &Value) -> bool {
    matches!(v, Value::Array(list) if !list.is_empty() && list.iter().all(|e| matches!(e, Value::Object(o) if o.contains_key("name") && o.contains_key("input"))))
}

fn read_functions(t: &Map<String, Value>, file: &str, base: &str) -> Result<HashMap<String, UserFunction>, LoadError> {
    let mut out = HashMap::new();
    let Some(list) = obj_get(t, "functions") else { return Ok(out) };
    let Some(list) = list.as_array() else {
        return Err(LoadError::new(file, format!("{base}.functions"), "'functions' must be an array"));
    };
    for (i, ns) in list.iter().enumerate() {
        let p = format!("{base}.functions[{i}]");
        let (Some(namespace), Some(members)) = (ns.get("namespace").and_then(Value::as_str), ns.get("members").and_then(Value::as_object)) else {
            return Err(LoadError::new(file, p, "a function namespace needs 'namespace' and 'members'"));
        };
        for (m, def) in members {
            let mp = child_path(&format!("{p}.members"), m);
            let params = match def.get("parameters") {
                None => Vec::new(),
                Some(Value::Array(ps)) => ps.iter().filter_map(|x| x.get("name").and_then(Value::as_str).map(str::to_string)).collect(),
                Some(_) => return Err(LoadError::new(file, mp, "function 'parameters' must be an array")),
            };
            let output = def
                .get("output")
                .and_then(|o| o.get("value"))
                .cloned()
                .ok_or_else(|| LoadError::new(file, &mp, "a user-defined function needs 'output.value'"))?;
            out.insert(format!("{namespace}.{m}").to_ascii_lowercase(), UserFunction { params, output });
        }
    }
    Ok(out)
}
