//! Text algorithms behind the string functions: .NET composite formatting
//! (`format`), multi-delimiter `split`, base64, percent-encoding and `uri`.

use super::budget::check_len;
use super::numfmt::format_number;
use super::values::stringify;
use serde_json::Value;

pub(super) fn split_multi(s: &str, delims: &[String]) -> Vec<String> {
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
/// Placeholders repeat their argument: the result is checked against the
/// per-value bound as it grows, not once it is built.
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
                let v = args
                    .get(idx)
                    .ok_or_else(|| format!("format string '{fmt}' refers to argument {{{idx}}} but only {} argument(s) were given", args.len()))?;
                let formatted = match (fspec, v) {
                    (Some(f), Value::Number(n)) => format_number(n, f.trim())?,
                    _ => None,
                };
                let mut text = formatted.unwrap_or_else(|| stringify(v));
                if let Some(a) = align {
                    let w: i64 = a.trim().parse().map_err(|_| format!("format string '{fmt}' has an invalid alignment '{a}'"))?;
                    let len = text.chars().count() as i64;
                    let pad = " ".repeat((w.unsigned_abs().min(4096) as i64 - len).max(0) as usize);
                    text = if w > 0 { format!("{pad}{text}") } else { format!("{text}{pad}") };
                }
                check_len((out.len() + text.len()) as u64)?;
                out.push_str(&text);
            }
            '}' => return Err(format!("format string '{fmt}' has an unmatched '}}'")),
            c => out.push(c),
        }
    }
    Ok(out)
}

const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

pub(super) fn base64_encode(data: &[u8]) -> String {
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

pub(super) fn base64_decode(s: &str) -> Option<Vec<u8>> {
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

pub(super) fn percent_encode(s: &str) -> String {
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

pub(super) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 3 <= bytes.len() {
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

pub(super) fn uri_combine(base: &str, rel: &str) -> String {
    if rel.contains("://") {
        return rel.to_string();
    }
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let host_end = base[scheme_end..].find('/').map(|i| i + scheme_end).unwrap_or(base.len());
    let path = if rel.starts_with('/') {
        rel.to_string()
    } else {
        match base[host_end..].rfind('/') {
            Some(i) => format!("{}{}", &base[host_end..host_end + i + 1], rel),
            None => format!("/{rel}"),
        }
    };
    format!("{}{}", &base[..host_end], remove_dot_segments(&path))
}

/// RFC 3986's remove_dot_segments on a path starting with '/', as .NET's
/// `Uri` resolves `../` and `./`; the query and fragment are kept as they are.
fn remove_dot_segments(path: &str) -> String {
    let (p, tail) = path.split_at(path.find(['?', '#']).unwrap_or(path.len()));
    let segs: Vec<&str> = p.split('/').skip(1).collect();
    let mut out: Vec<&str> = Vec::new();
    for (i, s) in segs.iter().enumerate() {
        if *s == "." || *s == ".." {
            if *s == ".." {
                out.pop();
            }
            // A trailing dot segment leaves the path ending in '/'.
            if i + 1 == segs.len() {
                out.push("");
            }
        } else {
            out.push(s);
        }
    }
    format!("/{}{}", out.join("/"), tail)
}
