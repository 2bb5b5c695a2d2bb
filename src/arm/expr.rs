//! The ARM template expression language: a parser for `[...]` strings and an
//! evaluator for the template functions the importer needs.
//!
//! Evaluation is lazy where ARM's is (`if` only evaluates the chosen branch,
//! lambdas evaluate their body per element) because templates rely on it:
//! the untaken branch of an `if` often reads a property that does not exist.
//! Values read through `reference()`, `list*()` and `deployment()` are
//! "runtime" values: Azure fills them in at deployment time, so a property
//! missing from them yields a `<runtime:NAME>` placeholder instead of an error.
//!
//! `uniqueString`, `guid`, `newGuid` and `utcNow` are deterministic stand-ins:
//! the same inputs always give the same output, but not Azure's output.

use super::DeployContext;
use crate::error::LoadError;
use serde_json::{Map, Value};

// ---------------------------------------------------------------------------
// Syntax
// ---------------------------------------------------------------------------

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Str(String),
    Int(i64),
    /// A function call; `name` keeps its spelling (lookup is case-insensitive),
    /// user functions are `namespace.member`.
    Call { name: String, args: Vec<Expr> },
    /// `.name` property access.
    Member(Box<Expr>, String),
    /// `[expr]` index access.
    Index(Box<Expr>, Box<Expr>),
}

/// Whether a JSON string is an expression (`[...]`, but not the `[[` escape).
pub fn is_expression(s: &str) -> bool {
    s.len() >= 2 && s.starts_with('[') && s.ends_with(']') && !s.starts_with("[[")
}

/// The literal text of a non-expression string: `[[x]` stands for `[x]`.
pub fn unescape_literal(s: &str) -> &str {
    if s.starts_with("[[") {
        &s[1..]
    } else {
        s
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Int(i64),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Dot,
}

fn describe(t: Option<&Tok>) -> String {
    match t {
        None => "end of expression".into(),
        Some(Tok::Ident(s)) => format!("'{s}'"),
        Some(Tok::Str(s)) => format!("string '{s}'"),
        Some(Tok::Int(i)) => format!("number {i}"),
        Some(Tok::LParen) => "'('".into(),
        Some(Tok::RParen) => "')'".into(),
        Some(Tok::LBracket) => "'['".into(),
        Some(Tok::RBracket) => "']'".into(),
        Some(Tok::Comma) => "','".into(),
        Some(Tok::Dot) => "'.'".into(),
    }
}

fn tokenize(src: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' | '\r' | '\n' => i += 1,
            '(' => { out.push(Tok::LParen); i += 1 }
            ')' => { out.push(Tok::RParen); i += 1 }
            '[' => { out.push(Tok::LBracket); i += 1 }
            ']' => { out.push(Tok::RBracket); i += 1 }
            ',' => { out.push(Tok::Comma); i += 1 }
            '.' => { out.push(Tok::Dot); i += 1 }
            '\'' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err("unterminated string literal (missing closing ')".into()),
                        Some('\'') if chars.get(i + 1) == Some(&'\'') => { s.push('\''); i += 2 }
                        Some('\'') => { i += 1; break }
                        Some(&ch) => { s.push(ch); i += 1 }
                    }
                }
                out.push(Tok::Str(s));
            }
            '-' | '0'..='9' => {
                let start = i;
                i += 1;
                while i < chars.len() && chars[i].is_ascii_digit() {
                    i += 1;
                }
                let text: String = chars[start..i].iter().collect();
                let n = text.parse::<i64>().map_err(|_| format!("invalid integer literal '{text}'"))?;
                out.push(Tok::Int(n));
            }
            c if c.is_alphabetic() || c == '_' || c == '$' => {
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '$') {
                    i += 1;
                }
                out.push(Tok::Ident(chars[start..i].iter().collect()));
            }
            other => return Err(format!("unexpected character '{other}'")),
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
    depth: usize,
}

/// Nesting beyond this is surely not a template; it keeps recursion bounded.
const MAX_DEPTH: usize = 100;
/// Bound on nested evaluation across variables, parameters and references.
const MAX_EVAL_DEPTH: usize = 160;

thread_local! {
    static EVAL_DEPTH: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }
    fn expect(&mut self, want: Tok) -> Result<(), String> {
        match self.next() {
            Some(t) if t == want => Ok(()),
            t => Err(format!("expected {} but found {}", describe(Some(&want)), describe(t.as_ref()))),
        }
    }

    fn expr(&mut self) -> Result<Expr, String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err("expression nested too deeply".into());
        }
        let mut e = self.primary()?;
        loop {
            match self.peek() {
                Some(Tok::Dot) => {
                    self.pos += 1;
                    match self.next() {
                        Some(Tok::Ident(name)) => e = Expr::Member(Box::new(e), name),
                        t => return Err(format!("expected a property name after '.' but found {}", describe(t.as_ref()))),
                    }
                }
                Some(Tok::LBracket) => {
                    self.pos += 1;
                    let idx = self.expr()?;
                    self.expect(Tok::RBracket)?;
                    e = Expr::Index(Box::new(e), Box::new(idx));
                }
                _ => break,
            }
        }
        self.depth -= 1;
        Ok(e)
    }

    fn primary(&mut self) -> Result<Expr, String> {
        match self.next() {
            Some(Tok::Str(s)) => Ok(Expr::Str(s)),
            Some(Tok::Int(i)) => Ok(Expr::Int(i)),
            Some(Tok::Ident(name)) => {
                let mut name = name;
                // `namespace.member(...)`: a user-defined function.
                if self.peek() == Some(&Tok::Dot) {
                    if let (Some(Tok::Ident(member)), Some(Tok::LParen)) = (self.toks.get(self.pos + 1), self.toks.get(self.pos + 2)) {
                        name = format!("{name}.{member}");
                        self.pos += 2;
                    }
                }
                if self.peek() != Some(&Tok::LParen) {
                    return Err(format!("expected '(' after function name '{name}' but found {}", describe(self.peek())));
                }
                self.pos += 1;
                let mut args = Vec::new();
                if self.peek() == Some(&Tok::RParen) {
                    self.pos += 1;
                } else {
                    loop {
                        args.push(self.expr()?);
                        match self.next() {
                            Some(Tok::Comma) => continue,
                            Some(Tok::RParen) => break,
                            t => return Err(format!("expected ',' or ')' in the arguments of '{name}' but found {}", describe(t.as_ref()))),
                        }
                    }
                }
                Ok(Expr::Call { name, args })
            }
            t => Err(format!("expected a function call, string or number but found {}", describe(t.as_ref()))),
        }
    }
}

/// Parses the inside of an expression string (`[` and `]` included).
pub fn parse(text: &str) -> Result<Expr, String> {
    let inner = text
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .ok_or_else(|| "an expression must be enclosed in '[' and ']'".to_string())?;
    let toks = tokenize(inner)?;
    if toks.is_empty() {
        return Err("empty expression".into());
    }
    let mut p = Parser { toks, pos: 0, depth: 0 };
    let e = p.expr()?;
    if p.pos < p.toks.len() {
        return Err(format!("unexpected {} after the end of the expression", describe(p.peek())));
    }
    Ok(e)
}

// ---------------------------------------------------------------------------
// Evaluation environment
// ---------------------------------------------------------------------------

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

type R<T> = Result<T, EvalError>;

fn err<T>(m: impl Into<String>) -> R<T> {
    Err(EvalError::Here(m.into()))
}

/// A user-defined function (`functions` section of a template).
#[derive(Debug, Clone)]
pub struct UserFunction {
    pub params: Vec<String>,
    pub output: Value,
}

/// What an expression can read besides its own arguments.
pub trait Env {
    fn ctx(&self) -> &DeployContext;
    fn parameter(&self, name: &str) -> R<Value>;
    fn variable(&self, name: &str) -> R<Value>;
    /// `reference(target)`: `target` is a resource id, a resource name or a
    /// symbolic name; `full` asks for the whole resource body.
    fn reference(&self, target: &str, full: bool) -> R<Value>;
    fn user_function(&self, _qualified_name: &str) -> Option<UserFunction> {
        None
    }
    fn deployment_name(&self) -> String {
        "vnetlab".into()
    }
}

/// One active `copy` loop: its name (`None` for the resource-level loop when
/// unnamed) and current index.
#[derive(Debug, Clone)]
pub struct CopyFrame {
    pub name: Option<String>,
    pub index: i64,
    /// Resource- or variable-level loops answer an unnamed `copyIndex()`.
    pub answers_unnamed: bool,
}

/// A value together with whether it came from a runtime-only source.
#[derive(Debug, Clone)]
struct Val {
    v: Value,
    runtime: bool,
}

fn plain(v: Value) -> R<Val> {
    Ok(Val { v, runtime: false })
}

/// Evaluates expressions against an environment and the active copy loops.
pub struct Evaluator<'a> {
    env: &'a dyn Env,
    copies: &'a [CopyFrame],
    lambda_vars: Vec<(String, Value)>,
}

impl<'a> Evaluator<'a> {
    pub fn new(env: &'a dyn Env, copies: &'a [CopyFrame]) -> Self {
        Evaluator { env, copies, lambda_vars: Vec::new() }
    }

    /// Evaluates a JSON string: an expression is evaluated, a `[[` escape is
    /// unescaped, anything else is returned as is.
    pub fn eval_string(&mut self, s: &str) -> R<Value> {
        if is_expression(s) {
            let e = parse(s).map_err(|m| EvalError::Here(format!("invalid expression: {m}")))?;
            Ok(self.eval(&e)?.v)
        } else {
            Ok(Value::String(unescape_literal(s).to_string()))
        }
    }

    fn eval(&mut self, e: &Expr) -> R<Val> {
        // Counted per thread, not per evaluator: variables, parameters and
        // references start fresh evaluators inside each other.
        let depth = EVAL_DEPTH.with(|d| {
            d.set(d.get() + 1);
            d.get()
        });
        let r = if depth > MAX_EVAL_DEPTH { err("expression evaluation nested too deeply") } else { self.eval_inner(e) };
        EVAL_DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
        r
    }

    fn eval_inner(&mut self, e: &Expr) -> R<Val> {
        match e {
            Expr::Str(s) => plain(Value::String(s.clone())),
            Expr::Int(i) => plain(Value::from(*i)),
            Expr::Member(base, name) => {
                let b = self.eval(base)?;
                member(b, name)
            }
            Expr::Index(base, idx) => {
                let b = self.eval(base)?;
                let i = self.eval(idx)?;
                index(b, &i.v)
            }
            Expr::Call { name, args } => self.call(name, args),
        }
    }

    fn args(&mut self, args: &[Expr]) -> R<Vec<Value>> {
        args.iter().map(|a| self.eval(a).map(|v| v.v)).collect()
    }

    // `call` and the helpers below sit on the recursion path of nested
    // expressions, so each is kept small (debug builds give every local of
    // a function its own stack slot).
    fn call(&mut self, name: &str, args: &[Expr]) -> R<Val> {
        let lname = name.to_ascii_lowercase();
        match lname.as_str() {
            "if" => self.call_if(name, args),
            "and" | "or" => self.call_and_or(name, lname == "or", args),
            "coalesce" => self.call_coalesce(args),
            "lambda" => lambda_misuse(),
            "filter" | "map" | "sort" | "reduce" | "toobject" | "mapvalues" | "groupby" => self.lambda_call(name, &lname, args),
            "parameters" | "variables" => self.call_lookup(name, lname == "parameters", args),
            "reference" => self.call_reference(name, args),
            "deployment" => self.call_deployment(name, args),
            l if l.starts_with("list") => self.call_list(name, args),
            _ if name.contains('.') => self.user_call(name, args),
            _ => self.call_builtin(name, &lname, args),
        }
    }

    #[inline(never)]
    fn call_if(&mut self, name: &str, args: &[Expr]) -> R<Val> {
        arity(name, args.len(), 3, 3)?;
        let c = self.eval(&args[0])?;
        let c = to_bool(name, &c.v)?;
        self.eval(&args[if c { 1 } else { 2 }])
    }

    #[inline(never)]
    fn call_and_or(&mut self, name: &str, is_or: bool, args: &[Expr]) -> R<Val> {
        arity(name, args.len(), 2, usize::MAX)?;
        for a in args {
            let v = self.eval(a)?;
            if to_bool(name, &v.v)? == is_or {
                return plain(Value::Bool(is_or));
            }
        }
        plain(Value::Bool(!is_or))
    }

    #[inline(never)]
    fn call_coalesce(&mut self, args: &[Expr]) -> R<Val> {
        for a in args {
            let v = self.eval(a)?;
            if !v.v.is_null() {
                return Ok(v);
            }
        }
        plain(Value::Null)
    }

    #[inline(never)]
    fn call_lookup(&mut self, name: &str, is_param: bool, args: &[Expr]) -> R<Val> {
        arity(name, args.len(), 1, 1)?;
        let v = self.args(args)?;
        let key = str_arg(name, &v, 0)?;
        let r = if is_param { self.env.parameter(key)? } else { self.env.variable(key)? };
        plain(r)
    }

    #[inline(never)]
    fn call_reference(&mut self, name: &str, args: &[Expr]) -> R<Val> {
        arity(name, args.len(), 1, 3)?;
        let v = self.args(args)?;
        let target = str_arg(name, &v, 0)?;
        let full = matches!(v.get(2), Some(Value::String(s)) if s.eq_ignore_ascii_case("full"));
        let r = self.env.reference(target, full)?;
        Ok(Val { v: r, runtime: true })
    }

    #[inline(never)]
    fn call_deployment(&mut self, name: &str, args: &[Expr]) -> R<Val> {
        arity(name, args.len(), 0, 0)?;
        Ok(Val { v: deployment_object(&self.env.deployment_name()), runtime: true })
    }

    #[inline(never)]
    fn call_list(&mut self, name: &str, args: &[Expr]) -> R<Val> {
        self.args(args)?;
        Ok(Val { v: list_placeholder(name), runtime: true })
    }

    #[inline(never)]
    fn call_builtin(&mut self, name: &str, lname: &str, args: &[Expr]) -> R<Val> {
        let a = self.args(args)?;
        let v = self.builtin(name, lname, &a)?;
        plain(v)
    }

    #[inline(never)]
    fn user_call(&mut self, name: &str, args: &[Expr]) -> R<Val> {
        let Some(f) = self.env.user_function(name) else {
            return err(format!("unknown user-defined function '{name}'"));
        };
        if f.params.len() != args.len() {
            return err(format!("function '{name}' expects {} arguments but got {}", f.params.len(), args.len()));
        }
        let values = self.args(args)?;
        let fenv = FunctionEnv { outer: self.env, params: f.params.iter().cloned().zip(values).collect() };
        let mut ev = Evaluator::new(&fenv, &[]);
        let v = match &f.output {
            Value::String(s) => ev.eval_string(s)?,
            other => other.clone(),
        };
        plain(v)
    }

    fn lambda_parts<'e>(&self, fname: &str, e: &'e Expr, nparams: usize) -> R<(Vec<String>, &'e Expr)> {
        if let Expr::Call { name, args } = e {
            if name.eq_ignore_ascii_case("lambda") && !args.is_empty() {
                let mut params = Vec::new();
                for a in &args[..args.len() - 1] {
                    match a {
                        Expr::Str(s) => params.push(s.clone()),
                        _ => return err(format!("the parameter names of a lambda in '{fname}' must be string literals")),
                    }
                }
                if params.len() < nparams {
                    return err(format!("the lambda given to '{fname}' needs {nparams} parameter(s) but declares {}", params.len()));
                }
                return Ok((params, &args[args.len() - 1]));
            }
        }
        err(format!("function '{fname}' expects a lambda(...) argument"))
    }

    fn apply(&mut self, params: &[String], body: &Expr, values: Vec<Value>) -> R<Value> {
        let before = self.lambda_vars.len();
        for (p, v) in params.iter().zip(values) {
            self.lambda_vars.push((p.clone(), v));
        }
        let r = self.eval(body).map(|v| v.v);
        self.lambda_vars.truncate(before);
        r
    }

    #[inline(never)]
    fn lambda_call(&mut self, name: &str, lname: &str, args: &[Expr]) -> R<Val> {
        let want = match lname {
            "reduce" => 3,
            "toobject" => 2,
            _ => 2,
        };
        if lname == "toobject" {
            arity(name, args.len(), 2, 3)?;
        } else {
            arity(name, args.len(), want, want)?;
        }
        let input = self.eval(&args[0])?.v;
        if lname == "mapvalues" {
            let Value::Object(obj) = input else { return err(format!("function '{name}' expects an object as its first argument")) };
            let (p, body) = self.lambda_parts(name, &args[1], 1)?;
            let mut out = Map::new();
            for (k, v) in obj {
                let nv = self.apply(&p, body, vec![v])?;
                out.insert(k, nv);
            }
            return plain(Value::Object(out));
        }
        let Value::Array(items) = input else { return err(format!("function '{name}' expects an array as its first argument")) };
        match lname {
            "filter" => {
                let (p, body) = self.lambda_parts(name, &args[1], 1)?;
                let mut out = Vec::new();
                for (i, it) in items.into_iter().enumerate() {
                    let keep = self.apply(&p, body, vec![it.clone(), Value::from(i as i64)])?;
                    if to_bool(name, &keep)? {
                        out.push(it);
                    }
                }
                plain(Value::Array(out))
            }
            "map" => {
                let (p, body) = self.lambda_parts(name, &args[1], 1)?;
                let mut out = Vec::new();
                for (i, it) in items.into_iter().enumerate() {
                    out.push(self.apply(&p, body, vec![it, Value::from(i as i64)])?);
                }
                plain(Value::Array(out))
            }
            "reduce" => {
                let mut acc = self.eval(&args[1])?.v;
                let (p, body) = self.lambda_parts(name, &args[2], 2)?;
                for (i, it) in items.into_iter().enumerate() {
                    acc = self.apply(&p, body, vec![acc, it, Value::from(i as i64)])?;
                }
                plain(acc)
            }
            "sort" => {
                let (p, body) = self.lambda_parts(name, &args[1], 2)?;
                // Insertion sort: the comparator is an expression that may fail,
                // which rules out `sort_by`; arrays in templates are small.
                let mut out: Vec<Value> = Vec::with_capacity(items.len());
                for it in items {
                    let mut pos = out.len();
                    while pos > 0 {
                        let less = self.apply(&p, body, vec![it.clone(), out[pos - 1].clone()])?;
                        if to_bool(name, &less)? {
                            pos -= 1;
                        } else {
                            break;
                        }
                    }
                    out.insert(pos, it);
                }
                plain(Value::Array(out))
            }
            "groupby" => {
                let (p, body) = self.lambda_parts(name, &args[1], 1)?;
                let mut out = Map::new();
                for it in items {
                    let k = stringify(&self.apply(&p, body, vec![it.clone()])?);
                    if let Value::Array(a) = out.entry(k).or_insert_with(|| Value::Array(Vec::new())) {
                        a.push(it);
                    }
                }
                plain(Value::Object(out))
            }
            _ => {
                // toObject(array, keyLambda, valueLambda?)
                let (kp, kbody) = self.lambda_parts(name, &args[1], 1)?;
                let vl = match args.get(2) {
                    Some(a) => Some(self.lambda_parts(name, a, 1)?),
                    None => None,
                };
                let mut out = Map::new();
                for it in items {
                    let k = self.apply(&kp, kbody, vec![it.clone()])?;
                    let Value::String(k) = k else { return err(format!("the key lambda of '{name}' must return a string")) };
                    let v = match &vl {
                        Some((vp, vbody)) => self.apply(vp, vbody, vec![it])?,
                        None => it,
                    };
                    out.insert(k, v);
                }
                plain(Value::Object(out))
            }
        }
    }

    #[inline(never)]
    fn copy_index(&self, name: &str, a: &[Value]) -> R<Value> {
        arity(name, a.len(), 0, 2)?;
        let (loop_name, offset) = match (a.first(), a.get(1)) {
            (None, _) => (None, 0),
            (Some(Value::String(s)), None) => (Some(s.as_str()), 0),
            (Some(Value::String(s)), Some(o)) => (Some(s.as_str()), int_of(name, o)?),
            (Some(o), None) => (None, int_of(name, o)?),
            _ => return err(format!("function '{name}' expects (loopName?, offset?)")),
        };
        let frame = match loop_name {
            Some(n) => self.copies.iter().rev().find(|f| f.name.as_deref().is_some_and(|x| x.eq_ignore_ascii_case(n))),
            None => self.copies.iter().rev().find(|f| f.answers_unnamed),
        };
        match frame {
            Some(f) => Ok(Value::from(f.index.checked_add(offset).ok_or_else(|| EvalError::Here("copyIndex offset overflows".into()))?)),
            None => match loop_name {
                Some(n) => err(format!("copyIndex('{n}') is used outside a copy loop named '{n}'")),
                None => err("copyIndex() is used outside a copy loop"),
            },
        }
    }

    #[inline(never)]
    fn builtin(&mut self, name: &str, lname: &str, a: &[Value]) -> R<Value> {
        let ctx = self.env.ctx();
        let n = a.len();
        match lname {
            "lambdavariables" => {
                arity(name, n, 1, 1)?;
                let want = str_arg(name, a, 0)?;
                match self.lambda_vars.iter().rev().find(|(k, _)| k.eq_ignore_ascii_case(want)) {
                    Some((_, v)) => Ok(v.clone()),
                    None => err(format!("lambdaVariables('{want}') names no parameter of an enclosing lambda")),
                }
            }
            "copyindex" => self.copy_index(name, a),
            "resourceid" => resource_id_fn(name, a, ctx, IdScope::ResourceGroup),
            "subscriptionresourceid" => resource_id_fn(name, a, ctx, IdScope::Subscription),
            "tenantresourceid" => resource_id_fn(name, a, ctx, IdScope::Tenant),
            "extensionresourceid" => {
                if n < 3 {
                    return err(format!("function '{name}' expects (resourceId, resourceType, name...)"));
                }
                let base = str_arg(name, a, 0)?.trim_end_matches('/').to_string();
                let t = str_arg(name, a, 1)?;
                let names = names_of(name, &a[2..])?;
                Ok(Value::String(format!("{base}/providers/{}", type_name_path(t, &names)?)))
            }
            "resourcegroup" => {
                arity(name, n, 0, 0)?;
                Ok(serde_json::json!({
                    "id": format!("/subscriptions/{}/resourceGroups/{}", ctx.subscription_id, ctx.resource_group),
                    "name": ctx.resource_group,
                    "type": "Microsoft.Resources/resourceGroups",
                    "location": ctx.location,
                    "tags": {},
                    "properties": {"provisioningState": "Succeeded"}
                }))
            }
            "subscription" => {
                arity(name, n, 0, 0)?;
                Ok(serde_json::json!({
                    "id": format!("/subscriptions/{}", ctx.subscription_id),
                    "subscriptionId": ctx.subscription_id,
                    "tenantId": TENANT_ID,
                    "displayName": "vnetlab"
                }))
            }
            "tenant" => {
                arity(name, n, 0, 0)?;
                Ok(serde_json::json!({
                    "id": format!("/tenants/{TENANT_ID}"),
                    "tenantId": TENANT_ID,
                    "countryCode": "US",
                    "displayName": "vnetlab"
                }))
            }
            "environment" => {
                arity(name, n, 0, 0)?;
                Ok(environment())
            }
            "format" => {
                if n < 1 {
                    return err(format!("function '{name}' expects a format string"));
                }
                dotnet_format(str_arg(name, a, 0)?, &a[1..]).map(Value::String).map_err(EvalError::Here)
            }
            "concat" => {
                if a.iter().all(|v| v.is_array() || v.is_null()) && n > 0 {
                    let mut out = Vec::new();
                    for v in a {
                        if let Value::Array(x) = v {
                            out.extend(x.iter().cloned());
                        }
                    }
                    Ok(Value::Array(out))
                } else {
                    Ok(Value::String(a.iter().map(stringify).collect()))
                }
            }
            "uniquestring" => {
                if n == 0 {
                    return err(format!("function '{name}' expects at least 1 argument"));
                }
                let parts: Vec<String> = a.iter().map(stringify).collect();
                Ok(Value::String(unique_string(&parts.join("-"))))
            }
            "guid" => {
                if n == 0 {
                    return err(format!("function '{name}' expects at least 1 argument"));
                }
                let parts: Vec<String> = a.iter().map(stringify).collect();
                Ok(Value::String(guid_of(&parts.join("-"))))
            }
            "newguid" => {
                arity(name, n, 0, 0)?;
                Ok(Value::String(guid_of("vnetlab-newGuid")))
            }
            "utcnow" => {
                arity(name, n, 0, 1)?;
                Ok(Value::String("20250101T000000Z".into()))
            }
            "datetimeadd" => {
                arity(name, n, 2, 3)?;
                Ok(Value::String(str_arg(name, a, 0)?.to_string()))
            }
            "equals" => {
                arity(name, n, 2, 2)?;
                Ok(Value::Bool(json_eq(&a[0], &a[1])))
            }
            "not" => {
                arity(name, n, 1, 1)?;
                Ok(Value::Bool(!to_bool(name, &a[0])?))
            }
            "true" | "false" => {
                arity(name, n, 0, 0)?;
                Ok(Value::Bool(lname == "true"))
            }
            "null" => {
                arity(name, n, 0, 0)?;
                Ok(Value::Null)
            }
            "empty" => {
                arity(name, n, 1, 1)?;
                Ok(Value::Bool(match &a[0] {
                    Value::Null => true,
                    Value::String(s) => s.is_empty(),
                    Value::Array(x) => x.is_empty(),
                    Value::Object(o) => o.is_empty(),
                    _ => return err(format!("function '{name}' expects a string, array or object")),
                }))
            }
            "contains" => {
                arity(name, n, 2, 2)?;
                Ok(Value::Bool(match &a[0] {
                    Value::String(s) => s.contains(stringify(&a[1]).as_str()),
                    Value::Array(x) => x.iter().any(|e| json_eq(e, &a[1])),
                    Value::Object(o) => {
                        let k = stringify(&a[1]);
                        o.keys().any(|x| x.eq_ignore_ascii_case(&k))
                    }
                    _ => return err(format!("function '{name}' expects a string, array or object as its first argument")),
                }))
            }
            "length" => {
                arity(name, n, 1, 1)?;
                Ok(Value::from(match &a[0] {
                    Value::String(s) => s.chars().count(),
                    Value::Array(x) => x.len(),
                    Value::Object(o) => o.len(),
                    _ => return err(format!("function '{name}' expects a string, array or object")),
                } as i64))
            }
            "tolower" | "toupper" => {
                arity(name, n, 1, 1)?;
                let s = str_arg(name, a, 0)?;
                Ok(Value::String(if lname == "tolower" { s.to_lowercase() } else { s.to_uppercase() }))
            }
            "trim" => {
                arity(name, n, 1, 1)?;
                Ok(Value::String(str_arg(name, a, 0)?.trim().to_string()))
            }
            "split" => {
                arity(name, n, 2, 2)?;
                let s = str_arg(name, a, 0)?;
                let delims: Vec<String> = match &a[1] {
                    Value::String(d) => vec![d.clone()],
                    Value::Array(ds) => ds.iter().map(stringify).collect(),
                    _ => return err(format!("function '{name}' expects a string or array of delimiters")),
                };
                Ok(Value::Array(split_multi(s, &delims).into_iter().map(Value::String).collect()))
            }
            "join" => {
                arity(name, n, 2, 2)?;
                let Value::Array(x) = &a[0] else { return err(format!("function '{name}' expects an array as its first argument")) };
                let d = str_arg(name, a, 1)?;
                Ok(Value::String(x.iter().map(stringify).collect::<Vec<_>>().join(d)))
            }
            "replace" => {
                arity(name, n, 3, 3)?;
                let (s, old, new) = (str_arg(name, a, 0)?, str_arg(name, a, 1)?, str_arg(name, a, 2)?);
                if old.is_empty() {
                    return Ok(Value::String(s.to_string()));
                }
                Ok(Value::String(s.replace(old, new)))
            }
            "substring" => {
                arity(name, n, 2, 3)?;
                let s: Vec<char> = str_arg(name, a, 0)?.chars().collect();
                let start = int_of(name, &a[1])?;
                let len = match a.get(2) {
                    Some(l) => int_of(name, l)?,
                    None => s.len() as i64 - start,
                };
                if start < 0 || len < 0 || start.saturating_add(len) > s.len() as i64 {
                    return err(format!(
                        "substring: start {start} and length {len} are out of range for a string of length {}",
                        s.len()
                    ));
                }
                Ok(Value::String(s[start as usize..(start + len) as usize].iter().collect()))
            }
            "indexof" | "lastindexof" | "startswith" | "endswith" => {
                arity(name, n, 2, 2)?;
                let s = str_arg(name, a, 0)?.to_lowercase();
                let f = str_arg(name, a, 1)?.to_lowercase();
                let char_pos = |byte: usize| s[..byte].chars().count() as i64;
                Ok(match lname {
                    "indexof" => Value::from(s.find(&f).map(char_pos).unwrap_or(-1)),
                    "lastindexof" => Value::from(s.rfind(&f).map(char_pos).unwrap_or(-1)),
                    "startswith" => Value::Bool(s.starts_with(&f)),
                    _ => Value::Bool(s.ends_with(&f)),
                })
            }
            "padleft" => {
                arity(name, n, 2, 3)?;
                let s = stringify(&a[0]);
                let total = int_of(name, &a[1])?;
                if total > 16384 {
                    return err(format!("padLeft: total length {total} is too large"));
                }
                let pad = match a.get(2) {
                    Some(p) => {
                        let p = stringify(p);
                        let mut it = p.chars();
                        match (it.next(), it.next()) {
                            (Some(c), None) => c,
                            _ => return err("padLeft: the padding must be a single character"),
                        }
                    }
                    None => ' ',
                };
                let len = s.chars().count() as i64;
                let mut out = String::new();
                for _ in len..total {
                    out.push(pad);
                }
                out.push_str(&s);
                Ok(Value::String(out))
            }
            "take" | "skip" => {
                arity(name, n, 2, 2)?;
                let k = int_of(name, &a[1])?.max(0) as usize;
                match &a[0] {
                    Value::String(s) => {
                        let c: Vec<char> = s.chars().collect();
                        let k = k.min(c.len());
                        let part = if lname == "take" { &c[..k] } else { &c[k..] };
                        Ok(Value::String(part.iter().collect()))
                    }
                    Value::Array(x) => {
                        let k = k.min(x.len());
                        let part = if lname == "take" { &x[..k] } else { &x[k..] };
                        Ok(Value::Array(part.to_vec()))
                    }
                    _ => err(format!("function '{name}' expects a string or an array")),
                }
            }
            "first" | "last" => {
                arity(name, n, 1, 1)?;
                match &a[0] {
                    Value::String(s) => {
                        let c = if lname == "first" { s.chars().next() } else { s.chars().last() };
                        Ok(Value::String(c.map(String::from).unwrap_or_default()))
                    }
                    Value::Array(x) => Ok((if lname == "first" { x.first() } else { x.last() }).cloned().unwrap_or(Value::Null)),
                    _ => err(format!("function '{name}' expects a string or an array")),
                }
            }
            "union" => {
                if n < 1 {
                    return err(format!("function '{name}' expects at least 1 argument"));
                }
                if a.iter().all(|v| v.is_object() || v.is_null()) {
                    let mut out = Map::new();
                    for v in a {
                        if let Value::Object(o) = v {
                            merge_objects(&mut out, o);
                        }
                    }
                    Ok(Value::Object(out))
                } else if a.iter().all(|v| v.is_array() || v.is_null()) {
                    let mut out: Vec<Value> = Vec::new();
                    for v in a {
                        if let Value::Array(x) = v {
                            for e in x {
                                if !out.iter().any(|o| json_eq(o, e)) {
                                    out.push(e.clone());
                                }
                            }
                        }
                    }
                    Ok(Value::Array(out))
                } else {
                    err(format!("function '{name}' expects all arguments to be arrays or all to be objects"))
                }
            }
            "intersection" => {
                if n < 2 {
                    return err(format!("function '{name}' expects at least 2 arguments"));
                }
                match &a[0] {
                    Value::Array(first) => {
                        let mut out = Vec::new();
                        for e in first {
                            let in_all = a[1..].iter().all(|o| matches!(o, Value::Array(x) if x.iter().any(|y| json_eq(y, e))));
                            if in_all && !out.iter().any(|o| json_eq(o, e)) {
                                out.push(e.clone());
                            }
                        }
                        Ok(Value::Array(out))
                    }
                    Value::Object(first) => {
                        let mut out = Map::new();
                        for (k, v) in first {
                            if a[1..].iter().all(|o| matches!(o, Value::Object(x) if x.get(k).is_some_and(|y| json_eq(y, v)))) {
                                out.insert(k.clone(), v.clone());
                            }
                        }
                        Ok(Value::Object(out))
                    }
                    _ => err(format!("function '{name}' expects arrays or objects")),
                }
            }
            "createarray" => Ok(Value::Array(a.to_vec())),
            "createobject" => {
                if n % 2 != 0 {
                    return err(format!("function '{name}' expects key/value pairs but got {n} arguments"));
                }
                let mut out = Map::new();
                for pair in a.chunks(2) {
                    let Value::String(k) = &pair[0] else { return err(format!("function '{name}': keys must be strings")) };
                    out.insert(k.clone(), pair[1].clone());
                }
                Ok(Value::Object(out))
            }
            "array" => {
                arity(name, n, 1, 1)?;
                Ok(match &a[0] {
                    Value::Array(_) => a[0].clone(),
                    v => Value::Array(vec![v.clone()]),
                })
            }
            "flatten" => {
                arity(name, n, 1, 1)?;
                let Value::Array(x) = &a[0] else { return err(format!("function '{name}' expects an array")) };
                let mut out = Vec::new();
                for e in x {
                    match e {
                        Value::Array(inner) => out.extend(inner.iter().cloned()),
                        _ => return err(format!("function '{name}' expects an array of arrays")),
                    }
                }
                Ok(Value::Array(out))
            }
            "string" => {
                arity(name, n, 1, 1)?;
                Ok(Value::String(stringify(&a[0])))
            }
            "int" => {
                arity(name, n, 1, 1)?;
                Ok(Value::from(int_of(name, &a[0])?))
            }
            "bool" => {
                arity(name, n, 1, 1)?;
                Ok(Value::Bool(match &a[0] {
                    Value::Bool(b) => *b,
                    Value::String(s) if s.eq_ignore_ascii_case("true") => true,
                    Value::String(s) if s.eq_ignore_ascii_case("false") => false,
                    Value::Number(x) if x.as_i64() == Some(1) => true,
                    Value::Number(x) if x.as_i64() == Some(0) => false,
                    v => return err(format!("function '{name}' cannot convert {} to a bool", kind(v))),
                }))
            }
            "json" => {
                arity(name, n, 1, 1)?;
                let s = str_arg(name, a, 0)?;
                serde_json::from_str(s).map_err(|e| EvalError::Here(format!("json(): the argument is not valid JSON: {e}")))
            }
            "base64" => {
                arity(name, n, 1, 1)?;
                Ok(Value::String(base64_encode(str_arg(name, a, 0)?.as_bytes())))
            }
            "base64tostring" | "base64tojson" => {
                arity(name, n, 1, 1)?;
                let bytes = base64_decode(str_arg(name, a, 0)?).ok_or_else(|| EvalError::Here(format!("{name}(): the argument is not valid base64")))?;
                let s = String::from_utf8(bytes).map_err(|_| EvalError::Here(format!("{name}(): the decoded bytes are not UTF-8")))?;
                if lname == "base64tojson" {
                    serde_json::from_str(&s).map_err(|e| EvalError::Here(format!("{name}(): not valid JSON: {e}")))
                } else {
                    Ok(Value::String(s))
                }
            }
            "uri" => {
                arity(name, n, 2, 2)?;
                Ok(Value::String(uri_combine(str_arg(name, a, 0)?, str_arg(name, a, 1)?)))
            }
            "uricomponent" => {
                arity(name, n, 1, 1)?;
                Ok(Value::String(percent_encode(str_arg(name, a, 0)?)))
            }
            "uricomponenttostring" => {
                arity(name, n, 1, 1)?;
                Ok(Value::String(percent_decode(str_arg(name, a, 0)?)))
            }
            "min" | "max" => {
                let nums: Vec<i64> = match a {
                    [Value::Array(x)] => x.iter().map(|v| int_of(name, v)).collect::<R<_>>()?,
                    _ => a.iter().map(|v| int_of(name, v)).collect::<R<_>>()?,
                };
                let r = if lname == "min" { nums.iter().min() } else { nums.iter().max() };
                r.map(|x| Value::from(*x)).ok_or_else(|| EvalError::Here(format!("function '{name}' needs at least one number")))
            }
            "range" => {
                arity(name, n, 2, 2)?;
                let start = int_of(name, &a[0])?;
                let count = int_of(name, &a[1])?;
                if !(0..=10000).contains(&count) {
                    return err(format!("range(): count must be between 0 and 10000 but is {count}"));
                }
                Ok(Value::Array((0..count).filter_map(|i| start.checked_add(i)).map(Value::from).collect()))
            }
            "add" | "sub" | "mul" | "div" | "mod" => {
                arity(name, n, 2, 2)?;
                let (x, y) = (int_of(name, &a[0])?, int_of(name, &a[1])?);
                let r = match lname {
                    "add" => x.checked_add(y),
                    "sub" => x.checked_sub(y),
                    "mul" => x.checked_mul(y),
                    _ if y == 0 => return err(format!("{name}(): division by zero")),
                    "div" => x.checked_div(y),
                    _ => x.checked_rem(y),
                };
                r.map(Value::from).ok_or_else(|| EvalError::Here(format!("{name}(): integer overflow")))
            }
            "greater" | "greaterorequals" | "less" | "lessorequals" => {
                arity(name, n, 2, 2)?;
                let ord = match (&a[0], &a[1]) {
                    (Value::String(x), Value::String(y)) => x.cmp(y),
                    (x, y) => int_of(name, x)?.cmp(&int_of(name, y)?),
                };
                use std::cmp::Ordering::*;
                Ok(Value::Bool(match lname {
                    "greater" => ord == Greater,
                    "greaterorequals" => ord != Less,
                    "less" => ord == Less,
                    _ => ord != Greater,
                }))
            }
            "items" => {
                arity(name, n, 1, 1)?;
                let Value::Object(o) = &a[0] else { return err(format!("function '{name}' expects an object")) };
                let mut keys: Vec<&String> = o.keys().collect();
                keys.sort();
                Ok(Value::Array(keys.into_iter().map(|k| serde_json::json!({"key": k, "value": o[k]})).collect()))
            }
            "objectkeys" => {
                arity(name, n, 1, 1)?;
                let Value::Object(o) = &a[0] else { return err(format!("function '{name}' expects an object")) };
                Ok(Value::Array(o.keys().map(|k| Value::String(k.clone())).collect()))
            }
            "shallowmerge" => {
                arity(name, n, 1, 1)?;
                let Value::Array(x) = &a[0] else { return err(format!("function '{name}' expects an array of objects")) };
                let mut out = Map::new();
                for e in x {
                    if let Value::Object(o) = e {
                        for (k, v) in o {
                            out.insert(k.clone(), v.clone());
                        }
                    }
                }
                Ok(Value::Object(out))
            }
            "tryget" => {
                if n < 2 {
                    return err(format!("function '{name}' expects (object, key...)"));
                }
                let mut cur = a[0].clone();
                for k in &a[1..] {
                    cur = match (&cur, k) {
                        (Value::Object(o), Value::String(k)) => lookup(o, k).cloned().unwrap_or(Value::Null),
                        (Value::Array(x), Value::Number(i)) => i.as_u64().and_then(|i| x.get(i as usize)).cloned().unwrap_or(Value::Null),
                        _ => Value::Null,
                    };
                }
                Ok(cur)
            }
            "parsecidr" => {
                arity(name, n, 1, 1)?;
                let (net, len) = parse_cidr(str_arg(name, a, 0)?)?;
                Ok(cidr_info(net, len))
            }
            "cidrsubnet" => {
                arity(name, n, 3, 3)?;
                let (net, len) = parse_cidr(str_arg(name, a, 0)?)?;
                let new_len = int_of(name, &a[1])?;
                let idx = int_of(name, &a[2])?;
                if new_len < len as i64 || new_len > 32 {
                    return err(format!("cidrSubnet(): the new prefix length {new_len} must be between {len} and 32"));
                }
                let count = 1u64 << (new_len as u32 - len);
                if idx < 0 || idx as u64 >= count {
                    return err(format!("cidrSubnet(): subnet index {idx} is out of range (0..{})", count - 1));
                }
                let base = u32::from(net) as u64 + ((idx as u64) << (32 - new_len as u32));
                Ok(Value::String(format!("{}/{}", std::net::Ipv4Addr::from(base as u32), new_len)))
            }
            "cidrhost" => {
                arity(name, n, 2, 2)?;
                let (net, len) = parse_cidr(str_arg(name, a, 0)?)?;
                let idx = int_of(name, &a[1])?;
                let size = 1u64 << (32 - len);
                // /31 and /32 have no network/broadcast address to skip.
                let (first, usable) = if len >= 31 { (0, size) } else { (1, size - 2) };
                if idx < 0 || idx as u64 >= usable {
                    return err(format!("cidrHost(): host index {idx} is out of range for a /{len}"));
                }
                let addr = u32::from(net) as u64 + first + idx as u64;
                Ok(Value::String(std::net::Ipv4Addr::from(addr as u32).to_string()))
            }
            "pickzones" => Ok(Value::Array(Vec::new())),
            _ => err(format!("unsupported template function '{name}'")),
        }
    }
}

#[inline(never)]
fn lambda_misuse() -> R<Val> {
    err("a lambda can only be used as an argument of filter, map, reduce, sort, toObject or mapValues")
}

#[inline(never)]
fn deployment_object(name: &str) -> Value {
    serde_json::json!({"name": name, "properties": {"mode": "Incremental", "provisioningState": "Accepted"}})
}

/// What `listKeys()` and the other `list*` functions return offline.
#[inline(never)]
fn list_placeholder(fname: &str) -> Value {
    serde_json::json!({
        "keys": [
            {"keyName": "key1", "value": format!("<{fname} placeholder>"), "permissions": "FULL"},
            {"keyName": "key2", "value": format!("<{fname} placeholder>"), "permissions": "FULL"}
        ]
    })
}

/// The environment inside a user-defined function: only its own parameters.
struct FunctionEnv<'a> {
    outer: &'a dyn Env,
    params: Vec<(String, Value)>,
}

impl Env for FunctionEnv<'_> {
    fn ctx(&self) -> &DeployContext {
        self.outer.ctx()
    }
    fn parameter(&self, name: &str) -> R<Value> {
        match self.params.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)) {
            Some((_, v)) => Ok(v.clone()),
            None => err(format!("user-defined function has no parameter '{name}'")),
        }
    }
    fn variable(&self, name: &str) -> R<Value> {
        err(format!("variables('{name}') cannot be used inside a user-defined function"))
    }
    fn reference(&self, _target: &str, _full: bool) -> R<Value> {
        err("reference() cannot be used inside a user-defined function")
    }
    fn user_function(&self, q: &str) -> Option<UserFunction> {
        self.outer.user_function(q)
    }
}

// ---------------------------------------------------------------------------
// Member and index access
// ---------------------------------------------------------------------------

/// ARM property lookups are case-insensitive; an exact match wins.
pub fn lookup<'m>(o: &'m Map<String, Value>, key: &str) -> Option<&'m Value> {
    o.get(key).or_else(|| o.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v))
}

fn runtime_placeholder(name: &str) -> R<Val> {
    Ok(Val { v: Value::String(format!("<runtime:{name}>")), runtime: true })
}

fn member(b: Val, name: &str) -> R<Val> {
    match &b.v {
        Value::Object(o) => match lookup(o, name) {
            Some(v) => Ok(Val { v: v.clone(), runtime: b.runtime }),
            None if b.runtime => runtime_placeholder(name),
            None => {
                let keys: Vec<&str> = o.keys().map(|k| k.as_str()).take(12).collect();
                err(format!("the object has no property '{name}' (it has: {})", keys.join(", ")))
            }
        },
        _ if b.runtime => runtime_placeholder(name),
        v => err(format!("cannot read property '{name}' of {}", kind(v))),
    }
}

fn index(b: Val, i: &Value) -> R<Val> {
    match (&b.v, i) {
        (Value::Array(x), Value::Number(n)) => {
            let Some(k) = n.as_i64() else { return err(format!("array index {n} is not an integer")) };
            match usize::try_from(k).ok().and_then(|k| x.get(k)) {
                Some(v) => Ok(Val { v: v.clone(), runtime: b.runtime }),
                None if b.runtime => runtime_placeholder(&format!("[{k}]")),
                None => err(format!("array index {k} is out of range (the array has {} elements)", x.len())),
            }
        }
        (Value::Object(_), Value::String(k)) => member(b, k),
        _ if b.runtime => runtime_placeholder(&stringify(i)),
        (v, i) => err(format!("cannot index {} with {}", kind(v), kind(i))),
    }
}

// ---------------------------------------------------------------------------
// Value helpers
// ---------------------------------------------------------------------------

/// A name for a JSON value's type, for error messages.
pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// How ARM turns a value into text (`string()`, `format`, `concat`):
/// bools are `True`/`False` as in .NET, objects and arrays compact JSON.
pub fn stringify(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn arity(name: &str, got: usize, min: usize, max: usize) -> R<()> {
    if got < min || got > max {
        let want = if min == max {
            format!("{min}")
        } else if max == usize::MAX {
            format!("at least {min}")
        } else {
            format!("{min} to {max}")
        };
        return err(format!("function '{name}' expects {want} argument(s) but got {got}"));
    }
    Ok(())
}

fn str_arg<'v>(name: &str, a: &'v [Value], i: usize) -> R<&'v str> {
    match a.get(i) {
        Some(Value::String(s)) => Ok(s),
        Some(v) => err(format!("argument {} of '{name}' must be a string but is {}", i + 1, kind(v))),
        None => err(format!("function '{name}' is missing argument {}", i + 1)),
    }
}

fn int_of(name: &str, v: &Value) -> R<i64> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.is_finite() && f.abs() < 9.0e18).map(|f| f as i64))
            .ok_or_else(|| EvalError::Here(format!("'{name}': {n} is not an integer"))),
        Value::String(s) => s.trim().parse::<i64>().map_err(|_| EvalError::Here(format!("'{name}': '{s}' is not an integer"))),
        v => err(format!("'{name}' expects an integer but got {}", kind(v))),
    }
}

fn to_bool(name: &str, v: &Value) -> R<bool> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(false),
        v => err(format!("'{name}' expects a bool but got {}", kind(v))),
    }
}

/// Deep equality; integers and floats of equal value are equal.
pub fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_eq(p, q)),
        (Value::Object(x), Value::Object(y)) => x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w))),
        _ => a == b,
    }
}

fn merge_objects(into: &mut Map<String, Value>, from: &Map<String, Value>) {
    for (k, v) in from {
        match (into.get_mut(k), v) {
            (Some(Value::Object(dst)), Value::Object(src)) => merge_objects(dst, src),
            _ => {
                into.insert(k.clone(), v.clone());
            }
        }
    }
}

fn split_multi(s: &str, delims: &[String]) -> Vec<String> {
    let delims: Vec<&String> = delims.iter().filter(|d| !d.is_empty()).collect();
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut rest = s;
    'outer: while !rest.is_empty() {
        for d in &delims {
            if let Some(r) = rest.strip_prefix(d.as_str()) {
                out.push(std::mem::take(&mut cur));
                rest = r;
                continue 'outer;
            }
        }
        let mut chars = rest.chars();
        if let Some(c) = chars.next() {
            cur.push(c);
        }
        rest = chars.as_str();
    }
    out.push(cur);
    out
}

/// .NET composite formatting: `{0}`, `{1,5}`, `{0:D2}`, `{{` and `}}`.
pub fn dotnet_format(fmt: &str, args: &[Value]) -> Result<String, String> {
    let mut out = String::new();
    let mut it = fmt.chars().peekable();
    while let Some(c) = it.next() {
        match c {
            '{' if it.peek() == Some(&'{') => {
                it.next();
                out.push('{');
            }
            '}' if it.peek() == Some(&'}') => {
                it.next();
                out.push('}');
            }
            '{' => {
                let mut spec = String::new();
                loop {
                    match it.next() {
                        Some('}') => break,
                        Some(ch) => spec.push(ch),
                        None => return Err(format!("format string '{fmt}' has an unclosed '{{'")),
                    }
                }
                let (head, fspec) = match spec.split_once(':') {
                    Some((h, f)) => (h, Some(f)),
                    None => (spec.as_str(), None),
                };
                let (idx, align) = match head.split_once(',') {
                    Some((i, a)) => (i, Some(a)),
                    None => (head, None),
                };
                let idx: usize = idx.trim().parse().map_err(|_| format!("format string '{fmt}' has an invalid placeholder '{{{spec}}}'"))?;
                let v = args.get(idx).ok_or_else(|| {
                    format!("format string '{fmt}' refers to argument {{{idx}}} but only {} argument(s) were given", args.len())
                })?;
                let mut text = match (fspec, v) {
                    (Some(f), Value::Number(n)) if n.is_i64() => format_int(n.as_i64().unwrap_or(0), f),
                    _ => stringify(v),
                };
                if let Some(a) = align {
                    let w: i64 = a.trim().parse().map_err(|_| format!("format string '{fmt}' has an invalid alignment '{a}'"))?;
                    let len = text.chars().count() as i64;
                    let pad = " ".repeat((w.unsigned_abs().min(4096) as i64 - len).max(0) as usize);
                    text = if w > 0 { format!("{pad}{text}") } else { format!("{text}{pad}") };
                }
                out.push_str(&text);
            }
            '}' => return Err(format!("format string '{fmt}' has an unmatched '}}'")),
            c => out.push(c),
        }
    }
    Ok(out)
}

fn format_int(n: i64, spec: &str) -> String {
    let (kind, width) = spec.split_at(spec.chars().next().map(|c| c.len_utf8()).unwrap_or(0));
    let width: usize = width.parse().unwrap_or(0).min(64);
    match kind {
        "D" | "d" => {
            let digits = format!("{:0width$}", n.unsigned_abs(), width = width);
            if n < 0 { format!("-{digits}") } else { digits }
        }
        "X" => format!("{:0width$X}", n, width = width),
        "x" => format!("{:0width$x}", n, width = width),
        _ => n.to_string(),
    }
}

// ---------------------------------------------------------------------------
// Resource ids
// ---------------------------------------------------------------------------

/// The fixed tenant id vnetlab reports for `subscription()` and `tenant()`.
pub const TENANT_ID: &str = "00000000-0000-0000-0000-000000000001";

enum IdScope {
    ResourceGroup,
    Subscription,
    Tenant,
}

fn names_of(fname: &str, a: &[Value]) -> R<Vec<String>> {
    let mut names = Vec::new();
    for v in a {
        match v {
            Value::String(s) => names.extend(s.split('/').map(str::to_string)),
            Value::Number(_) => names.push(stringify(v)),
            v => return err(format!("'{fname}': resource names must be strings but got {}", kind(v))),
        }
    }
    Ok(names)
}

/// `Microsoft.Network/virtualNetworks/subnets` + `[vnet, sub]` →
/// `Microsoft.Network/virtualNetworks/vnet/subnets/sub`.
pub fn type_name_path(rtype: &str, names: &[String]) -> Result<String, String> {
    let segs: Vec<&str> = rtype.split('/').filter(|s| !s.is_empty()).collect();
    if segs.len() < 2 {
        return Err(format!("'{rtype}' is not a resource type (expected 'Namespace/type[/childType...]')"));
    }
    if segs.len() - 1 != names.len() {
        return Err(format!(
            "resource type '{rtype}' needs {} name segment(s) but got {} ({})",
            segs.len() - 1,
            names.len(),
            names.join("/")
        ));
    }
    let mut out = segs[0].to_string();
    for (t, n) in segs[1..].iter().zip(names) {
        out.push('/');
        out.push_str(t);
        out.push('/');
        out.push_str(n);
    }
    Ok(out)
}

/// The id of a resource deployed in the context's resource group.
pub fn resource_group_id(ctx: &DeployContext, rtype: &str, full_name: &str) -> Result<String, String> {
    let names: Vec<String> = full_name.split('/').map(str::to_string).collect();
    Ok(format!(
        "/subscriptions/{}/resourceGroups/{}/providers/{}",
        ctx.subscription_id,
        ctx.resource_group,
        type_name_path(rtype, &names)?
    ))
}

fn resource_id_fn(fname: &str, a: &[Value], ctx: &DeployContext, scope: IdScope) -> R<Value> {
    // The type is the first argument with a '/'; subscription and group
    // names never contain one.
    let Some(tpos) = a.iter().position(|v| matches!(v, Value::String(s) if s.contains('/'))) else {
        return err(format!("'{fname}' needs a resource type such as 'Microsoft.Network/virtualNetworks'"));
    };
    let rtype = str_arg(fname, a, tpos)?;
    let names = names_of(fname, &a[tpos + 1..])?;
    let path = type_name_path(rtype, &names).map_err(EvalError::Here)?;
    let pre: Vec<String> = a[..tpos].iter().map(stringify).collect();
    let id = match scope {
        IdScope::ResourceGroup => {
            let (sub, rg) = match pre.as_slice() {
                [] => (ctx.subscription_id.clone(), ctx.resource_group.clone()),
                [rg] => (ctx.subscription_id.clone(), rg.clone()),
                [sub, rg] => (sub.clone(), rg.clone()),
                _ => return err(format!("'{fname}' takes at most a subscription id and a resource group before the type")),
            };
            format!("/subscriptions/{sub}/resourceGroups/{rg}/providers/{path}")
        }
        IdScope::Subscription => {
            let sub = match pre.as_slice() {
                [] => ctx.subscription_id.clone(),
                [sub] => sub.clone(),
                _ => return err(format!("'{fname}' takes at most a subscription id before the type")),
            };
            format!("/subscriptions/{sub}/providers/{path}")
        }
        IdScope::Tenant => {
            if !pre.is_empty() {
                return err(format!("'{fname}' takes the resource type as its first argument"));
            }
            format!("/providers/{path}")
        }
    };
    Ok(Value::String(id))
}

/// Splits a full resource id (any subscription or resource group) into its
/// full type and full name: `(Microsoft.Network/virtualNetworks/subnets,
/// vnet/sub)`. For extension resources the last provider segment counts.
pub fn parse_resource_id(id: &str) -> Option<(String, String)> {
    let segs: Vec<&str> = id.trim_matches('/').split('/').collect();
    let p = segs.iter().rposition(|s| s.eq_ignore_ascii_case("providers"))?;
    let rest = &segs[p + 1..];
    if rest.len() < 3 || rest.len() % 2 == 0 || rest.iter().any(|s| s.is_empty()) {
        return None;
    }
    let mut rtype = rest[0].to_string();
    let mut names = Vec::new();
    for pair in rest[1..].chunks(2) {
        rtype.push('/');
        rtype.push_str(pair[0]);
        names.push(pair[1]);
    }
    Some((rtype, names.join("/")))
}

// ---------------------------------------------------------------------------
// Deterministic stand-ins
// ---------------------------------------------------------------------------

fn hash64(data: &[u8], seed: u64) -> u64 {
    // FNV-1a followed by a splitmix64 finaliser: stable across platforms and
    // Rust versions (unlike `DefaultHasher`).
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ seed;
    for b in data {
        h ^= *b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// 13 lowercase base32 characters, like Azure's `uniqueString` (but not the
/// same value).
pub fn unique_string(input: &str) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut h = hash64(input.as_bytes(), 0);
    let mut out = String::with_capacity(13);
    for _ in 0..13 {
        out.push(ALPHABET[(h & 31) as usize] as char);
        h >>= 5;
    }
    out
}

fn guid_of(input: &str) -> String {
    let a = hash64(input.as_bytes(), 0x5bd1_e995);
    let b = hash64(input.as_bytes(), 0x27d4_eb2f);
    let a = (a & 0xffff_ffff_ffff_0fff) | 0x5000; // version 5 nibble
    let b = (b & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000; // RFC 4122 variant
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xffff,
        b >> 48,
        b & 0xffff_ffff_ffff
    )
}

fn environment() -> Value {
    serde_json::json!({
        "name": "AzureCloud",
        "gallery": "https://gallery.azure.com/",
        "graph": "https://graph.windows.net/",
        "portal": "https://portal.azure.com",
        "graphAudience": "https://graph.windows.net/",
        "activeDirectoryDataLake": "https://datalake.azure.net/",
        "batch": "https://batch.core.windows.net/",
        "media": "https://rest.media.azure.net",
        "sqlManagement": "https://management.core.windows.net:8443/",
        "vmImageAliasDoc": "https://raw.githubusercontent.com/Azure/azure-rest-api-specs/master/arm-compute/quickstart-templates/aliases.json",
        "resourceManager": "https://management.azure.com/",
        "authentication": {
            "loginEndpoint": "https://login.microsoftonline.com/",
            "audiences": ["https://management.core.windows.net/", "https://management.azure.com/"],
            "tenant": "common",
            "identityProvider": "AAD"
        },
        "suffixes": {
            "acrLoginServer": ".azurecr.io",
            "azureDatalakeAnalyticsCatalogAndJob": "azuredatalakeanalytics.net",
            "azureDatalakeStoreFileSystem": "azuredatalakestore.net",
            "azureFrontDoorEndpointSuffix": "azurefd.net",
            "keyvaultDns": ".vault.azure.net",
            "sqlServerHostname": ".database.windows.net",
            "storage": "core.windows.net"
        }
    })
}

// ---------------------------------------------------------------------------
// Text encodings
// ---------------------------------------------------------------------------

const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64_encode(data: &[u8]) -> String {
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let s = s.trim().trim_end_matches('=');
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.bytes() {
        let v = B64.iter().position(|x| *x == c)? as u32;
        acc = acc << 6 | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(v) = u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"), 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn uri_combine(base: &str, rel: &str) -> String {
    if rel.contains("://") {
        return rel.to_string();
    }
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let host_end = base[scheme_end..].find('/').map(|i| i + scheme_end).unwrap_or(base.len());
    if let Some(r) = rel.strip_prefix('/') {
        return format!("{}/{}", &base[..host_end], r);
    }
    match base[host_end..].rfind('/') {
        Some(i) => format!("{}{}", &base[..host_end + i + 1], rel),
        None => format!("{}/{}", base, rel),
    }
}

// ---------------------------------------------------------------------------
// CIDR
// ---------------------------------------------------------------------------

fn parse_cidr(s: &str) -> R<(std::net::Ipv4Addr, u32)> {
    let bad = || EvalError::Here(format!("'{s}' is not an IPv4 network in CIDR notation (IPv6 is not supported)"));
    let (addr, len) = s.split_once('/').ok_or_else(bad)?;
    let addr: std::net::Ipv4Addr = addr.trim().parse().map_err(|_| bad())?;
    let len: u32 = len.trim().parse().map_err(|_| bad())?;
    if len > 32 {
        return Err(bad());
    }
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    Ok((std::net::Ipv4Addr::from(u32::from(addr) & mask), len))
}

fn cidr_info(net: std::net::Ipv4Addr, len: u32) -> Value {
    use std::net::Ipv4Addr;
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    let n = u32::from(net);
    let bcast = n | !mask;
    let (first, last) = if len >= 31 { (n, bcast) } else { (n + 1, bcast - 1) };
    serde_json::json!({
        "network": net.to_string(),
        "netmask": Ipv4Addr::from(mask).to_string(),
        "broadcast": Ipv4Addr::from(bcast).to_string(),
        "firstUsable": Ipv4Addr::from(first).to_string(),
        "lastUsable": Ipv4Addr::from(last).to_string(),
        "cidr": len
    })
}


#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A fixed environment: parameters and variables from JSON objects, and
    /// one resource (`vnet1`) that `reference()` can see.
    struct TestEnv {
        ctx: DeployContext,
        params: Value,
        vars: Value,
    }

    impl Env for TestEnv {
        fn ctx(&self) -> &DeployContext {
            &self.ctx
        }
        fn parameter(&self, name: &str) -> R<Value> {
            self.params.as_object().and_then(|o| lookup(o, name)).cloned().ok_or_else(|| EvalError::Here(format!("no parameter {name}")))
        }
        fn variable(&self, name: &str) -> R<Value> {
            self.vars.as_object().and_then(|o| lookup(o, name)).cloned().ok_or_else(|| EvalError::Here(format!("no variable {name}")))
        }
        fn reference(&self, target: &str, _full: bool) -> R<Value> {
            if target.ends_with("/vnet1") {
                Ok(json!({"subnets": [{"name": "a", "id": "SUBNET-A-ID"}]}))
            } else {
                Ok(json!({}))
            }
        }
        fn user_function(&self, q: &str) -> Option<UserFunction> {
            (q.eq_ignore_ascii_case("ns.greet"))
                .then(|| UserFunction { params: vec!["who".into()], output: json!("[concat('hi ', parameters('who'))]") })
        }
    }

    fn env() -> TestEnv {
        TestEnv {
            ctx: DeployContext::default(),
            params: json!({"name": "App", "count": 3, "flag": true, "obj": {"Inner": {"list": [10, 20, 30]}}, "routes": [{"name": "r1", "nextHopIpAddress": "10.0.0.4"}, {"name": "r2"}]}),
            vars: json!({"prefix": "10.0.0.0/16"}),
        }
    }

    fn ev(s: &str) -> Value {
        let e = env();
        let mut x = Evaluator::new(&e, &[]);
        match x.eval_string(s) {
            Ok(v) => v,
            Err(EvalError::Here(m)) => panic!("{s}: {m}"),
            Err(EvalError::At(l)) => panic!("{s}: {l}"),
        }
    }

    fn ev_err(s: &str) -> String {
        let e = env();
        let mut x = Evaluator::new(&e, &[]);
        match x.eval_string(s) {
            Ok(v) => panic!("{s} unexpectedly gave {v}"),
            Err(e) => e.locate("f.json", "$.x", s).to_string(),
        }
    }

    #[test]
    fn literals_and_escapes() {
        assert_eq!(ev("plain"), json!("plain"));
        assert_eq!(ev("[[notAnExpression]"), json!("[notAnExpression]"));
        assert_eq!(ev("['it''s']"), json!("it's"));
        assert_eq!(ev("[add(-3, 5)]"), json!(2));
        assert_eq!(ev("[true()]"), json!(true));
        assert_eq!(ev("[ null() ]"), Value::Null);
    }

    #[test]
    fn case_insensitive_functions_parameters_and_properties() {
        assert_eq!(ev("[PARAMETERS('NAME')]"), json!("App"));
        assert_eq!(ev("[parameters('obj').inner.LIST[1]]"), json!(20));
        assert_eq!(ev("[parameters('obj')['Inner']['list'][2]]"), json!(30));
        assert_eq!(ev("[toLower(Parameters('name'))]"), json!("app"));
    }

    #[test]
    fn nested_property_and_index_access_errors() {
        assert!(ev_err("[parameters('obj').missing]").contains("no property 'missing'"));
        assert!(ev_err("[parameters('obj').inner.list[3]]").contains("index 3 is out of range"));
        assert!(ev_err("[parameters('name').x]").contains("cannot read property 'x' of a string"));
    }

    #[test]
    fn if_is_lazy() {
        // The untaken branch reads a missing property; it must not be evaluated.
        assert_eq!(ev("[if(equals(parameters('count'), 3), 'yes', parameters('obj').missing)]"), json!("yes"));
        assert_eq!(
            ev("[if(contains(parameters('routes')[1], 'nextHopIpAddress'), parameters('routes')[1].nextHopIpAddress, null())]"),
            Value::Null
        );
        assert_eq!(ev("[or(true(), parameters('nope'))]"), json!(true));
    }

    #[test]
    fn string_functions() {
        assert_eq!(ev("[format('{0}-{1}', 'a', 7)]"), json!("a-7"));
        assert_eq!(ev("[format('{0:D3}|{{x}}|{1}', 5, true())]"), json!("005|{x}|True"));
        assert_eq!(ev("[concat('a', 'b', string(1))]"), json!("ab1"));
        assert_eq!(ev("[concat(createArray(1), createArray(2, 3))]"), json!([1, 2, 3]));
        assert_eq!(ev("[split('a/b/c', '/')[2]]"), json!("c"));
        assert_eq!(ev("[join(split('a,b', ','), '+')]"), json!("a+b"));
        assert_eq!(ev("[replace('a-b-c', '-', '')]"), json!("abc"));
        assert_eq!(ev("[substring('hello', 1, 3)]"), json!("ell"));
        assert_eq!(ev("[indexOf('abcABC', 'BC')]"), json!(1));
        assert_eq!(ev("[lastIndexOf('abcABC', 'bc')]"), json!(4));
        assert_eq!(ev("[startsWith('Hello', 'he')]"), json!(true));
        assert_eq!(ev("[endsWith('Hello', 'LO')]"), json!(true));
        assert_eq!(ev("[padLeft('7', 3, '0')]"), json!("007"));
        assert_eq!(ev("[trim('  x ')]"), json!("x"));
        assert_eq!(ev("[toUpper('ab')]"), json!("AB"));
        assert_eq!(ev("[take('abcdef', 2)]"), json!("ab"));
        assert_eq!(ev("[skip(createArray(1,2,3), 2)]"), json!([3]));
        assert_eq!(ev("[first('xyz')]"), json!("x"));
        assert_eq!(ev("[last(createArray(1,2,3))]"), json!(3));
        assert_eq!(ev("[base64ToString(base64('vnet lab!'))]"), json!("vnet lab!"));
        assert_eq!(ev("[base64('ab')]"), json!("YWI="));
        assert_eq!(ev("[uri('https://x.blob.core.windows.net/a/b.json', 'c.json')]"), json!("https://x.blob.core.windows.net/a/c.json"));
        assert!(ev_err("[substring('abc', 2, 5)]").contains("out of range"));
    }

    #[test]
    fn collection_and_logic_functions() {
        assert_eq!(ev("[contains(parameters('obj'), 'INNER')]"), json!(true));
        assert_eq!(ev("[contains('abc', 'B')]"), json!(false));
        assert_eq!(ev("[contains(createArray('x', 1), 1)]"), json!(true));
        assert_eq!(ev("[empty('')]"), json!(true));
        assert_eq!(ev("[empty(createArray(1))]"), json!(false));
        assert_eq!(ev("[length(parameters('routes'))]"), json!(2));
        assert_eq!(ev("[union(createObject('a', 1), createObject('b', 2)).b]"), json!(2));
        assert_eq!(ev("[union(createArray(1, 2), createArray(2, 3))]"), json!([1, 2, 3]));
        assert_eq!(ev("[intersection(createArray(1, 2, 3), createArray(3, 2))]"), json!([2, 3]));
        assert_eq!(ev("[coalesce(null(), null(), 'c')]"), json!("c"));
        assert_eq!(ev("[and(true(), not(false()))]"), json!(true));
        assert_eq!(ev("[equals(createArray(1, 'a'), createArray(1, 'a'))]"), json!(true));
        assert_eq!(ev("[equals('a', 'A')]"), json!(false));
        assert_eq!(ev("[array('x')]"), json!(["x"]));
        assert_eq!(ev("[json('{\"a\": [1]}').a[0]]"), json!(1));
        assert_eq!(ev("[json('null')]"), Value::Null);
        assert_eq!(ev("[int('42')]"), json!(42));
        assert_eq!(ev("[bool('TRUE')]"), json!(true));
        assert_eq!(ev("[items(createObject('b', 2, 'a', 1))[0].key]"), json!("a"));
        assert_eq!(ev("[range(5, 3)]"), json!([5, 6, 7]));
    }

    #[test]
    fn numeric_functions() {
        assert_eq!(ev("[mul(sub(10, 4), div(9, 2))]"), json!(24));
        assert_eq!(ev("[mod(-7, 3)]"), json!(-1));
        assert_eq!(ev("[min(3, 1, 2)]"), json!(1));
        assert_eq!(ev("[max(createArray(3, 9, 2))]"), json!(9));
        assert_eq!(ev("[greater(2, 1)]"), json!(true));
        assert_eq!(ev("[lessOrEquals('a', 'b')]"), json!(true));
        assert!(ev_err("[div(1, 0)]").contains("division by zero"));
        assert!(ev_err("[add(1)]").contains("expects 2 argument(s) but got 1"));
    }

    #[test]
    fn deployment_context_functions() {
        assert_eq!(ev("[resourceGroup().location]"), json!("westeurope"));
        assert_eq!(ev("[resourceGroup().id]"), json!("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-vnetlab"));
        assert_eq!(ev("[subscription().subscriptionId]"), json!("00000000-0000-0000-0000-000000000000"));
        assert_eq!(ev("[environment().suffixes.storage]"), json!("core.windows.net"));
        assert_eq!(ev("[environment().suffixes.sqlServerHostname]"), json!(".database.windows.net"));
        assert_eq!(ev("[deployment().properties.templateLink.uri]"), json!("<runtime:uri>"));
    }

    #[test]
    fn resource_ids() {
        let rg = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-vnetlab";
        assert_eq!(
            ev("[resourceId('Microsoft.Network/virtualNetworks/subnets', 'vnet', 'sub')]"),
            json!(format!("{rg}/providers/Microsoft.Network/virtualNetworks/vnet/subnets/sub"))
        );
        assert_eq!(
            ev("[resourceId('other-rg', 'Microsoft.Network/virtualNetworks', 'v')]"),
            json!("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/other-rg/providers/Microsoft.Network/virtualNetworks/v")
        );
        assert_eq!(
            ev("[resourceId('sub1', 'rg1', 'Microsoft.Network/virtualNetworks', 'v')]"),
            json!("/subscriptions/sub1/resourceGroups/rg1/providers/Microsoft.Network/virtualNetworks/v")
        );
        assert_eq!(ev("[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'r')]"), json!("/subscriptions/00000000-0000-0000-0000-000000000000/providers/Microsoft.Authorization/roleDefinitions/r"));
        assert_eq!(ev("[tenantResourceId('Microsoft.Management/managementGroups', 'm')]"), json!("/providers/Microsoft.Management/managementGroups/m"));
        assert_eq!(ev("[extensionResourceId('/x/y', 'Microsoft.Authorization/locks', 'l')]"), json!("/x/y/providers/Microsoft.Authorization/locks/l"));
        assert!(ev_err("[resourceId('Microsoft.Network/virtualNetworks/subnets', 'vnet')]").contains("needs 2 name segment(s)"));
        assert_eq!(
            parse_resource_id("/subscriptions/s/resourceGroups/RG/providers/Microsoft.Network/virtualNetworks/vnet/subnets/sub"),
            Some(("Microsoft.Network/virtualNetworks/subnets".into(), "vnet/sub".into()))
        );
        assert_eq!(parse_resource_id("/subscriptions/s/resourceGroups/rg"), None);
    }

    #[test]
    fn unique_string_and_guid_are_deterministic() {
        let a = ev("[uniqueString(resourceGroup().id)]");
        let b = ev("[uniqueString(resourceGroup().id)]");
        let c = ev("[uniqueString('other')]");
        assert_eq!(a, b);
        assert_ne!(a, c);
        let s = a.as_str().unwrap_or_default();
        assert_eq!(s.len(), 13);
        assert!(s.chars().all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit()));
        let g = ev("[guid('a', 'b')]");
        let g = g.as_str().unwrap_or_default();
        let parts: Vec<usize> = g.split('-').map(str::len).collect();
        assert_eq!(parts, vec![8, 4, 4, 4, 12]);
        assert_ne!(ev("[guid('a', 'b')]"), ev("[guid('a', 'c')]"));
    }

    #[test]
    fn cidr_functions_match_microsoft_docs_examples() {
        assert_eq!(
            ev("[parseCidr('10.144.0.0/20')]"),
            json!({"network":"10.144.0.0","netmask":"255.255.240.0","broadcast":"10.144.15.255","firstUsable":"10.144.0.1","lastUsable":"10.144.15.254","cidr":20})
        );
        let subnets: Vec<Value> = (0..5).map(|i| ev(&format!("[cidrSubnet('10.144.0.0/20', 24, {i})]"))).collect();
        assert_eq!(subnets, vec![json!("10.144.0.0/24"), json!("10.144.1.0/24"), json!("10.144.2.0/24"), json!("10.144.3.0/24"), json!("10.144.4.0/24")]);
        let hosts: Vec<Value> = (0..5).map(|i| ev(&format!("[cidrHost('10.144.3.0/24', {i})]"))).collect();
        assert_eq!(hosts, vec![json!("10.144.3.1"), json!("10.144.3.2"), json!("10.144.3.3"), json!("10.144.3.4"), json!("10.144.3.5")]);
        assert!(ev_err("[cidrSubnet('10.0.0.0/24', 16, 0)]").contains("between 24 and 32"));
        assert!(ev_err("[cidrHost('10.0.0.0/30', 2)]").contains("out of range"));
    }

    #[test]
    fn reference_and_list_placeholders() {
        assert_eq!(ev("[reference(resourceId('Microsoft.Network/virtualNetworks', 'vnet1'), '2020-06-01').subnets[0].id]"), json!("SUBNET-A-ID"));
        assert_eq!(ev("[reference('appi').InstrumentationKey]"), json!("<runtime:InstrumentationKey>"));
        assert_eq!(ev("[reference('appi').a.b]"), json!("<runtime:b>"));
        assert_eq!(ev("[listKeys('x', '2022-01-01').keys[0].value]"), json!("<listKeys placeholder>"));
        assert_eq!(ev("[listKeys('x', '2022-01-01').primaryKey]"), json!("<runtime:primaryKey>"));
    }

    #[test]
    fn copy_index_uses_active_loops() {
        let e = env();
        let frames = [
            CopyFrame { name: Some("vms".into()), index: 2, answers_unnamed: true },
            CopyFrame { name: Some("routes".into()), index: 5, answers_unnamed: false },
        ];
        let mut x = Evaluator::new(&e, &frames);
        assert_eq!(x.eval_string("[copyIndex()]").ok(), Some(json!(2)));
        assert_eq!(x.eval_string("[copyIndex(10)]").ok(), Some(json!(12)));
        assert_eq!(x.eval_string("[copyIndex('ROUTES')]").ok(), Some(json!(5)));
        assert_eq!(x.eval_string("[copyIndex('routes', 1)]").ok(), Some(json!(6)));
        assert!(ev_err("[copyIndex()]").contains("outside a copy loop"));
    }

    #[test]
    fn lambdas() {
        assert_eq!(ev("[filter(createArray(1, 2, 3, 4), lambda('x', greater(lambdaVariables('x'), 2)))]"), json!([3, 4]));
        assert_eq!(ev("[map(parameters('routes'), lambda('r', lambdaVariables('r').name))]"), json!(["r1", "r2"]));
        assert_eq!(ev("[reduce(createArray(1, 2, 3), 10, lambda('acc', 'x', add(lambdaVariables('acc'), lambdaVariables('x'))))]"), json!(16));
        assert_eq!(ev("[sort(createArray(3, 1, 2), lambda('a', 'b', less(lambdaVariables('a'), lambdaVariables('b'))))]"), json!([1, 2, 3]));
        assert_eq!(ev("[toObject(parameters('routes'), lambda('r', lambdaVariables('r').name)).r2.name]"), json!("r2"));
    }

    #[test]
    fn user_defined_functions() {
        assert_eq!(ev("[ns.greet('you')]"), json!("hi you"));
        assert!(ev_err("[ns.other(1)]").contains("unknown user-defined function 'ns.other'"));
    }

    #[test]
    fn unsupported_and_malformed_expressions_are_located_errors() {
        let m = ev_err("[foo(1)]");
        assert_eq!(m, "f.json: at $.x: unsupported template function 'foo' in \"[foo(1)]\"");
        assert!(ev_err("[concat('a', ]").contains("invalid expression"));
        assert!(ev_err("[concat('a']").contains("expected ',' or ')'"));
        assert!(ev_err("['unterminated]").contains("unterminated string"));
        assert!(ev_err("[parameters]").contains("expected '('"));
    }
}
