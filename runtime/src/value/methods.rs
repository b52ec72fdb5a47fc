//! Built-in methods and globals: the Array, String, Number, Object, JSON and Math functions
//! workflow expressions use (aromcp-reference.md §5.3, tiers 1 and 2). Anything else is refused
//! at build time, so a name not handled here is a `TypeError` ("… is not a function").

use std::cmp::Ordering;
use std::sync::Arc;

use super::ops::compare_utf16;
use super::budget::{charge_bytes, charge_items, charge_operations, charge_scan};
use super::{EvalError, Object, RegExp, Value, from_units, index_of, join, json, number, same_value_zero, units};

/// A function argument: an arrow function written at the call site, called with the
/// callback's arguments (`(item, index, array)` for array methods).
pub type Callback<'a> = &'a mut dyn FnMut(&[Value]) -> Result<Value, EvalError>;

/// Array methods that take a function as their first argument.
pub const CALLBACK_METHODS: &[&str] = &["filter", "map", "reduce", "some", "every", "find", "findIndex", "sort", "flatMap", "forEach"];

fn arg(args: &[Value], i: usize) -> &Value {
    args.get(i).unwrap_or(&Value::Undefined)
}

fn need_callback<'a>(callback: Option<Callback<'a>>, name: &str) -> Result<Callback<'a>, EvalError> {
    callback.ok_or_else(|| EvalError::type_error(format!("undefined is not a function (the callback of {name})")))
}

/// Calls `receiver.name(args…)`. Methods that take a function get it as `callback`.
pub fn call_method(receiver: &Value, name: &str, args: &[Value], callback: Option<Callback<'_>>) -> Result<Value, EvalError> {
    match receiver {
        Value::Array(items) => array_method(items, name, args, callback).unwrap_or_else(|| Err(EvalError::not_a_function(receiver, name))),
        Value::String(s) => string_method(s, name, args).unwrap_or_else(|| Err(EvalError::not_a_function(receiver, name))),
        Value::Number(n) => number_method(*n, name, args).unwrap_or_else(|| Err(EvalError::not_a_function(receiver, name))),
        Value::Set(items) if name == "has" => Ok(Value::Bool(items.iter().any(|v| same_value_zero(v, arg(args, 0))))),
        Value::RegExp(re) if name == "test" => re.is_match(&arg(args, 0).to_js_string()).map(Value::Bool),
        Value::Undefined | Value::Null => Err(EvalError::missing_method(receiver, name)),
        Value::Bool(_) if name == "toString" => Ok(Value::string(receiver.to_js_string())),
        _ => Err(EvalError::not_a_function(receiver, name)),
    }
}

/// `array.push(items…)` on a binding the evaluator owns: appends and returns the new length.
pub fn push(target: &mut Value, args: &[Value]) -> Result<Value, EvalError> {
    match target {
        Value::Array(items) => {
            charge_items(args.len())?;
            let items = Arc::make_mut(items);
            items.extend(args.iter().cloned());
            Ok(Value::Number(items.len() as f64))
        }
        other => Err(EvalError::not_a_function(other, "push")),
    }
}

/// A relative index (`slice(-2)`) clamped into `0..=len`.
fn relative(value: &Value, len: usize, default: usize) -> usize {
    if matches!(value, Value::Undefined) {
        return default;
    }
    let n = value.to_number();
    let n = if n.is_nan() { 0.0 } else { n.trunc() };
    if n < 0.0 { (len as f64 + n).max(0.0) as usize } else { n.min(len as f64) as usize }
}

fn array_method(items: &Arc<Vec<Value>>, name: &str, args: &[Value], callback: Option<Callback<'_>>) -> Option<Result<Value, EvalError>> {
    let array = || Value::Array(items.clone());
    fn each(
        items: &Arc<Vec<Value>>,
        callback: Callback<'_>,
        mut visit: impl FnMut(usize, &Value, Value) -> Result<bool, EvalError>,
    ) -> Result<(), EvalError> {
        for (i, item) in items.iter().enumerate() {
            charge_operations(1)?;
            let result = callback(&[item.clone(), Value::Number(i as f64), Value::Array(items.clone())])?;
            if !visit(i, item, result)? {
                break;
            }
        }
        Ok(())
    }
    // What the methods without a callback (those charge per call) cost: they visit up to every
    // item, and some copy them.
    let visits = || charge_operations(items.len());
    let copies = || charge_operations(items.len()).and_then(|()| charge_items(items.len()));
    Some(match name {
        "filter" => need_callback(callback, name).and_then(|f| {
            let mut out = Vec::new();
            each(items, f, |_, item, keep| {
                if keep.truthy() {
                    charge_items(1)?;
                    out.push(item.clone());
                }
                Ok(true)
            })?;
            Ok(Value::array(out))
        }),
        "map" => need_callback(callback, name).and_then(|f| {
            let mut out = Vec::with_capacity(items.len());
            each(items, f, |_, _, mapped| {
                charge_items(1)?;
                out.push(mapped);
                Ok(true)
            })?;
            Ok(Value::array(out))
        }),
        "flatMap" => need_callback(callback, name).and_then(|f| {
            let mut out = Vec::with_capacity(items.len());
            each(items, f, |_, _, mapped| {
                charge_items(match &mapped {
                    Value::Array(inner) => inner.len(),
                    _ => 1,
                })?;
                match mapped {
                    Value::Array(inner) => out.extend(inner.iter().cloned()),
                    other => out.push(other),
                }
                Ok(true)
            })?;
            Ok(Value::array(out))
        }),
        "forEach" => need_callback(callback, name).and_then(|f| each(items, f, |_, _, _| Ok(true)).map(|()| Value::Undefined)),
        "some" | "every" => need_callback(callback, name).and_then(|f| {
            let want = name == "some";
            let mut found = !want;
            each(items, f, |_, _, result| {
                if result.truthy() == want {
                    found = want;
                    return Ok(false);
                }
                Ok(true)
            })?;
            Ok(Value::Bool(found))
        }),
        "find" | "findIndex" => need_callback(callback, name).and_then(|f| {
            let mut found = None;
            each(items, f, |i, item, result| {
                if result.truthy() {
                    found = Some((i, item.clone()));
                    return Ok(false);
                }
                Ok(true)
            })?;
            Ok(match (name, found) {
                ("find", Some((_, item))) => item,
                ("find", None) => Value::Undefined,
                (_, Some((i, _))) => Value::Number(i as f64),
                (_, None) => Value::Number(-1.0),
            })
        }),
        "reduce" => need_callback(callback, name).and_then(|f| {
            let mut iter = items.iter().enumerate();
            let mut accumulator = match args.first() {
                Some(initial) => initial.clone(),
                None => match iter.next() {
                    Some((_, first)) => first.clone(),
                    None => return Err(EvalError::type_error("Reduce of empty array with no initial value")),
                },
            };
            for (i, item) in iter {
                charge_operations(1)?;
                accumulator = f(&[accumulator, item.clone(), Value::Number(i as f64), array()])?;
            }
            Ok(accumulator)
        }),
        "sort" => sort(items, callback),
        "includes" => visits().map(|()| Value::Bool(items.iter().skip(relative(arg(args, 1), items.len(), 0)).any(|v| same_value_zero(v, arg(args, 0))))),
        "indexOf" => visits().map(|()| {
            let start = relative(arg(args, 1), items.len(), 0);
            let found = items.iter().enumerate().skip(start).find(|(_, v)| super::strict_equals(v, arg(args, 0)));
            Value::Number(found.map_or(-1.0, |(i, _)| i as f64))
        }),
        "slice" => copies().map(|()| {
            let start = relative(arg(args, 0), items.len(), 0);
            let end = relative(arg(args, 1), items.len(), items.len());
            Value::array(items.get(start..end.max(start)).unwrap_or_default().to_vec())
        }),
        "concat" => {
            if let Err(error) = copies() {
                return Some(Err(error));
            }
            let mut out = items.as_ref().clone();
            for extra in args {
                if let Err(error) = charge_items(if let Value::Array(more) = extra { more.len() } else { 1 }) {
                    return Some(Err(error));
                }
                match extra {
                    Value::Array(more) => out.extend(more.iter().cloned()),
                    other => out.push(other.clone()),
                }
            }
            Ok(Value::array(out))
        }
        "join" => visits().map(|()| {
            let separator = match arg(args, 0) {
                Value::Undefined => ",".to_owned(),
                other => other.to_js_string(),
            };
            Value::string(join(items, &separator))
        }),
        "reverse" => copies().map(|()| Value::array(items.iter().rev().cloned().collect())),
        "at" => {
            let n = arg(args, 0).to_number();
            let n = if n.is_nan() { 0.0 } else { n.trunc() };
            let i = if n < 0.0 { items.len() as f64 + n } else { n };
            Ok(index_of(i).and_then(|i| items.get(i)).cloned().unwrap_or_default())
        }
        "toString" => visits().map(|()| Value::string(join(items, ","))),
        _ => return None,
    })
}

/// `Array.prototype.sort`: stable; without a comparator, by string form (`undefined` last);
/// with one, by the sign of its result. Returns a sorted copy (values are copy-on-write).
fn sort(items: &Arc<Vec<Value>>, callback: Option<Callback<'_>>) -> Result<Value, EvalError> {
    charge_operations(items.len())?;
    charge_items(items.len())?;
    let (mut defined, undefined): (Vec<Value>, Vec<Value>) = items.iter().cloned().partition(|v| !matches!(v, Value::Undefined));
    match callback {
        None => {
            let mut keyed: Vec<(String, Value)> = defined.into_iter().map(|v| (v.to_js_string(), v)).collect();
            keyed.sort_by(|(a, _), (b, _)| compare_utf16(a, b));
            defined = keyed.into_iter().map(|(_, v)| v).collect();
        }
        Some(compare) => {
            let mut failure = None;
            defined.sort_by(|a, b| {
                if failure.is_some() {
                    return Ordering::Equal;
                }
                if let Err(error) = charge_operations(1) {
                    failure = Some(error);
                    return Ordering::Equal;
                }
                match compare(&[a.clone(), b.clone()]) {
                    Ok(result) => {
                        let n = result.to_number();
                        if n < 0.0 { Ordering::Less } else if n > 0.0 { Ordering::Greater } else { Ordering::Equal }
                    }
                    Err(error) => {
                        failure = Some(error);
                        Ordering::Equal
                    }
                }
            });
            if let Some(error) = failure {
                return Err(error);
            }
        }
    }
    defined.extend(undefined);
    Ok(Value::array(defined))
}

fn string_method(s: &Arc<str>, name: &str, args: &[Value]) -> Option<Result<Value, EvalError>> {
    // The first argument as text, borrowed when it already is a string (the common case).
    let text = || -> std::borrow::Cow<'_, str> {
        match arg(args, 0) {
            Value::String(t) => std::borrow::Cow::Borrowed(&**t),
            other => std::borrow::Cow::Owned(other.to_js_string()),
        }
    };
    let bool_value = |b: bool| Ok(Value::Bool(b));
    // Every string method reads (and may copy) up to the whole text and its argument.
    if let Err(error) = charge_scan(s.len() + args.first().and_then(Value::as_str).map_or(0, str::len)) {
        return Some(Err(error));
    }
    Some(match name {
        "trim" => Ok(Value::string(s.trim_matches(number::is_js_whitespace))),
        "trimStart" => Ok(Value::string(s.trim_start_matches(number::is_js_whitespace))),
        "trimEnd" => Ok(Value::string(s.trim_end_matches(number::is_js_whitespace))),
        // Case mapping can lengthen a character's UTF-8 up to threefold.
        "toUpperCase" => charge_bytes(s.len() * 3).map(|()| Value::string(s.to_uppercase())),
        "toLowerCase" => charge_bytes(s.len() * 3).map(|()| Value::string(s.to_lowercase())),
        "toString" => Ok(Value::String(s.clone())),
        // Without a position argument, prefix and suffix tests on UTF-8 agree with UTF-16.
        "startsWith" if args.len() < 2 => bool_value(s.starts_with(&*text())),
        "endsWith" if args.len() < 2 => bool_value(s.ends_with(&*text())),
        "startsWith" => {
            let all = units(s);
            let start = relative(arg(args, 1), all.len(), 0);
            bool_value(all[start..].starts_with(&units(&text())))
        }
        "endsWith" => {
            let all = units(s);
            let end = relative(arg(args, 1), all.len(), all.len());
            bool_value(all[..end].ends_with(&units(&text())))
        }
        "includes" => bool_value(s.contains(&*text())),
        "indexOf" if s.is_ascii() && args.len() < 2 => {
            Ok(Value::Number(s.find(&*text()).map_or(-1.0, |i| i as f64)))
        }
        "indexOf" => {
            let (all, needle) = (units(s), units(&text()));
            let start = relative(arg(args, 1), all.len(), 0);
            let found = (start..=all.len()).find(|&i| all[i..].starts_with(&needle));
            Ok(Value::Number(found.map_or(-1.0, |i| i as f64)))
        }
        "slice" if s.is_ascii() => {
            let start = relative(arg(args, 0), s.len(), 0);
            let end = relative(arg(args, 1), s.len(), s.len());
            Ok(Value::string(s.get(start..end.max(start)).unwrap_or_default()))
        }
        "slice" => {
            let all = units(s);
            let start = relative(arg(args, 0), all.len(), 0);
            let end = relative(arg(args, 1), all.len(), all.len());
            Ok(from_units(all.get(start..end.max(start)).unwrap_or_default()))
        }
        "substring" => {
            let all = units(s);
            let clamp = |v: &Value, default: usize| {
                if matches!(v, Value::Undefined) {
                    return default;
                }
                let n = v.to_number();
                if n.is_nan() { 0 } else { n.trunc().clamp(0.0, all.len() as f64) as usize }
            };
            let (a, b) = (clamp(arg(args, 0), 0), clamp(arg(args, 1), all.len()));
            Ok(from_units(&all[a.min(b)..a.max(b)]))
        }
        "padStart" | "padEnd" => {
            let target = arg(args, 0).to_number();
            let target = if target.is_nan() { 0 } else { target.max(0.0).min(usize::MAX as f64) as usize };
            if let Err(error) = charge_bytes(target.saturating_mul(2)) {
                return Some(Err(error));
            }
            let filler = match arg(args, 1) {
                Value::Undefined => vec![u16::from(b' ')],
                other => units(&other.to_js_string()),
            };
            let own = units(s);
            if target <= own.len() || filler.is_empty() {
                return Some(Ok(Value::String(s.clone())));
            }
            let pad: Vec<u16> = filler.iter().copied().cycle().take(target - own.len()).collect();
            let joined: Vec<u16> = if name == "padStart" { [pad, own].concat() } else { [own, pad].concat() };
            Ok(from_units(&joined))
        }
        "split" => super::split::split(s, arg(args, 0), arg(args, 1)),
        "replace" | "replaceAll" => replace(s, arg(args, 0), &arg(args, 1).to_js_string(), name == "replaceAll"),
        "match" => match arg(args, 0) {
            Value::RegExp(re) => {
                let found = match re.matches(s, re.global()) {
                    Ok(found) => found,
                    Err(error) => return Some(Err(error)),
                };
                if found.is_empty() {
                    Ok(Value::Null)
                } else if re.global() {
                    Ok(Value::array(found.iter().map(|groups| Value::string(&s[groups[0].clone().unwrap_or(0..0)])).collect()))
                } else {
                    let groups = found[0].iter().map(|g| g.clone().map_or(Value::Undefined, |r| Value::string(&s[r]))).collect();
                    Ok(Value::array(groups))
                }
            }
            other => match RegExp::new(&other.to_js_string(), "") {
                Ok(re) => string_method(s, "match", &[Value::RegExp(Arc::new(re))])?,
                Err(error) => Err(error),
            },
        },
        "localeCompare" => {
            let other = text();
            let key = |t: &str| t.chars().map(|c| (c.to_lowercase().collect::<String>(), c.is_uppercase())).collect::<Vec<_>>();
            let primary = |t: &str| t.to_lowercase();
            let order = compare_utf16(&primary(s), &primary(&other)).then_with(|| key(s).cmp(&key(&other)));
            Ok(Value::Number(match order {
                Ordering::Less => -1.0,
                Ordering::Equal => 0.0,
                Ordering::Greater => 1.0,
            }))
        }
        "charAt" => Ok(relative_char(&units(s), arg(args, 0))),
        "concat" => {
            let mut out = s.to_string();
            for more in args {
                let text = more.to_js_string();
                if let Err(error) = charge_bytes(text.len()) {
                    return Some(Err(error));
                }
                out.push_str(&text);
            }
            Ok(Value::string(out))
        }
        "repeat" => {
            let count = arg(args, 0).to_number();
            if count < 0.0 || count.is_infinite() {
                return Some(Err(EvalError::range_error(format!("Invalid count value: {}", number::to_js_string(count)))));
            }
            if let Err(error) = charge_bytes((count * s.len() as f64).min(usize::MAX as f64) as usize) {
                return Some(Err(error));
            }
            Ok(Value::string(s.repeat(if count.is_nan() { 0 } else { count as usize })))
        }
        _ => return None,
    })
}

fn relative_char(all: &[u16], index: &Value) -> Value {
    let n = index.to_number();
    let i = if n.is_nan() { 0.0 } else { n.trunc() };
    index_of(i).and_then(|i| all.get(i)).map_or_else(|| Value::string(""), |u| from_units(&[*u]))
}

fn replace(s: &str, pattern: &Value, replacement: &str, all: bool) -> Result<Value, EvalError> {
    let expand = |out: &mut String, matched: &str, groups: &[Option<&str>]| {
        let mut chars = replacement.chars().peekable();
        while let Some(c) = chars.next() {
            match (c, chars.peek().copied()) {
                ('$', Some('$')) => {
                    out.push('$');
                    chars.next();
                }
                ('$', Some('&')) => {
                    out.push_str(matched);
                    chars.next();
                }
                ('$', Some(d)) if d.is_ascii_digit() && d != '0' => {
                    let index = d.to_digit(10).unwrap_or(0) as usize;
                    match groups.get(index - 1) {
                        Some(group) => out.push_str(group.unwrap_or("")),
                        None => {
                            out.push('$');
                            out.push(d);
                        }
                    }
                    chars.next();
                }
                (c, _) => out.push(c),
            }
        }
    };
    let mut out = String::with_capacity(s.len());
    match pattern {
        Value::RegExp(re) => {
            if all && !re.global() {
                return Err(EvalError::type_error("replaceAll must be called with a global RegExp"));
            }
            let mut last = 0;
            for groups in re.matches(s, re.global())? {
                let Some(whole) = groups[0].clone() else { continue };
                charge_bytes(replacement.len() + whole.start - last)?;
                out.push_str(&s[last..whole.start]);
                let captured: Vec<Option<&str>> = groups[1..].iter().map(|g| g.clone().map(|r| &s[r])).collect();
                expand(&mut out, &s[whole.clone()], &captured);
                last = whole.end;
            }
            out.push_str(&s[last..]);
        }
        other => {
            let needle = other.to_js_string();
            let mut rest = s;
            let mut replaced = false;
            while let Some(at) = rest.find(needle.as_str()).filter(|_| all || !replaced) {
                charge_bytes(replacement.len() + at + 4)?;
                out.push_str(&rest[..at]);
                expand(&mut out, &needle, &[]);
                replaced = true;
                if needle.is_empty() {
                    let Some(c) = rest.chars().next() else {
                        rest = "";
                        break;
                    };
                    out.push(c);
                    rest = &rest[c.len_utf8()..];
                } else {
                    rest = &rest[at + needle.len()..];
                }
            }
            out.push_str(rest);
        }
    }
    Ok(Value::string(out))
}

fn number_method(n: f64, name: &str, args: &[Value]) -> Option<Result<Value, EvalError>> {
    Some(match name {
        "toFixed" => {
            let digits = arg(args, 0).to_number();
            let digits = if digits.is_nan() { 0.0 } else { digits.trunc() };
            if !(0.0..=100.0).contains(&digits) {
                return Some(Err(EvalError::range_error("toFixed() digits argument must be between 0 and 100")));
            }
            if !n.is_finite() || n.abs() >= 1e21 {
                return Some(Ok(Value::string(number::to_js_string(n))));
            }
            Ok(Value::string(to_fixed(n, digits as usize)))
        }
        "toString" => match arg(args, 0) {
            Value::Undefined => Ok(Value::string(number::to_js_string(n))),
            radix => {
                let radix = radix.to_number();
                if radix == 10.0 {
                    Ok(Value::string(number::to_js_string(n)))
                } else if (2.0..=36.0).contains(&radix) && n.fract() == 0.0 && n.abs() < 9_007_199_254_740_992.0 {
                    Ok(Value::string(integer_in_radix(n as i64, radix as u32)))
                } else {
                    Err(EvalError::range_error("toString() radix must be between 2 and 36"))
                }
            }
        },
        _ => return None,
    })
}

/// `Math.round`: to the nearest integer, ties toward +∞, keeping `-0` for `-0.5 ≤ x < 0`.
fn js_round(x: f64) -> f64 {
    if !x.is_finite() || x.fract() == 0.0 {
        return x;
    }
    let floor = x.floor();
    let rounded = if x - floor >= 0.5 { floor + 1.0 } else { floor };
    if rounded == 0.0 && x < 0.0 { -0.0 } else { rounded }
}

/// `toFixed`: JavaScript rounds the exact binary value half away from zero, which is what
/// formatting the exact decimal expansion gives.
fn to_fixed(n: f64, digits: usize) -> String {
    // `(-0).toFixed(2)` is "0.00": the sign is only printed for values below zero.
    let n = if n == 0.0 { 0.0 } else { n };
    let formatted = format!("{:.*}", digits, n);
    // Rust rounds half to even on the exact value; ties are exact only when the binary value
    // is exactly halfway, and then JavaScript rounds up (away from zero).
    let scaled = n.abs() * 10f64.powi(digits as i32);
    if (scaled - scaled.trunc() - 0.5).abs() == 0.0 && (scaled.trunc() as i64) % 2 == 0 {
        let bumped = (scaled.trunc() + 1.0) / 10f64.powi(digits as i32);
        let signed = if n < 0.0 { -bumped } else { bumped };
        return format!("{:.*}", digits, signed);
    }
    formatted
}

fn integer_in_radix(mut n: i64, radix: u32) -> String {
    if n == 0 {
        return "0".to_owned();
    }
    let negative = n < 0;
    let mut digits = Vec::new();
    while n != 0 {
        let d = (n % i64::from(radix)).unsigned_abs() as u32;
        digits.push(std::char::from_digit(d, radix).unwrap_or('?'));
        n /= i64::from(radix);
    }
    if negative {
        digits.push('-');
    }
    digits.iter().rev().collect()
}

/// Calls a global function (`Object.keys`, `Math.max`, `parseInt`, `new Set`, …) by its
/// dotted name.
pub fn call_global(name: &str, args: &[Value], callback: Option<Callback<'_>>) -> Result<Value, EvalError> {
    let math = |f: fn(f64) -> f64| Ok(Value::Number(f(arg(args, 0).to_number())));
    match name {
        "Object.keys" | "Object.values" | "Object.entries" => {
            let target = arg(args, 0);
            let size = own_keys(target);
            charge_operations(size)?;
            charge_items(size.saturating_mul(3))?;
            let pairs: Vec<(Value, Value)> = match target {
                Value::Object(o) => o.entries().map(|(k, v)| (Value::String(k.clone()), v.clone())).collect(),
                Value::Array(items) => items.iter().enumerate().map(|(i, v)| (Value::string(i.to_string()), v.clone())).collect(),
                Value::String(s) => units(s).iter().enumerate().map(|(i, u)| (Value::string(i.to_string()), from_units(&[*u]))).collect(),
                Value::Undefined | Value::Null => {
                    return Err(EvalError::type_error("Cannot convert undefined or null to object"));
                }
                _ => Vec::new(),
            };
            Ok(Value::array(match name {
                "Object.keys" => pairs.into_iter().map(|(k, _)| k).collect(),
                "Object.values" => pairs.into_iter().map(|(_, v)| v).collect(),
                _ => pairs.into_iter().map(|(k, v)| Value::array(vec![k, v])).collect(),
            }))
        }
        "Object.assign" => {
            let mut target = match arg(args, 0) {
                Value::Object(o) => o.as_ref().clone(),
                Value::Undefined | Value::Null => return Err(EvalError::type_error("Cannot convert undefined or null to object")),
                _ => Object::new(),
            };
            for source in args.iter().skip(1) {
                if let Value::Object(o) = source {
                    charge_operations(o.len())?;
                    for (k, v) in o.entries() {
                        target.insert(k.clone(), v.clone());
                    }
                }
            }
            Ok(Value::Object(Arc::new(target)))
        }
        "Object.fromEntries" => {
            let Value::Array(pairs) = arg(args, 0) else { return Err(EvalError::type_error("object is not iterable")) };
            charge_operations(pairs.len())?;
            let mut object = Object::new();
            for pair in pairs.iter() {
                object.insert(pair.get(&Value::Number(0.0))?.to_js_string(), pair.get(&Value::Number(1.0))?);
            }
            Ok(Value::Object(Arc::new(object)))
        }
        "JSON.parse" => json::parse(&arg(args, 0).to_js_string()),
        "JSON.stringify" => {
            let indent = match arg(args, 2) {
                Value::Number(n) => " ".repeat(n.clamp(0.0, 10.0) as usize),
                Value::String(s) => s.chars().take(10).collect(),
                _ => String::new(),
            };
            Ok(json::stringify(arg(args, 0), &indent).map_or(Value::Undefined, Value::string))
        }
        "Math.min" | "Math.max" => {
            let numbers: Vec<f64> = args.iter().map(Value::to_number).collect();
            let is_max = name == "Math.max";
            let mut result = if is_max { f64::NEG_INFINITY } else { f64::INFINITY };
            for n in numbers {
                if n.is_nan() {
                    return Ok(Value::Number(f64::NAN));
                }
                let better = if is_max { n > result || (n == 0.0 && result == 0.0 && n.is_sign_positive()) } else { n < result || (n == 0.0 && result == 0.0 && n.is_sign_negative()) };
                if better {
                    result = n;
                }
            }
            Ok(Value::Number(result))
        }
        "Math.round" => math(js_round),
        "Math.floor" => math(f64::floor),
        "Math.ceil" => math(f64::ceil),
        "Math.abs" => math(f64::abs),
        "Math.trunc" => math(f64::trunc),
        "Math.sign" => math(|x| if x.is_nan() || x == 0.0 { x } else { x.signum() }),
        "Math.sqrt" => math(f64::sqrt),
        "Math.pow" => super::binary(super::BinaryOp::Exp, arg(args, 0), arg(args, 1)),
        "parseInt" => {
            let radix = match arg(args, 1) {
                Value::Undefined => None,
                other => Some(other.to_number()),
            };
            Ok(Value::Number(number::parse_int_prefix(&arg(args, 0).to_js_string(), radix)))
        }
        "parseFloat" => Ok(Value::Number(number::parse_float_prefix(&arg(args, 0).to_js_string()))),
        "isNaN" => Ok(Value::Bool(arg(args, 0).to_number().is_nan())),
        "Number.isInteger" => Ok(Value::Bool(matches!(arg(args, 0), Value::Number(n) if n.is_finite() && n.fract() == 0.0))),
        "Number" => Ok(Value::Number(if args.is_empty() { 0.0 } else { arg(args, 0).to_number() })),
        "String" => Ok(Value::string(if args.is_empty() { String::new() } else { arg(args, 0).to_js_string() })),
        "Boolean" => Ok(Value::Bool(arg(args, 0).truthy())),
        "Array.isArray" => Ok(Value::Bool(matches!(arg(args, 0), Value::Array(_)))),
        "Array.from" => {
            let items: Vec<Value> = match arg(args, 0) {
                Value::Array(items) | Value::Set(items) => {
                    charge_items(items.len())?;
                    items.as_ref().clone()
                }
                Value::String(s) => {
                    charge_items(s.len())?;
                    s.chars().map(|c| Value::string(c.to_string())).collect()
                }
                Value::Object(o) => match o.get("length") {
                    Some(length) => {
                        let n = length.to_number();
                        let n = if n.is_nan() { 0 } else { n.clamp(0.0, usize::MAX as f64) as usize };
                        charge_operations(n)?;
                        charge_items(n)?;
                        (0..n).map(|i| o.get(&i.to_string()).cloned().unwrap_or_default()).collect()
                    }
                    None => Vec::new(),
                },
                _ => Vec::new(),
            };
            match callback {
                Some(f) => items.iter().enumerate().map(|(i, v)| charge_operations(1).and_then(|()| f(&[v.clone(), Value::Number(i as f64)]))).collect::<Result<_, _>>().map(Value::array),
                None => Ok(Value::array(items)),
            }
        }
        "new Set" => {
            let mut unique: Vec<Value> = Vec::new();
            let source: Vec<Value> = match arg(args, 0) {
                Value::Array(items) | Value::Set(items) => items.as_ref().clone(),
                Value::String(s) => s.chars().map(|c| Value::string(c.to_string())).collect(),
                Value::Undefined | Value::Null => Vec::new(),
                other => return Err(EvalError::type_error(format!("{} is not iterable", other.to_js_string()))),
            };
            for item in source {
                if !unique.iter().any(|u| same_value_zero(u, &item)) {
                    unique.push(item);
                }
            }
            Ok(Value::Set(Arc::new(unique)))
        }
        _ => Err(EvalError::type_error(format!("{name} is not a function"))),
    }
}

/// How many own enumerable properties `Object.keys` and `{...value}` find: an object's keys, an
/// array's indices, a string's (at most one per byte); none of anything else.
fn own_keys(value: &Value) -> usize {
    match value {
        Value::Object(object) => object.len(),
        Value::Array(items) => items.len(),
        Value::String(s) => s.len(),
        _ => 0,
    }
}

/// `{...value}`: copies own enumerable properties (of objects, and the indices of arrays and
/// strings) into `object`; other values add nothing.
pub fn spread_into(object: &mut Object, value: &Value) {
    let size = own_keys(value);
    // Spreading cannot fail; a spent budget leaves the object short and fails the evaluation
    // when it ends.
    if charge_operations(size).and_then(|()| charge_items(size.saturating_mul(2))).is_err() {
        return;
    }
    match value {
        Value::Object(source) => {
            for (k, v) in source.entries() {
                object.insert(k.clone(), v.clone());
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                object.insert(i.to_string(), v.clone());
            }
        }
        Value::String(s) => {
            for (i, c) in s.chars().enumerate() {
                object.insert(i.to_string(), Value::string(c.to_string()));
            }
        }
        _ => {}
    }
}

/// Reads `key` for an object destructuring pattern (`({a}) => …`): a `TypeError` on
/// `null`/`undefined`, as in JavaScript.
pub fn destructure_field(value: &Value, key: &str) -> Result<Value, EvalError> {
    if matches!(value, Value::Undefined | Value::Null) {
        return Err(EvalError::type_error(format!("Cannot destructure '{}' as it is {}.", value.to_js_string(), value.to_js_string())));
    }
    value.get_named(key)
}

/// The items an array pattern (`([k, v]) => …`) destructures: borrowed from an array or a
/// set, built for a string.
pub fn destructure_items(value: &Value) -> Result<std::borrow::Cow<'_, [Value]>, EvalError> {
    match value {
        Value::Array(items) | Value::Set(items) => Ok(std::borrow::Cow::Borrowed(items.as_slice())),
        other => spread_items(other).map(std::borrow::Cow::Owned),
    }
}

/// The items `for (const x of value)` walks, each charged as a visit: borrowed from an array
/// or a set, built for a string; a `TypeError` for anything else, as in JavaScript.
pub fn iterated_items(value: &Value) -> Result<std::borrow::Cow<'_, [Value]>, EvalError> {
    let items = destructure_items(value)?;
    charge_operations(items.len())?;
    Ok(items)
}

/// `[...value]`: the items an iterable spreads into.
pub fn spread_items(value: &Value) -> Result<Vec<Value>, EvalError> {
    if let Value::Array(items) | Value::Set(items) = value {
        charge_items(items.len())?;
    } else if let Value::String(s) = value {
        charge_items(s.len())?;
    }
    match value {
        Value::Array(items) | Value::Set(items) => Ok(items.as_ref().clone()),
        Value::String(s) => Ok(s.chars().map(|c| Value::string(c.to_string())).collect()),
        other => Err(EvalError::type_error(format!("{} is not iterable", other.to_js_string()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> Value {
        Value::string(x)
    }

    fn strings(v: &Value) -> Vec<String> {
        match v {
            Value::Array(items) => items.iter().map(Value::to_js_string).collect(),
            other => vec![other.to_js_string()],
        }
    }

    #[test]
    fn array_methods_with_callbacks() {
        let items = Value::array(vec![Value::Number(3.0), Value::Number(1.0), Value::Number(10.0)]);
        let mut double = |args: &[Value]| Ok(Value::Number(args[0].to_number() * 2.0));
        assert_eq!(strings(&call_method(&items, "map", &[], Some(&mut double)).expect("map")), ["6", "2", "20"]);
        assert_eq!(strings(&call_method(&items, "sort", &[], None).expect("sort")), ["1", "10", "3"]);
        let mut sum = |args: &[Value]| Ok(Value::Number(args[0].to_number() + args[1].to_number()));
        assert_eq!(call_method(&items, "reduce", &[Value::Number(0.0)], Some(&mut sum)).expect("reduce").to_number(), 14.0);
    }

    #[test]
    fn string_methods() {
        assert_eq!(strings(&call_method(&s("a  b c"), "split", &[Value::RegExp(Arc::new(RegExp::new("\\s+", "").expect("re")))], None).expect("split")), ["a", "b", "c"]);
        assert_eq!(call_method(&s("5"), "padStart", &[Value::Number(3.0), s("0")], None).expect("pad").to_js_string(), "005");
        assert_eq!(call_method(&s("a-b-c"), "replace", &[s("-"), s("+")], None).expect("replace").to_js_string(), "a+b-c");
        assert_eq!(call_method(&s("😀x"), "slice", &[Value::Number(2.0)], None).expect("slice").to_js_string(), "x");
        assert_eq!(call_method(&s("abc"), "indexOf", &[s("c")], None).expect("indexOf").to_number(), 2.0);
    }


    #[test]
    fn numbers_and_globals() {
        assert_eq!(call_method(&Value::Number(1.005), "toFixed", &[Value::Number(2.0)], None).expect("toFixed").to_js_string(), "1.00");
        assert_eq!(call_method(&Value::Number(2.5), "toFixed", &[Value::Number(0.0)], None).expect("toFixed").to_js_string(), "3");
        assert_eq!(call_global("Math.max", &[], None).expect("max").to_number(), f64::NEG_INFINITY);
        assert_eq!(call_global("parseInt", &[s("42px")], None).expect("parseInt").to_number(), 42.0);
        let set = call_global("new Set", &[Value::array(vec![s("a"), s("a"), s("b")])], None).expect("set");
        assert_eq!(set.get_named("size").expect("size").to_number(), 2.0);
    }
}
