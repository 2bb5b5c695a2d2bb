//! References between resources: found by full id (subscription, resource
//! group, type, name), else by type and name in the resource group the id
//! names when only one resource there has them (FORMAT.md, "Loading":
//! ids may be written with any subscription). Two resources of one name in
//! two resource groups stay two.
//!
//! The deployment's resource group is often only assumed (no
//! `--resource-group`): a template's `resourceId()` then names a group the
//! user never chose, and the resource it means may well be in another
//! input, exported from the group it really lives in. So an id naming the
//! assumed group that no resource there answers takes the only resource of
//! that type and name in any group, with a note for a warning. An id naming
//! a group the user gave, or any other group, is strict: a resource of
//! another group is not the one named. The one rule for the model
//! builder's references and for `reference()` of a resource another input
//! holds.
//!
//! A leaf, like `resource`: the model builder imports it from here.

use super::deploy::DeploymentGroup;
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

/// What a reference found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Found<V> {
    pub(crate) v: V,
    /// Set when the id named the assumed resource group and the resource
    /// is in another one: the warning's text, without where the reference
    /// is (the caller knows the file and JSON path).
    pub(crate) note: Option<String>,
}

/// Values (indexes into the scenario) by lowercase (type, full name), each
/// with the full id of its resource.
pub(crate) struct Refs<V> {
    by_name: HashMap<(String, String), Named<V>>,
    group: DeploymentGroup,
}

/// The resources of one type and name, indexed by full id and by resource
/// group: a hostile input may hold thousands of one name, and every lookup
/// stays O(1) until it fails.
struct Named<V> {
    items: Vec<(String, V)>,
    by_id: HashMap<String, usize>,
    by_group: HashMap<String, Vec<usize>>,
    /// Ids that name no resource group: in every group (`same_group`).
    no_group: Vec<usize>,
}

impl<V> Default for Named<V> {
    fn default() -> Self {
        Named { items: Vec::new(), by_id: HashMap::new(), by_group: HashMap::new(), no_group: Vec::new() }
    }
}

impl<V> Named<V> {
    /// Those in the resource group `want` names (all when it names none).
    fn in_group_of(&self, want: &str) -> Vec<&(String, V)> {
        match id_segment(want, "resourcegroups") {
            Some(g) => {
                let mut idx: Vec<usize> = self.by_group.get(&g.to_ascii_lowercase()).into_iter().flatten().chain(&self.no_group).copied().collect();
                idx.sort_unstable();
                idx.into_iter().map(|i| &self.items[i]).collect()
            }
            None => self.items.iter().collect(),
        }
    }
}

impl<V> Default for Refs<V> {
    fn default() -> Self {
        Refs::in_group(&DeploymentGroup::default())
    }
}

impl<V> Refs<V> {
    /// References of a deployment into `group`.
    pub(crate) fn in_group(group: &DeploymentGroup) -> Self {
        Refs { by_name: HashMap::new(), group: group.clone() }
    }
}

impl<V: Copy> Refs<V> {
    /// Registers a resource; the same id again replaces the earlier one.
    pub(crate) fn insert(&mut self, t: &str, name: &str, id: &str, v: V) {
        let named = self.by_name.entry((t.to_ascii_lowercase(), name.to_ascii_lowercase())).or_default();
        let id = norm_id(id);
        if let Some(&i) = named.by_id.get(&id).filter(|_| !id.is_empty()) {
            named.items[i].1 = v;
            return;
        }
        let i = named.items.len();
        match id_segment(&id, "resourcegroups") {
            Some(g) => named.by_group.entry(g).or_default().push(i),
            None => named.no_group.push(i),
        }
        if !id.is_empty() {
            named.by_id.insert(id.clone(), i);
        }
        named.items.push((id, v));
    }

    /// The resource whose full id is `id`, with no fallback.
    pub(crate) fn find_exact(&self, t: &str, name: &str, id: &str) -> Option<V> {
        let named = self.by_name.get(&(t.to_ascii_lowercase(), name.to_ascii_lowercase()))?;
        named.by_id.get(&norm_id(id)).map(|&i| named.items[i].1)
    }

    /// The resource of type `t` and full name `name` that `id` names: the
    /// one with that id, else the only one of that type and name in the
    /// resource group the id names, else (the id naming the assumed
    /// resource group) the only one in any group, noted. `None` when the
    /// input has none of that name; an error naming the resource groups it
    /// is in when none is in that group, or when several answer.
    pub(crate) fn find(&self, t: &str, name: &str, id: &str) -> Result<Option<Found<V>>, String> {
        self.lookup(t, name, id).map_err(|(_, m)| m)
    }

    /// As [`Refs::find`], for references that may point outside the input
    /// (a peering's remote VNet, a private endpoint's target, what a
    /// template reads): one of that name only in other resource groups is
    /// simply not the one named.
    pub(crate) fn find_outside(&self, t: &str, name: &str, id: &str) -> Result<Option<Found<V>>, String> {
        match self.lookup(t, name, id) {
            Err((true, _)) => Ok(None),
            r => r.map_err(|(_, m)| m),
        }
    }

    /// `Err((true, why))`: the name is only in other resource groups;
    /// `Err((false, why))`: several answer.
    fn lookup(&self, t: &str, name: &str, id: &str) -> Result<Option<Found<V>>, (bool, String)> {
        let Some(named) = self.by_name.get(&(t.to_ascii_lowercase(), name.to_ascii_lowercase())) else { return Ok(None) };
        let list = &named.items;
        let found = |v: &V| Ok(Some(Found { v: *v, note: None }));
        let want = norm_id(id);
        if let Some(&i) = named.by_id.get(&want) {
            return found(&list[i].1);
        }
        let here = named.in_group_of(&want);
        let groups = |l: &mut dyn Iterator<Item = &(String, V)>| {
            l.map(|(i, _)| id_segment(i, "resourcegroups").unwrap_or_else(|| i.clone())).collect::<Vec<_>>().join(", ")
        };
        let id_group = id_segment(&want, "resourcegroups");
        let ours = id_group.as_deref().is_some_and(|g| g.eq_ignore_ascii_case(&self.group.name));
        let named = match &id_group {
            Some(g) if ours && self.group.given => format!("resource group '{g}' (the one --resource-group gives)"),
            Some(g) if ours => format!("resource group '{g}' (assumed: no --resource-group was given)"),
            Some(g) => format!("resource group '{g}'"),
            None => "no resource group".to_string(),
        };
        let ambiguous = |many: &mut dyn Iterator<Item = &(String, V)>, n: usize, hint: &str| {
            (
                false,
                format!(
                    "'{id}' is ambiguous: the input has {n} resources named '{name}' (in resource groups {}) and the id names {named}, none of them{hint}",
                    groups(many)
                ),
            )
        };
        match here.as_slice() {
            [] if list.is_empty() => Ok(None),
            // The assumed group is a guess: the one resource of that name
            // is the one meant, wherever the user exported it from.
            [] if ours && !self.group.given => match list.as_slice() {
                [(i, v)] => {
                    let g = id_segment(i, "resourcegroups").unwrap_or_default();
                    Ok(Some(Found {
                        v: *v,
                        note: Some(format!(
                            "'{id}' names {named}, and the input has '{name}' only in resource group '{g}': using that one. Give --resource-group NAME, the resource group the template deploys into (--resource-group {g} if that is it)"
                        )),
                    }))
                }
                many => Err(ambiguous(&mut many.iter(), many.len(), "; give --resource-group NAME, the resource group the template deploys into")),
            },
            [] => {
                let hint = if ours { "; check --resource-group: is it the resource group the template deploys into?" } else { "" };
                Err((
                    true,
                    format!(
                        "'{id}' names {named}, and the input has '{name}' only in resource group(s) {}: not the same resource{hint}",
                        groups(&mut list.iter())
                    ),
                ))
            }
            [(_, v)] => found(v),
            many => Err(ambiguous(&mut many.iter().copied(), many.len(), "")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "/subscriptions/s/resourceGroups/rg-a/providers/Microsoft.Network/virtualNetworks/v";
    const B: &str = "/subscriptions/s/resourceGroups/rg-b/providers/Microsoft.Network/virtualNetworks/v";
    const T: &str = "Microsoft.Network/virtualNetworks";

    fn value<V: Copy>(r: Result<Option<Found<V>>, String>) -> Result<Option<V>, String> {
        r.map(|f| f.map(|f| f.v))
    }

    #[test]
    fn full_id_first_then_the_only_one_of_that_name() {
        let mut r = Refs::default();
        r.insert(T, "v", A, 1);
        assert_eq!(value(r.find(T, "V", &A.replace("/s/", "/other-sub/").to_uppercase())), Ok(Some(1)), "any subscription, same resource group");
        let e = r.find(T, "v", B).err().unwrap_or_default();
        assert!(e.contains("only in resource group(s) rg-a"), "another resource group is another resource: {e}");
        assert_eq!(r.find_outside(T, "v", B), Ok(None), "a reference that may leave the input just finds nothing");
        r.insert(T, "v", B, 2);
        assert_eq!(value(r.find(T, "v", A)), Ok(Some(1)));
        assert_eq!(value(r.find(T, "v", &format!("{}/", B.to_uppercase()))), Ok(Some(2)));
        let e = r.find(T, "v", "/subscriptions/s/providers/Microsoft.Network/virtualNetworks/v").err().unwrap_or_default();
        assert!(e.contains("ambiguous") && e.contains("rg-a, rg-b") && e.contains("no resource group"), "{e}");
        assert_eq!(value(r.find(T, "w", A)), Ok(None));
        r.insert(T, "v", A, 3);
        assert_eq!(value(r.find(T, "v", A)), Ok(Some(3)), "the same id again replaces");
    }

    #[test]
    fn an_id_naming_the_assumed_group_takes_the_only_one_elsewhere_with_a_note() {
        let assumed = A.replace("rg-a", "rg-vnetlab");
        let mut r = Refs::default();
        r.insert(T, "v", B, 2);
        let f = r.find(T, "v", &assumed).ok().flatten();
        assert_eq!(f.as_ref().map(|f| f.v), Some(2));
        let note = f.and_then(|f| f.note).unwrap_or_default();
        assert!(note.contains("'rg-b'") && note.contains("--resource-group"), "{note}");
        assert_eq!(value(r.find(T, "v", B)), Ok(Some(2)), "the id of the resource itself: no note");
        assert_eq!(r.find(T, "v", B).ok().flatten().and_then(|f| f.note), None);
        r.insert(T, "v", A, 1);
        let e = r.find(T, "v", &assumed).err().unwrap_or_default();
        assert!(e.contains("ambiguous") && e.contains("rg-b, rg-a") && e.contains("--resource-group"), "{e}");

        // Given, the group is what the user said: strict, with a hint.
        let mut given = Refs::in_group(&DeploymentGroup { name: "rg-vnetlab".into(), given: true });
        given.insert(T, "v", B, 2);
        let e = given.find(T, "v", &assumed).err().unwrap_or_default();
        assert!(e.contains("only in resource group(s) rg-b") && e.contains("check --resource-group"), "{e}");
        assert_eq!(given.find_outside(T, "v", &assumed), Ok(None));
    }

    #[test]
    fn parent_ids() {
        assert_eq!(parent_id(&format!("{A}/subnets/s")), A);
        assert_eq!(parent_id("x"), "");
    }

    #[test]
    fn thousands_of_one_name_in_as_many_groups_are_each_found_by_group() {
        // A hostile input may hold 20,000 resources; lookups must not scan
        // every same-named one (each scan parses ids).
        let n = 20_000;
        let id = |sub: &str, g: usize| format!("/subscriptions/{sub}/resourceGroups/rg-{g}/providers/Microsoft.Network/virtualNetworks/v");
        let mut r = Refs::default();
        for g in 0..n {
            r.insert(T, "v", &id("s", g), g);
        }
        for g in 0..n {
            assert_eq!(value(r.find(T, "v", &id("s", g))), Ok(Some(g)));
            assert_eq!(value(r.find(T, "v", &id("other", g))), Ok(Some(g)), "another subscription, same group");
        }
        assert!(r.find(T, "v", &id("s", n)).is_err(), "a group with none of that name");
    }
}
