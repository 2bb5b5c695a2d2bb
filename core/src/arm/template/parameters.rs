//! Template parameters: declared types, user values or defaults, and
//! `allowedValues` / min / max constraints. Resolved eagerly, as in ARM.

use super::names::{child_path, obj_get};
use super::scope::Scope;
use crate::arm::expr;
use crate::error::LoadError;
use serde_json::{Map, Value};

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
        // A null value (Bicep passes `{"value": null}` for an absent
        // optional module parameter) means "not given": the default if
        // there is one, else null.
        let given = self.user_values.get(&key).filter(|(v, _)| !v.is_null());
        let null_given = self.user_values.get(&key).is_some_and(|(v, _)| v.is_null());
        let value = if let Some((v, source)) = given {
            convert_param(&ptype, v).map_err(|m| self.err(&path, format!("value given in {source}: {m}")))?
        } else if let Some(d) = obj_get(p.decl, "defaultValue") {
            self.enter(format!("parameter '{}'", p.name), &path)?;
            let v = self.eval_value(d, &format!("{path}.defaultValue"), &[]);
            self.leave();
            convert_param(&ptype, &v?).map_err(|m| self.err(format!("{path}.defaultValue"), m))?
        } else if null_given || matches!(obj_get(p.decl, "nullable"), Some(Value::Bool(true))) {
            Value::Null
        } else {
            return Err(
                self.err(&path, format!("parameter '{}' has no value and no defaultValue; give one with -p {}=VALUE or a parameters file", p.name, p.name))
            );
        };
        if !value.is_null() {
            self.check_constraints(p.decl, &value, &path)?;
        }
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
