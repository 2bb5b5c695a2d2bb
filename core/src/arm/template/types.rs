//! Declared types of parameters (languageVersion 2.0 user-defined types as
//! Bicep emits them): `$ref` to `definitions`, `nullable`, object
//! `properties` / `additionalProperties` / `sealed`, array `items` /
//! `prefixItems`, tagged unions (`discriminator`), and the constraints
//! (`allowedValues`, min/max value and length) of every link of a `$ref`
//! chain, because Bicep puts decorators on the parameter and the type on the
//! definition.
//!
//! Checking is bounded: a `$ref` chain by `MAX_REF_HOPS`, the walk by
//! `MAX_TYPE_DEPTH` levels and `MAX_TYPE_STEPS` values and declared
//! properties visited per parameter (a long array of objects against a
//! type declaring thousands of properties would otherwise multiply).

use super::names::{child_path, obj_get};
use crate::arm::expr;
use serde_json::{Map, Value};
use std::cell::Cell;

/// More `$ref` links than this in one chain is surely a loop.
const MAX_REF_HOPS: usize = 32;
/// Deeper values than this are not checked against nested types.
const MAX_TYPE_DEPTH: usize = 64;
/// Values and declared properties one parameter's check may visit; real
/// parameters need hundreds.
const MAX_TYPE_STEPS: u64 = 200_000;

/// The `definitions` a template's `$ref`s point into, and the steps the
/// check under way has taken.
pub(super) struct Definitions<'t> {
    defs: Option<&'t Map<String, Value>>,
    steps: Cell<u64>,
}

/// A type declaration with its `$ref` chain followed: the declaration first,
/// then each definition it leads to.
pub(super) struct TypeChain<'t> {
    links: Vec<&'t Map<String, Value>>,
}

impl<'t> Definitions<'t> {
    pub(super) fn new(defs: Option<&'t Map<String, Value>>) -> Self {
        Definitions { defs, steps: Cell::new(0) }
    }

    /// Counts one step of the check under way.
    fn step(&self) -> Result<(), String> {
        let n = self.steps.get() + 1;
        self.steps.set(n);
        if n > MAX_TYPE_STEPS {
            return Err(format!("checking the value against its declared type takes more than {MAX_TYPE_STEPS} steps"));
        }
        Ok(())
    }

    /// Follows `decl`'s `$ref` links; an unknown or looping `$ref` is an
    /// error naming it.
    pub(super) fn resolve(&self, decl: &'t Map<String, Value>) -> Result<TypeChain<'t>, String> {
        let mut links = vec![decl];
        let mut cur = decl;
        while let Some(r) = obj_get(cur, "$ref") {
            let Value::String(r) = r else { return Err(format!("'$ref' must be a string like '#/definitions/NAME' but is {}", expr::kind(r))) };
            if links.len() > MAX_REF_HOPS {
                return Err(format!("the '$ref' chain is a cycle (or longer than {MAX_REF_HOPS} links) at '{r}'"));
            }
            let Some(name) = r.strip_prefix("#/definitions/") else {
                return Err(format!("unsupported '$ref' '{r}': only '#/definitions/NAME' is understood"));
            };
            let found = self.defs.and_then(|d| d.iter().find(|(k, _)| k.as_str() == name || k.eq_ignore_ascii_case(name)));
            let Some((_, def)) = found else {
                let declared: Vec<&str> = self.defs.map(|d| d.keys().map(String::as_str).collect()).unwrap_or_default();
                return Err(format!(
                    "'$ref' '{r}' names no definition; declared: {}",
                    if declared.is_empty() { "none".to_string() } else { declared.join(", ") }
                ));
            };
            let Some(def) = def.as_object() else { return Err(format!("definition '{name}' must be an object")) };
            links.push(def);
            cur = def;
        }
        Ok(TypeChain { links })
    }

    /// Checks `v` (at value path `at`, e.g. `p.port`) against `chain`. The
    /// top level is a parameter value already converted to its declared
    /// type (`-p` gives text), and null there is the caller's to judge
    /// (defaults, nullable), so only nested levels are type-checked here.
    pub(super) fn check(&self, chain: &TypeChain<'t>, v: &Value, at: &str) -> Result<(), String> {
        self.steps.set(0);
        self.check_at(chain, v, at, 0)
    }

    fn check_at(&self, chain: &TypeChain<'t>, v: &Value, at: &str, depth: usize) -> Result<(), String> {
        self.step()?;
        if depth > MAX_TYPE_DEPTH {
            return Ok(());
        }
        if v.is_null() {
            return if chain.nullable() || depth == 0 { Ok(()) } else { Err(format!("{at}: the value is null but its type is not nullable")) };
        }
        if depth > 0 {
            if let Some(t) = chain.type_name() {
                if !kind_matches(&t, v) {
                    return Err(format!("{at}: expected {t} but got {} ({v})", expr::kind(v)));
                }
            }
        }
        for link in &chain.links {
            check_constraints(link, v).map_err(|m| if depth == 0 { m } else { format!("{at}: {m}") })?;
        }
        if let Some(Value::Object(d)) = chain.get("discriminator") {
            return self.check_union(d, v, at, depth);
        }
        match v {
            Value::Object(o) => self.check_object(chain, o, at, depth),
            Value::Array(items) => self.check_items(chain, items, at, depth),
            _ => Ok(()),
        }
    }

    fn nested(&self, decl: &'t Value, at: &str) -> Result<TypeChain<'t>, String> {
        let Some(d) = decl.as_object() else { return Err(format!("{at}: the declared type must be an object")) };
        self.resolve(d).map_err(|m| format!("{at}: {m}"))
    }

    fn check_object(&self, chain: &TypeChain<'t>, o: &Map<String, Value>, at: &str, depth: usize) -> Result<(), String> {
        let declared = match chain.get("properties") {
            Some(Value::Object(p)) => Some(p),
            _ => None,
        };
        if let Some(props) = declared {
            for (k, decl) in props {
                self.step()?;
                let p = child_path(at, k);
                let t = self.nested(decl, &p)?;
                match expr::lookup(o, k) {
                    Some(val) => self.check_at(&t, val, &p, depth + 1)?,
                    None if t.nullable() => {}
                    None => return Err(format!("{at}: the required property '{k}' is missing")),
                }
            }
        }
        let sealed = matches!(chain.get("sealed"), Some(Value::Bool(true)));
        let extra = chain.get("additionalProperties");
        for (k, val) in o {
            if declared.is_some_and(|p| expr::lookup(p, k).is_some()) {
                continue;
            }
            match extra {
                Some(Value::Bool(false)) => return Err(format!("{at}: property '{k}' is not declared by the type (it allows no other properties)")),
                Some(decl @ Value::Object(_)) => {
                    let p = child_path(at, k);
                    let t = self.nested(decl, &p)?;
                    self.check_at(&t, val, &p, depth + 1)?;
                }
                _ if sealed => return Err(format!("{at}: property '{k}' is not declared by the type (it is sealed)")),
                _ => {}
            }
        }
        Ok(())
    }

    fn check_items(&self, chain: &TypeChain<'t>, items: &[Value], at: &str, depth: usize) -> Result<(), String> {
        let prefix: &[Value] = match chain.get("prefixItems") {
            Some(Value::Array(p)) => p,
            _ => &[],
        };
        for (i, val) in items.iter().enumerate() {
            let p = format!("{at}[{i}]");
            let decl = match (prefix.get(i), chain.get("items")) {
                (Some(d), _) => d,
                (None, Some(Value::Bool(false))) => return Err(format!("{at}: the type allows {} items but the array has {}", prefix.len(), items.len())),
                (None, Some(d @ Value::Object(_))) => d,
                _ => continue,
            };
            let t = self.nested(decl, &p)?;
            self.check_at(&t, val, &p, depth + 1)?;
        }
        Ok(())
    }

    /// A tagged union: the member named by the value's discriminator property.
    fn check_union(&self, d: &'t Map<String, Value>, v: &Value, at: &str, depth: usize) -> Result<(), String> {
        let (Some(Value::String(prop)), Some(Value::Object(mapping))) = (obj_get(d, "propertyName"), obj_get(d, "mapping")) else {
            return Err(format!("{at}: a 'discriminator' needs a string 'propertyName' and a 'mapping' object"));
        };
        let Value::Object(o) = v else { return Err(format!("{at}: expected an object (a tagged union) but got {} ({v})", expr::kind(v))) };
        let p = child_path(at, prop);
        let tag = match expr::lookup(o, prop) {
            Some(Value::String(s)) => s,
            Some(other) => return Err(format!("{p}: the union's tag must be a string but is {}", expr::kind(other))),
            None => return Err(format!("{at}: the required property '{prop}' (the union's tag) is missing")),
        };
        let Some(member) = mapping.get(tag.as_str()) else {
            let names: Vec<&str> = mapping.keys().map(String::as_str).collect();
            return Err(format!("{p}: '{tag}' is none of the union's members ({})", names.join(", ")));
        };
        let t = self.nested(member, at)?;
        // At least depth 1, so that the member's own type is checked too.
        self.check_at(&t, v, at, depth.max(1))
    }
}

impl TypeChain<'_> {
    /// Whether any link says `nullable: true`.
    pub(super) fn nullable(&self) -> bool {
        self.links.iter().any(|l| matches!(obj_get(l, "nullable"), Some(Value::Bool(true))))
    }

    /// The declared `type` (lowercase) of the first link that has one; a
    /// tagged union without one is an object.
    pub(super) fn type_name(&self) -> Option<String> {
        match self.get("type") {
            Some(Value::String(t)) => Some(t.to_ascii_lowercase()),
            _ if self.get("discriminator").is_some() => Some("object".into()),
            _ => None,
        }
    }

    /// The first link (from the declaration inwards) that has `key`.
    fn get(&self, key: &str) -> Option<&Value> {
        self.links.iter().find_map(|l| obj_get(l, key))
    }
}

fn kind_matches(t: &str, v: &Value) -> bool {
    match t {
        "string" | "securestring" => v.is_string(),
        "int" => v.is_i64() || v.is_u64(),
        "bool" => v.is_boolean(),
        "object" | "secureobject" => v.is_object(),
        "array" => v.is_array(),
        _ => true,
    }
}

/// `allowedValues` (every item of an array value must be allowed), min/max
/// value and min/max length of one declaration.
fn check_constraints(decl: &Map<String, Value>, v: &Value) -> Result<(), String> {
    if let Some(Value::Array(allowed)) = obj_get(decl, "allowedValues") {
        let ok = |x: &Value| allowed.iter().any(|a| expr::json_eq(a, x));
        let fine = match v {
            Value::Array(items) => items.iter().all(ok),
            x => ok(x),
        };
        if !fine {
            let list: Vec<String> = allowed.iter().map(|a| a.to_string()).collect();
            return Err(format!("value {v} is not one of the allowedValues [{}]", list.join(", ")));
        }
    }
    let bound = |k: &str| obj_get(decl, k).and_then(Value::as_i64);
    if let Some(n) = v.as_i64() {
        if let Some(min) = bound("minValue").filter(|m| n < *m) {
            return Err(format!("value {n} is below minValue {min}"));
        }
        if let Some(max) = bound("maxValue").filter(|m| n > *m) {
            return Err(format!("value {n} is above maxValue {max}"));
        }
    }
    let len = match v {
        Value::String(s) => Some(s.chars().count() as i64),
        Value::Array(a) => Some(a.len() as i64),
        _ => None,
    };
    if let Some(len) = len {
        if let Some(min) = bound("minLength").filter(|m| len < *m) {
            return Err(format!("length {len} is below minLength {min}"));
        }
        if let Some(max) = bound("maxLength").filter(|m| len > *m) {
            return Err(format!("length {len} is above maxLength {max}"));
        }
    }
    Ok(())
}
