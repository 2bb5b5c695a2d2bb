//! `listOutputsWithSecureValues(deployment, apiVersion)`: how compiled
//! Bicep reads a module's `@secure()` outputs (and, in older Bicep, every
//! output of a module that has one). It gives the outputs as a flat
//! `{name: value}` object; offline the secure values are known like any
//! other, from the nested deployment in the template. A deployment outside
//! the template gives an empty object, whose properties are runtime
//! placeholders.

use super::super::error::R;
use super::super::values::{arity, str_arg};
use super::Evaluator;
use serde_json::{Map, Value};

impl Evaluator<'_> {
    pub(super) fn secure_outputs(&mut self, name: &str, a: &[Value]) -> R<Value> {
        arity(name, a.len(), 1, 2)?;
        let target = str_arg(name, a, 0)?;
        let state = self.env.reference(target, false)?;
        let mut out = Map::new();
        if let Some(Value::Object(outputs)) = state.get("outputs") {
            for (k, o) in outputs {
                out.insert(k.clone(), o.get("value").cloned().unwrap_or(Value::Null));
            }
        }
        Ok(Value::Object(out))
    }
}
