//! Resource states that expressions read beyond one resource's body:
//!
//! - a resource that reads its own state (Bicep's pattern of an `existing`
//!   subnet redeployed with a delegation, whose `addressPrefix` is
//!   `reference(<its own id>).addressPrefix`) reads the state it had before
//!   this deployment, which is what its parent in the template declares
//!   inline (the VNet's `subnets` entry of that name); a cycle otherwise;
//! - `references(symbol)` (languageVersion 2.0): the states of a copy loop's
//!   deployed instances, in copy order.

use super::names::obj_get;
use super::scope::Scope;
use crate::arm::expr::{Env, EvalError};
use serde_json::{json, Value};

/// The label under which `Scope::body` evaluates an instance, which
/// `reads_itself` looks for on the evaluation stack.
pub(super) fn body_label(rtype: &str, name: &str) -> String {
    format!("resource '{name}' ({rtype})")
}

impl Scope<'_> {
    /// Whether instance `idx` is the resource whose body is being evaluated
    /// right now (the innermost resource on the evaluation stack).
    pub(super) fn reads_itself(&self, idx: usize) -> bool {
        let label = {
            let inst = self.instances.borrow();
            body_label(&inst[idx].rtype, &inst[idx].name)
        };
        let st = self.stack.borrow();
        st.iter().rev().find(|l| l.starts_with("resource '")).is_some_and(|l| l.eq_ignore_ascii_case(&label))
    }

    /// The state a child resource had before this deployment: its entry in
    /// the parent's inline collection (`subnets`, `securityRules`, ...), as
    /// `{type, name, id, properties}`.
    pub(super) fn earlier_state(&self, idx: usize) -> Result<Value, EvalError> {
        let (rtype, name, id) = {
            let inst = self.instances.borrow();
            (inst[idx].rtype.clone(), inst[idx].name.clone(), inst[idx].id.clone())
        };
        let label = body_label(&rtype, &name);
        let cycle = |why: String| {
            EvalError::Here(format!("cycle: {label} -> {label}: the resource reads its own state, which is the state before this deployment, and {why}"))
        };
        // A child's type has a namespace and two or more segments.
        let (Some((ptype, collection)), Some((pname, child))) = (rtype.rsplit_once('/').filter(|(p, _)| p.contains('/')), name.rsplit_once('/')) else {
            return Err(cycle("it is not a child resource, so nothing in the template gives that state".into()));
        };
        let parent = {
            let inst = self.instances.borrow();
            inst.iter()
                .position(|i| i.rtype.eq_ignore_ascii_case(ptype) && i.name.eq_ignore_ascii_case(pname))
                .map(|p| (p, inst[p].path.clone(), inst[p].existing))
        };
        let Some((pidx, ppath, parent_existing)) = parent else {
            return Err(cycle(format!("its parent {ptype} '{pname}' is not in the template, so nothing in it gives that state")));
        };
        if parent_existing {
            return Err(cycle(format!("its parent {ptype} '{pname}' (at {ppath}) is declared `existing`, so nothing in the template gives that state")));
        }
        let pbody = self.body(pidx).map_err(EvalError::At)?;
        let entry = pbody
            .get("properties")
            .and_then(|p| p.as_object())
            .and_then(|p| obj_get(p, collection))
            .and_then(Value::as_array)
            .and_then(|items| items.iter().find(|e| e.get("name").and_then(Value::as_str).is_some_and(|n| n.eq_ignore_ascii_case(child))));
        let Some(entry) = entry else {
            return Err(cycle(format!("its parent {ptype} '{pname}' (at {ppath}) declares no '{collection}' entry named '{child}' that would give it")));
        };
        let props = entry.get("properties").cloned().unwrap_or_else(|| json!({}));
        Ok(json!({"type": rtype, "name": name, "id": id, "properties": props}))
    }

    /// `references(symbol, full)`: every deployed instance of the resource
    /// (or copy loop) with that symbolic name, in copy order; an empty array
    /// when none is deployed.
    pub(super) fn collection_states(&self, symbol: &str, full: bool) -> Result<Value, EvalError> {
        let declared = self.symbols.borrow().iter().any(|s| s.eq_ignore_ascii_case(symbol));
        if !declared {
            if let Some(o) = self.outer {
                return o.references(symbol, full);
            }
            let symbols = self.symbols.borrow();
            let list = if symbols.is_empty() { "none (only languageVersion 2.0 templates have them)".to_string() } else { symbols.join(", ") };
            return Err(EvalError::Here(format!("references('{symbol}'): no resource has that symbolic name; declared: {list}")));
        }
        let ids: Vec<String> = {
            let inst = self.instances.borrow();
            inst.iter().filter(|i| i.symbol.as_deref().is_some_and(|s| s.eq_ignore_ascii_case(symbol))).map(|i| i.id.clone()).collect()
        };
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push(self.reference(&id, full)?);
        }
        Ok(Value::Array(out))
    }
}
