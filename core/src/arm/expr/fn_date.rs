//! Date functions of the template language: `dateTimeAdd` (ISO 8601
//! durations, with ARM's rule that a year is 365 days and a month 30),
//! `dateTimeFromEpoch` and `dateTimeToEpoch`. Times are UTC seconds; dates
//! run from year 1 to 9999 as in .NET, so no input can overflow.
//! A leaf of `expr`: imports only `error` and `values`.

use super::error::{err, EvalError, R};
use super::values::{arity, int_of, str_arg};
use serde_json::Value;

/// Seconds from 0001-01-01 to 1970-01-01 and to 10000-01-01.
const MIN_EPOCH: i64 = -62_135_596_800;
const MAX_EPOCH: i64 = 253_402_300_799;

/// Calls the function `lname` of this family.
pub(super) fn call(name: &str, lname: &str, a: &[Value]) -> R<Value> {
    match lname {
        "datetimeadd" => date_time_add(name, a),
        "datetimefromepoch" => {
            arity(name, a.len(), 1, 1)?;
            let s = int_of(name, &a[0])?;
            Ok(Value::String(format_time(name, s, Layout::Iso)?))
        }
        "datetimetoepoch" => {
            arity(name, a.len(), 1, 1)?;
            let (s, _) = parse_time(name, str_arg(name, a, 0)?)?;
            Ok(Value::from(s))
        }
        _ => err(format!("unsupported template function '{name}'")),
    }
}

/// How a time is written: ISO 8601 extended (`2023-05-02T15:16:13Z`) or
/// basic (`20230502T151613Z`, what `utcNow()` gives).
#[derive(Clone, Copy, PartialEq)]
enum Layout {
    Iso,
    Basic,
}

fn date_time_add(name: &str, a: &[Value]) -> R<Value> {
    arity(name, a.len(), 2, 3)?;
    let (base, layout) = parse_time(name, str_arg(name, a, 0)?)?;
    let d = parse_duration(name, str_arg(name, a, 1)?)?;
    let t = base.checked_add(d).ok_or_else(|| EvalError::Here(format!("{name}(): the result is out of range")))?;
    match a.get(2) {
        Some(f) => {
            let f = str_arg(name, a, 2).map_err(|_| EvalError::Here(format!("argument 3 of '{name}' must be a format string but is {f}")))?;
            Ok(Value::String(custom_format(name, t, f)?))
        }
        None => Ok(Value::String(format_time(name, t, layout)?)),
    }
}

/// Days from 1970-01-01 to a civil date (proleptic Gregorian).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { yoe + era * 400 + 1 } else { yoe + era * 400 }, m, d)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Parses an ISO 8601 time (`2023-05-02T15:16:13Z`, `2023-05-02 15:16:13Z`,
/// `2023-05-02T15:16:13.123+02:00`, `2023-05-02`, `20230502T151613Z`) into
/// UTC seconds since the epoch, and the layout it was written in.
fn parse_time(name: &str, s: &str) -> R<(i64, Layout)> {
    let bad = || EvalError::Here(format!("{name}(): '{s}' is not an ISO 8601 date and time"));
    let t = s.trim();
    // Only ASCII is valid, and it keeps every byte slice below on a
    // character boundary.
    if !t.is_ascii() {
        return Err(bad());
    }
    let num = |x: &str| -> R<i64> {
        if x.is_empty() || !x.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        x.parse::<i64>().map_err(|_| bad())
    };
    let (date, rest) = match t.find(['T', 't', ' ']) {
        Some(i) => (&t[..i], &t[i + 1..]),
        None => (t, ""),
    };
    let (y, mo, d, layout) = if date.len() == 8 && !date.contains('-') {
        (num(&date[..4])?, num(&date[4..6])?, num(&date[6..8])?, Layout::Basic)
    } else {
        let mut p = date.split('-');
        let (Some(y), Some(mo), Some(d), None) = (p.next(), p.next(), p.next(), p.next()) else { return Err(bad()) };
        (num(y)?, num(mo)?, num(d)?, Layout::Iso)
    };
    if !(1..=9999).contains(&y) || !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) {
        return Err(bad());
    }
    // The time of day and the zone offset.
    let (clock, offset) = match rest.find(['Z', 'z', '+', '-']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let clock = clock.split('.').next().unwrap_or("");
    let (h, mi, sec) = if clock.is_empty() {
        (0, 0, 0)
    } else if !clock.contains(':') && clock.len() == 6 {
        (num(&clock[..2])?, num(&clock[2..4])?, num(&clock[4..6])?)
    } else {
        let mut p = clock.split(':');
        let h = num(p.next().unwrap_or(""))?;
        let mi = num(p.next().unwrap_or(""))?;
        let sec = match p.next() {
            Some(x) => num(x)?,
            None => 0,
        };
        if p.next().is_some() {
            return Err(bad());
        }
        (h, mi, sec)
    };
    if h > 23 || mi > 59 || sec > 59 {
        return Err(bad());
    }
    let off = match offset.chars().next() {
        None | Some('Z') | Some('z') => {
            if offset.len() > 1 {
                return Err(bad());
            }
            0
        }
        Some(sign) => {
            let o = offset[1..].replace(':', "");
            if o.len() != 4 {
                return Err(bad());
            }
            let v = num(&o[..2])? * 3600 + num(&o[2..])? * 60;
            if sign == '-' {
                -v
            } else {
                v
            }
        }
    };
    Ok((days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec - off, layout))
}

/// An ISO 8601 duration (`P1Y2M3DT4H5M6S`, `-P1D`, `PT1.5H`, `P2W`) in
/// seconds; ARM counts a year as 365 days and a month as 30.
fn parse_duration(name: &str, s: &str) -> R<i64> {
    let bad = || EvalError::Here(format!("{name}(): '{s}' is not an ISO 8601 duration (such as P1D or PT1H)"));
    let t = s.trim();
    let (neg, t) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t),
    };
    let t = t.strip_prefix(['P', 'p']).ok_or_else(bad)?;
    if t.is_empty() {
        return Err(bad());
    }
    let mut in_time = false;
    let mut total: f64 = 0.0;
    let mut num = String::new();
    for c in t.chars() {
        match c.to_ascii_uppercase() {
            'T' if !in_time && num.is_empty() => in_time = true,
            d if d.is_ascii_digit() || d == '.' || d == ',' => num.push(if d == ',' { '.' } else { d }),
            u => {
                let n: f64 = num.parse().map_err(|_| bad())?;
                num.clear();
                let unit = match (in_time, u) {
                    (false, 'Y') => 365.0 * 86_400.0,
                    (false, 'M') => 30.0 * 86_400.0,
                    (false, 'W') => 7.0 * 86_400.0,
                    (false, 'D') => 86_400.0,
                    (true, 'H') => 3600.0,
                    (true, 'M') => 60.0,
                    (true, 'S') => 1.0,
                    _ => return Err(bad()),
                };
                total += n * unit;
            }
        }
    }
    if !num.is_empty() || !total.is_finite() || total > (MAX_EPOCH - MIN_EPOCH) as f64 {
        return Err(bad());
    }
    let secs = total.round() as i64;
    Ok(if neg { -secs } else { secs })
}

fn parts(name: &str, t: i64) -> R<(i64, i64, i64, i64, i64, i64)> {
    if !(MIN_EPOCH..=MAX_EPOCH).contains(&t) {
        return err(format!("{name}(): the time is outside the years 1 to 9999"));
    }
    let (y, mo, d) = civil_from_days(t.div_euclid(86_400));
    let s = t.rem_euclid(86_400);
    Ok((y, mo, d, s / 3600, s % 3600 / 60, s % 60))
}

fn format_time(name: &str, t: i64, layout: Layout) -> R<String> {
    let (y, mo, d, h, mi, s) = parts(name, t)?;
    Ok(match layout {
        Layout::Iso => format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z"),
        Layout::Basic => format!("{y:04}{mo:02}{d:02}T{h:02}{mi:02}{s:02}Z"),
    })
}

/// .NET date formats: the standard `u`, `s`, `o`, `d` and custom patterns
/// of `yyyy`, `yy`, `MM`, `M`, `dd`, `d`, `HH`, `H`, `mm`, `ss` and literals.
fn custom_format(name: &str, t: i64, f: &str) -> R<String> {
    let (y, mo, d, h, mi, s) = parts(name, t)?;
    let pattern = match f {
        "u" => "yyyy-MM-dd HH:mm:ssZ",
        "s" => "yyyy-MM-ddTHH:mm:ss",
        "o" | "O" => "yyyy-MM-ddTHH:mm:ss.0000000Z",
        "d" => "MM/dd/yyyy",
        other => other,
    };
    let mut out = String::new();
    let cs: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    while i < cs.len() {
        let c = cs[i];
        let mut run = 1;
        while i + run < cs.len() && cs[i + run] == c {
            run += 1;
        }
        let field = match c {
            'y' => Some(if run >= 4 { format!("{y:04}") } else { format!("{:02}", y % 100) }),
            'M' => Some(if run >= 2 { format!("{mo:02}") } else { mo.to_string() }),
            'd' => Some(if run >= 2 { format!("{d:02}") } else { d.to_string() }),
            'H' => Some(if run >= 2 { format!("{h:02}") } else { h.to_string() }),
            'm' => Some(if run >= 2 { format!("{mi:02}") } else { mi.to_string() }),
            's' => Some(if run >= 2 { format!("{s:02}") } else { s.to_string() }),
            _ => None,
        };
        match field {
            Some(x) => out.push_str(&x),
            None => out.extend(std::iter::repeat_n(c, run)),
        }
        i += run;
        if out.len() > 4096 {
            return err(format!("{name}(): the format string is too long"));
        }
    }
    Ok(out)
}
