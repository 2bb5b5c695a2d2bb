//! The library of built-in template functions that are plain functions of
//! their (already evaluated) arguments and the deployment context: strings,
//! collections, logic, numbers, conversions, resource ids, CIDR and the
//! deployment-context objects. Functions that need unevaluated arguments or
//! evaluator state live in `eval`.

use super::budget::check_len;
use super::cidr;
use super::error::{err, EvalError, R};
use super::ids::{names_of, resource_id_fn, type_name_path, IdScope, TENANT_ID};
use super::standins::{environment, guid_of, unique_string};
use super::text::{base64_decode, base64_encode, dotnet_format, percent_decode, percent_encode, split_multi, uri_combine};
use super::values::{arity, int_of, intersect_arrays, json_eq, kind, lookup, str_arg, stringify, to_bool, union_arrays};
use super::{fn_collection, fn_date, fn_roles, fn_scope, fn_uri};
use crate::arm::deploy::DeployContext;
use serde_json::{Map, Value};

/// Bound on `split`'s work: text length times delimiters.
const MAX_SPLIT_WORK: u64 = 200_000_000;

/// Calls the built-in `name` (`lname` is its lowercase spelling).
#[inline(never)]
pub(super) fn call(name: &str, lname: &str, a: &[Value], ctx: &DeployContext) -> R<Value> {
    let n = a.len();
    match lname {
        "resourceid" => resource_id_fn(name, a, ctx, IdScope::ResourceGroup),
        "subscriptionresourceid" => resource_id_fn(name, a, ctx, IdScope::Subscription),
        "tenantresourceid" => resource_id_fn(name, a, ctx, IdScope::Tenant),
        "extensionresourceid" => {
            if n < 3 {
                return err(format!("function '{name}' expects (resourceId, resourceType, name...)"));
            }
            let base = str_arg(name, a, 0)?.trim_end_matches('/').to_string();
            let t = str_arg(name, a, 1)?;
            let names = names_of(name, &a[2..])?;
            Ok(Value::String(format!("{base}/providers/{}", type_name_path(t, &names)?)))
        }
        "resourcegroup" => {
            arity(name, n, 0, 0)?;
            Ok(serde_json::json!({
                "id": format!("/subscriptions/{}/resourceGroups/{}", ctx.subscription_id, ctx.resource_group),
                "name": ctx.resource_group,
                "type": "Microsoft.Resources/resourceGroups",
                "location": ctx.location,
                "tags": {},
                "properties": {"provisioningState": "Succeeded"}
            }))
        }
        "subscription" => {
            arity(name, n, 0, 0)?;
            Ok(serde_json::json!({
                "id": format!("/subscriptions/{}", ctx.subscription_id),
                "subscriptionId": ctx.subscription_id,
                "tenantId": TENANT_ID,
                "displayName": "vnetlab"
            }))
        }
        "tenant" => {
            arity(name, n, 0, 0)?;
            Ok(serde_json::json!({
                "id": format!("/tenants/{TENANT_ID}"),
                "tenantId": TENANT_ID,
                "countryCode": "US",
                "displayName": "vnetlab"
            }))
        }
        "environment" => {
            arity(name, n, 0, 0)?;
            Ok(environment())
        }
        "format" => {
            if n < 1 {
                return err(format!("function '{name}' expects a format string"));
            }
            dotnet_format(str_arg(name, a, 0)?, &a[1..]).map(Value::String).map_err(EvalError::Here)
        }
        "concat" => {
            if n == 0 {
                return err(format!("function '{name}' expects at least 1 argument"));
            }
            // An array first makes it an array concatenation; Azure rejects
            // strings after it rather than joining text to an array's JSON.
            if a[0].is_array() && !a.iter().all(|v| v.is_array() || v.is_null()) {
                return err(format!("function '{name}' expects all arguments to be arrays when the first is an array"));
            }
            if a.iter().all(|v| v.is_array() || v.is_null()) {
                let mut out = Vec::new();
                for v in a {
                    if let Value::Array(x) = v {
                        out.extend(x.iter().cloned());
                    }
                }
                Ok(Value::Array(out))
            } else {
                Ok(Value::String(a.iter().map(stringify).collect()))
            }
        }
        "uniquestring" => {
            if n == 0 {
                return err(format!("function '{name}' expects at least 1 argument"));
            }
            let parts: Vec<String> = a.iter().map(stringify).collect();
            Ok(Value::String(unique_string(&parts.join("-"))))
        }
        "guid" => {
            if n == 0 {
                return err(format!("function '{name}' expects at least 1 argument"));
            }
            let parts: Vec<String> = a.iter().map(stringify).collect();
            Ok(Value::String(guid_of(&parts.join("-"))))
        }
        "newguid" => {
            arity(name, n, 0, 0)?;
            Ok(Value::String(guid_of("vnetlab-newGuid")))
        }
        "utcnow" => {
            arity(name, n, 0, 1)?;
            Ok(Value::String("20250101T000000Z".into()))
        }
        "datetimeadd" | "datetimefromepoch" | "datetimetoepoch" => fn_date::call(name, lname, a),
        "parseuri" | "builduri" | "datauri" | "datauritostring" => fn_uri::call(name, lname, a),
        "indexof" | "lastindexof" if a.first().is_some_and(Value::is_array) => fn_collection::call(name, lname, a),
        "indexfromend" | "tryindexfromend" | "float" | "fail" | "json" => fn_collection::call(name, lname, a),
        "managementgroup" | "managementgroupresourceid" | "deployer" | "providers" | "pickzones" => fn_scope::call(name, lname, a),
        "tophysicalzone" | "tophysicalzones" | "tologicalzone" | "tologicalzones" => fn_scope::call(name, lname, a),
        "roledefinitions" => fn_roles::call(name, a, ctx),
        "equals" => {
            arity(name, n, 2, 2)?;
            Ok(Value::Bool(json_eq(&a[0], &a[1])))
        }
        "not" => {
            arity(name, n, 1, 1)?;
            Ok(Value::Bool(!to_bool(name, &a[0])?))
        }
        "true" | "false" => {
            arity(name, n, 0, 0)?;
            Ok(Value::Bool(lname == "true"))
        }
        "null" => {
            arity(name, n, 0, 0)?;
            Ok(Value::Null)
        }
        "empty" => {
            arity(name, n, 1, 1)?;
            Ok(Value::Bool(match &a[0] {
                Value::Null => true,
                Value::String(s) => s.is_empty(),
                Value::Array(x) => x.is_empty(),
                Value::Object(o) => o.is_empty(),
                _ => return err(format!("function '{name}' expects a string, array or object")),
            }))
        }
        "contains" => {
            arity(name, n, 2, 2)?;
            Ok(Value::Bool(match &a[0] {
                Value::String(s) => s.contains(stringify(&a[1]).as_str()),
                Value::Array(x) => x.iter().any(|e| json_eq(e, &a[1])),
                Value::Object(o) => {
                    let k = stringify(&a[1]);
                    o.keys().any(|x| x.eq_ignore_ascii_case(&k))
                }
                _ => return err(format!("function '{name}' expects a string, array or object as its first argument")),
            }))
        }
        "length" => {
            arity(name, n, 1, 1)?;
            Ok(Value::from(match &a[0] {
                Value::String(s) => s.chars().count(),
                Value::Array(x) => x.len(),
                Value::Object(o) => o.len(),
                _ => return err(format!("function '{name}' expects a string, array or object")),
            } as i64))
        }
        "tolower" | "toupper" => {
            arity(name, n, 1, 1)?;
            let s = str_arg(name, a, 0)?;
            Ok(Value::String(if lname == "tolower" { s.to_lowercase() } else { s.to_uppercase() }))
        }
        "trim" => {
            arity(name, n, 1, 1)?;
            Ok(Value::String(str_arg(name, a, 0)?.trim().to_string()))
        }
        "split" => {
            arity(name, n, 2, 2)?;
            let s = str_arg(name, a, 0)?;
            let delims: Vec<String> = match &a[1] {
                Value::String(d) => vec![d.clone()],
                Value::Array(ds) => ds.iter().map(stringify).collect(),
                _ => return err(format!("function '{name}' expects a string or array of delimiters")),
            };
            // Each position of the text is tried against every delimiter.
            if (s.len() as u64).saturating_mul(delims.len() as u64) > MAX_SPLIT_WORK {
                return err(format!("split(): {} characters against {} delimiters is too much work (limit {MAX_SPLIT_WORK})", s.len(), delims.len()));
            }
            Ok(Value::Array(split_multi(s, &delims).into_iter().map(Value::String).collect()))
        }
        "join" => {
            arity(name, n, 2, 2)?;
            let Value::Array(x) = &a[0] else { return err(format!("function '{name}' expects an array as its first argument")) };
            let d = str_arg(name, a, 1)?;
            check_len((x.len() as u64).saturating_mul(d.len() as u64))?;
            Ok(Value::String(x.iter().map(stringify).collect::<Vec<_>>().join(d)))
        }
        "replace" => {
            arity(name, n, 3, 3)?;
            let (s, old, new) = (str_arg(name, a, 0)?, str_arg(name, a, 1)?, str_arg(name, a, 2)?);
            if old.is_empty() {
                return err(format!("function '{name}' cannot replace an empty string"));
            }
            let grows = (s.matches(old).count() as u64).saturating_mul(new.len() as u64);
            check_len(grows.saturating_add(s.len() as u64))?;
            Ok(Value::String(s.replace(old, new)))
        }
        "substring" => {
            arity(name, n, 2, 3)?;
            let s: Vec<char> = str_arg(name, a, 0)?.chars().collect();
            let start = int_of(name, &a[1])?;
            let len = match a.get(2) {
                Some(l) => int_of(name, l)?,
                None => (s.len() as i64).saturating_sub(start),
            };
            if start < 0 || len < 0 || start.saturating_add(len) > s.len() as i64 {
                return err(format!("substring: start {start} and length {len} are out of range for a string of length {}", s.len()));
            }
            let (start, len) = (start as usize, len as usize);
            Ok(Value::String(s[start..start + len].iter().collect()))
        }
        "indexof" | "lastindexof" | "startswith" | "endswith" => {
            arity(name, n, 2, 2)?;
            let s = str_arg(name, a, 0)?.to_lowercase();
            let f = str_arg(name, a, 1)?.to_lowercase();
            let char_pos = |byte: usize| s[..byte].chars().count() as i64;
            Ok(match lname {
                "indexof" => Value::from(s.find(&f).map(char_pos).unwrap_or(-1)),
                // .NET Framework's LastIndexOf finds "" at the last character.
                "lastindexof" if f.is_empty() => Value::from((s.chars().count() as i64 - 1).max(0)),
                "lastindexof" => Value::from(s.rfind(&f).map(char_pos).unwrap_or(-1)),
                "startswith" => Value::Bool(s.starts_with(&f)),
                _ => Value::Bool(s.ends_with(&f)),
            })
        }
        "padleft" => {
            arity(name, n, 2, 3)?;
            if !(a[0].is_string() || a[0].is_i64() || a[0].is_u64()) {
                return err(format!("function '{name}' expects a string or an integer to pad, not {}", kind(&a[0])));
            }
            let s = stringify(&a[0]);
            let total = int_of(name, &a[1])?;
            if total < 0 {
                return err(format!("padLeft: total length {total} is negative"));
            }
            if total > 16384 {
                return err(format!("padLeft: total length {total} is too large"));
            }
            let pad = match a.get(2) {
                Some(p) => {
                    let p = stringify(p);
                    let mut it = p.chars();
                    match (it.next(), it.next()) {
                        (Some(c), None) => c,
                        _ => return err("padLeft: the padding must be a single character"),
                    }
                }
                None => ' ',
            };
            let len = s.chars().count() as i64;
            let mut out = String::new();
            for _ in len..total {
                out.push(pad);
            }
            out.push_str(&s);
            Ok(Value::String(out))
        }
        "take" | "skip" => {
            arity(name, n, 2, 2)?;
            let k = int_of(name, &a[1])?.max(0) as usize;
            match &a[0] {
                Value::String(s) => {
                    let c: Vec<char> = s.chars().collect();
                    let k = k.min(c.len());
                    let part = if lname == "take" { &c[..k] } else { &c[k..] };
                    Ok(Value::String(part.iter().collect()))
                }
                Value::Array(x) => {
                    let k = k.min(x.len());
                    let part = if lname == "take" { &x[..k] } else { &x[k..] };
                    Ok(Value::Array(part.to_vec()))
                }
                _ => err(format!("function '{name}' expects a string or an array")),
            }
        }
        "first" | "last" => {
            arity(name, n, 1, 1)?;
            match &a[0] {
                Value::String(s) => {
                    let c = if lname == "first" { s.chars().next() } else { s.chars().last() };
                    Ok(Value::String(c.map(String::from).unwrap_or_default()))
                }
                Value::Array(x) => Ok((if lname == "first" { x.first() } else { x.last() }).cloned().unwrap_or(Value::Null)),
                _ => err(format!("function '{name}' expects a string or an array")),
            }
        }
        "union" => {
            if n < 1 {
                return err(format!("function '{name}' expects at least 1 argument"));
            }
            if a.iter().all(|v| v.is_object() || v.is_null()) {
                let mut out = Map::new();
                for v in a {
                    if let Value::Object(o) = v {
                        merge_objects(&mut out, o);
                    }
                }
                Ok(Value::Object(out))
            } else if a.iter().all(|v| v.is_array() || v.is_null()) {
                let arrays: Vec<&[Value]> = a.iter().filter_map(|v| v.as_array().map(Vec::as_slice)).collect();
                Ok(Value::Array(union_arrays(&arrays)))
            } else {
                err(format!("function '{name}' expects all arguments to be arrays or all to be objects"))
            }
        }
        "intersection" => {
            if n < 2 {
                return err(format!("function '{name}' expects at least 2 arguments"));
            }
            match &a[0] {
                Value::Array(first) => {
                    let Some(others) = a[1..].iter().map(|o| o.as_array().map(Vec::as_slice)).collect::<Option<Vec<_>>>() else {
                        return err(format!("function '{name}' expects all arguments to be arrays or all to be objects"));
                    };
                    Ok(Value::Array(intersect_arrays(first, &others)))
                }
                Value::Object(first) => {
                    let mut out = Map::new();
                    for (k, v) in first {
                        if a[1..].iter().all(|o| matches!(o, Value::Object(x) if x.get(k).is_some_and(|y| json_eq(y, v)))) {
                            out.insert(k.clone(), v.clone());
                        }
                    }
                    Ok(Value::Object(out))
                }
                _ => err(format!("function '{name}' expects arrays or objects")),
            }
        }
        "createarray" => Ok(Value::Array(a.to_vec())),
        "createobject" => {
            if n % 2 != 0 {
                return err(format!("function '{name}' expects key/value pairs but got {n} arguments"));
            }
            let mut out = Map::new();
            for pair in a.chunks(2) {
                let Value::String(k) = &pair[0] else { return err(format!("function '{name}': keys must be strings")) };
                out.insert(k.clone(), pair[1].clone());
            }
            Ok(Value::Object(out))
        }
        "array" => {
            arity(name, n, 1, 1)?;
            Ok(match &a[0] {
                Value::Array(_) => a[0].clone(),
                v => Value::Array(vec![v.clone()]),
            })
        }
        "flatten" => {
            arity(name, n, 1, 1)?;
            let Value::Array(x) = &a[0] else { return err(format!("function '{name}' expects an array")) };
            let mut out = Vec::new();
            for e in x {
                match e {
                    Value::Array(inner) => out.extend(inner.iter().cloned()),
                    _ => return err(format!("function '{name}' expects an array of arrays")),
                }
            }
            Ok(Value::Array(out))
        }
        "string" => {
            arity(name, n, 1, 1)?;
            Ok(Value::String(stringify(&a[0])))
        }
        "int" => {
            arity(name, n, 1, 1)?;
            Ok(Value::from(int_of(name, &a[0])?))
        }
        "bool" => {
            arity(name, n, 1, 1)?;
            Ok(Value::Bool(match &a[0] {
                Value::Bool(b) => *b,
                // The reference: "true" in any case is true, any other string
                // false; 0 is false and every other integer true.
                Value::String(s) => s.eq_ignore_ascii_case("true"),
                Value::Number(x) if x.is_i64() || x.is_u64() => x.as_i64() != Some(0),
                v => return err(format!("function '{name}' cannot convert {} to a bool", kind(v))),
            }))
        }
        "base64" => {
            arity(name, n, 1, 1)?;
            Ok(Value::String(base64_encode(str_arg(name, a, 0)?.as_bytes())))
        }
        "base64tostring" | "base64tojson" => {
            arity(name, n, 1, 1)?;
            let bytes = base64_decode(str_arg(name, a, 0)?).ok_or_else(|| EvalError::Here(format!("{name}(): the argument is not valid base64")))?;
            let s = String::from_utf8(bytes).map_err(|_| EvalError::Here(format!("{name}(): the decoded bytes are not UTF-8")))?;
            if lname == "base64tojson" {
                serde_json::from_str(&s).map_err(|e| EvalError::Here(format!("{name}(): not valid JSON: {e}")))
            } else {
                Ok(Value::String(s))
            }
        }
        "uri" => {
            arity(name, n, 2, 2)?;
            Ok(Value::String(uri_combine(str_arg(name, a, 0)?, str_arg(name, a, 1)?)))
        }
        "uricomponent" => {
            arity(name, n, 1, 1)?;
            Ok(Value::String(percent_encode(str_arg(name, a, 0)?)))
        }
        "uricomponenttostring" => {
            arity(name, n, 1, 1)?;
            Ok(Value::String(percent_decode(str_arg(name, a, 0)?)))
        }
        "min" | "max" => {
            let nums: Vec<i64> = match a {
                [Value::Array(x)] => x.iter().map(|v| int_of(name, v)).collect::<R<_>>()?,
                _ => a.iter().map(|v| int_of(name, v)).collect::<R<_>>()?,
            };
            let r = if lname == "min" { nums.iter().min() } else { nums.iter().max() };
            r.map(|x| Value::from(*x)).ok_or_else(|| EvalError::Here(format!("function '{name}' needs at least one number")))
        }
        "range" => {
            arity(name, n, 2, 2)?;
            let start = int_of(name, &a[0])?;
            let count = int_of(name, &a[1])?;
            if !(0..=10000).contains(&count) {
                return err(format!("range(): count must be between 0 and 10000 but is {count}"));
            }
            if start.checked_add(count).is_none() {
                return err(format!("range(): start {start} plus count {count} overflows"));
            }
            Ok(Value::Array((0..count).map(|i| Value::from(start + i)).collect()))
        }
        "add" | "sub" | "mul" | "div" | "mod" => {
            arity(name, n, 2, 2)?;
            let (x, y) = (int_of(name, &a[0])?, int_of(name, &a[1])?);
            let r = match lname {
                "add" => x.checked_add(y),
                "sub" => x.checked_sub(y),
                "mul" => x.checked_mul(y),
                _ if y == 0 => return err(format!("{name}(): division by zero")),
                "div" => x.checked_div(y),
                _ => x.checked_rem(y),
            };
            r.map(Value::from).ok_or_else(|| EvalError::Here(format!("{name}(): integer overflow")))
        }
        "greater" | "greaterorequals" | "less" | "lessorequals" => {
            arity(name, n, 2, 2)?;
            let ord = match (&a[0], &a[1]) {
                (Value::String(x), Value::String(y)) => x.cmp(y),
                (x, y) => int_of(name, x)?.cmp(&int_of(name, y)?),
            };
            use std::cmp::Ordering::*;
            Ok(Value::Bool(match lname {
                "greater" => ord == Greater,
                "greaterorequals" => ord != Less,
                "less" => ord == Less,
                _ => ord != Greater,
            }))
        }
        "items" => {
            arity(name, n, 1, 1)?;
            let Value::Object(o) = &a[0] else { return err(format!("function '{name}' expects an object")) };
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            Ok(Value::Array(keys.into_iter().map(|k| serde_json::json!({"key": k, "value": o[k]})).collect()))
        }
        "objectkeys" => {
            arity(name, n, 1, 1)?;
            let Value::Object(o) = &a[0] else { return err(format!("function '{name}' expects an object")) };
            Ok(Value::Array(o.keys().map(|k| Value::String(k.clone())).collect()))
        }
        "shallowmerge" => {
            arity(name, n, 1, 1)?;
            let Value::Array(x) = &a[0] else { return err(format!("function '{name}' expects an array of objects")) };
            let mut out = Map::new();
            for e in x {
                if let Value::Object(o) = e {
                    for (k, v) in o {
                        out.insert(k.clone(), v.clone());
                    }
                }
            }
            Ok(Value::Object(out))
        }
        "tryget" => {
            if n < 2 {
                return err(format!("function '{name}' expects (object, key...)"));
            }
            let mut cur = a[0].clone();
            for k in &a[1..] {
                cur = match (&cur, k) {
                    (Value::Object(o), Value::String(k)) => lookup(o, k).cloned().unwrap_or(Value::Null),
                    (Value::Array(x), Value::Number(i)) => i.as_u64().and_then(|i| x.get(i as usize)).cloned().unwrap_or(Value::Null),
                    _ => Value::Null,
                };
            }
            Ok(cur)
        }
        "parsecidr" => cidr::call_parse_cidr(name, a),
        "cidrsubnet" => cidr::call_cidr_subnet(name, a),
        "cidrhost" => cidr::call_cidr_host(name, a),
        _ => err(format!("unsupported template function '{name}'")),
    }
}

fn merge_objects(into: &mut Map<String, Value>, from: &Map<String, Value>) {
    for (k, v) in from {
        match (into.get_mut(k), v) {
            (Some(Value::Object(dst)), Value::Object(src)) => merge_objects(dst, src),
            _ => {
                into.insert(k.clone(), v.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arm::expr::testenv::{ev, ev_err};
    use serde_json::json;

    #[test]
    fn string_functions() {
        assert_eq!(ev("[format('{0}-{1}', 'a', 7)]"), json!("a-7"));
        assert_eq!(ev("[format('{0:D3}|{{x}}|{1}', 5, true())]"), json!("005|{x}|True"));
        assert_eq!(ev("[concat('a', 'b', string(1))]"), json!("ab1"));
        assert_eq!(ev("[concat(createArray(1), createArray(2, 3))]"), json!([1, 2, 3]));
        assert_eq!(ev("[split('a/b/c', '/')[2]]"), json!("c"));
        assert_eq!(ev("[join(split('a,b', ','), '+')]"), json!("a+b"));
        assert_eq!(ev("[replace('a-b-c', '-', '')]"), json!("abc"));
        assert_eq!(ev("[substring('hello', 1, 3)]"), json!("ell"));
        assert_eq!(ev("[indexOf('abcABC', 'BC')]"), json!(1));
        assert_eq!(ev("[lastIndexOf('abcABC', 'bc')]"), json!(4));
        assert_eq!(ev("[startsWith('Hello', 'he')]"), json!(true));
        assert_eq!(ev("[endsWith('Hello', 'LO')]"), json!(true));
        assert_eq!(ev("[padLeft('7', 3, '0')]"), json!("007"));
        assert_eq!(ev("[trim('  x ')]"), json!("x"));
        assert_eq!(ev("[toUpper('ab')]"), json!("AB"));
        assert_eq!(ev("[take('abcdef', 2)]"), json!("ab"));
        assert_eq!(ev("[skip(createArray(1,2,3), 2)]"), json!([3]));
        assert_eq!(ev("[first('xyz')]"), json!("x"));
        assert_eq!(ev("[last(createArray(1,2,3))]"), json!(3));
        assert_eq!(ev("[base64ToString(base64('vnet lab!'))]"), json!("vnet lab!"));
        assert_eq!(ev("[base64('ab')]"), json!("YWI="));
        assert_eq!(ev("[uri('https://x.blob.core.windows.net/a/b.json', 'c.json')]"), json!("https://x.blob.core.windows.net/a/c.json"));
        assert!(ev_err("[substring('abc', 2, 5)]").contains("out of range"));
    }

    #[test]
    fn collection_and_logic_functions() {
        assert_eq!(ev("[contains(parameters('obj'), 'INNER')]"), json!(true));
        assert_eq!(ev("[contains('abc', 'B')]"), json!(false));
        assert_eq!(ev("[contains(createArray('x', 1), 1)]"), json!(true));
        assert_eq!(ev("[empty('')]"), json!(true));
        assert_eq!(ev("[empty(createArray(1))]"), json!(false));
        assert_eq!(ev("[length(parameters('routes'))]"), json!(2));
        assert_eq!(ev("[union(createObject('a', 1), createObject('b', 2)).b]"), json!(2));
        assert_eq!(ev("[union(createArray(1, 2), createArray(2, 3))]"), json!([1, 2, 3]));
        assert_eq!(ev("[intersection(createArray(1, 2, 3), createArray(3, 2))]"), json!([2, 3]));
        assert_eq!(ev("[coalesce(null(), null(), 'c')]"), json!("c"));
        assert_eq!(ev("[and(true(), not(false()))]"), json!(true));
        assert_eq!(ev("[equals(createArray(1, 'a'), createArray(1, 'a'))]"), json!(true));
        assert_eq!(ev("[equals('a', 'A')]"), json!(false));
        assert_eq!(ev("[array('x')]"), json!(["x"]));
        assert_eq!(ev("[json('{\"a\": [1]}').a[0]]"), json!(1));
        assert_eq!(ev("[json('null')]"), Value::Null);
        assert_eq!(ev("[int('42')]"), json!(42));
        assert_eq!(ev("[bool('TRUE')]"), json!(true));
        assert_eq!(ev("[items(createObject('b', 2, 'a', 1))[0].key]"), json!("a"));
        assert_eq!(ev("[range(5, 3)]"), json!([5, 6, 7]));
    }

    #[test]
    fn numeric_functions() {
        assert_eq!(ev("[mul(sub(10, 4), div(9, 2))]"), json!(24));
        assert_eq!(ev("[mod(-7, 3)]"), json!(-1));
        assert_eq!(ev("[min(3, 1, 2)]"), json!(1));
        assert_eq!(ev("[max(createArray(3, 9, 2))]"), json!(9));
        assert_eq!(ev("[greater(2, 1)]"), json!(true));
        assert_eq!(ev("[lessOrEquals('a', 'b')]"), json!(true));
        assert!(ev_err("[div(1, 0)]").contains("division by zero"));
        assert!(ev_err("[add(1)]").contains("expects 2 argument(s) but got 1"));
    }

    #[test]
    fn deployment_context_functions() {
        assert_eq!(ev("[resourceGroup().location]"), json!("westeurope"));
        assert_eq!(ev("[resourceGroup().id]"), json!("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-vnetlab"));
        assert_eq!(ev("[subscription().subscriptionId]"), json!("00000000-0000-0000-0000-000000000000"));
        assert_eq!(ev("[environment().suffixes.storage]"), json!("core.windows.net"));
        assert_eq!(ev("[environment().suffixes.sqlServerHostname]"), json!(".database.windows.net"));
        assert_eq!(ev("[deployment().properties.templateLink.uri]"), json!("<runtime:uri>"));
    }
}
