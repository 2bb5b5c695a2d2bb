//! JSON value helpers shared by the evaluator and the function library:
//! type names for messages, ARM's conversion of values to text and to
//! integers and bools, deep equality, case-insensitive property lookup and
//! argument checks.

use super::error::{err, EvalError, R};
use serde_json::{Map, Value};
use std::collections::HashSet;

/// ARM property lookups are case-insensitive; an exact match wins.
pub fn lookup<'m>(o: &'m Map<String, Value>, key: &str) -> Option<&'m Value> {
    o.get(key).or_else(|| o.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v))
}

/// A name for a JSON value's type, for error messages.
pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// How ARM turns a value into text (`string()`, `format`, `concat`):
/// bools are `True`/`False` as in .NET, objects and arrays compact JSON.
pub fn stringify(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub(super) fn arity(name: &str, got: usize, min: usize, max: usize) -> R<()> {
    if got < min || got > max {
        let want = if min == max {
            format!("{min}")
        } else if max == usize::MAX {
            format!("at least {min}")
        } else {
            format!("{min} to {max}")
        };
        return err(format!("function '{name}' expects {want} argument(s) but got {got}"));
    }
    Ok(())
}

pub(super) fn str_arg<'v>(name: &str, a: &'v [Value], i: usize) -> R<&'v str> {
    match a.get(i) {
        Some(Value::String(s)) => Ok(s),
        Some(v) => err(format!("argument {} of '{name}' must be a string but is {}", i + 1, kind(v))),
        None => err(format!("function '{name}' is missing argument {}", i + 1)),
    }
}

pub(super) fn int_of(name: &str, v: &Value) -> R<i64> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.is_finite() && f.abs() < 9.0e18).map(|f| f as i64))
            .ok_or_else(|| EvalError::Here(format!("'{name}': {n} is not an integer"))),
        Value::String(s) => s.trim().parse::<i64>().map_err(|_| EvalError::Here(format!("'{name}': '{s}' is not an integer"))),
        v => err(format!("'{name}' expects an integer but got {}", kind(v))),
    }
}

pub(super) fn to_bool(name: &str, v: &Value) -> R<bool> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(false),
        v => err(format!("'{name}' expects a bool but got {}", kind(v))),
    }
}

/// Deep equality; integers and floats of equal value are equal.
pub fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_eq(p, q)),
        (Value::Object(x), Value::Object(y)) => x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w))),
        _ => a == b,
    }
}

/// `union` of arrays: each distinct element once, in first-seen order.
/// Duplicates are found by a canonical key: linear, not quadratic.
pub(super) fn union_arrays(arrays: &[&[Value]]) -> Vec<Value> {
    let mut seen = HashSet::new();
    arrays.iter().flat_map(|x| x.iter()).filter(|e| seen.insert(canonical_key(e))).cloned().collect()
}

/// `intersection` of arrays: the distinct elements of `first` found in
/// every one of `others`.
pub(super) fn intersect_arrays(first: &[Value], others: &[&[Value]]) -> Vec<Value> {
    let sets: Vec<HashSet<String>> = others.iter().map(|x| x.iter().map(canonical_key).collect()).collect();
    let mut seen = HashSet::new();
    first
        .iter()
        .filter(|e| {
            let k = canonical_key(e);
            sets.iter().all(|s| s.contains(&k)) && seen.insert(k)
        })
        .cloned()
        .collect()
}

/// A text that two values share exactly when `json_eq` holds between them
/// (numbers by value, object keys in any order), so duplicates can be found
/// with a hash set.
pub(super) fn canonical_key(v: &Value) -> String {
    let mut out = String::new();
    write_key(v, &mut out);
    out
}

fn write_key(v: &Value, out: &mut String) {
    match v {
        Value::Number(n) => {
            let f = n.as_f64().unwrap_or(0.0);
            // -0.0 == 0.0, as `json_eq` compares them.
            out.push_str(&format!("n{:?};", if f == 0.0 { 0.0 } else { f }));
        }
        Value::Array(items) => {
            out.push('[');
            for x in items {
                write_key(x, out);
            }
            out.push(']');
        }
        Value::Object(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            out.push('{');
            for k in keys {
                out.push_str(&Value::String(k.clone()).to_string());
                write_key(&o[k], out);
            }
            out.push('}');
        }
        other => {
            out.push_str(&other.to_string());
            out.push(';');
        }
    }
}
