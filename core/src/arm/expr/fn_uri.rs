//! URI functions of the template language: `parseUri` and `buildUri` (the
//! parts .NET's `Uri` and `UriBuilder` give: scheme, host, port, path,
//! query), and `dataUri` / `dataUriToString` (RFC 2397 data URIs, base64,
//! as ARM writes them: `data:text/plain;charset=utf8;base64,...` for a
//! string, `application/json` for any other value).
//! A leaf of `expr`: imports only `error`, `values` and `text`.

use super::error::{err, EvalError, R};
use super::text::{base64_decode, base64_encode, percent_decode};
use super::values::{arity, int_of, kind, lookup, str_arg, stringify};
use serde_json::{json, Value};

/// Calls the function `lname` of this family.
pub(super) fn call(name: &str, lname: &str, a: &[Value]) -> R<Value> {
    match lname {
        "parseuri" => parse_uri(name, a),
        "builduri" => build_uri(name, a),
        "datauri" => data_uri(name, a),
        "datauritostring" => data_uri_to_string(name, a),
        _ => err(format!("unsupported template function '{name}'")),
    }
}

fn default_port(scheme: &str) -> Option<i64> {
    match scheme {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        "ftp" => Some(21),
        _ => None,
    }
}

fn parse_uri(name: &str, a: &[Value]) -> R<Value> {
    arity(name, a.len(), 1, 1)?;
    let s = str_arg(name, a, 0)?.trim();
    let bad = || EvalError::Here(format!("{name}(): '{s}' is not an absolute URI"));
    let (scheme, rest) = s.split_once("://").ok_or_else(bad)?;
    if scheme.is_empty() || !scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) {
        return Err(bad());
    }
    let scheme = scheme.to_ascii_lowercase();
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = match host_port.rsplit_once(':') {
        Some((h, p)) if !p.contains(']') => {
            let p: u16 = p.parse().map_err(|_| bad())?;
            (h, Some(p as i64))
        }
        _ => (host_port, default_port(&scheme)),
    };
    if host.is_empty() {
        return Err(bad());
    }
    let tail = tail.split('#').next().unwrap_or("");
    let (path, query) = match tail.find('?') {
        Some(i) => (&tail[..i], &tail[i..]),
        None => (tail, ""),
    };
    let path = if path.is_empty() { "/" } else { path };
    Ok(json!({
        "scheme": scheme,
        "host": host.to_ascii_lowercase(),
        "port": port.map_or(Value::Null, Value::from),
        "path": path,
        "query": query
    }))
}

fn build_uri(name: &str, a: &[Value]) -> R<Value> {
    arity(name, a.len(), 1, 1)?;
    let Value::Object(o) = &a[0] else { return err(format!("function '{name}' expects an object (scheme, host, port, path, query) but got {}", kind(&a[0]))) };
    let part = |k: &str| lookup(o, k).filter(|v| !v.is_null()).map(stringify).unwrap_or_default();
    let scheme = part("scheme").to_ascii_lowercase();
    let host = part("host");
    if scheme.is_empty() || host.is_empty() {
        return err(format!("function '{name}' needs at least a scheme and a host"));
    }
    let mut out = format!("{scheme}://{host}");
    if let Some(p) = lookup(o, "port").filter(|v| !v.is_null()) {
        let p = int_of(name, p)?;
        if !(-1..=65535).contains(&p) {
            return err(format!("{name}(): port {p} is out of range"));
        }
        if p >= 0 && Some(p) != default_port(&scheme) {
            out.push_str(&format!(":{p}"));
        }
    }
    let path = part("path");
    if !path.starts_with('/') {
        out.push('/');
    }
    out.push_str(&path);
    let query = part("query");
    if !query.is_empty() {
        if !query.starts_with('?') {
            out.push('?');
        }
        out.push_str(&query);
    }
    Ok(Value::String(out))
}

fn data_uri(name: &str, a: &[Value]) -> R<Value> {
    arity(name, a.len(), 1, 1)?;
    // A string is text; any other value is written as its JSON, and Azure
    // labels it so.
    let mime = if a[0].is_string() { "text/plain" } else { "application/json" };
    let s = stringify(&a[0]);
    Ok(Value::String(format!("data:{mime};charset=utf8;base64,{}", base64_encode(s.as_bytes()))))
}

fn data_uri_to_string(name: &str, a: &[Value]) -> R<Value> {
    arity(name, a.len(), 1, 1)?;
    let s = str_arg(name, a, 0)?.trim();
    let bad = || EvalError::Here(format!("{name}(): '{s}' is not a data URI (data:[type][;base64],data)"));
    let rest = s.strip_prefix("data:").ok_or_else(bad)?;
    let (meta, data) = rest.split_once(',').ok_or_else(bad)?;
    let bytes =
        if meta.split(';').any(|p| p.eq_ignore_ascii_case("base64")) { base64_decode(data).ok_or_else(bad)? } else { percent_decode(data).into_bytes() };
    String::from_utf8(bytes).map(Value::String).map_err(|_| EvalError::Here(format!("{name}(): the data is not UTF-8 text")))
}
