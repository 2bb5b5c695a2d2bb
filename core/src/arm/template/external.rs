//! Resources a template reads but does not declare: a VNet in another
//! resource group that `reference()` or a Bicep `existing` resource names,
//! supplied by another input (`-t vnet.json`: an az export or another
//! template) or by another module of the same file. They are found by the
//! one rule for references (`arm::refs`: full id, else the only resource of
//! that type and name). What the expansion looked for and did not find is
//! kept, so the loader knows whether another pass could find more.

use crate::arm::deploy::DeploymentGroup;
use crate::arm::expr;
use crate::arm::refs::{Found, Refs};
use crate::arm::resource::Resource;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// At most this many missed targets are kept (for the loader's decision
/// and messages); hostile input may reference thousands.
const MAX_MISSES: usize = 64;

/// The resources of the other inputs, shared by every scope of one
/// expansion.
#[derive(Default)]
pub struct External {
    resources: Vec<Resource>,
    refs: Refs<usize>,
    // Shared with the expanding thread, hence not `Cell`s.
    misses: Mutex<Vec<String>>,
    read: AtomicBool,
}

impl External {
    /// The resources of the other inputs of a deployment into `group`.
    pub fn new(resources: Vec<Resource>, group: &DeploymentGroup) -> Self {
        let mut refs = Refs::in_group(group);
        for (i, r) in resources.iter().enumerate() {
            refs.insert(&r.rtype, &r.name, &r.id, i);
        }
        External { resources, refs, misses: Mutex::new(Vec::new()), read: AtomicBool::new(false) }
    }

    /// The resource of full id `id` that another input holds.
    pub(super) fn find_exact(&self, id: &str) -> Option<&Resource> {
        let (t, n) = expr::parse_resource_id(id)?;
        let r = self.resources.get(self.refs.find_exact(&t, &n, id)?)?;
        self.read.store(true, Ordering::Relaxed);
        Some(r)
    }

    /// The resource a full id names, if another input holds it, with the
    /// note for a warning when it is not in the assumed resource group the
    /// id names; an error when several of that type and name do and the id
    /// names none.
    pub(super) fn find(&self, id: &str) -> Result<Option<Found<&Resource>>, String> {
        let found = match expr::parse_resource_id(id) {
            Some((t, n)) => self.refs.find_outside(&t, &n, id)?,
            None => None,
        };
        match found.and_then(|f| Some(Found { v: self.resources.get(f.v)?, note: f.note })) {
            Some(f) => {
                self.read.store(true, Ordering::Relaxed);
                Ok(Some(f))
            }
            None => {
                let mut m = self.misses.lock().unwrap_or_else(|p| p.into_inner());
                if m.len() < MAX_MISSES && !m.iter().any(|x| x.eq_ignore_ascii_case(id)) {
                    m.push(id.to_string());
                }
                Ok(None)
            }
        }
    }

    /// Whether `id` names a resource of another input (nothing recorded).
    pub fn holds(&self, id: &str) -> bool {
        expr::parse_resource_id(id).is_some_and(|(t, n)| matches!(self.refs.find_outside(&t, &n, id), Ok(Some(_))))
    }

    /// Forgets what an earlier expansion read and missed.
    pub fn reset(&self) {
        self.misses.lock().unwrap_or_else(|p| p.into_inner()).clear();
        self.read.store(false, Ordering::Relaxed);
    }

    /// Targets of `reference()` and `existing` resources that no input
    /// holds (at most `MAX_MISSES`).
    pub fn misses(&self) -> Vec<String> {
        self.misses.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Whether the expansion read a resource of another input.
    pub fn was_read(&self) -> bool {
        self.read.load(Ordering::Relaxed)
    }
}
