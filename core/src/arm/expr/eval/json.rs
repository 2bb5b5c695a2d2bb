//! Evaluation of a JSON tree inside an expression: a user-defined
//! function's `output.value` may be an object or array whose strings (and
//! keys) are expressions over the function's parameters. Nulls are kept, as
//! in any value; property `copy` is a template construct (`template::scope`)
//! that function outputs do not have.

use super::super::budget::descend;
use super::super::error::{EvalError, R};
use super::super::parse::{is_expression, unescape_literal};
use super::super::values::stringify;
use super::Evaluator;
use serde_json::{Map, Value};

impl Evaluator<'_> {
    /// Evaluates every expression in `v`, object keys included; every level
    /// counts towards the evaluation depth.
    pub(super) fn eval_json(&mut self, v: &Value) -> R<Value> {
        let _level = descend().map_err(EvalError::Here)?;
        match v {
            Value::String(s) => self.eval_string(s),
            Value::Array(items) => items.iter().map(|it| self.eval_json(it)).collect::<R<_>>().map(Value::Array),
            Value::Object(o) => {
                let mut out = Map::new();
                for (k, val) in o {
                    let key = if is_expression(k) { stringify(&self.eval_string(k)?) } else { unescape_literal(k).to_string() };
                    out.insert(key, self.eval_json(val)?);
                }
                Ok(Value::Object(out))
            }
            other => Ok(other.clone()),
        }
    }
}
