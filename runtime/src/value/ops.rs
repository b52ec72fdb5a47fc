//! Operators with JavaScript semantics. `&&`, `||`, `??` and `?:` short-circuit, so they are
//! the evaluator's business; every other operator is here.

use std::cmp::Ordering;
use std::sync::Arc;

use super::{EvalError, Value, index_of};

/// A binary operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    /// `+`: string concatenation if either side is (or becomes) a string, else addition.
    Add,
    /// `-`.
    Sub,
    /// `*`.
    Mul,
    /// `/` (division by zero gives ±Infinity or NaN).
    Div,
    /// `%` (the sign of the dividend).
    Rem,
    /// `**`.
    Exp,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
    /// `==` (with coercion).
    LooseEq,
    /// `!=`.
    LooseNe,
    /// `===`.
    StrictEq,
    /// `!==`.
    StrictNe,
    /// `key in object`.
    In,
}

/// A unary operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    /// `!`.
    Not,
    /// `-`.
    Neg,
    /// `+` (to number).
    Plus,
    /// `typeof`.
    TypeOf,
}

/// Applies a unary operator.
pub fn unary(op: UnaryOp, value: &Value) -> Value {
    match op {
        UnaryOp::Not => Value::Bool(!value.truthy()),
        UnaryOp::Neg => Value::Number(-value.to_number()),
        UnaryOp::Plus => Value::Number(value.to_number()),
        UnaryOp::TypeOf => Value::string(value.type_of()),
    }
}

/// Applies a binary operator.
pub fn binary(op: BinaryOp, a: &Value, b: &Value) -> Result<Value, EvalError> {
    let number = |f: fn(f64, f64) -> f64| Value::Number(f(a.to_number(), b.to_number()));
    Ok(match op {
        BinaryOp::Add => add(a, b),
        BinaryOp::Sub => number(|x, y| x - y),
        BinaryOp::Mul => number(|x, y| x * y),
        BinaryOp::Div => number(|x, y| x / y),
        BinaryOp::Rem => number(remainder),
        BinaryOp::Exp => number(power),
        BinaryOp::Lt => Value::Bool(less_than(a, b) == Some(true)),
        BinaryOp::Gt => Value::Bool(less_than(b, a) == Some(true)),
        BinaryOp::Le => Value::Bool(less_than(b, a) == Some(false)),
        BinaryOp::Ge => Value::Bool(less_than(a, b) == Some(false)),
        BinaryOp::LooseEq => Value::Bool(loose_equals(a, b)),
        BinaryOp::LooseNe => Value::Bool(!loose_equals(a, b)),
        BinaryOp::StrictEq => Value::Bool(strict_equals(a, b)),
        BinaryOp::StrictNe => Value::Bool(!strict_equals(a, b)),
        BinaryOp::In => Value::Bool(has_property(b, a)?),
    })
}

/// `%`: Rust's `%` on `f64` (C's `fmod`, as JavaScript's), with integers — `count % 2`, the
/// usual case — divided as integers, which is exact and avoids `fmod`'s long software loop.
/// The sign of a zero result is the dividend's, as in JavaScript (`-4 % 2` is `-0`).
#[inline]
pub fn remainder(dividend: f64, divisor: f64) -> f64 {
    let (a, b) = (dividend as i64, divisor as i64);
    if a as f64 == dividend && b as f64 == divisor && b != 0 {
        let r = a.wrapping_rem(b) as f64;
        if r == 0.0 && dividend.is_sign_negative() { -0.0 } else { r }
    } else {
        dividend % divisor
    }
}

/// `Math.pow` / `**`, which differs from `f64::powf` for a NaN exponent on 1 and ±1 ** ±∞.
fn power(base: f64, exponent: f64) -> f64 {
    if exponent.is_nan() || (base.abs() == 1.0 && exponent.is_infinite()) { f64::NAN } else { base.powf(exponent) }
}

fn to_primitive(value: &Value) -> Value {
    match value {
        Value::Array(_) | Value::Object(_) | Value::Set(_) | Value::RegExp(_) => Value::string(value.to_js_string()),
        other => other.clone(),
    }
}

fn add(a: &Value, b: &Value) -> Value {
    let (a, b) = (to_primitive(a), to_primitive(b));
    if matches!(a, Value::String(_)) || matches!(b, Value::String(_)) {
        let (left, right) = (a.to_js_string(), b.to_js_string());
        // `+` cannot fail; a spent budget fails the evaluation when it ends.
        if super::budget::charge_bytes(left.len() + right.len()).is_err() {
            return Value::string("");
        }
        let mut joined = String::with_capacity(left.len() + right.len());
        joined.push_str(&left);
        joined.push_str(&right);
        Value::string(joined)
    } else {
        Value::Number(a.to_number() + b.to_number())
    }
}

/// The abstract relational comparison: `None` when either side is `NaN`.
fn less_than(a: &Value, b: &Value) -> Option<bool> {
    let (a, b) = (to_primitive(a), to_primitive(b));
    if let (Value::String(x), Value::String(y)) = (&a, &b) {
        return Some(compare_utf16(x, y) == Ordering::Less);
    }
    let (x, y) = (a.to_number(), b.to_number());
    if x.is_nan() || y.is_nan() { None } else { Some(x < y) }
}

/// Orders strings by UTF-16 code units, as JavaScript compares strings.
pub(crate) fn compare_utf16(a: &str, b: &str) -> Ordering {
    if a.is_ascii() && b.is_ascii() { a.cmp(b) } else { a.encode_utf16().cmp(b.encode_utf16()) }
}

/// `===`: no coercion; `NaN` is not equal to itself; arrays and objects by identity.
pub fn strict_equals(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Undefined, Value::Undefined) | (Value::Null, Value::Null) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Number(x), Value::Number(y)) => x == y,
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Array(x), Value::Array(y)) | (Value::Set(x), Value::Set(y)) => Arc::ptr_eq(x, y),
        (Value::Object(x), Value::Object(y)) => Arc::ptr_eq(x, y),
        (Value::RegExp(x), Value::RegExp(y)) => Arc::ptr_eq(x, y),
        _ => false,
    }
}

/// SameValueZero, the equality of `includes` and `Set`: `===`, except `NaN` equals `NaN`.
pub fn same_value_zero(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x.is_nan() && y.is_nan() => true,
        _ => strict_equals(a, b),
    }
}

/// `==`: JavaScript's abstract equality, with its coercions.
pub fn loose_equals(a: &Value, b: &Value) -> bool {
    let is_object = |v: &Value| matches!(v, Value::Array(_) | Value::Object(_) | Value::Set(_) | Value::RegExp(_));
    match (a, b) {
        (Value::Undefined | Value::Null, Value::Undefined | Value::Null) => true,
        (Value::Undefined | Value::Null, _) | (_, Value::Undefined | Value::Null) => false,
        (Value::Number(_), Value::String(_)) | (Value::String(_), Value::Number(_)) => a.to_number() == b.to_number(),
        (Value::Bool(_), _) => loose_equals(&Value::Number(a.to_number()), b),
        (_, Value::Bool(_)) => loose_equals(a, &Value::Number(b.to_number())),
        _ if is_object(a) && !is_object(b) => loose_equals(&to_primitive(a), b),
        _ if is_object(b) && !is_object(a) => loose_equals(a, &to_primitive(b)),
        _ => strict_equals(a, b),
    }
}

/// `key in object`.
fn has_property(object: &Value, key: &Value) -> Result<bool, EvalError> {
    let name = key.to_js_string();
    match object {
        Value::Object(o) => Ok(o.get(&name).is_some()),
        Value::Array(items) => Ok(name == "length"
            || match key {
                Value::Number(n) => index_of(*n).is_some_and(|i| i < items.len()),
                _ => super::array_index(&name).is_some_and(|i| i < items.len()),
            }),
        Value::Set(_) => Ok(name == "size"),
        Value::RegExp(_) => Ok(matches!(name.as_str(), "source" | "flags" | "lastIndex")),
        _ => Err(EvalError::type_error(format!(
            "Cannot use 'in' operator to search for '{name}' in {}",
            object.to_js_string()
        ))),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn remainders_of_integers_are_javascripts() {
        for (a, b) in [(7.0, 2.0), (-7.0, 2.0), (7.0, -2.0), (-4.0, 2.0), (-0.0, 2.0), (5.5, 2.0), (1e300, 7.0), (-9.3e18, -1.0), (3.0, 0.0), (f64::NAN, 2.0), (2.0, f64::INFINITY)] {
            assert_eq!(remainder(a, b).to_bits(), (a % b).to_bits(), "{a} % {b}");
        }
    }

    use super::*;

    fn n(x: f64) -> Value {
        Value::Number(x)
    }

    fn s(x: &str) -> Value {
        Value::string(x)
    }

    #[test]
    fn plus_concatenates_or_adds() {
        assert_eq!(binary(BinaryOp::Add, &s("5"), &n(1.0)).map(|v| v.to_js_string()).ok().as_deref(), Some("51"));
        assert_eq!(binary(BinaryOp::Add, &n(5.0), &n(1.0)).map(|v| v.to_number()).ok(), Some(6.0));
        assert_eq!(binary(BinaryOp::Add, &Value::array(vec![]), &Value::Object(Default::default())).map(|v| v.to_js_string()).ok().as_deref(), Some("[object Object]"));
        assert_eq!(binary(BinaryOp::Add, &Value::Null, &n(1.0)).map(|v| v.to_number()).ok(), Some(1.0));
        assert!(binary(BinaryOp::Add, &Value::Undefined, &n(1.0)).map(|v| v.to_number()).ok().is_some_and(f64::is_nan));
    }

    #[test]
    fn comparisons_coerce_like_javascript() {
        assert!(binary(BinaryOp::Lt, &s("10"), &s("9")).is_ok_and(|v| v.truthy()));
        assert!(binary(BinaryOp::Lt, &s("10"), &n(9.0)).is_ok_and(|v| !v.truthy()));
        assert!(binary(BinaryOp::Le, &Value::Null, &n(0.0)).is_ok_and(|v| v.truthy()));
        assert!(binary(BinaryOp::Ge, &Value::Undefined, &n(0.0)).is_ok_and(|v| !v.truthy()));
    }

    #[test]
    fn equality() {
        assert!(loose_equals(&Value::Null, &Value::Undefined));
        assert!(!loose_equals(&Value::Null, &n(0.0)));
        assert!(loose_equals(&s("1"), &n(1.0)));
        assert!(loose_equals(&Value::Bool(true), &s("1")));
        assert!(loose_equals(&Value::array(vec![n(1.0)]), &s("1")));
        assert!(!strict_equals(&n(f64::NAN), &n(f64::NAN)));
        assert!(same_value_zero(&n(f64::NAN), &n(f64::NAN)));
        assert!(strict_equals(&n(0.0), &n(-0.0)));
    }
}
