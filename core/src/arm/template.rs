//! Expansion of an ARM deployment template into concrete resources.
//!
//! Two phases, because resources may `reference()` each other in any order:
//! 1. enumerate: evaluate each resource's `copy` count, `condition`, `type`
//!    and `name`, flatten nested children and inline nested deployments, and
//!    register every instance with its full type, name and id;
//! 2. evaluate each instance's body on demand (a `reference()` evaluates its
//!    target first), with cycle detection.
//!
//! Parameters are resolved eagerly (a missing value is an error even if the
//! parameter is unused, as in ARM); variables lazily, with cycle detection.

use super::expr::{self, CopyFrame, Env, EvalError, Evaluator, UserFunction};
use super::{DeployContext, ParamValues, Resource};
use crate::error::LoadError;
use serde_json::{Map, Value};
use std::cell::RefCell;
use std::collections::HashMap;

/// ARM's limit on copy loop sizes; also bounds work on hostile input.
const MAX_COPY: i64 = 800;
/// Nested deployments deeper than this are surely a loop.
const MAX_NESTING: usize = 10;
/// Bound on variables/parameters/references being evaluated at once.
const MAX_EVAL_CHAIN: usize = 100;

/// Parses JSON text; a syntax error names the line and column and what the
/// parser expected. A UTF-8 byte order mark is accepted.
pub fn parse_json(text: &str, file: &str) -> Result<Value, LoadError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    serde_json::from_str(text).map_err(|e| {
        let msg = e.to_string();
        let msg = match msg.rfind(" at line ") {
            Some(i) => msg[..i].to_string(),
            None => msg,
        };
        LoadError::new(file, "", format!("invalid JSON at line {}, column {}: {msg}", e.line(), e.column()))
    })
}

/// `-p name=value`: the value is JSON if it parses as JSON, else a string.
pub fn parse_param_assignment(s: &str) -> Result<(String, Value), String> {
    let (name, value) = s.split_once('=').ok_or_else(|| format!("parameter assignment '{s}' must have the form name=value"))?;
    let name = name.trim();
    if name.is_empty() {
        return Err(format!("parameter assignment '{s}' has an empty name"));
    }
    let v = serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_string()));
    Ok((name.to_string(), v))
}

/// An ARM parameters file: `{"$schema": ..., "parameters": {"name": {"value": ...}}}`.
pub fn read_parameters_file(text: &str, file: &str) -> Result<Vec<(String, Value)>, LoadError> {
    let v = parse_json(text, file)?;
    let Some(obj) = v.as_object() else {
        return Err(LoadError::new(file, "$", "a parameters file must be a JSON object with a 'parameters' key"));
    };
    match obj.get("parameters") {
        Some(p @ Value::Object(_)) => parameter_values_from_object(p, file, "$.parameters"),
        Some(_) => Err(LoadError::new(file, "$.parameters", "'parameters' must be an object")),
        None => Err(LoadError::new(file, "$", "a parameters file needs a 'parameters' object ({\"name\": {\"value\": ...}})")),
    }
}

/// Parameter values given as `{"name": value}` or `{"name": {"value": value}}`
/// (both forms may be mixed). A Key Vault `reference` is unsupported.
pub fn parameter_values_from_object(v: &Value, file: &str, path: &str) -> Result<Vec<(String, Value)>, LoadError> {
    let Some(obj) = v.as_object() else {
        return Err(LoadError::new(file, path, format!("parameter values must be an object but are {}", expr::kind(v))));
    };
    let mut out = Vec::new();
    for (name, val) in obj {
        let p = child_path(path, name);
        let value = match val {
            Value::Object(o) if o.contains_key("reference") => {
                return Err(LoadError::new(file, p, "unsupported: a Key Vault reference cannot be resolved offline; give the value instead"))
            }
            Value::Object(o) if o.len() == 1 && o.contains_key("value") => o["value"].clone(),
            Value::Object(o) if o.contains_key("value") && o.keys().all(|k| k == "value" || k == "metadata") => o["value"].clone(),
            other => other.clone(),
        };
        out.push((name.clone(), value));
    }
    Ok(out)
}

/// Expands a template with the given parameter values.
pub fn expand_template(template: &Value, file: &str, params: &ParamValues, ctx: &DeployContext) -> Result<Vec<Resource>, LoadError> {
    expand_at(template, file, params, ctx, "$", 0, false).map(|(rs, _)| rs)
}

/// Expands a template; with `with_outputs`, also evaluates its `outputs`
/// (a nested deployment's outputs are what `reference(deployment).outputs`
/// reads; the top-level template's outputs are of no use here).
fn expand_at(
    template: &Value,
    file: &str,
    params: &ParamValues,
    ctx: &DeployContext,
    base: &str,
    depth: usize,
    with_outputs: bool,
) -> Result<(Vec<Resource>, Value), LoadError> {
    if depth > MAX_NESTING {
        return Err(LoadError::new(file, base, "nested deployments are nested too deeply"));
    }
    let scope = Scope::new(template, file, params, ctx, base, depth)?;
    scope.resolve_all_parameters()?;
    let resources = template.get("resources");
    match resources {
        None | Some(Value::Null) => {}
        Some(Value::Array(list)) => {
            for (i, r) in list.iter().enumerate() {
                scope.enumerate(r, &format!("{base}.resources[{i}]"), None, &[], None)?;
            }
        }
        Some(Value::Object(map)) => {
            for (sym, r) in map {
                scope.enumerate(r, &child_path(&format!("{base}.resources"), sym), None, &[], Some(sym.as_str()))?;
            }
        }
        Some(other) => {
            return Err(LoadError::new(
                file,
                format!("{base}.resources"),
                format!("'resources' must be an array (or an object keyed by symbolic name) but is {}", expr::kind(other)),
            ))
        }
    }
    let resources = scope.finish()?;
    let outputs = if with_outputs { scope.eval_outputs(template.get("outputs"), &format!("{base}.outputs"), &[])? } else { Value::Null };
    Ok((resources, outputs))
}

/// A JSON path one key deeper: `.name`, or `['odd key']`.
pub fn child_path(path: &str, key: &str) -> String {
    if !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$') {
        format!("{path}.{key}")
    } else {
        format!("{path}['{}']", key.replace('\'', "\\'"))
    }
}

/// One concrete resource instance found while enumerating.
struct Instance<'t> {
    rtype: String,
    name: String,
    id: String,
    symbol: Option<String>,
    raw: &'t Map<String, Value>,
    copies: Vec<CopyFrame>,
    path: String,
    /// A `Microsoft.Resources/deployments` (its body is its outputs).
    deployment: bool,
}

/// What the expansion emits, in template order.
enum Output {
    Instance(usize),
    /// The resources of an inner-scope nested deployment (an instance).
    Nested(usize),
}

struct ParamDecl<'t> {
    name: String,
    decl: &'t Map<String, Value>,
}

/// Everything one template's expressions can read.
struct Scope<'t> {
    file: String,
    base: String,
    ctx: DeployContext,
    depth: usize,
    params: Vec<ParamDecl<'t>>,
    user_values: HashMap<String, (Value, String)>,
    variables: Option<&'t Map<String, Value>>,
    functions: HashMap<String, UserFunction>,
    param_cache: RefCell<HashMap<String, Value>>,
    var_cache: RefCell<HashMap<String, Value>>,
    /// What is being evaluated right now, for cycle detection.
    stack: RefCell<Vec<String>>,
    instances: RefCell<Vec<Instance<'t>>>,
    bodies: RefCell<HashMap<usize, Value>>,
    outputs: RefCell<Vec<Output>>,
    /// Resources of expanded inner-scope nested deployments, by instance.
    nested: RefCell<HashMap<usize, Vec<Resource>>>,
}

fn obj_get<'m>(o: &'m Map<String, Value>, key: &str) -> Option<&'m Value> {
    expr::lookup(o, key)
}

impl<'t> Scope<'t> {
    fn new(template: &'t Value, file: &str, pv: &ParamValues, ctx: &DeployContext, base: &str, depth: usize) -> Result<Self, LoadError> {
        let Some(t) = template.as_object() else {
            return Err(LoadError::new(file, base, format!("a template must be a JSON object but is {}", expr::kind(template))));
        };
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
        Ok(Scope {
            file: file.to_string(),
            base: base.to_string(),
            ctx: ctx.clone(),
            depth,
            params,
            user_values,
            variables,
            functions,
            param_cache: RefCell::new(HashMap::new()),
            var_cache: RefCell::new(HashMap::new()),
            stack: RefCell::new(Vec::new()),
            instances: RefCell::new(Vec::new()),
            bodies: RefCell::new(HashMap::new()),
            outputs: RefCell::new(Vec::new()),
            nested: RefCell::new(HashMap::new()),
        })
    }

    fn err(&self, path: impl Into<String>, msg: impl Into<String>) -> LoadError {
        LoadError::new(&self.file, path, msg)
    }

    /// Enters an evaluation frame; a frame already on the stack is a cycle.
    fn enter(&self, label: String, path: &str) -> Result<(), LoadError> {
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

    fn leave(&self) {
        self.stack.borrow_mut().pop();
    }

    // -- evaluation of JSON trees --------------------------------------------

    fn eval_str(&self, s: &str, path: &str, copies: &[CopyFrame]) -> Result<Value, LoadError> {
        let mut ev = Evaluator::new(self, copies);
        ev.eval_string(s).map_err(|e| e.locate(&self.file, path, s))
    }

    /// Evaluates every expression in a JSON tree (object keys included),
    /// expands property-level `copy` and drops null-valued properties.
    fn eval_json(&self, v: &Value, path: &str, copies: &[CopyFrame]) -> Result<Value, LoadError> {
        match v {
            Value::String(s) => self.eval_str(s, path, copies),
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, it) in items.iter().enumerate() {
                    let e = self.eval_json(it, &format!("{path}[{i}]"), copies)?;
                    if !e.is_null() {
                        out.push(e);
                    }
                }
                Ok(Value::Array(out))
            }
            Value::Object(o) => {
                let mut out = Map::new();
                for (k, val) in o {
                    let p = child_path(path, k);
                    if k == "copy" && is_property_copy(val) {
                        self.property_copy(val, &p, copies, &mut out)?;
                        continue;
                    }
                    let key = if expr::is_expression(k) { expr::stringify(&self.eval_str(k, &p, copies)?) } else { expr::unescape_literal(k).to_string() };
                    let e = self.eval_json(val, &p, copies)?;
                    if !e.is_null() {
                        out.insert(key, e);
                    }
                }
                Ok(Value::Object(out))
            }
            other => Ok(other.clone()),
        }
    }

    fn copy_count(&self, v: Option<&Value>, path: &str, copies: &[CopyFrame]) -> Result<i64, LoadError> {
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

    fn property_copy(&self, spec: &Value, path: &str, copies: &[CopyFrame], out: &mut Map<String, Value>) -> Result<(), LoadError> {
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
                let e = self.eval_json(input, &format!("{p}.input (copy {idx})"), &frames)?;
                if !e.is_null() {
                    items.push(e);
                }
            }
            out.insert(name, Value::Array(items));
        }
        Ok(())
    }

    // -- parameters -----------------------------------------------------------

    fn resolve_all_parameters(&self) -> Result<(), LoadError> {
        for p in &self.params {
            self.parameter_value(&p.name)?;
        }
        Ok(())
    }

    fn parameter_value(&self, name: &str) -> Result<Value, LoadError> {
        let key = name.to_ascii_lowercase();
        if let Some(v) = self.param_cache.borrow().get(&key) {
            return Ok(v.clone());
        }
        let Some(p) = self.params.iter().find(|p| p.name.eq_ignore_ascii_case(name)) else {
            let declared: Vec<&str> = self.params.iter().map(|p| p.name.as_str()).collect();
            return Err(self.err(
                format!("{}.parameters", self.base),
                format!("parameters('{name}'): no such parameter; declared: {}", if declared.is_empty() { "none".into() } else { declared.join(", ") }),
            ));
        };
        let path = child_path(&format!("{}.parameters", self.base), &p.name);
        // languageVersion 2.0 user-defined types (`$ref`) are not checked.
        let ptype = match (obj_get(p.decl, "type"), obj_get(p.decl, "$ref")) {
            (Some(Value::String(t)), _) => t.to_ascii_lowercase(),
            (None, Some(_)) => "any".to_string(),
            _ => return Err(self.err(&path, "the parameter declaration has no string 'type'")),
        };
        if !["string", "securestring", "int", "bool", "object", "secureobject", "array", "any"].contains(&ptype.as_str()) {
            return Err(self.err(
                format!("{path}.type"),
                format!("unknown parameter type '{ptype}' (expected string, securestring, int, bool, object, secureObject or array)"),
            ));
        }
        let value = if let Some((v, source)) = self.user_values.get(&key) {
            convert_param(&ptype, v).map_err(|m| self.err(&path, format!("value given in {source}: {m}")))?
        } else if let Some(d) = obj_get(p.decl, "defaultValue") {
            self.enter(format!("parameter '{}'", p.name), &path)?;
            let v = self.eval_json(d, &format!("{path}.defaultValue"), &[]);
            self.leave();
            convert_param(&ptype, &v?).map_err(|m| self.err(format!("{path}.defaultValue"), m))?
        } else if matches!(obj_get(p.decl, "nullable"), Some(Value::Bool(true))) {
            Value::Null
        } else {
            return Err(
                self.err(&path, format!("parameter '{}' has no value and no defaultValue; give one with -p {}=VALUE or a parameters file", p.name, p.name))
            );
        };
        self.check_constraints(p.decl, &value, &path)?;
        self.param_cache.borrow_mut().insert(key, value.clone());
        Ok(value)
    }

    fn check_constraints(&self, decl: &Map<String, Value>, v: &Value, path: &str) -> Result<(), LoadError> {
        if let Some(Value::Array(allowed)) = obj_get(decl, "allowedValues") {
            let ok = |x: &Value| allowed.iter().any(|a| expr::json_eq(a, x));
            let fine = match v {
                Value::Array(items) => items.iter().all(ok),
                x => ok(x),
            };
            if !fine {
                let list: Vec<String> = allowed.iter().map(|a| a.to_string()).collect();
                return Err(self.err(path, format!("value {v} is not one of the allowedValues [{}]", list.join(", "))));
            }
        }
        let bound = |k: &str| obj_get(decl, k).and_then(Value::as_i64);
        if let Some(n) = v.as_i64() {
            if let Some(min) = bound("minValue").filter(|m| n < *m) {
                return Err(self.err(path, format!("value {n} is below minValue {min}")));
            }
            if let Some(max) = bound("maxValue").filter(|m| n > *m) {
                return Err(self.err(path, format!("value {n} is above maxValue {max}")));
            }
        }
        let len = match v {
            Value::String(s) => Some(s.chars().count() as i64),
            Value::Array(a) => Some(a.len() as i64),
            _ => None,
        };
        if let Some(len) = len {
            if let Some(min) = bound("minLength").filter(|m| len < *m) {
                return Err(self.err(path, format!("length {len} is below minLength {min}")));
            }
            if let Some(max) = bound("maxLength").filter(|m| len > *m) {
                return Err(self.err(path, format!("length {len} is above maxLength {max}")));
            }
        }
        Ok(())
    }

    // -- variables ------------------------------------------------------------

    fn variable_value(&self, name: &str) -> Result<Value, LoadError> {
        let key = name.to_ascii_lowercase();
        if let Some(v) = self.var_cache.borrow().get(&key) {
            return Ok(v.clone());
        }
        let vars_path = format!("{}.variables", self.base);
        let Some(vars) = self.variables else {
            return Err(self.err(&vars_path, format!("variables('{name}'): the template declares no variables")));
        };
        let label = format!("variable '{name}'");
        let value = if let Some((k, raw)) = vars.iter().find(|(k, _)| k.as_str() != "copy" && k.eq_ignore_ascii_case(name)) {
            let path = child_path(&vars_path, k);
            self.enter(label, &path)?;
            let v = self.eval_json(raw, &path, &[]);
            self.leave();
            v?
        } else if let Some((i, entry)) = self.variable_copy_entry(vars, name) {
            let path = format!("{vars_path}.copy[{i}]");
            self.enter(label, &path)?;
            let v = self.variable_copy(entry, &path, name);
            self.leave();
            v?
        } else {
            let declared: Vec<&str> = vars.keys().map(|k| k.as_str()).filter(|k| *k != "copy").collect();
            return Err(self.err(&vars_path, format!("variables('{name}'): no such variable; declared: {}", declared.join(", "))));
        };
        self.var_cache.borrow_mut().insert(key, value.clone());
        Ok(value)
    }

    fn variable_copy_entry<'m>(&self, vars: &'m Map<String, Value>, name: &str) -> Option<(usize, &'m Map<String, Value>)> {
        let list = vars.get("copy")?.as_array()?;
        list.iter().enumerate().find_map(|(i, e)| {
            let o = e.as_object()?;
            let n = o.get("name")?.as_str()?;
            n.eq_ignore_ascii_case(name).then_some((i, o))
        })
    }

    fn variable_copy(&self, entry: &Map<String, Value>, path: &str, name: &str) -> Result<Value, LoadError> {
        let count = self.copy_count(obj_get(entry, "count"), path, &[])?;
        let input = obj_get(entry, "input").ok_or_else(|| self.err(path, "a variable copy entry needs an 'input'"))?;
        let mut items = Vec::new();
        for idx in 0..count {
            let frames = [CopyFrame { name: Some(name.to_string()), index: idx, answers_unnamed: true }];
            let e = self.eval_json(input, &format!("{path}.input (copy {idx})"), &frames)?;
            if !e.is_null() {
                items.push(e);
            }
        }
        Ok(Value::Array(items))
    }

    // -- enumeration ----------------------------------------------------------

    fn enumerate(&self, r: &'t Value, path: &str, parent: Option<(&str, &str)>, copies: &[CopyFrame], symbol: Option<&str>) -> Result<(), LoadError> {
        let Some(res) = r.as_object() else {
            return Err(self.err(path, format!("a resource must be an object but is {}", expr::kind(r))));
        };
        match obj_get(res, "copy") {
            Some(Value::Object(c)) => {
                let cpath = format!("{path}.copy");
                let count = self.copy_count(obj_get(c, "count"), &cpath, copies)?;
                let loop_name = match obj_get(c, "name") {
                    Some(Value::String(n)) => Some(n.clone()),
                    _ => None,
                };
                for i in 0..count {
                    let mut frames = copies.to_vec();
                    frames.push(CopyFrame { name: loop_name.clone(), index: i, answers_unnamed: true });
                    self.enumerate_one(res, &format!("{path} (copy {i})"), parent, &frames, symbol)?;
                }
                Ok(())
            }
            Some(other) if !other.is_null() => Err(self.err(format!("{path}.copy"), "a resource 'copy' must be an object {name, count}")),
            _ => self.enumerate_one(res, path, parent, copies, symbol),
        }
    }

    fn enumerate_one(
        &self,
        res: &'t Map<String, Value>,
        path: &str,
        parent: Option<(&str, &str)>,
        copies: &[CopyFrame],
        symbol: Option<&str>,
    ) -> Result<(), LoadError> {
        if let Some(c) = obj_get(res, "condition") {
            let cp = format!("{path}.condition");
            match self.eval_json(c, &cp, copies)? {
                Value::Bool(true) => {}
                Value::Bool(false) => return Ok(()),
                Value::String(s) if s.eq_ignore_ascii_case("true") => {}
                Value::String(s) if s.eq_ignore_ascii_case("false") => return Ok(()),
                other => return Err(self.err(cp, format!("condition must be a bool but is {other}"))),
            }
        }
        let short_type = match obj_get(res, "type").map(|t| self.eval_json(t, &format!("{path}.type"), copies)).transpose()? {
            Some(Value::String(t)) if !t.is_empty() => t,
            _ => return Err(self.err(path, "a resource needs a string 'type'")),
        };
        let short_name = match obj_get(res, "name").map(|n| self.eval_json(n, &format!("{path}.name"), copies)).transpose()? {
            Some(Value::String(n)) if !n.is_empty() => n,
            Some(Value::Number(n)) => n.to_string(),
            _ => return Err(self.err(path, "a resource needs a non-empty string 'name'")),
        };
        let (rtype, name) = full_type_and_name(&short_type, &short_name, parent);
        let id = self.resource_id(res, &rtype, &name, path, copies)?;
        let deployment = rtype.eq_ignore_ascii_case("Microsoft.Resources/deployments");
        let existing = matches!(obj_get(res, "existing"), Some(Value::Bool(true)));
        let idx = {
            let mut inst = self.instances.borrow_mut();
            inst.push(Instance {
                rtype: rtype.clone(),
                name: name.clone(),
                id,
                symbol: symbol.map(str::to_string),
                raw: res,
                copies: copies.to_vec(),
                path: path.to_string(),
                deployment,
            });
            inst.len() - 1
        };
        if deployment {
            return self.nested_deployment(res, idx, &name, path, copies);
        }
        if !existing {
            self.outputs.borrow_mut().push(Output::Instance(idx));
        }
        match obj_get(res, "resources") {
            None | Some(Value::Null) => {}
            Some(Value::Array(children)) => {
                for (j, c) in children.iter().enumerate() {
                    self.enumerate(c, &format!("{path}.resources[{j}]"), Some((&rtype, &name)), copies, None)?;
                }
            }
            Some(_) => return Err(self.err(format!("{path}.resources"), "nested 'resources' must be an array")),
        }
        Ok(())
    }

    fn resource_id(&self, res: &Map<String, Value>, rtype: &str, name: &str, path: &str, copies: &[CopyFrame]) -> Result<String, LoadError> {
        let names: Vec<String> = name.split('/').map(str::to_string).collect();
        let tail = match expr::type_name_path(rtype, &names) {
            Ok(t) => t,
            // Old-style extension types (`.../providers/diagnosticSettings`)
            // do not pair up; their id only has to be unique.
            Err(_) if rtype.split('/').any(|s| s.eq_ignore_ascii_case("providers")) => format!("{rtype}/{name}"),
            Err(m) => return Err(self.err(format!("{path}.name"), m)),
        };
        let rg = format!("/subscriptions/{}/resourceGroups/{}", self.ctx.subscription_id, self.ctx.resource_group);
        if let Some(s) = obj_get(res, "scope") {
            if let Value::String(scope) = self.eval_json(s, &format!("{path}.scope"), copies)? {
                let scope = scope.trim_end_matches('/');
                if scope.starts_with('/') {
                    return Ok(format!("{scope}/providers/{tail}"));
                } else if !scope.is_empty() {
                    return Ok(format!("{rg}/providers/{scope}/providers/{tail}"));
                }
            }
        }
        Ok(format!("{rg}/providers/{tail}"))
    }

    /// Checks a nested deployment and returns its inline template and
    /// whether it uses the inner expression scope.
    fn deployment_template(&self, res: &'t Map<String, Value>, name: &str, path: &str) -> Result<(&'t Map<String, Value>, &'t Value, bool), LoadError> {
        let pp = format!("{path}.properties");
        let Some(props) = obj_get(res, "properties").and_then(Value::as_object) else {
            return Err(self.err(path, "a nested deployment needs 'properties'"));
        };
        if obj_get(props, "templateLink").is_some() {
            return Err(self.err(
                format!("{pp}.templateLink"),
                format!("unsupported: nested deployment '{name}' uses a templateLink (linked template); inline the template instead"),
            ));
        }
        let Some(inner) = obj_get(props, "template") else {
            return Err(self.err(&pp, format!("nested deployment '{name}' has no inline 'template'")));
        };
        if !inner.is_object() {
            return Err(self.err(format!("{pp}.template"), "a nested template must be an object"));
        }
        let inner_scope = matches!(
            obj_get(props, "expressionEvaluationOptions").and_then(Value::as_object).and_then(|o| obj_get(o, "scope")),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("inner")
        );
        Ok((props, inner, inner_scope))
    }

    /// Inner scope: expanded lazily (its parameters may `reference()`
    /// anything in this template). Outer scope: the inner resources read this
    /// template's parameters and variables, as if declared here.
    fn nested_deployment(&self, res: &'t Map<String, Value>, idx: usize, name: &str, path: &str, copies: &[CopyFrame]) -> Result<(), LoadError> {
        let (_, inner, inner_scope) = self.deployment_template(res, name, path)?;
        if inner_scope {
            self.outputs.borrow_mut().push(Output::Nested(idx));
            return Ok(());
        }
        let tpath = format!("{path}.properties.template");
        match inner.get("resources") {
            Some(Value::Array(list)) => {
                for (i, r) in list.iter().enumerate() {
                    self.enumerate(r, &format!("{tpath}.resources[{i}]"), None, copies, None)?;
                }
                Ok(())
            }
            None | Some(Value::Null) => Ok(()),
            Some(_) => Err(self.err(format!("{tpath}.resources"), "'resources' of a nested template must be an array")),
        }
    }

    /// A nested deployment's body: `{properties: {outputs}}`; an inner-scope
    /// one is expanded here and its resources kept for `finish`.
    fn deployment_body(&self, idx: usize, res: &'t Map<String, Value>, copies: &[CopyFrame], path: &str, name: &str) -> Result<Value, LoadError> {
        let (props, inner, inner_scope) = self.deployment_template(res, name, path)?;
        let pp = format!("{path}.properties");
        let tpath = format!("{pp}.template");
        let outputs = if inner_scope {
            let mut pv = ParamValues::default();
            if let Some(p) = obj_get(props, "parameters") {
                let evaluated = self.eval_json(p, &format!("{pp}.parameters"), copies)?;
                for (k, v) in parameter_values_from_object(&evaluated, &self.file, &format!("{pp}.parameters"))? {
                    pv.values.push((k, v, format!("{pp}.parameters")));
                }
            }
            let mut ctx = self.ctx.clone();
            if let Some(Value::String(rg)) = obj_get(res, "resourceGroup").map(|v| self.eval_json(v, &format!("{path}.resourceGroup"), copies)).transpose()? {
                ctx.resource_group = rg;
            }
            if let Some(Value::String(sub)) =
                obj_get(res, "subscriptionId").map(|v| self.eval_json(v, &format!("{path}.subscriptionId"), copies)).transpose()?
            {
                ctx.subscription_id = sub;
            }
            let (resources, outputs) = expand_at(inner, &self.file, &pv, &ctx, &tpath, self.depth + 1, true)?;
            self.nested.borrow_mut().insert(idx, resources);
            outputs
        } else {
            self.eval_outputs(inner.get("outputs"), &format!("{tpath}.outputs"), copies)?
        };
        Ok(serde_json::json!({"properties": {"outputs": outputs, "provisioningState": "Succeeded"}}))
    }

    /// `outputs` as `reference(deployment).outputs` shows them:
    /// `{name: {type, value}}`, with output-level `copy` expanded.
    fn eval_outputs(&self, outputs: Option<&Value>, path: &str, copies: &[CopyFrame]) -> Result<Value, LoadError> {
        let mut out = Map::new();
        let Some(Value::Object(o)) = outputs else { return Ok(Value::Object(out)) };
        for (k, decl) in o {
            let p = child_path(path, k);
            let Some(d) = decl.as_object() else { return Err(self.err(&p, "an output must be an object {type, value}")) };
            let value = if let Some(Value::Object(c)) = obj_get(d, "copy") {
                let count = self.copy_count(obj_get(c, "count"), &format!("{p}.copy"), copies)?;
                let input = obj_get(c, "input").ok_or_else(|| self.err(format!("{p}.copy"), "an output copy needs an 'input'"))?;
                let mut items = Vec::new();
                for i in 0..count {
                    let mut frames = copies.to_vec();
                    frames.push(CopyFrame { name: None, index: i, answers_unnamed: true });
                    items.push(self.eval_json(input, &format!("{p}.copy.input (copy {i})"), &frames)?);
                }
                Value::Array(items)
            } else {
                match obj_get(d, "value") {
                    Some(v) => self.eval_json(v, &format!("{p}.value"), copies)?,
                    None => Value::Null,
                }
            };
            let t = obj_get(d, "type").cloned().unwrap_or(Value::Null);
            out.insert(k.clone(), serde_json::json!({"type": t, "value": value}));
        }
        Ok(Value::Object(out))
    }

    // -- bodies ---------------------------------------------------------------

    fn body(&self, idx: usize) -> Result<Value, LoadError> {
        if let Some(b) = self.bodies.borrow().get(&idx) {
            return Ok(b.clone());
        }
        let (raw, copies, path, rtype, name, id, deployment) = {
            let inst = self.instances.borrow();
            let i = &inst[idx];
            (i.raw, i.copies.clone(), i.path.clone(), i.rtype.clone(), i.name.clone(), i.id.clone(), i.deployment)
        };
        self.enter(format!("resource '{name}' ({rtype})"), &path)?;
        let r = if deployment { self.deployment_body(idx, raw, &copies, &path, &name) } else { self.eval_body(raw, &copies, &path, &rtype, &name, &id) };
        self.leave();
        let b = r?;
        self.bodies.borrow_mut().insert(idx, b.clone());
        Ok(b)
    }

    fn eval_body(&self, raw: &Map<String, Value>, copies: &[CopyFrame], path: &str, rtype: &str, name: &str, id: &str) -> Result<Value, LoadError> {
        const SKIP: [&str; 8] = ["dependsOn", "copy", "condition", "resources", "comments", "existing", "type", "name"];
        let mut out = Map::new();
        out.insert("type".into(), Value::String(rtype.to_string()));
        out.insert("name".into(), Value::String(name.to_string()));
        out.insert("id".into(), Value::String(id.to_string()));
        for (k, v) in raw {
            if SKIP.iter().any(|s| s.eq_ignore_ascii_case(k)) || k.eq_ignore_ascii_case("id") {
                continue;
            }
            let e = self.eval_json(v, &child_path(path, k), copies)?;
            if !e.is_null() {
                out.insert(k.clone(), e);
            }
        }
        Ok(Value::Object(out))
    }

    fn find_instance(&self, target: &str) -> Option<usize> {
        let inst = self.instances.borrow();
        if target.starts_with('/') {
            let (t, n) = expr::parse_resource_id(target)?;
            return inst.iter().position(|i| i.rtype.eq_ignore_ascii_case(&t) && i.name.eq_ignore_ascii_case(&n));
        }
        if let Some(p) = inst.iter().position(|i| i.symbol.as_deref().is_some_and(|s| s.eq_ignore_ascii_case(target))) {
            return Some(p);
        }
        let mut by_name = inst.iter().enumerate().filter(|(_, i)| i.name.eq_ignore_ascii_case(target));
        match (by_name.next(), by_name.next()) {
            (Some((p, _)), None) => Some(p),
            _ => None,
        }
    }

    fn finish(&self) -> Result<Vec<Resource>, LoadError> {
        let outputs = std::mem::take(&mut *self.outputs.borrow_mut());
        let mut out = Vec::new();
        for o in outputs {
            match o {
                Output::Nested(idx) => {
                    self.body(idx)?;
                    out.extend(self.nested.borrow_mut().remove(&idx).unwrap_or_default());
                }
                Output::Instance(idx) => {
                    let body = self.body(idx)?;
                    let inst = self.instances.borrow();
                    let i = &inst[idx];
                    out.push(Resource { rtype: i.rtype.clone(), name: i.name.clone(), id: i.id.clone(), body, file: self.file.clone(), path: i.path.clone() });
                }
            }
        }
        Ok(out)
    }
}

impl Env for Scope<'_> {
    fn ctx(&self) -> &DeployContext {
        &self.ctx
    }
    fn parameter(&self, name: &str) -> Result<Value, EvalError> {
        self.parameter_value(name).map_err(EvalError::At)
    }
    fn variable(&self, name: &str) -> Result<Value, EvalError> {
        self.variable_value(name).map_err(EvalError::At)
    }
    fn reference(&self, target: &str, full: bool) -> Result<Value, EvalError> {
        let Some(idx) = self.find_instance(target) else {
            // Outside the template (or not yet known): a runtime value.
            return Ok(Value::Object(Map::new()));
        };
        let body = self.body(idx).map_err(EvalError::At)?;
        let id = self.instances.borrow()[idx].id.clone();
        let mut body = body;
        if let Some(Value::Object(props)) = body.get_mut("properties") {
            add_child_ids(props, &id);
        }
        if full {
            Ok(body)
        } else {
            Ok(body.get("properties").cloned().unwrap_or_else(|| Value::Object(Map::new())))
        }
    }
    fn user_function(&self, q: &str) -> Option<UserFunction> {
        self.functions.get(&q.to_ascii_lowercase()).cloned()
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

/// A child's full type and name: a short type (`subnets`) is appended to the
/// parent's, and a name with fewer segments than the type needs gets the
/// parent's name in front.
pub fn full_type_and_name(short_type: &str, short_name: &str, parent: Option<(&str, &str)>) -> (String, String) {
    let Some((ptype, pname)) = parent else {
        return (short_type.to_string(), short_name.to_string());
    };
    let first = short_type.split('/').next().unwrap_or("");
    let rtype = if first.contains('.') { short_type.to_string() } else { format!("{ptype}/{short_type}") };
    let need = rtype.split('/').count().saturating_sub(1);
    let have = short_name.split('/').count();
    let name = if have < need { format!("{pname}/{short_name}") } else { short_name.to_string() };
    (rtype, name)
}

/// Converts a parameter value to its declared type (`"true"` → `true` for a
/// bool, `"42"` → `42` for an int, JSON text for objects and arrays).
fn convert_param(ptype: &str, v: &Value) -> Result<Value, String> {
    let bad = || format!("expected {ptype} but got {} ({v})", expr::kind(v));
    match ptype {
        "string" | "securestring" => match v {
            Value::String(_) => Ok(v.clone()),
            Value::Number(n) => Ok(Value::String(n.to_string())),
            Value::Bool(b) => Ok(Value::String(b.to_string())),
            _ => Err(bad()),
        },
        "int" => match v {
            Value::Number(n) if n.is_i64() => Ok(v.clone()),
            Value::String(s) => s.trim().parse::<i64>().map(Value::from).map_err(|_| bad()),
            _ => Err(bad()),
        },
        "bool" => match v {
            Value::Bool(_) => Ok(v.clone()),
            Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(Value::Bool(true)),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(Value::Bool(false)),
            _ => Err(bad()),
        },
        "object" | "secureobject" => match v {
            Value::Object(_) => Ok(v.clone()),
            Value::String(s) => match serde_json::from_str::<Value>(s) {
                Ok(o @ Value::Object(_)) => Ok(o),
                _ => Err(bad()),
            },
            _ => Err(bad()),
        },
        "array" => match v {
            Value::Array(_) => Ok(v.clone()),
            Value::String(s) => match serde_json::from_str::<Value>(s) {
                Ok(a @ Value::Array(_)) => Ok(a),
                _ => Err(bad()),
            },
            _ => Err(bad()),
        },
        "any" => Ok(v.clone()),
        _ => Err(bad()),
    }
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
