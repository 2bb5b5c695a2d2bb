//! Syntax of ARM template expressions: the tokenizer and a recursive-descent
//! parser from the text of a `[...]` string to an `Expr` tree, plus the rules
//! for telling an expression from a literal string (`[[` escapes).

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Str(String),
    Int(i64),
    /// A function call; `name` keeps its spelling (lookup is case-insensitive),
    /// user functions are `namespace.member`.
    Call {
        name: String,
        args: Vec<Expr>,
    },
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
            '(' => {
                out.push(Tok::LParen);
                i += 1
            }
            ')' => {
                out.push(Tok::RParen);
                i += 1
            }
            '[' => {
                out.push(Tok::LBracket);
                i += 1
            }
            ']' => {
                out.push(Tok::RBracket);
                i += 1
            }
            ',' => {
                out.push(Tok::Comma);
                i += 1
            }
            '.' => {
                out.push(Tok::Dot);
                i += 1
            }
            '\'' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err("unterminated string literal (missing closing ')".into()),
                        Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                            s.push('\'');
                            i += 2
                        }
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(&ch) => {
                            s.push(ch);
                            i += 1
                        }
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
    let inner = text.strip_prefix('[').and_then(|s| s.strip_suffix(']')).ok_or_else(|| "an expression must be enclosed in '[' and ']'".to_string())?;
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

#[cfg(test)]
mod tests {
    use crate::arm::expr::testenv::{ev, ev_err};
    use serde_json::{json, Value};

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
    fn unsupported_and_malformed_expressions_are_located_errors() {
        let m = ev_err("[foo(1)]");
        assert_eq!(m, "f.json: at $.x: unsupported template function 'foo' in \"[foo(1)]\"");
        assert!(ev_err("[concat('a', ]").contains("invalid expression"));
        assert!(ev_err("[concat('a']").contains("expected ',' or ')'"));
        assert!(ev_err("['unterminated]").contains("unterminated string"));
        assert!(ev_err("[parameters]").contains("expected '('"));
    }
}
