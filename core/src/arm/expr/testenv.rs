//! A fixed evaluation environment for the expression language's unit tests:
//! parameters and variables from JSON objects, one resource (`vnet1`) that
//! `reference()` can see and one user-defined function (`ns.greet`).

use super::error::{EvalError, R};
use super::eval::{Env, Evaluator, UserFunction};
use super::values::lookup;
use crate::arm::deploy::DeployContext;
use serde_json::{json, Value};

/// A fixed environment: parameters and variables from JSON objects, and
/// one resource (`vnet1`) that `reference()` can see.
pub(super) struct TestEnv {
    ctx: DeployContext,
    params: Value,
    vars: Value,
}

impl Env for TestEnv {
    fn ctx(&self) -> &DeployContext {
        &self.ctx
    }
    fn parameter(&self, name: &str) -> R<Value> {
        self.params.as_object().and_then(|o| lookup(o, name)).cloned().ok_or_else(|| EvalError::Here(format!("no parameter {name}")))
    }
    fn variable(&self, name: &str) -> R<Value> {
        self.vars.as_object().and_then(|o| lookup(o, name)).cloned().ok_or_else(|| EvalError::Here(format!("no variable {name}")))
    }
    fn reference(&self, target: &str, _full: bool) -> R<Value> {
        if target.ends_with("/vnet1") {
            Ok(json!({"subnets": [{"name": "a", "id": "SUBNET-A-ID"}]}))
        } else {
            Ok(json!({}))
        }
    }
    fn user_function(&self, q: &str) -> Option<UserFunction> {
        (q.eq_ignore_ascii_case("ns.greet")).then(|| UserFunction { params: vec!["who".into()], output: json!("[concat('hi ', parameters('who'))]") })
    }
}

pub(super) fn env() -> TestEnv {
    TestEnv {
        ctx: DeployContext::default(),
        params: json!({"name": "App", "count": 3, "flag": true, "obj": {"Inner": {"list": [10, 20, 30]}}, "routes": [{"name": "r1", "nextHopIpAddress": "10.0.0.4"}, {"name": "r2"}]}),
        vars: json!({"prefix": "10.0.0.0/16"}),
    }
}

pub(super) fn ev(s: &str) -> Value {
    let e = env();
    let mut x = Evaluator::new(&e, &[]);
    match x.eval_string(s) {
        Ok(v) => v,
        Err(EvalError::Here(m)) => panic!("{s}: {m}"),
        Err(EvalError::At(l)) => panic!("{s}: {l}"),
    }
}

pub(super) fn ev_err(s: &str) -> String {
    let e = env();
    let mut x = Evaluator::new(&e, &[]);
    match x.eval_string(s) {
        Ok(v) => panic!("{s} unexpectedly gave {v}"),
        Err(e) => e.locate("f.json", "$.x", s).to_string(),
    }
}
