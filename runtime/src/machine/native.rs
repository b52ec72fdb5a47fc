//! What a generated machine's typed state is made of. A compiled workflow's declared `number`,
//! `string` and `boolean` fields (and inputs) are fields of generated `State` and `Inputs`
//! structs, each a [`Slot`]; the generated server-side steps ([`Executor`](super::Executor)) read and write
//! them natively, and store them back into the instance's tiers when they hand over to the
//! shared executor (a client step, an effect, an operation they do not type).
//!
//! A slot holds exactly what the declaration lets the field hold — a value of its type, `null`
//! ("not yet") or nothing (never written) — because every start, write and restore is checked
//! against the declaration ([`FieldType::refusal`]).

use std::sync::Arc;

use super::FieldType;
use super::update::{self, Operation};
use serde::{Deserialize, Serialize};

use crate::value::{Object, Value};

/// A declared field of a generated machine's typed state.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Slot<T> {
    /// Never written (`undefined` when read).
    #[default]
    Unset,
    /// `null`.
    Null,
    /// A value of the declared type.
    Set(T),
}

/// A Rust type a declared field is held as.
pub trait Typed: Clone {
    /// The declared type it stands for.
    const TYPE: FieldType;
    /// The value, if `value` is one of this type.
    fn from_value(value: &Value) -> Option<Self>;
    /// As a dynamic value.
    fn to_value(&self) -> Value;
    /// The result of a write done without dynamic values, where the type allows it (a number
    /// incremented by a number); `None` to combine dynamically. Must agree with
    /// [`update::combine`].
    fn combine(_current: &Slot<Self>, _operation: Operation, _value: &Value) -> Option<Slot<Self>> {
        None
    }
}

impl Typed for f64 {
    const TYPE: FieldType = FieldType::Number;

    fn from_value(value: &Value) -> Option<f64> {
        if let Value::Number(n) = value { Some(*n) } else { None }
    }

    fn to_value(&self) -> Value {
        Value::Number(*self)
    }

    #[inline]
    fn combine(current: &Slot<f64>, operation: Operation, value: &Value) -> Option<Slot<f64>> {
        // `combine`'s numbers: a field never written counts as 0, a missing amount as 1; a
        // `null` field or a value of another type is its error, left to it.
        let current = match current {
            Slot::Unset => 0.0,
            Slot::Set(n) => *n,
            Slot::Null => return None,
        };
        let amount = match value {
            Value::Number(n) => *n,
            Value::Undefined if operation != Operation::Multiply => 1.0,
            _ => return None,
        };
        Some(Slot::Set(match operation {
            Operation::Increment => current + amount,
            Operation::Decrement => current - amount,
            Operation::Multiply => current * amount,
            Operation::Set if matches!(value, Value::Number(_)) => amount,
            _ => return None,
        }))
    }
}

impl Typed for bool {
    const TYPE: FieldType = FieldType::Boolean;

    fn from_value(value: &Value) -> Option<bool> {
        if let Value::Bool(b) = value { Some(*b) } else { None }
    }

    fn to_value(&self) -> Value {
        Value::Bool(*self)
    }
}

impl Typed for Arc<str> {
    const TYPE: FieldType = FieldType::String;

    fn from_value(value: &Value) -> Option<Arc<str>> {
        if let Value::String(s) = value { Some(Arc::clone(s)) } else { None }
    }

    fn to_value(&self) -> Value {
        Value::String(Arc::clone(self))
    }
}

/// As the field's JSON in the state: the value, or `null`; a field never written has none
/// (structs skip it, see `Slot::is_unset`), and is `null` on its own.
impl<T: Typed> Serialize for Slot<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Slot::Unset | Slot::Null => serializer.serialize_none(),
            Slot::Set(value) => value.to_value().serialize(serializer),
        }
    }
}

/// From the field's JSON: `null`, or a value of the declared type (anything else is refused,
/// naming both types). A missing field is `Unset` (structs default it).
impl<'de, T: Typed> Deserialize<'de> for Slot<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Slot<T>, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Slot::from_value(&value).ok_or_else(|| {
            let declared = T::TYPE.name();
            serde::de::Error::custom(format!("a field declared {declared} holds a {declared} or null, not {}", update::describe(&value)))
        })
    }
}

/// A computed value of a generated `Computed` struct, deserialized: present, even when it is
/// `null` (a removed value is a missing field, which the struct defaults to `None`).
pub fn computed_value<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(deserializer).map(Some)
}

impl<T: Typed> Slot<T> {
    /// Field `name` of `tier` (read as `root`, for the message). A value of another type cannot
    /// be there (declarations are enforced on every way in); if one were, it is reported rather
    /// than dropped.
    pub fn load(tier: &Object, root: &str, name: &str) -> Result<Slot<T>, String> {
        match tier.get(name) {
            None => Ok(Slot::Unset),
            Some(value) => Slot::from_value(value).ok_or_else(|| T::TYPE.mismatch(&format!("{root}.{name}"), value)),
        }
    }

    fn from_value(value: &Value) -> Option<Slot<T>> {
        match value {
            Value::Null => Some(Slot::Null),
            other => T::from_value(other).map(Slot::Set),
        }
    }

    /// As a dynamic value: `undefined`, `null` or the value.
    pub fn value(&self) -> Value {
        match self {
            Slot::Unset => Value::Undefined,
            Slot::Null => Value::Null,
            Slot::Set(value) => value.to_value(),
        }
    }

    /// Whether the field was never written.
    pub fn is_unset(&self) -> bool {
        matches!(self, Slot::Unset)
    }

    /// Applies a write of `operation` with `value` to a field holding this: the executor's
    /// combination ([`update::combine`]) and declared-type check, with its messages (`text` is
    /// the path as written, `path` the field's).
    #[inline]
    pub fn write(&self, operation: Operation, value: Value, text: &str, path: &str) -> Result<Slot<T>, String> {
        match T::combine(self, operation, &value) {
            Some(written) => Ok(written),
            None => self.write_dynamically(operation, value, text, path),
        }
    }

    /// The write through dynamic values, for what [`Typed::combine`] leaves to it (out of line,
    /// so that `write` inlines into generated code).
    #[inline(never)]
    fn write_dynamically(&self, operation: Operation, value: Value, text: &str, path: &str) -> Result<Slot<T>, String> {
        let combined = update::combine(self.value(), operation, value).map_err(|e| format!("writing `{text}`: {e}"))?;
        // Only `delete` removes a field, and generated code leaves it to the executor.
        let new = combined.unwrap_or_default();
        Slot::from_value(&new).ok_or_else(|| T::TYPE.mismatch(path, &new))
    }
}

impl Slot<f64> {
    /// The number JavaScript's arithmetic and comparisons see: `undefined` is `NaN`, `null` 0.
    pub fn number(&self) -> f64 {
        match self {
            Slot::Unset => f64::NAN,
            Slot::Null => 0.0,
            Slot::Set(n) => *n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_read_as_javascript_reads_the_field() {
        assert!(Slot::<f64>::Unset.number().is_nan());
        assert_eq!(Slot::<f64>::Null.number(), 0.0);
        assert!(matches!(Slot::<f64>::Unset.value(), Value::Undefined));
        assert!(matches!(Slot::Set(true).value(), Value::Bool(true)));
    }

    #[test]
    fn loading_and_writing_keep_the_declaration() {
        let mut tier = Object::new();
        tier.insert("n", Value::Number(2.0));
        tier.insert("s", Value::string("x"));
        assert_eq!(Slot::<f64>::load(&tier, "this", "n"), Ok(Slot::Set(2.0)));
        assert_eq!(Slot::<f64>::load(&tier, "this", "none"), Ok(Slot::Unset));
        assert_eq!(
            Slot::<f64>::load(&tier, "this", "s"),
            Err("`this.s` is declared number, but the value written is string (\"x\")".to_owned())
        );
        let n = Slot::Set(2.0);
        assert_eq!(n.write(Operation::Increment, Value::Undefined, "this.n", "this.n"), Ok(Slot::Set(3.0)));
        assert_eq!(Slot::<f64>::Unset.write(Operation::Increment, Value::Number(4.0), "this.n", "this.n"), Ok(Slot::Set(4.0)));
        assert_eq!(
            Slot::<f64>::Null.write(Operation::Increment, Value::Undefined, "this.n", "this.n"),
            Err("writing `this.n`: increment needs a number, but the field is a null".to_owned())
        );
        assert_eq!(
            n.write(Operation::Set, Value::string("7"), "this.n", "this.n"),
            Err("`this.n` is declared number, but the value written is string (\"7\")".to_owned())
        );
    }

    #[test]
    fn numbers_combined_natively_agree_with_the_executor() {
        let currents = [Slot::Unset, Slot::Null, Slot::Set(2.5), Slot::Set(-0.0)];
        let operations = [Operation::Set, Operation::Increment, Operation::Decrement, Operation::Multiply];
        let values = [Value::Undefined, Value::Null, Value::Number(3.0), Value::Number(-0.0), Value::string("3")];
        for current in &currents {
            for operation in operations {
                for value in &values {
                    let Some(native) = f64::combine(current, operation, value) else { continue };
                    let dynamic = update::combine(current.value(), operation, value.clone()).expect("combines").expect("a value");
                    let Slot::Set(native) = native else { panic!("a number") };
                    assert_eq!(native.to_bits(), dynamic.to_number().to_bits(), "{current:?} {operation:?} {value:?}");
                }
            }
        }
    }
}
