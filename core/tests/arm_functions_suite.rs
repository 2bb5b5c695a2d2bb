//! ARM functions where a peer's test vectors (scripts/arm-eval-suite.py,
//! docs/arm-eval-suite.md) showed the evaluator differing from Azure: each
//! case is what Azure returned in the peer's recorded deployments, or what
//! Microsoft's template function reference documents.

use serde_json::{json, Value};
use vnetlab_core::arm::expr::{EvalError, Evaluator};
use vnetlab_core::arm::DeployContext;

struct Empty(DeployContext);

impl vnetlab_core::arm::expr::Env for Empty {
    fn ctx(&self) -> &DeployContext {
        &self.0
    }
    fn parameter(&self, name: &str) -> Result<Value, EvalError> {
        Err(EvalError::Here(format!("no parameter {name}")))
    }
    fn variable(&self, name: &str) -> Result<Value, EvalError> {
        Err(EvalError::Here(format!("no variable {name}")))
    }
    fn reference(&self, _target: &str, _full: bool) -> Result<Value, EvalError> {
        Ok(json!({}))
    }
}

fn eval(expr: &str) -> Result<Value, String> {
    let env = Empty(DeployContext::default());
    let mut e = Evaluator::new(&env, &[]);
    e.eval_string(expr).map_err(|e| e.locate("t.json", "$.outputs.x.value", expr).to_string())
}

#[test]
fn values_as_azure_returns_them() {
    let cases: &[(&str, Value)] = &[
        // dataUri labels anything but a string as JSON.
        ("[dataUri(100)]", json!("data:application/json;charset=utf8;base64,MTAw")),
        ("[dataUri(createArray('one', 200))]", json!("data:application/json;charset=utf8;base64,WyJvbmUiLDIwMF0=")),
        ("[dataUri('Hello')]", json!("data:text/plain;charset=utf8;base64,SGVsbG8=")),
        // .NET Framework finds "" at the last character.
        ("[lastIndexOf('abcdef', '')]", json!(5)),
        ("[lastIndexOf('', '')]", json!(0)),
        // bool: "true" in any case, any other string false; 0 false, other integers true.
        ("[bool('0')]", json!(false)),
        ("[bool('falSe')]", json!(false)),
        ("[bool('tRue')]", json!(true)),
        ("[bool(2)]", json!(true)),
        ("[bool(-1)]", json!(true)),
        ("[bool(0)]", json!(false)),
        // uri resolves dot segments as .NET's Uri does.
        ("[uri('http://contoso.org/firstpath/', '../myscript.sh')]", json!("http://contoso.org/myscript.sh")),
        ("[uri('http://contoso.org/a/b/c', './d/../e?x=../y')]", json!("http://contoso.org/a/b/e?x=../y")),
        ("[uri('http://contoso.org/a/', '..')]", json!("http://contoso.org/")),
        ("[uri('http://contoso.org/firstpath', 'myscript.sh')]", json!("http://contoso.org/myscript.sh")),
        ("[uri('http://contoso.org', 'a')]", json!("http://contoso.org/a")),
        // Unchanged neighbours of the fixes.
        ("[concat(createArray(1), null(), createArray(2))]", json!([1, 2])),
        ("[concat('a', 1, true())]", json!("a1True")),
        ("[padLeft(123, 5, '0')]", json!("00123")),
    ];
    for (expr, want) in cases {
        assert_eq!(eval(expr).as_ref(), Ok(want), "{expr}");
    }
}

#[test]
fn arguments_azure_rejects_are_errors_naming_the_function() {
    let cases: &[(&str, &str)] = &[
        ("[concat()]", "concat"),
        ("[concat(createArray('hello', 'brave'), 'new', 'world')]", "concat"),
        ("[intersection(createArray('aaa'), 200)]", "intersection"),
        ("[padLeft(createArray(''), 10, '0')]", "padLeft"),
        ("[padLeft('123', -1, '0')]", "padLeft"),
        ("[replace('123-123-1234', '', '')]", "replace"),
    ];
    for (expr, fname) in cases {
        let e = eval(expr).expect_err(expr);
        assert!(e.contains(fname), "{expr}: {e}");
    }
}
