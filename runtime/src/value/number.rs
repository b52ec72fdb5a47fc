//! Numbers as JavaScript prints and parses them: `Number.prototype.toString()` for output, and
//! the `Number(string)` grammar for input.

/// `String(n)` in JavaScript: shortest round-trip digits, plain notation for exponents from
/// -7 to 20, exponential notation (`1e+21`, `1.5e-7`) outside, `-0` printed as `0`.
pub fn to_js_string(n: f64) -> String {
    let mut out = String::new();
    push_js_string(n, &mut out);
    out
}

/// Appends `String(n)` to `out` (see [`to_js_string`]): text built of parts (a template) needs
/// no string of its own per number.
pub fn push_js_string(n: f64, out: &mut String) {
    if n.is_nan() {
        return out.push_str("NaN");
    }
    if n == 0.0 {
        return out.push('0');
    }
    if n.is_infinite() {
        return out.push_str(if n > 0.0 { "Infinity" } else { "-Infinity" });
    }
    // Integers below 2^53 (counters, lengths, indices) print as themselves: the common case,
    // without the shortest-digits search.
    if n.fract() == 0.0 && n.abs() < 9_007_199_254_740_992.0 {
        return push_integer(n as i64, out);
    }
    // Rust's `{:e}` gives the shortest digits that round-trip, e.g. "-1.2345e-7".
    let formatted = format!("{:e}", n.abs());
    let (mantissa, exponent) = formatted.split_once('e').expect("`{:e}` always has an exponent");
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let k = digits.len() as i32;
    let n_exp = exponent.parse::<i32>().expect("`{:e}` exponent is an integer") + 1;
    if n < 0.0 {
        out.push('-');
    }
    if k <= n_exp && n_exp <= 21 {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', (n_exp - k) as usize));
    } else if 0 < n_exp && n_exp <= 21 {
        out.push_str(&digits[..n_exp as usize]);
        out.push('.');
        out.push_str(&digits[n_exp as usize..]);
    } else if -6 < n_exp && n_exp <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-n_exp) as usize));
        out.push_str(&digits);
    } else {
        out.push_str(&digits[..1]);
        if k > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if n_exp > 0 { '+' } else { '-' });
        push_integer(i64::from((n_exp - 1).abs()), out);
    }
}

/// Appends an integer's decimal digits (what `fmt` would write, at a fraction of its cost:
/// counters and lengths are most of the numbers templates print).
fn push_integer(n: i64, out: &mut String) {
    let mut digits = [0u8; 20];
    let (mut rest, mut at) = (n.unsigned_abs(), digits.len());
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if n < 0 {
        out.push('-');
    }
    out.extend(digits[at..].iter().map(|&d| char::from(d)));
}

/// JavaScript's white space and line terminators, which `Number()` and `trim()` strip.
pub fn is_js_whitespace(c: char) -> bool {
    matches!(
        c,
        '\u{9}' | '\u{a}' | '\u{b}' | '\u{c}' | '\u{d}' | ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'..='\u{200a}'
            | '\u{2028}' | '\u{2029}' | '\u{202f}' | '\u{205f}' | '\u{3000}' | '\u{feff}'
    )
}

/// `Number(text)`: the whole (trimmed) text must be a numeric literal, else `NaN`; empty is 0.
pub fn parse_js_number(text: &str) -> f64 {
    let text = text.trim_matches(is_js_whitespace);
    if text.is_empty() {
        return 0.0;
    }
    let radix = |prefix: [&str; 2], radix: u32| {
        prefix.iter().find_map(|p| text.strip_prefix(p)).map(|digits| {
            if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
                return f64::NAN;
            }
            digits.chars().fold(0.0, |acc, c| acc * f64::from(radix) + f64::from(c.to_digit(radix).unwrap_or(0)))
        })
    };
    if let Some(n) = radix(["0x", "0X"], 16).or_else(|| radix(["0o", "0O"], 8)).or_else(|| radix(["0b", "0B"], 2)) {
        return n;
    }
    let (sign, unsigned) = match text.as_bytes()[0] {
        b'-' => (-1.0, &text[1..]),
        b'+' => (1.0, &text[1..]),
        _ => (1.0, text),
    };
    if unsigned == "Infinity" {
        return sign * f64::INFINITY;
    }
    if is_decimal_literal(unsigned) {
        unsigned.parse::<f64>().map_or(f64::NAN, |n| sign * n)
    } else {
        f64::NAN
    }
}

/// `digits [. digits] [e [+-] digits]` or `. digits [...]`: what JavaScript accepts as an
/// unsigned decimal literal.
pub fn is_decimal_literal(text: &str) -> bool {
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(at) => (&text[..at], Some(&text[at + 1..])),
        None => (text, None),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = digits(whole) && digits(fraction) && !(whole.is_empty() && fraction.is_empty());
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    mantissa_ok && exponent_ok
}

/// `parseFloat(text)`: the longest decimal prefix after leading white space, else `NaN`.
pub fn parse_float_prefix(text: &str) -> f64 {
    let text = text.trim_start_matches(is_js_whitespace);
    let (sign, rest) = match text.as_bytes().first() {
        Some(b'-') => (-1.0, &text[1..]),
        Some(b'+') => (1.0, &text[1..]),
        _ => (1.0, text),
    };
    if rest.starts_with("Infinity") {
        return sign * f64::INFINITY;
    }
    (1..=rest.len())
        .rev()
        .filter(|&end| rest.is_char_boundary(end))
        .map(|end| &rest[..end])
        .find(|prefix| is_decimal_literal(prefix))
        .and_then(|prefix| prefix.parse::<f64>().ok())
        .map_or(f64::NAN, |n| sign * n)
}

/// `parseInt(text, radix)`: the longest prefix of digits in `radix` (default 10, or 16 after
/// `0x`), else `NaN`.
pub fn parse_int_prefix(text: &str, radix: Option<f64>) -> f64 {
    let text = text.trim_start_matches(is_js_whitespace);
    let (sign, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (-1.0, &text[1..]),
        Some(b'+') => (1.0, &text[1..]),
        _ => (1.0, text),
    };
    let (mut radix, defaulted) = match radix.map(f64::trunc) {
        None => (10, true),
        Some(r) if r.is_nan() || r == 0.0 => (10, true),
        Some(r) if (2.0..=36.0).contains(&r) => (r as u32, false),
        Some(_) => return f64::NAN,
    };
    if (radix == 16 || defaulted) && (rest.starts_with("0x") || rest.starts_with("0X")) {
        rest = &rest[2..];
        radix = 16;
    }
    let digits: Vec<u32> = rest.chars().map_while(|c| c.to_digit(radix)).collect();
    if digits.is_empty() {
        return f64::NAN;
    }
    sign * digits.iter().fold(0.0, |acc, d| acc * f64::from(radix) + f64::from(*d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_like_javascript() {
        let cases = [
            (0.0, "0"),
            (-0.0, "0"),
            (1.0, "1"),
            (-1.5, "-1.5"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (123456789012345680000.0, "123456789012345680000"),
            (0.000001, "0.000001"),
            (0.0000001, "1e-7"),
            (1.5e-7, "1.5e-7"),
            (2.5e25, "2.5e+25"),
            (f64::NAN, "NaN"),
            (f64::NEG_INFINITY, "-Infinity"),
            (5e-324, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (-7.0, "-7"),
            (1000.0, "1000"),
            (9_007_199_254_740_991.0, "9007199254740991"),
            (-9_007_199_254_740_991.0, "-9007199254740991"),
            (9_007_199_254_740_992.0, "9007199254740992"),
        ];
        for (n, expected) in cases {
            assert_eq!(to_js_string(n), expected, "{n:?}");
        }
    }

    #[test]
    fn integers_print_as_fmt_prints_them() {
        for n in (-2_000..2_000).chain([i64::from(i32::MAX), i64::from(i32::MIN), (1 << 53) - 1, 1 - (1 << 53)]) {
            let mut out = String::from("x");
            push_js_string(n as f64, &mut out);
            assert_eq!(out, format!("x{n}"));
        }
    }

    #[test]
    fn parses_like_number() {
        assert_eq!(parse_js_number("  42 "), 42.0);
        assert_eq!(parse_js_number(""), 0.0);
        assert_eq!(parse_js_number("0x1f"), 31.0);
        assert_eq!(parse_js_number("-Infinity"), f64::NEG_INFINITY);
        assert!(parse_js_number("inf").is_nan());
        assert!(parse_js_number("12px").is_nan());
        assert!(parse_js_number("-0x10").is_nan());
        assert_eq!(parse_js_number(".5"), 0.5);
        assert_eq!(parse_js_number("5."), 5.0);
    }

    #[test]
    fn parses_prefixes_like_parse_int_and_parse_float() {
        assert_eq!(parse_int_prefix("12px", None), 12.0);
        assert_eq!(parse_int_prefix("0x1A", None), 26.0);
        assert_eq!(parse_int_prefix("ff", Some(16.0)), 255.0);
        assert_eq!(parse_int_prefix("0x1A", Some(10.0)), 0.0);
        assert!(parse_int_prefix("px", None).is_nan());
        assert_eq!(parse_float_prefix("2.5abc"), 2.5);
        assert_eq!(parse_float_prefix("  -2e3x"), -2000.0);
        assert!(parse_float_prefix("abc").is_nan());
    }
}
