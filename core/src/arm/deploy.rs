//! What a deployment is given besides the template: the subscription,
//! resource group and location it targets and the public IP addresses the
//! user knows (`DeployContext`), and the parameter values the user supplied
//! (`ParamValues`). `DeployNotes` carries back what the expansion read that
//! only a default answered (or a reference the assumed resource group could
//! not answer), so the loader can warn once.
//!
//! A leaf: the expression evaluator, the template expander and the `az` and
//! native loaders import these from here; `arm` re-exports them.

use serde_json::Value;
use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};

/// The region `deployment().location` and `resourceGroup().location` give
/// when the user names none (FORMAT.md, "Loading").
pub const DEFAULT_LOCATION: &str = "westeurope";
/// The subscription and resource group deployed to when the user names
/// none (FORMAT.md, "Loading").
pub const DEFAULT_SUBSCRIPTION: &str = "00000000-0000-0000-0000-000000000000";
pub const DEFAULT_RESOURCE_GROUP: &str = "rg-vnetlab";

/// The resource group a deployment targets, as references see it. When
/// the user did not name it (`--resource-group`) it is only assumed, so an
/// id naming it may mean a same-named resource of the group the user
/// really deploys into (`arm::refs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentGroup {
    pub name: String,
    pub given: bool,
}

impl Default for DeploymentGroup {
    fn default() -> Self {
        DeploymentGroup { name: DEFAULT_RESOURCE_GROUP.into(), given: false }
    }
}

/// Deployment-time values that templates read through `resourceGroup()`,
/// `subscription()`, `deployment()`, `environment()` and `reference()`.
#[derive(Debug, Clone)]
pub struct DeployContext {
    /// `--subscription`: what `subscription()` and the ids a template
    /// builds name.
    pub subscription_id: String,
    /// `--resource-group`: what `resourceGroup()` and the ids a template
    /// builds name.
    pub resource_group: String,
    /// Whether the user gave `resource_group`; if not, references naming
    /// it may resolve to another group (`DeploymentGroup`).
    pub resource_group_given: bool,
    /// The region deployed to (`--location`): `deployment().location` and
    /// `resourceGroup().location` (the resource group a user deploys into
    /// is, for vnetlab, in that region).
    pub location: String,
    /// Whether the user gave `location`; if not, reading
    /// `deployment().location` is noted for a warning.
    pub location_given: bool,
    /// `--public-ip NAME=ADDRESS`: what `reference(pip).ipAddress` reads
    /// for a public IP resource of that name.
    pub public_ips: Vec<(String, Ipv4Addr)>,
    /// Shared by every clone, so nested deployments note into the same set.
    pub notes: DeployNotes,
}

impl Default for DeployContext {
    fn default() -> Self {
        DeployContext {
            subscription_id: DEFAULT_SUBSCRIPTION.into(),
            resource_group: DEFAULT_RESOURCE_GROUP.into(),
            resource_group_given: false,
            location: DEFAULT_LOCATION.into(),
            location_given: false,
            public_ips: Vec::new(),
            notes: DeployNotes::default(),
        }
    }
}

impl DeployContext {
    /// The address the user gave for public IP resource `name`.
    pub fn public_ip(&self, name: &str) -> Option<Ipv4Addr> {
        self.public_ips.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, a)| *a)
    }

    /// The resource group deployed to, and whether the user named it.
    pub fn group(&self) -> DeploymentGroup {
        DeploymentGroup { name: self.resource_group.clone(), given: self.resource_group_given }
    }

    /// `file` read `deployment().location`.
    pub fn note_deployment_location(&self, file: &str) {
        if !self.location_given {
            self.notes.with(|n| {
                n.location.insert(file.to_string());
            });
        }
    }

    /// A warning to give once, however many expansion passes make it (a
    /// reference the assumed resource group did not answer, `arm::refs`).
    pub fn note_warning(&self, message: String) {
        self.notes.with(|n| {
            n.warnings.insert(message);
        });
    }

    /// The warnings for what was noted since the last call (one for all
    /// reads of `deployment().location`), and forgets them.
    pub fn take_warnings(&self) -> Vec<String> {
        let noted = self.notes.with(std::mem::take);
        let mut out: Vec<String> = noted.warnings.into_iter().collect();
        if !noted.location.is_empty() {
            let files: Vec<String> = noted.location.into_iter().collect();
            out.insert(
                0,
                format!(
                    "{} read{} deployment().location, the region you deploy to, but no --location was given: using {}. Give it with --location REGION",
                    files.join(", "),
                    if files.len() == 1 { "s" } else { "" },
                    self.location
                ),
            );
        }
        out
    }
}

/// What the expansion noted for warnings: the files that read
/// `deployment().location` without a given location, and whole messages.
#[derive(Debug, Default)]
struct Noted {
    location: BTreeSet<String>,
    warnings: BTreeSet<String>,
}

/// Behind a mutex: the expansion runs on a thread of its own.
#[derive(Debug, Clone, Default)]
pub struct DeployNotes(Arc<Mutex<Noted>>);

impl DeployNotes {
    fn with<T>(&self, f: impl FnOnce(&mut Noted) -> T) -> T {
        // A poisoned lock only means another thread panicked while noting;
        // the set itself is still whole.
        let mut guard = self.0.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut guard)
    }
}

/// Parameter values given by the user, overriding defaults.
#[derive(Debug, Clone, Default)]
pub struct ParamValues {
    /// In order of precedence (later wins), each with where it came from.
    pub values: Vec<(String, Value, String)>,
}
