//! A JSON value together with where it is, so that every complaint about
//! the input names the file and the JSON path. Property names compare
//! case-insensitively, as ARM does.

use crate::error::LoadError;
use serde_json::{Map, Value};

#[derive(Clone)]
pub struct At<'a> {
    pub v: &'a Value,
    pub file: &'a str,
    path: String,
}

fn lookup<'v>(m: &'v Map<String, Value>, key: &str) -> Option<(&'v str, &'v Value)> {
    if let Some((k, v)) = m.get_key_value(key) {
        return Some((k.as_str(), v));
    }
    m.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(k, v)| (k.as_str(), v))
}

impl<'a> At<'a> {
    pub fn root(v: &'a Value, file: &'a str, path: &'a str) -> Self {
        At { v, file, path: path.to_string() }
    }

    pub fn path(&self) -> String {
        self.path.clone()
    }

    pub fn err(&self, msg: impl Into<String>) -> LoadError {
        LoadError::new(self.file, self.path(), msg)
    }

    /// Calls `f` with the child at `key`, if present and not null.
    pub fn with<T>(&self, key: &str, f: impl FnOnce(At<'a>) -> T) -> Option<T> {
        let m = self.v.as_object()?;
        let (k, v) = lookup(m, key)?;
        if v.is_null() {
            return None;
        }
        Some(f(At { v, file: self.file, path: format!("{}.{}", self.path, k) }))
    }

    pub fn has(&self, key: &str) -> bool {
        self.raw(key).is_some()
    }

    pub fn raw(&self, key: &str) -> Option<&'a Value> {
        let m = self.v.as_object()?;
        lookup(m, key).map(|(_, v)| v).filter(|v| !v.is_null())
    }

    pub fn opt_str(&self, key: &str) -> Result<Option<&'a str>, LoadError> {
        match self.raw(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(other) => Err(self.child_err(key, format!("expected a string, found {}", kind(other)))),
        }
    }

    pub fn str(&self, key: &str) -> Result<&'a str, LoadError> {
        self.opt_str(key)?.ok_or_else(|| self.err(format!("missing required property '{key}'")))
    }

    /// Booleans as ARM accepts them: `true`, or the strings "true"/"false".
    pub fn opt_bool(&self, key: &str) -> Result<Option<bool>, LoadError> {
        match self.raw(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(other) => Err(self.child_err(key, format!("expected true or false, found {}", kind(other)))),
        }
    }

    pub fn opt_u64(&self, key: &str) -> Result<Option<u64>, LoadError> {
        match self.raw(key) {
            None => Ok(None),
            Some(Value::Number(n)) if n.as_u64().is_some() => Ok(n.as_u64()),
            Some(Value::String(s)) if s.trim().parse::<u64>().is_ok() => Ok(s.trim().parse().ok()),
            Some(other) => Err(self.child_err(key, format!("expected a non-negative integer, found {}", kind(other)))),
        }
    }

    /// The elements of an array property (absent = empty).
    pub fn each(&self, key: &str, mut f: impl FnMut(At<'a>) -> Result<(), LoadError>) -> Result<(), LoadError> {
        let Some(m) = self.v.as_object() else { return Ok(()) };
        let Some((k, v)) = lookup(m, key) else { return Ok(()) };
        let path = format!("{}.{}", self.path, k);
        match v {
            Value::Null => Ok(()),
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    f(At { v: item, file: self.file, path: format!("{path}[{i}]") })?;
                }
                Ok(())
            }
            other => Err(LoadError::new(self.file, path, format!("expected an array, found {}", kind(other)))),
        }
    }

    /// A list of strings given as an array property.
    pub fn str_list(&self, key: &str) -> Result<Vec<String>, LoadError> {
        let mut out = Vec::new();
        self.each(key, |item| match item.v {
            Value::String(s) => {
                out.push(s.clone());
                Ok(())
            }
            other => Err(item.err(format!("expected a string, found {}", kind(other)))),
        })?;
        Ok(out)
    }

    /// The `id` inside a `{ "id": ... }` reference property.
    pub fn ref_id(&self, key: &str) -> Result<Option<&'a str>, LoadError> {
        match self.raw(key) {
            None => Ok(None),
            Some(Value::Object(m)) => match lookup(m, "id") {
                Some((_, Value::String(s))) => Ok(Some(s.as_str())),
                _ => Err(self.child_err(key, "expected a reference object {\"id\": \"...\"}")),
            },
            Some(other) => Err(self.child_err(key, format!("expected a reference object {{\"id\": ...}}, found {}", kind(other)))),
        }
    }

    fn child_err(&self, key: &str, msg: impl Into<String>) -> LoadError {
        LoadError::new(self.file, format!("{}.{}", self.path(), key), msg)
    }
}

pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
