//! How expression evaluation fails: `EvalError`, either a message the caller
//! still has to locate (at the expression's JSON path) or an error already
//! located elsewhere, plus the `R` result alias and `err` shorthand that the
//! evaluator and the function library share.
//!
//! A leaf of `expr`: the parser, the evaluator and the function files import
//! it directly; `expr` re-exports `EvalError`.

use crate::error::LoadError;

/// An evaluation failure: either a message still to be located by the
/// caller (the JSON path of the expression), or a fully located error from
/// something the expression read (a variable, a parameter default, another
/// resource via `reference()`), which keeps its own location.
#[derive(Debug, Clone)]
pub enum EvalError {
    Here(String),
    At(LoadError),
}

impl From<String> for EvalError {
    fn from(s: String) -> Self {
        EvalError::Here(s)
    }
}

impl EvalError {
    /// Turns the error into a `LoadError` at `path`, quoting the expression.
    pub fn locate(self, file: &str, path: &str, expr_text: &str) -> LoadError {
        match self {
            EvalError::At(e) => e,
            EvalError::Here(m) => LoadError::new(file, path, format!("{m} in \"{expr_text}\"")),
        }
    }
}

pub(super) type R<T> = Result<T, EvalError>;

pub(super) fn err<T>(m: impl Into<String>) -> R<T> {
    Err(EvalError::Here(m.into()))
}
