//! What a deployment is given besides the template: the subscription,
//! resource group and location it targets and the public IP addresses the
//! user knows (`DeployContext`), and the parameter values the user supplied
//! (`ParamValues`). `DeployNotes` carries back what the expansion read that
//! only a default answered, so the loader can warn once.
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

/// Deployment-time values that templates read through `resourceGroup()`,
/// `subscription()`, `deployment()`, `environment()` and `reference()`.
#[derive(Debug, Clone)]
pub struct DeployContext {
    pub subscription_id: String,
    pub resource_group: String,
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
            subscription_id: "00000000-0000-0000-0000-000000000000".into(),
            resource_group: "rg-vnetlab".into(),
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

    /// `file` read `deployment().location`.
    pub fn note_deployment_location(&self, file: &str) {
        if !self.location_given {
            self.notes.with(|n| {
                n.insert(file.to_string());
            });
        }
    }

    /// The warnings for what was noted since the last call (one for all
    /// reads of `deployment().location`), and forgets them.
    pub fn take_warnings(&self) -> Vec<String> {
        let files = self.notes.with(std::mem::take);
        if files.is_empty() {
            return Vec::new();
        }
        let files: Vec<String> = files.into_iter().collect();
        vec![format!(
            "{} read{} deployment().location, the region you deploy to, but no --location was given: using {}. Give it with --location REGION",
            files.join(", "),
            if files.len() == 1 { "s" } else { "" },
            self.location
        )]
    }
}

/// The files that read `deployment().location` without a given location.
/// Behind a mutex: the expansion runs on a thread of its own.
#[derive(Debug, Clone, Default)]
pub struct DeployNotes(Arc<Mutex<BTreeSet<String>>>);

impl DeployNotes {
    fn with<T>(&self, f: impl FnOnce(&mut BTreeSet<String>) -> T) -> T {
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
