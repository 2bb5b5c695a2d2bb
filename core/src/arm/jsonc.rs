//! ARM's JSON dialect, reduced to strict JSON before `serde_json` parses it.
//!
//! Azure accepts templates and parameters files with `//` and `/* */`
//! comments and with raw line breaks (and other control characters) inside
//! strings; multi-line expressions are common in hand-written templates.
//! `serde_json` accepts neither, so [`to_strict_json`] rewrites the text:
//!
//! - a comment outside strings becomes spaces, one per byte, with its line
//!   breaks kept, so every later token keeps its line and column;
//! - a raw control character inside a string becomes its JSON escape; a raw
//!   line break is escaped too, and the line breaks a string swallowed are
//!   emitted right after its closing quote (whitespace between tokens),
//!   followed by as many spaces as the closing line had bytes before that
//!   point. Every token after the string is therefore on its original line
//!   and column; only an error inside such a string reports the string's
//!   first line.
//!
//! The rewrite never changes a value: a `//` inside a string (a URL) stays.
//! An unterminated comment or string is an error naming the line it starts on.

/// Strict JSON with the same line and column for every token outside
/// multi-line strings; `Err` names what is unterminated and where it starts.
pub fn to_strict_json(text: &str) -> Result<String, String> {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut line = 1usize;
    let mut i = 0;
    // Plain runs are copied as slices, so multi-byte characters stay whole;
    // every byte this loop inspects individually is ASCII.
    let mut run = 0;
    while i < b.len() {
        match b[i] {
            b'\n' => {
                line += 1;
                i += 1;
            }
            b'"' => {
                out.push_str(&text[run..i]);
                i = copy_string(text, i, &mut line, &mut out)?;
                run = i;
            }
            b'/' if b.get(i + 1) == Some(&b'/') => {
                out.push_str(&text[run..i]);
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                run = i;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                out.push_str(&text[run..i]);
                let start = line;
                out.push_str("  ");
                i += 2;
                loop {
                    match b.get(i) {
                        None => return Err(format!("unterminated /* comment starting at line {start}")),
                        Some(b'*') if b.get(i + 1) == Some(&b'/') => {
                            out.push_str("  ");
                            i += 2;
                            break;
                        }
                        Some(b'\n') => {
                            out.push('\n');
                            line += 1;
                            i += 1;
                        }
                        // One space per byte keeps byte columns, which is
                        // what serde_json counts.
                        Some(_) => {
                            out.push(' ');
                            i += 1;
                        }
                    }
                }
                run = i;
            }
            _ => i += 1,
        }
    }
    out.push_str(&text[run..]);
    Ok(out)
}

/// Copies the string starting at the quote at `start` into `out` as strict
/// JSON; returns the index after its closing quote.
fn copy_string(text: &str, start: usize, line: &mut usize, out: &mut String) -> Result<usize, String> {
    let b = text.as_bytes();
    let first_line = *line;
    let mut breaks = 0usize;
    // Byte offset where the current source line starts, for the padding.
    let mut line_start = None;
    out.push('"');
    let mut i = start + 1;
    let mut run = i;
    loop {
        let Some(&c) = b.get(i) else {
            return Err(format!("unterminated string starting at line {first_line}"));
        };
        match c {
            b'"' => {
                out.push_str(&text[run..=i]);
                i += 1;
                break;
            }
            b'\\' => {
                // An escape: its next character is taken as it is, even a
                // quote; serde_json judges whether the escape is valid.
                match b.get(i + 1) {
                    Some(b'\n') | Some(b'\r') | None => i += 1,
                    Some(_) => i += 2,
                }
            }
            b'\n' => {
                out.push_str(&text[run..i]);
                out.push_str("\\n");
                breaks += 1;
                *line += 1;
                i += 1;
                line_start = Some(i);
                run = i;
            }
            c if c < 0x20 => {
                out.push_str(&text[run..i]);
                out.push_str(match c {
                    b'\r' => "\\r",
                    b'\t' => "\\t",
                    _ => "",
                });
                if !matches!(c, b'\r' | b'\t') {
                    out.push_str(&format!("\\u{c:04x}"));
                }
                i += 1;
                run = i;
            }
            _ => i += 1,
        }
    }
    if let Some(ls) = line_start {
        for _ in 0..breaks {
            out.push('\n');
        }
        for _ in ls..i {
            out.push(' ');
        }
    }
    Ok(i)
}

#[cfg(test)]
mod tests {
    use super::to_strict_json;

    #[test]
    fn keeps_positions_and_values() {
        let src = "{ // c\n \"a\": \"x\ny\", /* z\n */ \"b\": \"//u\" }";
        let out = to_strict_json(src).unwrap();
        assert_eq!(out.lines().count(), src.lines().count());
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["a"], "x\ny");
        assert_eq!(v["b"], "//u");
    }

    #[test]
    fn unterminated() {
        assert!(to_strict_json("{\n/* x").unwrap_err().contains("line 2"));
        assert!(to_strict_json("{\n\n\"a").unwrap_err().contains("line 3"));
    }
}
