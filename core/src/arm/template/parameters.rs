//! Template parameters: declared types (see `types`), user values or
//! defaults, and null for a nullable type. Resolved eagerly, as in ARM.

use super::names::{child_path, obj_get};
use super::scope::Scope;
use crate::arm::expr;
use crate::error::LoadError;
use serde_json::Value;

impl Scope<'_> {
    pub(super) fn resolve_all_parameters(&self) -> Result<(), LoadError> {
        for p in &self.params {
            self.parameter_value(&p.name)?;
        }
        Ok(())
    }

    pub(super) fn parameter_value(&self, name: &str) -> Result<Value, LoadError> {
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
        let chain = self.definitions.resolve(p.decl).map_err(|m| self.err(&path, m))?;
        let ptype = match (chain.type_name(), obj_get(p.decl, "type")) {
            (Some(t), _) => t,
            (None, Some(_)) => return Err(self.err(&path, "the parameter declaration has no string 'type'")),
            (None, None) => return Err(self.err(&path, "the parameter declaration has no 'type' (or '$ref' to a definition with one)")),
        };
        if !["string", "securestring", "int", "bool", "object", "secureobject", "array", "any"].contains(&ptype.as_str()) {
            return Err(self.err(
                format!("{path}.type"),
                format!("unknown parameter type '{ptype}' (expected string, securestring, int, bool, object, secureObject or array)"),
            ));
        }
        // A null value (Bicep passes `{"value": null}` for an absent
        // optional module parameter) means "not given": the default if
        // there is one, else null if the type is nullable. ARM refuses a
        // null for any other parameter.
        let given = self.user_values.get(&key).filter(|(v, _)| !v.is_null());
        let null_given = self.user_values.get(&key).filter(|(v, _)| v.is_null());
        let (value, at) = if let Some((v, source)) = given {
            (convert_param(&ptype, v).map_err(|m| self.err(&path, format!("value given in {source}: {m}")))?, path.clone())
        } else if let Some(d) = obj_get(p.decl, "defaultValue") {
            let dpath = format!("{path}.defaultValue");
            self.enter(format!("parameter '{}'", p.name), &path)?;
            let v = self.eval_value(d, &dpath, &[]);
            self.leave();
            match v? {
                Value::Null if chain.nullable() => (Value::Null, dpath),
                v => (convert_param(&ptype, &v).map_err(|m| self.err(&dpath, m))?, dpath),
            }
        } else if chain.nullable() {
            (Value::Null, path.clone())
        } else {
            return Err(self.err(&path, self.missing_value(&p.name, null_given.map(|(_, s)| s.as_str()))));
        };
        if !value.is_null() {
            self.definitions.check(&chain, &value, &p.name).map_err(|m| self.err(&at, m))?;
        }
        self.param_cache.borrow_mut().insert(key, value.clone());
        Ok(value)
    }

    /// Why a required parameter has no value, and how to give it: `-p` only
    /// reaches the top-level template; a module's parameter comes from its
    /// parent's `properties.parameters`.
    fn missing_value(&self, name: &str, null_from: Option<&str>) -> String {
        let Some(m) = &self.module else {
            return match null_from {
                Some(source) => format!(
                    "parameter '{name}' is null (given in {source}) but its type is not nullable and it has no defaultValue; give a value with -p {name}=VALUE"
                ),
                None => format!("parameter '{name}' has no value and no defaultValue; give one with -p {name}=VALUE or a parameters file"),
            };
        };
        let module = format!("parameter '{name}' of nested deployment '{}' (the resource at {})", m.name, m.path);
        if null_from.is_none() {
            return format!(
                "{module} has no value and no defaultValue: the parent template must pass it in properties.parameters.{name} of the deployment (-p only sets the top-level template's parameters)"
            );
        }
        match m.from_parent.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)) {
            Some((_, parent)) if m.parent_is_top => {
                format!("{module} is null but not nullable: the parent passes parameters('{parent}'), which has no value; give one with -p {parent}=VALUE")
            }
            Some((_, parent)) => {
                format!("{module} is null but not nullable: the parent passes parameters('{parent}'), which has no value; its own parent must pass it")
            }
            None => format!("{module} is null but not nullable: the value the parent passes in properties.parameters.{name} is null"),
        }
    }
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
