//! Bounds on what evaluating one template may cost, because a template is
//! untrusted input (CI runs pull requests): how deep evaluation may nest
//! (expressions, JSON trees and the variables they read, so no input can
//! exhaust the stack), how large a single value may grow, and how many
//! bytes of values one expansion may build in total (so doubling variables
//! or a doubling `reduce` end in an error, not in gigabytes).
//!
//! A `Budget` is shared by every scope of one expansion, nested deployments
//! included: each template keeps ARM's own limits, and the budget bounds
//! the sum. Sizes are estimates of memory, not of JSON text: every value
//! costs at least one `Value` slot, so even a loop of small values is paid
//! for. A leaf of `expr`.

use serde_json::Value;
use std::cell::Cell;

/// Nested evaluation (expressions, JSON levels, variables read inside
/// each other) deeper than this is refused: the real templates in the
/// tests reach about 20, and 1,000 levels fit in 8 MiB of stack in a debug
/// build, so the 64 MiB expansion thread (`template::expand_template`) has
/// room to spare whatever the input.
pub const MAX_EVAL_DEPTH: usize = 500;
/// The largest single value an expression may build: 16 MiB, four times
/// ARM's 4 MB limit on a whole expanded deployment.
pub const MAX_VALUE_BYTES: u64 = 16 << 20;
/// Values nested deeper than this are refused (ARM's JSON is far flatter).
pub const MAX_VALUE_DEPTH: usize = 256;
/// Bytes of values (and JSON paths) one expansion may build in total,
/// nested deployments included. The real templates in the tests use 2 to
/// 10 times their own size (under 50 KB), so a 4 MB template has room to
/// spare; the hostile tests show it keeps an expansion near 1 s and 200 MiB.
pub const DEFAULT_BUDGET_BYTES: u64 = 128 << 20;
/// Resources one expansion may produce across all nested deployments. ARM
/// allows 800 per template, and a nested template has its own 800, so 800
/// nested deployments of 800 resources each would be 640,000: vnetlab's
/// own, generous cap on the total.
pub const MAX_TOTAL_RESOURCES: usize = 20_000;

/// What a `Value` costs at least (its slot in an array or map).
pub const SLOT: u64 = 32;
/// What an object costs besides its slot (its map), and each of its
/// entries besides the value and the key's text (hash, index, key).
pub const MAP: u64 = 32;
pub const ENTRY: u64 = 64;

thread_local! {
    static EVAL_DEPTH: Cell<usize> = const { Cell::new(0) };
}

/// One level of nested evaluation; dropping it leaves the level.
pub struct DepthGuard(());

impl Drop for DepthGuard {
    fn drop(&mut self) {
        EVAL_DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
    }
}

/// Enters one level of nested evaluation. Counted per thread, not per
/// evaluator: variables, parameters and references start fresh evaluators
/// (and JSON trees) inside each other.
pub fn descend() -> Result<DepthGuard, String> {
    let depth = EVAL_DEPTH.with(|d| {
        d.set(d.get() + 1);
        d.get()
    });
    let guard = DepthGuard(());
    if depth > MAX_EVAL_DEPTH {
        return Err(format!("expression evaluation nested too deeply (more than {MAX_EVAL_DEPTH} levels of expressions, JSON and variables)"));
    }
    Ok(guard)
}

/// The bytes of values one expansion may still build, and the resources
/// it has produced so far.
#[derive(Debug)]
pub struct Budget {
    limit: u64,
    used: Cell<u64>,
    resources: Cell<usize>,
}

impl Default for Budget {
    fn default() -> Self {
        Budget::new(DEFAULT_BUDGET_BYTES)
    }
}

impl Budget {
    pub fn new(limit_bytes: u64) -> Self {
        Budget { limit: limit_bytes, used: Cell::new(0), resources: Cell::new(0) }
    }

    /// Bytes charged so far.
    pub fn used(&self) -> u64 {
        self.used.get()
    }

    /// Charges `bytes` of work or memory.
    pub fn charge_bytes(&self, bytes: u64) -> Result<(), String> {
        let used = self.used.get().saturating_add(bytes);
        self.used.set(used);
        if used > self.limit {
            return Err(format!(
                "the template builds more than {} MiB of values in total (vnetlab's evaluation budget; doubling variables or loops?)",
                self.limit >> 20
            ));
        }
        Ok(())
    }

    /// Charges a value just built (or copied): its size, after checking it
    /// against the per-value bounds.
    pub fn charge(&self, v: &Value) -> Result<(), String> {
        let size = value_size(v)?;
        self.charge_bytes(size)
    }

    /// Counts one more resource of the whole expansion.
    pub fn count_resource(&self) -> Result<(), String> {
        let n = self.resources.get() + 1;
        self.resources.set(n);
        if n > MAX_TOTAL_RESOURCES {
            return Err(format!(
                "more than {MAX_TOTAL_RESOURCES} resources in total across the template and its nested deployments (vnetlab's limit on one expansion; ARM allows 800 per template)"
            ));
        }
        Ok(())
    }
}

/// A value's estimated size in memory, refusing one over `MAX_VALUE_BYTES`
/// or nested deeper than `MAX_VALUE_DEPTH`. Iterative, so a deep value
/// cannot exhaust the stack while being measured.
pub fn value_size(v: &Value) -> Result<u64, String> {
    let mut total = 0u64;
    let mut stack: Vec<(&Value, usize)> = vec![(v, 1)];
    while let Some((v, depth)) = stack.pop() {
        if depth > MAX_VALUE_DEPTH {
            return Err(format!("a value is nested more than {MAX_VALUE_DEPTH} levels deep"));
        }
        total += SLOT;
        match v {
            Value::String(s) => total += s.len() as u64,
            Value::Array(items) => stack.extend(items.iter().map(|x| (x, depth + 1))),
            Value::Object(o) => {
                total += MAP;
                for (k, x) in o {
                    total += ENTRY + k.len() as u64;
                    stack.push((x, depth + 1));
                }
            }
            _ => {}
        }
        if total > MAX_VALUE_BYTES {
            return Err(too_large());
        }
    }
    Ok(total)
}

/// Checks, before building it, that a string of `len` bytes is allowed.
pub fn check_len(len: u64) -> Result<(), String> {
    if len > MAX_VALUE_BYTES {
        return Err(too_large());
    }
    Ok(())
}

fn too_large() -> String {
    format!("a value would be larger than {} MiB (vnetlab's limit on one value; ARM's on a whole deployment is 4 MB)", MAX_VALUE_BYTES >> 20)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sizes_count_slots_and_text() {
        assert_eq!(value_size(&json!(1)).ok(), Some(32));
        assert_eq!(value_size(&json!("abcd")).ok(), Some(36));
        assert_eq!(value_size(&json!([1, 2])).ok(), Some(96));
        assert_eq!(value_size(&json!({"k": 1})).ok(), Some(32 + 32 + 65 + 32));
    }

    #[test]
    fn deep_or_large_values_and_spent_budgets_are_refused() {
        let mut v = json!(0);
        for _ in 0..MAX_VALUE_DEPTH {
            v = json!([v]);
        }
        assert!(value_size(&v).is_err_and(|m| m.contains("nested more than")));
        assert!(check_len(MAX_VALUE_BYTES + 1).is_err());
        let b = Budget::new(100);
        assert!(b.charge(&json!("x")).is_ok());
        assert!(b.charge(&json!("y".repeat(100))).is_err_and(|m| m.contains("evaluation budget")));
    }
}
