//! Evaluation of parsed expressions against an `Env`: the control-flow
//! functions that must see unevaluated arguments (`if`, `and`, `or`,
//! `coalesce`, the lambda functions), parameters, variables, `reference()`,
//! `list*()`, `deployment()`, copy loops and user-defined functions;
//! property and index access are in `access`, unknown values in `unknown`.

mod json;
mod outputs;

use super::access::{index, member, plain, unknown_val, Val};
use super::budget::{descend, Budget};
use super::error::{err, EvalError, R};
use super::functions;
use super::parse::{is_expression, parse, unescape_literal, Expr};
use super::unknown;
use super::values::{arity, int_of, str_arg, stringify, to_bool};
use crate::arm::deploy::DeployContext;
use serde_json::{Map, Value};

/// ARM's limit on the length of one expression (fact sheet 13.6).
pub const MAX_EXPRESSION_CHARS: usize = 24_576;

/// Parses the text of an expression (`[...]`), within ARM's limit on its
/// length.
pub fn parse_expression(s: &str) -> R<Expr> {
    if s.len() > MAX_EXPRESSION_CHARS && s.chars().count() > MAX_EXPRESSION_CHARS {
        return err(format!("the expression is {} characters long; ARM's limit is {MAX_EXPRESSION_CHARS}", s.chars().count()));
    }
    parse(s).map_err(|m| EvalError::Here(format!("invalid expression: {m}")))
}

/// A user-defined function (`functions` section of a template).
#[derive(Debug, Clone)]
pub struct UserFunction {
    pub params: Vec<String>,
    pub output: Value,
}

/// What an expression can read besides its own arguments.
pub trait Env {
    fn ctx(&self) -> &DeployContext;
    fn parameter(&self, name: &str) -> R<Value>;
    fn variable(&self, name: &str) -> R<Value>;
    /// `reference(target)`: `target` is a resource id, a resource name or a
    /// symbolic name; `full` asks for the whole resource body.
    fn reference(&self, target: &str, full: bool) -> R<Value>;
    /// `references(symbol)`: the states of a resource collection's deployed
    /// copies, in copy order (`full` as for `reference`).
    fn references(&self, symbol: &str, _full: bool) -> R<Value> {
        err(format!("references('{symbol}') can only read resources of a template"))
    }
    fn user_function(&self, _qualified_name: &str) -> Option<UserFunction> {
        None
    }
    fn deployment_name(&self) -> String {
        "vnetlab".into()
    }
    /// An expression read `deployment().location`: noted so that, without
    /// `--location`, the user is told which region stood in.
    fn note_deployment_location(&self) {
        self.ctx().note_deployment_location("<expression>");
    }
    /// The expansion's budget, charged with every value a function builds.
    fn budget(&self) -> Option<&Budget> {
        None
    }
}

/// One active `copy` loop: its name (`None` for the resource-level loop when
/// unnamed) and current index.
#[derive(Debug, Clone)]
pub struct CopyFrame {
    pub name: Option<String>,
    pub index: i64,
    /// Resource- or variable-level loops answer an unnamed `copyIndex()`.
    pub answers_unnamed: bool,
}

/// Evaluates expressions against an environment and the active copy loops.
pub struct Evaluator<'a> {
    env: &'a dyn Env,
    copies: &'a [CopyFrame],
    lambda_vars: Vec<(String, Value)>,
}

impl<'a> Evaluator<'a> {
    pub fn new(env: &'a dyn Env, copies: &'a [CopyFrame]) -> Self {
        Evaluator { env, copies, lambda_vars: Vec::new() }
    }

    /// Evaluates a JSON string: an expression is evaluated, a `[[` escape is
    /// unescaped, anything else is returned as is.
    pub fn eval_string(&mut self, s: &str) -> R<Value> {
        if is_expression(s) {
            let e = parse_expression(s)?;
            self.eval_expr(&e)
        } else {
            Ok(Value::String(unescape_literal(s).to_string()))
        }
    }

    /// Evaluates an expression parsed with `parse_expression`.
    pub fn eval_expr(&mut self, e: &Expr) -> R<Value> {
        Ok(self.eval(e)?.v)
    }

    fn eval(&mut self, e: &Expr) -> R<Val> {
        let _level = descend().map_err(EvalError::Here)?;
        let r = self.eval_inner(e)?;
        // Every value a call builds or copies is paid for; member and index
        // access only take parts of a value already paid for.
        if let (Expr::Call { .. }, Some(b)) = (e, self.env.budget()) {
            b.charge(&r.v).map_err(EvalError::Here)?;
        }
        Ok(r)
    }

    fn eval_inner(&mut self, e: &Expr) -> R<Val> {
        match e {
            Expr::Str(s) => plain(Value::String(s.clone())),
            Expr::Int(i) => plain(Value::from(*i)),
            Expr::Member(base, name) => {
                let b = self.eval(base)?;
                if name.eq_ignore_ascii_case("location") && is_deployment_call(base) {
                    self.env.note_deployment_location();
                }
                member(b, name)
            }
            Expr::Index(base, idx) => {
                let b = self.eval(base)?;
                let i = self.eval(idx)?;
                if matches!(&i.v, Value::String(k) if k.eq_ignore_ascii_case("location")) && is_deployment_call(base) {
                    self.env.note_deployment_location();
                }
                index(b, &i.v)
            }
            Expr::Call { name, args } => self.call(name, args),
        }
    }

    fn args(&mut self, args: &[Expr]) -> R<Vec<Value>> {
        args.iter().map(|a| self.eval(a).map(|v| v.v)).collect()
    }

    // `call` and the helpers below sit on the recursion path of nested
    // expressions, so each is kept small (debug builds give every local of
    // a function its own stack slot).
    fn call(&mut self, name: &str, args: &[Expr]) -> R<Val> {
        let lname = name.to_ascii_lowercase();
        match lname.as_str() {
            "if" => self.call_if(name, args),
            "and" | "or" => self.call_and_or(name, lname == "or", args),
            "coalesce" => self.call_coalesce(args),
            "lambda" => lambda_misuse(),
            "filter" | "map" | "sort" | "reduce" | "toobject" | "mapvalues" | "groupby" => self.lambda_call(name, &lname, args),
            "parameters" | "variables" => self.call_lookup(name, lname == "parameters", args),
            "reference" => self.call_reference(name, args),
            "references" => self.call_references(name, args),
            "deployment" => self.call_deployment(name, args),
            l if l.starts_with("list") => self.call_list(name, args),
            _ if name.contains('.') => self.user_call(name, args),
            _ => self.call_builtin(name, &lname, args),
        }
    }

    #[inline(never)]
    fn call_if(&mut self, name: &str, args: &[Expr]) -> R<Val> {
        arity(name, args.len(), 3, 3)?;
        let c = self.eval(&args[0])?;
        if let Some(m) = c.v.as_str().and_then(unknown::find) {
            return unknown_val(unknown::derive(m, "if()"));
        }
        let c = to_bool(name, &c.v)?;
        self.eval(&args[if c { 1 } else { 2 }])
    }

    #[inline(never)]
    fn call_and_or(&mut self, name: &str, is_or: bool, args: &[Expr]) -> R<Val> {
        arity(name, args.len(), 2, usize::MAX)?;
        let mut unknown = None;
        for a in args {
            let v = self.eval(a)?;
            // Unknown unless a later argument decides.
            if let Some(m) = v.v.as_str().and_then(unknown::find) {
                unknown = Some(unknown::derive(m, &format!("{}()", name.to_ascii_lowercase())));
                continue;
            }
            if to_bool(name, &v.v)? == is_or {
                return plain(Value::Bool(is_or));
            }
        }
        match unknown {
            Some(m) => unknown_val(m),
            None => plain(Value::Bool(!is_or)),
        }
    }

    #[inline(never)]
    fn call_coalesce(&mut self, args: &[Expr]) -> R<Val> {
        for a in args {
            let v = self.eval(a)?;
            if !v.v.is_null() {
                return Ok(v);
            }
        }
        plain(Value::Null)
    }

    #[inline(never)]
    fn call_lookup(&mut self, name: &str, is_param: bool, args: &[Expr]) -> R<Val> {
        arity(name, args.len(), 1, 1)?;
        let v = self.args(args)?;
        let key = str_arg(name, &v, 0)?;
        let r = if is_param { self.env.parameter(key)? } else { self.env.variable(key)? };
        plain(r)
    }

    #[inline(never)]
    fn call_reference(&mut self, name: &str, args: &[Expr]) -> R<Val> {
        arity(name, args.len(), 1, 3)?;
        let v = self.args(args)?;
        if let Some(m) = unknown::in_args(&v) {
            return unknown_val(unknown::derive(m, "reference()"));
        }
        let target = str_arg(name, &v, 0)?;
        let full = matches!(v.get(2), Some(Value::String(s)) if s.eq_ignore_ascii_case("full"));
        let r = self.env.reference(target, full)?;
        Ok(Val { v: r, runtime: true })
    }

    #[inline(never)]
    fn call_references(&mut self, name: &str, args: &[Expr]) -> R<Val> {
        arity(name, args.len(), 1, 2)?;
        let v = self.args(args)?;
        let symbol = str_arg(name, &v, 0)?;
        let full = match v.get(1) {
            None => false,
            Some(Value::String(s)) if s.eq_ignore_ascii_case("full") => true,
            Some(Value::String(s)) if s.eq_ignore_ascii_case("properties") => false,
            Some(other) => return err(format!("function '{name}' expects 'Full' or 'Properties' as its second argument but got {other}")),
        };
        Ok(Val { v: self.env.references(symbol, full)?, runtime: true })
    }

    #[inline(never)]
    fn call_deployment(&mut self, name: &str, args: &[Expr]) -> R<Val> {
        arity(name, args.len(), 0, 0)?;
        Ok(Val { v: deployment_object(&self.env.deployment_name(), &self.env.ctx().location), runtime: true })
    }

    #[inline(never)]
    fn call_list(&mut self, name: &str, args: &[Expr]) -> R<Val> {
        let v = self.args(args)?;
        if name.eq_ignore_ascii_case("listOutputsWithSecureValues") {
            return Ok(Val { v: self.secure_outputs(name, &v)?, runtime: true });
        }
        Ok(Val { v: list_placeholder(name), runtime: true })
    }

    #[inline(never)]
    fn call_builtin(&mut self, name: &str, lname: &str, args: &[Expr]) -> R<Val> {
        let a = self.args(args)?;
        if let Some(m) = unknown::call_result(lname, &a) {
            return unknown_val(m);
        }
        let v = self.builtin(name, lname, &a)?;
        plain(v)
    }

    #[inline(never)]
    fn user_call(&mut self, name: &str, args: &[Expr]) -> R<Val> {
        let Some(f) = self.env.user_function(name) else {
            return err(format!("unknown user-defined function '{name}'"));
        };
        if f.params.len() != args.len() {
            return err(format!("function '{name}' expects {} arguments but got {}", f.params.len(), args.len()));
        }
        let values = self.args(args)?;
        let fenv = FunctionEnv { outer: self.env, params: f.params.iter().cloned().zip(values).collect() };
        let mut ev = Evaluator::new(&fenv, &[]);
        plain(ev.eval_json(&f.output)?)
    }

    fn lambda_parts<'e>(&self, fname: &str, e: &'e Expr, nparams: usize) -> R<(Vec<String>, &'e Expr)> {
        if let Expr::Call { name, args } = e {
            if name.eq_ignore_ascii_case("lambda") && !args.is_empty() {
                let mut params = Vec::new();
                for a in &args[..args.len() - 1] {
                    match a {
                        Expr::Str(s) => params.push(s.clone()),
                        _ => return err(format!("the parameter names of a lambda in '{fname}' must be string literals")),
                    }
                }
                if params.len() < nparams {
                    return err(format!("the lambda given to '{fname}' needs {nparams} parameter(s) but declares {}", params.len()));
                }
                return Ok((params, &args[args.len() - 1]));
            }
        }
        err(format!("function '{fname}' expects a lambda(...) argument"))
    }

    fn apply(&mut self, params: &[String], body: &Expr, values: Vec<Value>) -> R<Value> {
        let before = self.lambda_vars.len();
        for (p, v) in params.iter().zip(values) {
            self.lambda_vars.push((p.clone(), v));
        }
        let r = self.eval(body).map(|v| v.v);
        self.lambda_vars.truncate(before);
        r
    }

    #[inline(never)]
    fn lambda_call(&mut self, name: &str, lname: &str, args: &[Expr]) -> R<Val> {
        let want = match lname {
            "reduce" => 3,
            "toobject" => 2,
            _ => 2,
        };
        if lname == "toobject" {
            arity(name, args.len(), 2, 3)?;
        } else {
            arity(name, args.len(), want, want)?;
        }
        let input = self.eval(&args[0])?.v;
        if let Some(m) = input.as_str().and_then(unknown::find) {
            return unknown_val(unknown::derive(m, &format!("{lname}()")));
        }
        if lname == "mapvalues" {
            let Value::Object(obj) = input else { return err(format!("function '{name}' expects an object as its first argument")) };
            let (p, body) = self.lambda_parts(name, &args[1], 1)?;
            let mut out = Map::new();
            for (k, v) in obj {
                let nv = self.apply(&p, body, vec![v])?;
                out.insert(k, nv);
            }
            return plain(Value::Object(out));
        }
        let Value::Array(items) = input else { return err(format!("function '{name}' expects an array as its first argument")) };
        match lname {
            "filter" => {
                let (p, body) = self.lambda_parts(name, &args[1], 1)?;
                let mut out = Vec::new();
                for (i, it) in items.into_iter().enumerate() {
                    let keep = self.apply(&p, body, vec![it.clone(), Value::from(i as i64)])?;
                    if to_bool(name, &keep)? {
                        out.push(it);
                    }
                }
                plain(Value::Array(out))
            }
            "map" => {
                let (p, body) = self.lambda_parts(name, &args[1], 1)?;
                let mut out = Vec::new();
                for (i, it) in items.into_iter().enumerate() {
                    out.push(self.apply(&p, body, vec![it, Value::from(i as i64)])?);
                }
                plain(Value::Array(out))
            }
            "reduce" => {
                let mut acc = self.eval(&args[1])?.v;
                let (p, body) = self.lambda_parts(name, &args[2], 2)?;
                for (i, it) in items.into_iter().enumerate() {
                    acc = self.apply(&p, body, vec![acc, it, Value::from(i as i64)])?;
                }
                plain(acc)
            }
            "sort" => {
                let (p, body) = self.lambda_parts(name, &args[1], 2)?;
                plain(Value::Array(self.merge_sort(name, &p, body, items)?))
            }
            "groupby" => {
                let (p, body) = self.lambda_parts(name, &args[1], 1)?;
                let mut out = Map::new();
                for it in items {
                    let k = stringify(&self.apply(&p, body, vec![it.clone()])?);
                    if let Value::Array(a) = out.entry(k).or_insert_with(|| Value::Array(Vec::new())) {
                        a.push(it);
                    }
                }
                plain(Value::Object(out))
            }
            _ => {
                // toObject(array, keyLambda, valueLambda?)
                let (kp, kbody) = self.lambda_parts(name, &args[1], 1)?;
                let vl = match args.get(2) {
                    Some(a) => Some(self.lambda_parts(name, a, 1)?),
                    None => None,
                };
                let mut out = Map::new();
                for it in items {
                    let k = self.apply(&kp, kbody, vec![it.clone()])?;
                    let Value::String(k) = k else { return err(format!("the key lambda of '{name}' must return a string")) };
                    let v = match &vl {
                        Some((vp, vbody)) => self.apply(vp, vbody, vec![it])?,
                        None => it,
                    };
                    out.insert(k, v);
                }
                plain(Value::Object(out))
            }
        }
    }

    /// A stable merge sort, O(n log n) calls of the comparator lambda
    /// (`less(a, b)`: does `a` go first?). Not `sort_by`: the comparator may
    /// fail, and an inconsistent one must give some order, not a panic.
    fn merge_sort(&mut self, name: &str, p: &[String], body: &Expr, items: Vec<Value>) -> R<Vec<Value>> {
        let mut runs: Vec<Vec<Value>> = items.into_iter().map(|x| vec![x]).collect();
        while runs.len() > 1 {
            let mut next = Vec::with_capacity(runs.len().div_ceil(2));
            let mut it = runs.into_iter();
            while let Some(left) = it.next() {
                match it.next() {
                    Some(right) => next.push(self.merge(name, p, body, left, right)?),
                    None => next.push(left),
                }
            }
            runs = next;
        }
        Ok(runs.pop().unwrap_or_default())
    }

    fn merge(&mut self, name: &str, p: &[String], body: &Expr, left: Vec<Value>, right: Vec<Value>) -> R<Vec<Value>> {
        let mut out = Vec::with_capacity(left.len() + right.len());
        let (mut l, mut r) = (left.into_iter().peekable(), right.into_iter().peekable());
        while let (Some(a), Some(b)) = (l.peek(), r.peek()) {
            // Stable: the right element goes first only if it is less.
            let right_first = self.apply(p, body, vec![b.clone(), a.clone()])?;
            let from = if to_bool(name, &right_first)? { &mut r } else { &mut l };
            out.extend(from.next());
        }
        out.extend(l);
        out.extend(r);
        Ok(out)
    }

    #[inline(never)]
    fn copy_index(&self, name: &str, a: &[Value]) -> R<Value> {
        arity(name, a.len(), 0, 2)?;
        let (loop_name, offset) = match (a.first(), a.get(1)) {
            (None, _) => (None, 0),
            (Some(Value::String(s)), None) => (Some(s.as_str()), 0),
            (Some(Value::String(s)), Some(o)) => (Some(s.as_str()), int_of(name, o)?),
            (Some(o), None) => (None, int_of(name, o)?),
            _ => return err(format!("function '{name}' expects (loopName?, offset?)")),
        };
        let frame = match loop_name {
            Some(n) => self.copies.iter().rev().find(|f| f.name.as_deref().is_some_and(|x| x.eq_ignore_ascii_case(n))),
            None => self.copies.iter().rev().find(|f| f.answers_unnamed),
        };
        match frame {
            Some(f) => Ok(Value::from(f.index.checked_add(offset).ok_or_else(|| EvalError::Here("copyIndex offset overflows".into()))?)),
            None => match loop_name {
                Some(n) => err(format!("copyIndex('{n}') is used outside a copy loop named '{n}'")),
                None => err("copyIndex() is used outside a copy loop"),
            },
        }
    }

    /// The built-ins that read evaluator state; the rest are plain functions
    /// of their arguments and the deployment context.
    #[inline(never)]
    fn builtin(&mut self, name: &str, lname: &str, a: &[Value]) -> R<Value> {
        match lname {
            "lambdavariables" => {
                arity(name, a.len(), 1, 1)?;
                let want = str_arg(name, a, 0)?;
                match self.lambda_vars.iter().rev().find(|(k, _)| k.eq_ignore_ascii_case(want)) {
                    Some((_, v)) => Ok(v.clone()),
                    None => err(format!("lambdaVariables('{want}') names no parameter of an enclosing lambda")),
                }
            }
            "copyindex" => self.copy_index(name, a),
            _ => functions::call(name, lname, a, self.env.ctx()),
        }
    }
}

#[inline(never)]
fn lambda_misuse() -> R<Val> {
    err("a lambda can only be used as an argument of filter, map, reduce, sort, toObject or mapValues")
}

/// `deployment()` itself, whose `location` only a default may answer.
fn is_deployment_call(e: &Expr) -> bool {
    matches!(e, Expr::Call { name, .. } if name.eq_ignore_ascii_case("deployment"))
}

#[inline(never)]
fn deployment_object(name: &str, location: &str) -> Value {
    serde_json::json!({"name": name, "location": location, "properties": {"mode": "Incremental", "provisioningState": "Accepted"}})
}

/// What `listKeys()` and the other `list*` functions return offline.
#[inline(never)]
fn list_placeholder(fname: &str) -> Value {
    serde_json::json!({
        "keys": [
            {"keyName": "key1", "value": format!("<{fname} placeholder>"), "permissions": "FULL"},
            {"keyName": "key2", "value": format!("<{fname} placeholder>"), "permissions": "FULL"}
        ]
    })
}

/// The environment inside a user-defined function: only its own parameters.
struct FunctionEnv<'a> {
    outer: &'a dyn Env,
    params: Vec<(String, Value)>,
}

impl Env for FunctionEnv<'_> {
    fn ctx(&self) -> &DeployContext {
        self.outer.ctx()
    }
    fn parameter(&self, name: &str) -> R<Value> {
        match self.params.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)) {
            Some((_, v)) => Ok(v.clone()),
            None => err(format!("user-defined function has no parameter '{name}'")),
        }
    }
    fn variable(&self, name: &str) -> R<Value> {
        err(format!("variables('{name}') cannot be used inside a user-defined function"))
    }
    fn reference(&self, _target: &str, _full: bool) -> R<Value> {
        err("reference() cannot be used inside a user-defined function")
    }
    fn user_function(&self, q: &str) -> Option<UserFunction> {
        self.outer.user_function(q)
    }
    fn budget(&self) -> Option<&Budget> {
        self.outer.budget()
    }
    fn note_deployment_location(&self) {
        self.outer.note_deployment_location()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arm::expr::testenv::{env, ev, ev_err};
    use serde_json::json;

    #[test]
    fn case_insensitive_functions_parameters_and_properties() {
        assert_eq!(ev("[PARAMETERS('NAME')]"), json!("App"));
        assert_eq!(ev("[parameters('obj').inner.LIST[1]]"), json!(20));
        assert_eq!(ev("[parameters('obj')['Inner']['list'][2]]"), json!(30));
        assert_eq!(ev("[toLower(Parameters('name'))]"), json!("app"));
    }

    #[test]
    fn nested_property_and_index_access_errors() {
        assert!(ev_err("[parameters('obj').missing]").contains("no property 'missing'"));
        assert!(ev_err("[parameters('obj').inner.list[3]]").contains("index 3 is out of range"));
        assert!(ev_err("[parameters('name').x]").contains("cannot read property 'x' of a string"));
    }

    #[test]
    fn if_is_lazy() {
        // The untaken branch reads a missing property; it must not be evaluated.
        assert_eq!(ev("[if(equals(parameters('count'), 3), 'yes', parameters('obj').missing)]"), json!("yes"));
        assert_eq!(ev("[if(contains(parameters('routes')[1], 'nextHopIpAddress'), parameters('routes')[1].nextHopIpAddress, null())]"), Value::Null);
        assert_eq!(ev("[or(true(), parameters('nope'))]"), json!(true));
    }

    #[test]
    fn reference_and_list_placeholders() {
        assert_eq!(ev("[reference(resourceId('Microsoft.Network/virtualNetworks', 'vnet1'), '2020-06-01').subnets[0].id]"), json!("SUBNET-A-ID"));
        assert_eq!(ev("[reference('appi').InstrumentationKey]"), json!("<runtime:InstrumentationKey>"));
        assert_eq!(ev("[reference('appi').a.b]"), json!("<runtime:b>"));
        // An index names what it indexes, so a warning quoting it says which value.
        assert_eq!(ev("[reference('appi').privateIPAddresses[0]]"), json!("<runtime:privateIPAddresses[0]>"));
        assert_eq!(ev("[reference('appi').a[1][2]]"), json!("<runtime:a[1][2]>"));
        assert_eq!(ev("[listKeys('x', '2022-01-01').keys[0].value]"), json!("<listKeys placeholder>"));
        assert_eq!(ev("[listKeys('x', '2022-01-01').primaryKey]"), json!("<runtime:primaryKey>"));
    }

    #[test]
    fn copy_index_uses_active_loops() {
        let e = env();
        let frames = [
            CopyFrame { name: Some("vms".into()), index: 2, answers_unnamed: true },
            CopyFrame { name: Some("routes".into()), index: 5, answers_unnamed: false },
        ];
        let mut x = Evaluator::new(&e, &frames);
        assert_eq!(x.eval_string("[copyIndex()]").ok(), Some(json!(2)));
        assert_eq!(x.eval_string("[copyIndex(10)]").ok(), Some(json!(12)));
        assert_eq!(x.eval_string("[copyIndex('ROUTES')]").ok(), Some(json!(5)));
        assert_eq!(x.eval_string("[copyIndex('routes', 1)]").ok(), Some(json!(6)));
        assert!(ev_err("[copyIndex()]").contains("outside a copy loop"));
    }

    #[test]
    fn lambdas() {
        assert_eq!(ev("[filter(createArray(1, 2, 3, 4), lambda('x', greater(lambdaVariables('x'), 2)))]"), json!([3, 4]));
        assert_eq!(ev("[map(parameters('routes'), lambda('r', lambdaVariables('r').name))]"), json!(["r1", "r2"]));
        assert_eq!(ev("[reduce(createArray(1, 2, 3), 10, lambda('acc', 'x', add(lambdaVariables('acc'), lambdaVariables('x'))))]"), json!(16));
        assert_eq!(ev("[sort(createArray(3, 1, 2), lambda('a', 'b', less(lambdaVariables('a'), lambdaVariables('b'))))]"), json!([1, 2, 3]));
        assert_eq!(ev("[toObject(parameters('routes'), lambda('r', lambdaVariables('r').name)).r2.name]"), json!("r2"));
    }

    #[test]
    fn user_defined_functions() {
        assert_eq!(ev("[ns.greet('you')]"), json!("hi you"));
        assert!(ev_err("[ns.other(1)]").contains("unknown user-defined function 'ns.other'"));
    }
}
