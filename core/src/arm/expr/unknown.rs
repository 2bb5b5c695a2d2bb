//! Values Azure knows only at deployment, which vnetlab cannot: a property
//! of a resource the input does not hold (`reference()` of a VNet in
//! another resource group, a Bicep `existing` resource), or one Azure
//! computes (`resourceGuid`). Each is a marker string, `<runtime:NAME>`, or
//! `<runtime:NAME from RESOURCE>` when it reads a resource that is not in
//! the input, so what derives from it stays recognisable after variables,
//! outputs and modules and an error where the model needs it can say which
//! resource to supply.
//!
//! Every function accepts a marker where it would take any value (so
//! `filter`, `map`, `union`, `split`, `length`, `contains` do not fail) and
//! gives a marker back: its answer is unknown too. Only the functions that
//! build text or collections around their arguments keep them whole
//! (`concat`, `format`, ...): the marker stays inside the result. A
//! deterministic answer, never a guess.
//!
//! The model builder reads a marker back where it needs a concrete address
//! (`placeholder`); a public IP's own address has a marker of its own
//! (`public_ip_placeholder`), so the builder can give it the address it
//! gives that public IP.

use serde_json::Value;

const PREFIX: &str = "<runtime:";
const FROM: &str = " from ";

/// The marker for property `name` (of a resource named `source`, when the
/// input lacks it).
pub fn marker(name: &str, source: Option<&str>) -> String {
    match source {
        Some(s) => format!("{PREFIX}{name}{FROM}{s}>"),
        None => format!("{PREFIX}{name}>"),
    }
}

/// The first marker inside a string, if any.
pub fn find(s: &str) -> Option<&str> {
    let start = s.find(PREFIX)?;
    let len = s[start..].find('>')? + 1;
    Some(&s[start..start + len])
}

/// What is between `<runtime:` and `>` when all of `marker` is one.
fn inner(marker: &str) -> Option<&str> {
    marker.strip_prefix(PREFIX)?.strip_suffix('>')
}

/// The resource (id or name) a marker reads, when it is not in the input.
pub fn source(marker: &str) -> Option<&str> {
    inner(marker)?.split_once(FROM).map(|(_, s)| s)
}

/// What a marker names: `privateIPAddresses[0]` of
/// `<runtime:privateIPAddresses[0] from apim>`.
fn name(marker: &str) -> Option<&str> {
    let inner = inner(marker)?;
    Some(inner.split_once(FROM).map_or(inner, |(n, _)| n))
}

/// The marker for part `part` (a property, `[index]` or `f()`) of unknown
/// `of`. An index keeps the name it indexes (`privateIPAddresses[0]`, not
/// `[0]`): a warning quoting the marker then says which value it is.
pub fn derive(of: &str, part: &str) -> String {
    if part.starts_with('[') {
        return marker(&format!("{}{part}", name(of).unwrap_or_default()), source(of));
    }
    marker(part, source(of))
}

/// The marker an argument list carries: the first string argument that
/// contains one.
pub fn in_args(a: &[Value]) -> Option<&str> {
    a.iter().find_map(|v| v.as_str().and_then(find))
}

/// The marker a call of function `lname` with arguments `a` gives instead
/// of its answer, when an argument is unknown. Functions whose result holds
/// their string arguments whole (text built by `concat` and `format`, new
/// arrays and objects) keep the marker inside their result instead.
pub fn call_result(lname: &str, a: &[Value]) -> Option<String> {
    let m = in_args(a)?;
    let keeps = match lname {
        "concat" => !a.iter().any(Value::is_array),
        "format" | "string" | "createarray" | "array" | "createobject" | "lambdavariables" | "copyindex" => true,
        _ => false,
    };
    (!keeps).then(|| derive(m, &format!("{lname}()")))
}

const PUBLIC_IP_OF: &str = "ipAddress of public IP '";

/// What `reference(pip).ipAddress` reads for public IP resource `name`
/// when its address is not known.
pub fn public_ip_placeholder(name: &str) -> String {
    marker(&format!("{PUBLIC_IP_OF}{name}'"), None)
}

/// What a runtime placeholder stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placeholder<'a> {
    /// The address of the public IP resource of this name.
    PublicIp(&'a str),
    /// Some other runtime property, by its name (`privateIPAddress`).
    Property(&'a str),
}

/// `s` as a runtime placeholder, if all of it (trimmed) is one.
pub fn placeholder(s: &str) -> Option<Placeholder<'_>> {
    let name = inner(s.trim())?;
    match name.strip_prefix(PUBLIC_IP_OF).and_then(|n| n.strip_suffix('\'')) {
        Some(pip) => Some(Placeholder::PublicIp(pip)),
        // The property alone: the resource a marker names (` from ID`) may
        // hold any word, `public` included, and says nothing of the value.
        None => Some(Placeholder::Property(name.split_once(FROM).map_or(name, |(n, _)| n))),
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_placeholder_is_named_by_its_property_not_by_its_resource() {
        let m = marker("privateIPAddress", Some("/subscriptions/s/resourceGroups/public-rg/providers/Microsoft.Network/networkInterfaces/nic"));
        assert_eq!(placeholder(&m), Some(Placeholder::Property("privateIPAddress")));
    }

    use super::*;
    use serde_json::json;

    #[test]
    fn markers_name_their_resource_through_derivation() {
        let m = marker("properties", Some("/x/vnet"));
        assert_eq!(source(&derive(&derive(&m, "subnets"), "[0]")), Some("/x/vnet"));
        assert_eq!(derive(&derive(&m, "subnets"), "[0]"), "<runtime:subnets[0] from /x/vnet>", "an index names what it indexes");
        assert_eq!(derive(&derive(&marker("a", None), "[0]"), "[1]"), "<runtime:a[0][1]>");
        assert_eq!(find(&format!("id={m};")), Some(m.as_str()));
        assert_eq!(source(&marker("resourceGuid", None)), None);
        assert_eq!(find("<runtime"), None);
        // split of an unknown is unknown; text built around one keeps it.
        assert_eq!(call_result("split", &[json!(m), json!("/")]), Some(derive(&m, "split()")));
        assert_eq!(call_result("concat", &[json!("a"), json!(m)]), None);
        assert!(call_result("concat", &[json!([1]), json!(m)]).is_some(), "concat of arrays with an unknown is unknown");
        assert_eq!(call_result("split", &[json!("a/b"), json!("/")]), None);
    }

    #[test]
    fn placeholders_read_back() {
        assert_eq!(placeholder(&marker("privateIPAddress", None)), Some(Placeholder::Property("privateIPAddress")));
        assert_eq!(placeholder(&public_ip_placeholder("pip-1")), Some(Placeholder::PublicIp("pip-1")));
        assert_eq!(placeholder("10.0.0.4"), None);
        assert_eq!(placeholder("<listKeys placeholder>"), None);
    }
}
