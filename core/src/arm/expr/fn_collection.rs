//! Collection and conversion functions added to the library: `indexOf` and
//! `lastIndexOf` on arrays (deep equality), `indexFromEnd` and
//! `tryIndexFromEnd` (what Bicep emits for `arr[^1]`), `float`, `fail`
//! (an error carrying the template's own message) and `json` (which, like
//! ARM's Newtonsoft reader, also takes single-quoted strings:
//! `json('{''a'': 1}')`). A leaf of `expr`: imports only `error` and `values`.

use super::error::{err, EvalError, R};
use super::values::{arity, int_of, json_eq, kind, str_arg, stringify};
use serde_json::Value;

/// Calls the function `lname` of this family.
pub(super) fn call(name: &str, lname: &str, a: &[Value]) -> R<Value> {
    match lname {
        "indexof" | "lastindexof" => {
            arity(name, a.len(), 2, 2)?;
            let Value::Array(x) = &a[0] else { return err(format!("function '{name}' expects a string or an array but got {}", kind(&a[0]))) };
            let pos = if lname == "indexof" { x.iter().position(|e| json_eq(e, &a[1])) } else { x.iter().rposition(|e| json_eq(e, &a[1])) };
            Ok(Value::from(pos.map_or(-1, |p| p as i64)))
        }
        "indexfromend" | "tryindexfromend" => {
            arity(name, a.len(), 2, 2)?;
            let Value::Array(x) = &a[0] else { return err(format!("function '{name}' expects an array but got {}", kind(&a[0]))) };
            let k = int_of(name, &a[1])?;
            let len = x.len() as i64;
            if (1..=len).contains(&k) {
                return Ok(x[(len - k) as usize].clone());
            }
            if lname == "tryindexfromend" {
                return Ok(Value::Null);
            }
            err(format!("{name}(): index {k} from the end is out of range for an array of length {len} (it must be between 1 and the length)"))
        }
        "float" => {
            arity(name, a.len(), 1, 1)?;
            let f = match &a[0] {
                Value::Number(n) => return Ok(Value::Number(n.clone())),
                Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
                v => return err(format!("function '{name}' expects a number or a numeric string but got {}", kind(v))),
            };
            let f = f.ok_or_else(|| EvalError::Here(format!("{name}(): '{}' is not a number", stringify(&a[0]))))?;
            Ok(serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number))
        }
        "fail" => {
            arity(name, a.len(), 1, 1)?;
            err(format!("the template failed: {}", stringify(&a[0])))
        }
        "json" => {
            arity(name, a.len(), 1, 1)?;
            let s = str_arg(name, a, 0)?;
            match serde_json::from_str(s) {
                Ok(v) => Ok(v),
                Err(e) => {
                    serde_json::from_str(&single_to_double_quotes(s)).map_err(|_| EvalError::Here(format!("json(): the argument is not valid JSON: {e}")))
                }
            }
        }
        _ => err(format!("unsupported template function '{name}'")),
    }
}

/// Rewrites single-quoted JSON strings as double-quoted ones, leaving
/// double-quoted strings as they are.
fn single_to_double_quotes(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let mut it = s.chars();
    let mut quote: Option<char> = None;
    while let Some(c) = it.next() {
        match (quote, c) {
            (None, '\'') => {
                quote = Some('\'');
                out.push('"');
            }
            (None, '"') => {
                quote = Some('"');
                out.push('"');
            }
            (Some(q), '\\') => match it.next() {
                Some('\'') if q == '\'' => out.push('\''),
                Some(n) => {
                    out.push('\\');
                    out.push(n);
                }
                None => out.push('\\'),
            },
            (Some('\''), '"') => out.push_str("\\\""),
            (Some(q), c) if c == q => {
                quote = None;
                out.push('"');
            }
            (_, c) => out.push(c),
        }
    }
    out
}
