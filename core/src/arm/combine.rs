//! Several inputs loaded together, each able to read the resources of the
//! others: an app template whose `existing` VNet (or `reference()` of one in
//! another resource group) an az export or another template given with
//! `-t` holds, or one module of a template reading what another module of
//! it deploys.
//!
//! Inputs may read each other in any order, so loading goes in passes: the
//! first loads every input alone; each later pass loads again only the
//! templates that looked for a resource another input now holds, or that
//! read one that changed, with every input's resources of the pass before.
//! It stops when nothing changes, after at most one pass per input (plus
//! one): bounded, and deterministic.

use super::deploy::{DeployContext, ParamValues};
use super::detect::detect_and_load_with;
use super::resource::Resource;
use super::template::External;
use crate::error::LoadError;

/// One input: its file name (for errors), its text and its parameters.
pub struct Input<'a> {
    pub file: &'a str,
    pub text: &'a str,
    pub params: &'a ParamValues,
}

/// What one input gave in the latest pass it was loaded in.
struct Loaded {
    result: Result<Vec<Resource>, LoadError>,
    misses: Vec<String>,
    read: bool,
}

/// The resources of every input, in input order.
pub fn load_together(inputs: &[Input<'_>], ctx: &DeployContext) -> Result<Vec<Resource>, LoadError> {
    let empty = External::default();
    let mut state: Vec<Loaded> = inputs.iter().map(|i| load_one(i, ctx, &empty)).collect();
    let mut changed: Vec<bool> = vec![true; inputs.len()];
    for _ in 0..=inputs.len() {
        // Most loads look for nothing outside their input: no pass more.
        if !state.iter().any(|s| !s.misses.is_empty() || s.result.is_err() || s.read) {
            break;
        }
        let all: Vec<Resource> = state.iter().filter_map(|s| s.result.as_ref().ok()).flatten().cloned().collect();
        let external = External::new(all, &ctx.group());
        let mut now_changed = vec![false; inputs.len()];
        for (i, input) in inputs.iter().enumerate() {
            let s = &state[i];
            let others_changed = changed.iter().enumerate().any(|(j, c)| *c && j != i);
            let needed = (s.result.is_err() && others_changed) || s.misses.iter().any(|m| external.holds(m)) || (s.read && others_changed);
            if !needed {
                continue;
            }
            let next = load_one(input, ctx, &external);
            now_changed[i] = !same(&state[i].result, &next.result);
            state[i] = next;
        }
        changed = now_changed;
        if !changed.contains(&true) {
            break;
        }
    }
    let mut out = Vec::new();
    for s in state {
        out.extend(s.result?);
    }
    Ok(out)
}

fn load_one(input: &Input<'_>, ctx: &DeployContext, external: &External) -> Loaded {
    external.reset();
    let result = detect_and_load_with(input.text, input.file, input.params, ctx, Some(external));
    Loaded { result, misses: external.misses(), read: external.was_read() }
}

fn same(a: &Result<Vec<Resource>, LoadError>, b: &Result<Vec<Resource>, LoadError>) -> bool {
    match (a, b) {
        (Ok(x), Ok(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| p.id == q.id && p.rtype == q.rtype && p.body == q.body),
        (Err(x), Err(y)) => x.to_string() == y.to_string(),
        _ => false,
    }
}
