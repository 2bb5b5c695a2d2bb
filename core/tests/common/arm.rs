//! Picking resources out of an expanded template, for the tests that load
//! real templates.

use vnetlab_core::arm::Resource;

pub fn of_type<'r>(rs: &'r [Resource], t: &str) -> Vec<&'r Resource> {
    rs.iter().filter(|r| r.rtype.eq_ignore_ascii_case(t)).collect()
}

/// The one resource of type `t`; a test failure if there are more or none.
pub fn one<'r>(rs: &'r [Resource], t: &str) -> &'r Resource {
    let v = of_type(rs, t);
    assert_eq!(v.len(), 1, "expected exactly one {t}, got {}", v.len());
    v[0]
}
