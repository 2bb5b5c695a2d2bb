//! Property and index access on evaluated values (`a.b`, `a[0]`), and
//! the values that carry whether they came from a runtime-only source
//! (`reference()`, `list*()`, `deployment()`): a part such a value lacks is
//! a `<runtime:NAME>` placeholder, and a part of an unknown value
//! (`unknown`) is unknown, instead of an error.

use super::error::{err, R};
use super::unknown;
use super::values::{kind, lookup, stringify};
use serde_json::Value;

/// A value together with whether it came from a runtime-only source.
#[derive(Debug, Clone)]
pub(super) struct Val {
    pub(super) v: Value,
    pub(super) runtime: bool,
}

pub(super) fn plain(v: Value) -> R<Val> {
    Ok(Val { v, runtime: false })
}

pub(super) fn runtime_placeholder(name: &str) -> R<Val> {
    unknown_val(unknown::marker(name, None))
}

pub(super) fn unknown_val(m: String) -> R<Val> {
    Ok(Val { v: Value::String(m), runtime: true })
}

pub(super) fn member(b: Val, name: &str) -> R<Val> {
    // A part of an unknown value is unknown, and reads the same resource.
    if let Some(m) = b.v.as_str().and_then(unknown::find) {
        return unknown_val(unknown::derive(m, name));
    }
    match &b.v {
        Value::Object(o) => match lookup(o, name) {
            Some(v) => Ok(Val { v: v.clone(), runtime: b.runtime }),
            None if b.runtime => runtime_placeholder(name),
            None => {
                let keys: Vec<&str> = o.keys().map(|k| k.as_str()).take(12).collect();
                err(format!("the object has no property '{name}' (it has: {})", keys.join(", ")))
            }
        },
        _ if b.runtime => runtime_placeholder(name),
        v => err(format!("cannot read property '{name}' of {}", kind(v))),
    }
}

pub(super) fn index(b: Val, i: &Value) -> R<Val> {
    // An unknown index gives an unknown element: `[?]`, as its marker's
    // text must not nest inside another marker.
    let unknown_index = i.as_str().and_then(unknown::find);
    let at = if unknown_index.is_some() { "[?]".to_string() } else { format!("[{}]", stringify(i)) };
    if let Some(m) = b.v.as_str().and_then(unknown::find) {
        return unknown_val(unknown::derive(m, &at));
    }
    if let Some(m) = unknown_index {
        return unknown_val(unknown::marker(&at, unknown::source(m)));
    }
    match (&b.v, i) {
        (Value::Array(x), Value::Number(n)) => {
            let Some(k) = n.as_i64() else { return err(format!("array index {n} is not an integer")) };
            match usize::try_from(k).ok().and_then(|k| x.get(k)) {
                Some(v) => Ok(Val { v: v.clone(), runtime: b.runtime }),
                None if b.runtime => runtime_placeholder(&format!("[{k}]")),
                None => err(format!("array index {k} is out of range (the array has {} elements)", x.len())),
            }
        }
        (Value::Object(_), Value::String(k)) => member(b, k),
        _ if b.runtime => runtime_placeholder(&stringify(i)),
        (v, i) => err(format!("cannot index {} with {}", kind(v), kind(i))),
    }
}
