//! References between resources: found by full id (subscription, resource
//! group, type, name), else by type and name in the resource group the id
//! names when only one resource there has them (FORMAT.md, "Loading":
//! ids may be written with any subscription). Two resources of one name in
//! two resource groups stay two; a reference to a resource group the input
//! has none of that name in is not in the input, never a guess. The one rule for the model builder's references and for
//! `reference()` of a resource another input holds.
//!
//! A leaf, like `resource`: the model builder imports it from here.

use std::collections::HashMap;

/// A resource id as compared: ARM ids are case-insensitive.
pub(crate) fn norm_id(id: &str) -> String {
    id.trim().trim_end_matches('/').to_ascii_lowercase()
}

/// The id of a child resource's parent: `.../vnet/subnets/s` → `.../vnet`.
pub(crate) fn parent_id(id: &str) -> &str {
    let id = id.trim_end_matches('/');
    id.rsplitn(3, '/').nth(2).unwrap_or("")
}

/// The value of one `/key/value` pair of an id (`resourceGroups`).
pub(crate) fn id_segment(id: &str, key: &str) -> Option<String> {
    let mut segs = id.split('/');
    segs.by_ref().find(|s| s.eq_ignore_ascii_case(key))?;
    segs.next().filter(|s| !s.is_empty()).map(str::to_string)
}

/// Whether two ids are in the same resource group, or either names none
/// (the subscription may differ: hand-written ids use any).
pub(crate) fn same_group(a: &str, b: &str) -> bool {
    match (id_segment(a, "resourceGroups"), id_segment(b, "resourceGroups")) {
        (Some(x), Some(y)) => x.eq_ignore_ascii_case(&y),
        _ => true,
    }
}

/// Values (indexes into the scenario) by lowercase (type, full name), each
/// with the full id of its resource.
pub(crate) struct Refs<V> {
    by_name: HashMap<(String, String), Vec<(String, V)>>,
}

impl<V> Default for Refs<V> {
    fn default() -> Self {
        Refs { by_name: HashMap::new() }
    }
}

impl<V: Copy> Refs<V> {
    /// Registers a resource; the same id again replaces the earlier one.
    pub(crate) fn insert(&mut self, t: &str, name: &str, id: &str, v: V) {
        let list = self.by_name.entry((t.to_ascii_lowercase(), name.to_ascii_lowercase())).or_default();
        let id = norm_id(id);
        match list.iter_mut().find(|(i, _)| !id.is_empty() && *i == id) {
            Some(slot) => slot.1 = v,
            None => list.push((id, v)),
        }
    }

    /// The resource whose full id is `id`, with no fallback.
    pub(crate) fn find_exact(&self, t: &str, name: &str, id: &str) -> Option<V> {
        let want = norm_id(id);
        let list = self.by_name.get(&(t.to_ascii_lowercase(), name.to_ascii_lowercase()))?;
        list.iter().find(|(i, _)| !want.is_empty() && *i == want).map(|(_, v)| *v)
    }

    /// The resource of type `t` and full name `name` that `id` names: the
    /// one with that id, else the only one of that type and name in the
    /// resource group the id names. `None` when the input has none of that
    /// name; an error naming the resource groups it is in when none is in
    /// that group, or when several are.
    pub(crate) fn find(&self, t: &str, name: &str, id: &str) -> Result<Option<V>, String> {
        self.lookup(t, name, id).map_err(|(_, m)| m)
    }

    /// As [`Refs::find`], for references that may point outside the input
    /// (a peering's remote VNet, a private endpoint's target, what a
    /// template reads): one of that name only in other resource groups is
    /// simply not the one named.
    pub(crate) fn find_outside(&self, t: &str, name: &str, id: &str) -> Result<Option<V>, String> {
        match self.lookup(t, name, id) {
            Err((true, _)) => Ok(None),
            r => r.map_err(|(_, m)| m),
        }
    }

    /// `Err((true, why))`: the name is only in other resource groups;
    /// `Err((false, why))`: several answer.
    fn lookup(&self, t: &str, name: &str, id: &str) -> Result<Option<V>, (bool, String)> {
        let Some(list) = self.by_name.get(&(t.to_ascii_lowercase(), name.to_ascii_lowercase())) else { return Ok(None) };
        let want = norm_id(id);
        if let Some((_, v)) = list.iter().find(|(i, _)| !want.is_empty() && *i == want) {
            return Ok(Some(*v));
        }
        let here: Vec<&(String, V)> = list.iter().filter(|(i, _)| same_group(i, &want)).collect();
        let groups = |l: &mut dyn Iterator<Item = &(String, V)>| {
            l.map(|(i, _)| id_segment(i, "resourcegroups").unwrap_or_else(|| i.clone())).collect::<Vec<_>>().join(", ")
        };
        let named = match id_segment(&want, "resourcegroups") {
            Some(g) => format!("resource group '{g}'"),
            None => "no resource group".to_string(),
        };
        match here.as_slice() {
            [] if list.is_empty() => Ok(None),
            [] => Err((
                true,
                format!("'{id}' names {named}, and the input has '{name}' only in resource group(s) {}: not the same resource", groups(&mut list.iter())),
            )),
            [(_, v)] => Ok(Some(*v)),
            many => Err((
                false,
                format!(
                    "'{id}' is ambiguous: the input has {} resources named '{name}' (in resource groups {}) and the id names {named}, none of them",
                    many.len(),
                    groups(&mut many.iter().copied())
                ),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "/subscriptions/s/resourceGroups/rg-a/providers/Microsoft.Network/virtualNetworks/v";
    const B: &str = "/subscriptions/s/resourceGroups/rg-b/providers/Microsoft.Network/virtualNetworks/v";
    const T: &str = "Microsoft.Network/virtualNetworks";

    #[test]
    fn full_id_first_then_the_only_one_of_that_name() {
        let mut r = Refs::default();
        r.insert(T, "v", A, 1);
        assert_eq!(r.find(T, "V", &A.replace("/s/", "/other-sub/").to_uppercase()), Ok(Some(1)), "any subscription, same resource group");
        let e = r.find(T, "v", B).err().unwrap_or_default();
        assert!(e.contains("only in resource group(s) rg-a"), "another resource group is another resource: {e}");
        assert_eq!(r.find_outside(T, "v", B), Ok(None), "a reference that may leave the input just finds nothing");
        r.insert(T, "v", B, 2);
        assert_eq!(r.find(T, "v", A), Ok(Some(1)));
        assert_eq!(r.find(T, "v", &format!("{}/", B.to_uppercase())), Ok(Some(2)));
        let e = r.find(T, "v", "/subscriptions/s/providers/Microsoft.Network/virtualNetworks/v").err().unwrap_or_default();
        assert!(e.contains("ambiguous") && e.contains("rg-a, rg-b") && e.contains("no resource group"), "{e}");
        assert_eq!(r.find(T, "w", A), Ok(None));
        r.insert(T, "v", A, 3);
        assert_eq!(r.find(T, "v", A), Ok(Some(3)), "the same id again replaces");
    }

    #[test]
    fn parent_ids() {
        assert_eq!(parent_id(&format!("{A}/subnets/s")), A);
        assert_eq!(parent_id("x"), "");
    }
}
