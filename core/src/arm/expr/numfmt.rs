//! .NET standard numeric format strings for `format('{0:N0}', ...)`, as the
//! invariant culture writes them: `N` (group separators), `F` (fixed
//! point), `D` (integers, zero-padded), `X`/`x` (hexadecimal, integers),
//! `P` (percent, times 100, `" %"` suffix), `E`/`e` (exponent with at least
//! three digits) and `G`/`R` (the plain number), each with an optional
//! precision (0 to 99 here). Any other format gives `None` and the caller
//! writes the plain value. A leaf of `expr`.

use serde_json::Number;

/// Formats `n` with the standard format `spec`, or `None` if `spec` is not
/// one this module knows (or does not apply to `n`, as `D` to a fraction).
pub(super) fn format_number(n: &Number, spec: &str) -> Result<Option<String>, String> {
    let mut cs = spec.chars();
    let Some(kind) = cs.next() else { return Ok(None) };
    let prec_text = cs.as_str();
    let prec: Option<usize> = if prec_text.is_empty() {
        None
    } else {
        match prec_text.parse::<usize>() {
            Ok(p) if p <= 99 => Some(p),
            Ok(p) => return Err(format!("format: precision {p} in '{spec}' is too large (vnetlab allows up to 99)")),
            Err(_) => return Ok(None),
        }
    };
    let int = n.as_i64();
    let float = n.as_f64().filter(|f| f.is_finite());
    Ok(match (kind, int, float) {
        ('D' | 'd', Some(i), _) => {
            let digits = format!("{:0w$}", i.unsigned_abs(), w = prec.unwrap_or(0));
            Some(if i < 0 { format!("-{digits}") } else { digits })
        }
        ('X', Some(i), _) => Some(format!("{:0w$X}", i, w = prec.unwrap_or(0))),
        ('x', Some(i), _) => Some(format!("{:0w$x}", i, w = prec.unwrap_or(0))),
        ('N' | 'n', _, _) | ('F' | 'f', _, _) | ('P' | 'p', _, _) => {
            let p = prec.unwrap_or(2);
            let percent = matches!(kind, 'P' | 'p');
            let Some((neg, whole, frac)) = fixed(int, float, p, percent) else { return Ok(None) };
            let whole = if matches!(kind, 'F' | 'f') { whole } else { group(&whole) };
            let mut s = String::new();
            if neg {
                s.push('-');
            }
            s.push_str(&whole);
            if p > 0 {
                s.push('.');
                s.push_str(&frac);
            }
            if percent {
                s.push_str(" %");
            }
            Some(s)
        }
        ('E' | 'e', _, Some(f)) => {
            let p = prec.unwrap_or(6);
            let t = format!("{:.p$e}", f);
            let (mant, exp) = t.split_once('e').unwrap_or((&t, "0"));
            let exp: i64 = exp.parse().unwrap_or(0);
            let sign = if exp < 0 { '-' } else { '+' };
            Some(format!("{mant}{kind}{sign}{:03}", exp.unsigned_abs()))
        }
        ('G' | 'g' | 'R' | 'r', _, _) => Some(n.to_string()),
        _ => None,
    })
}

/// The sign, integer digits and `p` fraction digits of the number (times
/// 100 for percent), rounded half away from zero for integers (exact).
fn fixed(int: Option<i64>, float: Option<f64>, p: usize, percent: bool) -> Option<(bool, String, String)> {
    if let Some(i) = int {
        let v = i.unsigned_abs() as u128 * if percent { 100 } else { 1 };
        return Some((i < 0, v.to_string(), "0".repeat(p)));
    }
    let f = float? * if percent { 100.0 } else { 1.0 };
    if !f.is_finite() {
        return None;
    }
    let t = format!("{:.p$}", f.abs());
    let (w, fr) = t.split_once('.').unwrap_or((&t, ""));
    let zero = t.bytes().all(|b| b == b'0' || b == b'.');
    Some((f < 0.0 && !zero, w.to_string(), fr.to_string()))
}

/// Inserts a `,` between each group of three digits.
fn group(digits: &str) -> String {
    let mut out = String::new();
    let n = digits.len();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (n - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}
