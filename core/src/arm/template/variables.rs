//! Template variables, including variable-level `copy`; evaluated lazily
//! with cycle detection.

use super::names::{child_path, obj_get};
use super::scope::Scope;
use crate::arm::expr::CopyFrame;
use crate::error::LoadError;
use serde_json::{Map, Value};

impl Scope<'_> {
    pub(super) fn variable_value(&self, name: &str) -> Result<Value, LoadError> {
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
            let v = self.eval_value(raw, &path, &[]);
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
            items.push(self.eval_value(input, &format!("{path}.input (copy {idx})"), &frames)?);
        }
        Ok(Value::Array(items))
    }
}
