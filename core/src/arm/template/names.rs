//! Small helpers every stage shares: JSON paths for messages, ARM's
//! case-insensitive key lookup, and a nested child's full type and name.

use crate::arm::expr;
use serde_json::{Map, Value};

/// A JSON path one key deeper: `.name`, or `['odd key']`.
pub fn child_path(path: &str, key: &str) -> String {
    if !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$') {
        format!("{path}.{key}")
    } else {
        format!("{path}['{}']", key.replace('\'', "\\'"))
    }
}

pub(super) fn obj_get<'m>(o: &'m Map<String, Value>, key: &str) -> Option<&'m Value> {
    expr::lookup(o, key)
}

/// A child's full type and name: a short type (`subnets`) is appended to the
/// parent's, and a name with fewer segments than the type needs gets the
/// parent's name in front.
pub fn full_type_and_name(short_type: &str, short_name: &str, parent: Option<(&str, &str)>) -> (String, String) {
    let Some((ptype, pname)) = parent else {
        return (short_type.to_string(), short_name.to_string());
    };
    let first = short_type.split('/').next().unwrap_or("");
    let rtype = if first.contains('.') { short_type.to_string() } else { format!("{ptype}/{short_type}") };
    let need = rtype.split('/').count().saturating_sub(1);
    let have = short_name.split('/').count();
    let name = if have < need { format!("{pname}/{short_name}") } else { short_name.to_string() };
    (rtype, name)
}
