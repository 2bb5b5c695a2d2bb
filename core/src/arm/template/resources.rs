//! Resources: resource-level copy loops and conditions, full types, names
//! and ids (enumeration), then each instance's evaluated body on demand.

use super::names::{child_path, full_type_and_name, obj_get};
use super::scope::{Instance, Output, Scope};
use super::state::body_label;
use crate::arm::expr::{self, CopyFrame, EvalError};
use crate::arm::refs::same_group;
use crate::arm::resource::Resource;
use crate::error::LoadError;
use serde_json::{Map, Value};

impl<'t> Scope<'t> {
    pub(super) fn enumerate(
        &self,
        r: &'t Value,
        path: &str,
        parent: Option<(&str, &str)>,
        copies: &[CopyFrame],
        symbol_and_template: (Option<&str>, usize),
    ) -> Result<(), LoadError> {
        let Some(res) = r.as_object() else {
            return Err(self.err(path, format!("a resource must be an object but is {}", expr::kind(r))));
        };
        if let Some(sym) = symbol_and_template.0 {
            self.symbols.borrow_mut().push(sym.to_string());
        }
        match obj_get(res, "copy") {
            Some(Value::Object(c)) => {
                let cpath = format!("{path}.copy");
                let count = self.copy_count(obj_get(c, "count"), &cpath, copies)?;
                let loop_name = match obj_get(c, "name") {
                    Some(Value::String(n)) => Some(n.clone()),
                    _ => None,
                };
                for i in 0..count {
                    let mut frames = copies.to_vec();
                    frames.push(CopyFrame { name: loop_name.clone(), index: i, answers_unnamed: true });
                    self.enumerate_one(res, &format!("{path} (copy {i})"), parent, &frames, symbol_and_template)?;
                }
                Ok(())
            }
            Some(other) if !other.is_null() => Err(self.err(format!("{path}.copy"), "a resource 'copy' must be an object {name, count}")),
            _ => self.enumerate_one(res, path, parent, copies, symbol_and_template),
        }
    }

    fn enumerate_one(
        &self,
        res: &'t Map<String, Value>,
        path: &str,
        parent: Option<(&str, &str)>,
        copies: &[CopyFrame],
        (symbol, tmpl): (Option<&str>, usize),
    ) -> Result<(), LoadError> {
        if let Some(c) = obj_get(res, "condition") {
            let cp = format!("{path}.condition");
            match self.eval_json(c, &cp, copies)? {
                Value::Bool(true) => {}
                Value::Bool(false) => return Ok(()),
                Value::String(s) if s.eq_ignore_ascii_case("true") => {}
                Value::String(s) if s.eq_ignore_ascii_case("false") => return Ok(()),
                other => return Err(self.err(cp, format!("condition must be a bool but is {other}"))),
            }
        }
        let short_type = match obj_get(res, "type").map(|t| self.eval_json(t, &format!("{path}.type"), copies)).transpose()? {
            Some(Value::String(t)) if !t.is_empty() => t,
            _ => return Err(self.err(path, "a resource needs a string 'type'")),
        };
        let short_name = match obj_get(res, "name").map(|n| self.eval_json(n, &format!("{path}.name"), copies)).transpose()? {
            Some(Value::String(n)) if !n.is_empty() => n,
            Some(Value::Number(n)) => n.to_string(),
            _ => return Err(self.err(path, "a resource needs a non-empty string 'name'")),
        };
        let (rtype, name) = full_type_and_name(&short_type, &short_name, parent);
        let existing = matches!(obj_get(res, "existing"), Some(Value::Bool(true)));
        let id = self.resource_id(res, existing, &rtype, &name, path, copies)?;
        let deployment = rtype.eq_ignore_ascii_case("Microsoft.Resources/deployments");
        // An `existing` resource is not deployed, so ARM's limit cannot
        // count it.
        if !existing {
            self.count_resource(tmpl, path)?;
        }
        let idx = {
            let mut inst = self.instances.borrow_mut();
            inst.push(Instance {
                rtype: rtype.clone(),
                name: name.clone(),
                id,
                symbol: symbol.map(str::to_string),
                raw: res,
                copies: copies.to_vec(),
                path: path.to_string(),
                deployment,
                existing,
            });
            inst.len() - 1
        };
        if deployment {
            return self.nested_deployment(res, idx, &name, path, copies);
        }
        if !existing {
            self.outputs.borrow_mut().push(Output::Instance(idx));
        }
        match obj_get(res, "resources") {
            None | Some(Value::Null) => {}
            Some(Value::Array(children)) => {
                for (j, c) in children.iter().enumerate() {
                    self.enumerate(c, &format!("{path}.resources[{j}]"), Some((&rtype, &name)), copies, (None, tmpl))?;
                }
            }
            Some(_) => return Err(self.err(format!("{path}.resources"), "nested 'resources' must be an array")),
        }
        Ok(())
    }

    fn resource_id(&self, res: &Map<String, Value>, existing: bool, rtype: &str, name: &str, path: &str, copies: &[CopyFrame]) -> Result<String, LoadError> {
        let names: Vec<String> = name.split('/').map(str::to_string).collect();
        let tail = match expr::type_name_path(rtype, &names) {
            Ok(t) => t,
            // Old-style extension types (`.../providers/diagnosticSettings`)
            // do not pair up; their id only has to be unique.
            Err(_) if rtype.split('/').any(|s| s.eq_ignore_ascii_case("providers")) => format!("{rtype}/{name}"),
            Err(m) => return Err(self.err(format!("{path}.name"), m)),
        };
        let (mut sub, mut group) = (self.ctx.subscription_id.clone(), self.ctx.resource_group.clone());
        // languageVersion 2.0: an `existing` resource of another resource
        // group or subscription states them beside its name.
        if existing {
            for (key, slot) in [("subscriptionId", &mut sub), ("resourceGroup", &mut group)] {
                if let Some(v) = obj_get(res, key) {
                    match self.eval_json(v, &format!("{path}.{key}"), copies)? {
                        Value::String(s) if !s.is_empty() => *slot = s,
                        other => return Err(self.err(format!("{path}.{key}"), format!("expected a non-empty string but got {}", expr::kind(&other)))),
                    }
                }
            }
        }
        let rg = format!("/subscriptions/{sub}/resourceGroups/{group}");
        if let Some(s) = obj_get(res, "scope") {
            if let Value::String(scope) = self.eval_json(s, &format!("{path}.scope"), copies)? {
                let scope = scope.trim_end_matches('/');
                if scope.starts_with('/') {
                    return Ok(format!("{scope}/providers/{tail}"));
                } else if !scope.is_empty() {
                    return Ok(format!("{rg}/providers/{scope}/providers/{tail}"));
                }
            }
        }
        Ok(format!("{rg}/providers/{tail}"))
    }

    pub(super) fn body(&self, idx: usize) -> Result<Value, LoadError> {
        if let Some(b) = self.bodies.borrow().get(&idx) {
            return Ok(b.clone());
        }
        let (raw, copies, path, rtype, name, id, deployment) = {
            let inst = self.instances.borrow();
            let i = &inst[idx];
            (i.raw, i.copies.clone(), i.path.clone(), i.rtype.clone(), i.name.clone(), i.id.clone(), i.deployment)
        };
        self.enter(body_label(&rtype, &name), &path)?;
        let r = if deployment { self.deployment_body(idx, raw, &copies, &path, &name) } else { self.eval_body(raw, &copies, &path, &rtype, &name, &id) };
        self.leave();
        let b = r?;
        self.bodies.borrow_mut().insert(idx, b.clone());
        Ok(b)
    }

    fn eval_body(&self, raw: &Map<String, Value>, copies: &[CopyFrame], path: &str, rtype: &str, name: &str, id: &str) -> Result<Value, LoadError> {
        const SKIP: [&str; 8] = ["dependsOn", "copy", "condition", "resources", "comments", "existing", "type", "name"];
        let mut out = Map::new();
        out.insert("type".into(), Value::String(rtype.to_string()));
        out.insert("name".into(), Value::String(name.to_string()));
        out.insert("id".into(), Value::String(id.to_string()));
        for (k, v) in raw {
            if SKIP.iter().any(|s| s.eq_ignore_ascii_case(k)) || k.eq_ignore_ascii_case("id") {
                continue;
            }
            let e = self.eval_json(v, &child_path(path, k), copies)?;
            if !e.is_null() {
                out.insert(k.clone(), e);
            }
        }
        Ok(Value::Object(out))
    }

    pub(super) fn find_instance(&self, target: &str) -> Option<usize> {
        let inst = self.instances.borrow();
        if target.starts_with('/') {
            // The resource of that full id (here, else in another input),
            // else the first of that type and name in that resource group
            // (an id written with another subscription).
            let want = target.trim_end_matches('/');
            if let Some(p) = inst.iter().position(|i| i.id.eq_ignore_ascii_case(want)) {
                return Some(p);
            }
            if self.external.is_some_and(|e| e.find_exact(target).is_some()) {
                return None;
            }
            let (t, n) = expr::parse_resource_id(target)?;
            return inst.iter().position(|i| i.rtype.eq_ignore_ascii_case(&t) && i.name.eq_ignore_ascii_case(&n) && same_group(&i.id, target));
        }
        if let Some(p) = inst.iter().position(|i| i.symbol.as_deref().is_some_and(|s| s.eq_ignore_ascii_case(target))) {
            return Some(p);
        }
        let mut by_name = inst.iter().enumerate().filter(|(_, i)| i.name.eq_ignore_ascii_case(target));
        match (by_name.next(), by_name.next()) {
            (Some((p, _)), None) => Some(p),
            _ => None,
        }
    }

    /// The body of a resource this template reads but does not deploy (an
    /// `existing` one, or an id it does not declare): the resource of that
    /// id that this template deploys, else the one another input holds.
    pub(super) fn declared_elsewhere(&self, id: &str) -> Result<Option<Value>, EvalError> {
        let here = {
            let want = id.trim_end_matches('/');
            self.instances.borrow().iter().position(|i| !i.existing && !i.deployment && i.id.eq_ignore_ascii_case(want))
        };
        if let Some(idx) = here {
            return self.body(idx).map(Some).map_err(EvalError::At);
        }
        let Some(ext) = self.external else { return Ok(None) };
        let Some(found) = ext.find(id).map_err(EvalError::Here)? else { return Ok(None) };
        if let Some(note) = found.note {
            // The JSON path of the read is the caller's; the resource (or
            // value) being evaluated says where in the file.
            let within = self.stack.borrow().last().map(|l| format!(" (reading it for {l})")).unwrap_or_default();
            self.ctx.note_warning(format!("{}: {note}{within}", self.file));
        }
        let r = found.v;
        let mut body = match &r.body {
            Value::Object(o) => o.clone(),
            _ => Map::new(),
        };
        for (k, v) in [("id", &r.id), ("name", &r.name), ("type", &r.rtype)] {
            body.entry(k).or_insert_with(|| Value::String(v.clone()));
        }
        Ok(Some(Value::Object(body)))
    }

    /// Every body first (they may read each other), then moved out in
    /// template order: kept once in memory, not copied.
    pub(super) fn finish(&self) -> Result<Vec<Resource>, LoadError> {
        let outputs = std::mem::take(&mut *self.outputs.borrow_mut());
        for o in &outputs {
            let (Output::Nested(idx) | Output::Instance(idx)) = o;
            self.body(*idx)?;
        }
        let mut out = Vec::new();
        for o in outputs {
            match o {
                Output::Nested(idx) => out.extend(self.nested.borrow_mut().remove(&idx).unwrap_or_default()),
                Output::Instance(idx) => {
                    let body = self.bodies.borrow_mut().remove(&idx).unwrap_or_default();
                    let inst = self.instances.borrow();
                    let i = &inst[idx];
                    out.push(Resource { rtype: i.rtype.clone(), name: i.name.clone(), id: i.id.clone(), body, file: self.file.clone(), path: i.path.clone() });
                }
            }
        }
        Ok(out)
    }
}
