//! Emission of ARM-shaped resources, with ids in the deployment's resource
//! group and errors that name the TOML line.

use super::schema::Name;
use crate::arm::deploy::DeployContext;
use crate::arm::expr::resource_group_id;
use crate::arm::resource::Resource;
use crate::error::LoadError;
use serde_json::{json, Value};

/// Line (1-based) of a byte offset.
pub(super) fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())].iter().filter(|b| **b == b'\n').count() + 1
}

pub(super) struct Builder<'a> {
    pub(super) text: &'a str,
    pub(super) file: &'a str,
    pub(super) ctx: DeployContext,
    pub(super) out: Vec<Resource>,
}

impl Builder<'_> {
    pub(super) fn line(&self, s: &Name) -> String {
        format!("line {}", line_of(self.text, s.span().start))
    }

    pub(super) fn err(&self, at: &Name, msg: impl Into<String>) -> LoadError {
        LoadError::new(self.file, self.line(at), msg)
    }

    pub(super) fn id(&self, rtype: &str, name: &str, at: &Name) -> Result<String, LoadError> {
        resource_group_id(&self.ctx, rtype, name).map_err(|m| self.err(at, m))
    }

    pub(super) fn ref_obj(&self, rtype: &str, name: &str, at: &Name) -> Result<Value, LoadError> {
        Ok(json!({ "id": self.id(rtype, name, at)? }))
    }

    pub(super) fn emit(&mut self, rtype: &str, name: &str, at: &Name, body: Value) -> Result<(), LoadError> {
        let id = self.id(rtype, name, at)?;
        let mut body = body;
        if let Value::Object(o) = &mut body {
            o.insert("type".into(), json!(rtype));
            o.insert("name".into(), json!(name));
            o.insert("id".into(), json!(id));
        }
        let path = self.line(at);
        self.out.push(Resource { rtype: rtype.into(), name: name.into(), id, body, file: self.file.into(), path });
        Ok(())
    }

    /// Checks one of a fixed set of values (case-insensitive), returning its
    /// canonical spelling.
    pub(super) fn one_of(&self, v: &Name, what: &str, allowed: &[&str]) -> Result<String, LoadError> {
        allowed
            .iter()
            .find(|a| a.eq_ignore_ascii_case(v.get_ref()))
            .map(|a| a.to_string())
            .ok_or_else(|| self.err(v, format!("{what} '{}' is not one of {}", v.get_ref(), allowed.join(", "))))
    }
}
