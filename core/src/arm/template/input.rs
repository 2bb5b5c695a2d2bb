//! What comes from outside the template: JSON text, ARM parameters files,
//! `-p name=value` assignments and parameter value objects.

use super::names::child_path;
use crate::arm::expr;
use crate::arm::jsonc::to_strict_json;
use crate::error::LoadError;
use serde_json::Value;

/// Parses JSON text in ARM's dialect (comments, line breaks inside strings:
/// see `arm::jsonc`); a syntax error names the line and column of the
/// original text and what the parser expected. A UTF-8 byte order mark is
/// accepted.
pub fn parse_json(text: &str, file: &str) -> Result<Value, LoadError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let strict = to_strict_json(text).map_err(|m| LoadError::new(file, "", format!("invalid JSON: {m}")))?;
    serde_json::from_str(&strict).map_err(|e| {
        let msg = e.to_string();
        let msg = match msg.rfind(" at line ") {
            Some(i) => msg[..i].to_string(),
            None => msg,
        };
        LoadError::new(file, "", format!("invalid JSON at line {}, column {}: {msg}", e.line(), e.column()))
    })
}

/// `-p name=value`: the value is JSON if it parses as JSON, else a string.
pub fn parse_param_assignment(s: &str) -> Result<(String, Value), String> {
    let (name, value) = s.split_once('=').ok_or_else(|| format!("parameter assignment '{s}' must have the form name=value"))?;
    let name = name.trim();
    if name.is_empty() {
        return Err(format!("parameter assignment '{s}' has an empty name"));
    }
    let v = serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_string()));
    Ok((name.to_string(), v))
}

/// An ARM parameters file: `{"$schema": ..., "parameters": {"name": {"value": ...}}}`.
pub fn read_parameters_file(text: &str, file: &str) -> Result<Vec<(String, Value)>, LoadError> {
    let v = parse_json(text, file)?;
    let Some(obj) = v.as_object() else {
        return Err(LoadError::new(file, "$", "a parameters file must be a JSON object with a 'parameters' key"));
    };
    match obj.get("parameters") {
        Some(p @ Value::Object(_)) => parameter_values_from_object(p, file, "$.parameters"),
        Some(_) => Err(LoadError::new(file, "$.parameters", "'parameters' must be an object")),
        None => Err(LoadError::new(file, "$", "a parameters file needs a 'parameters' object ({\"name\": {\"value\": ...}})")),
    }
}

/// Parameter values given as `{"name": value}` or `{"name": {"value": value}}`
/// (both forms may be mixed). A Key Vault `reference` is unsupported.
pub fn parameter_values_from_object(v: &Value, file: &str, path: &str) -> Result<Vec<(String, Value)>, LoadError> {
    let Some(obj) = v.as_object() else {
        return Err(LoadError::new(file, path, format!("parameter values must be an object but are {}", expr::kind(v))));
    };
    let mut out = Vec::new();
    for (name, val) in obj {
        let p = child_path(path, name);
        let value = match val {
            Value::Object(o) if o.contains_key("reference") => {
                return Err(LoadError::new(file, p, "unsupported: a Key Vault reference cannot be resolved offline; give the value instead"))
            }
            Value::Object(o) if o.len() == 1 && o.contains_key("value") => o["value"].clone(),
            Value::Object(o) if o.contains_key("value") && o.keys().all(|k| k == "value" || k == "metadata") => o["value"].clone(),
            other => other.clone(),
        };
        out.push((name.clone(), value));
    }
    Ok(out)
}
