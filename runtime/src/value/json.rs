//! JSON in and out, as `JSON.parse` and `JSON.stringify` do it: key order kept, `undefined`
//! left out of objects and turned into `null` in arrays, non-finite numbers as `null`, numbers
//! printed as JavaScript prints them.

use std::fmt::Write as _;
use std::sync::Arc;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use super::{EvalError, Object, Value, number};

/// `JSON.parse(text)`; invalid text is a `SyntaxError`.
pub fn parse(text: &str) -> Result<Value, EvalError> {
    super::budget::charge_scan(text.len())?;
    super::budget::charge_bytes(text.len())?;
    let mut deserializer = serde_json::Deserializer::from_str(text);
    // serde_json keeps its nesting limit (128): untrusted text (shell output) must not
    // exhaust the stack. Deeper documents are a SyntaxError here, unlike in node.
    let parsed = JsonValue::deserialize(&mut deserializer).and_then(|v| deserializer.end().map(|()| v));
    parsed.map(|v| v.0).map_err(|e| EvalError::syntax_error(format!("{e} in JSON")))
}

struct JsonValue(Value);

impl<'de> Deserialize<'de> for JsonValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor).map(JsonValue)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Value;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JSON")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v as f64))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v as f64))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Number(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::string(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(JsonValue(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Object::new();
        while let Some((key, JsonValue(value))) = map.next_entry::<String, JsonValue>()? {
            object.insert(key, value);
        }
        Ok(Value::Object(Arc::new(object)))
    }
}

/// `JSON.stringify(value, null, indent)`: `None` where JavaScript returns `undefined`. Inside an
/// evaluation it charges the budget as it writes, so a value that shares one large part many
/// times cannot print without bound; a spent budget cuts the text short and fails the
/// evaluation when it ends.
pub fn stringify(value: &Value, indent: &str) -> Option<String> {
    let mut out = String::new();
    write_value(&mut out, value, indent, 0).then_some(out)
}

fn write_value(out: &mut String, value: &Value, indent: &str, depth: usize) -> bool {
    match value {
        Value::Undefined => return false,
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) if n.is_finite() => out.push_str(&number::to_js_string(*n)),
        Value::Number(_) => out.push_str("null"),
        Value::String(s) => {
            if super::budget::charge_bytes(s.len()).is_err() {
                return true;
            }
            quote(out, s)
        }
        Value::Array(items) => {
            if super::budget::charge_operations(items.len()).is_err() {
                return true;
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, indent, depth + 1);
                if !write_value(out, item, indent, depth + 1) {
                    out.push_str("null");
                }
            }
            if !items.is_empty() {
                newline(out, indent, depth);
            }
            out.push(']');
        }
        Value::Object(object) => {
            if super::budget::charge_operations(object.len()).is_err() {
                return true;
            }
            out.push('{');
            let mut first = true;
            for (key, item) in object.entries() {
                if matches!(item, Value::Undefined) {
                    continue;
                }
                if !first {
                    out.push(',');
                }
                first = false;
                newline(out, indent, depth + 1);
                quote(out, key);
                out.push(':');
                if !indent.is_empty() {
                    out.push(' ');
                }
                write_value(out, item, indent, depth + 1);
            }
            if !first {
                newline(out, indent, depth);
            }
            out.push('}');
        }
        Value::Set(_) | Value::RegExp(_) => out.push_str("{}"),
    }
    true
}

fn newline(out: &mut String, indent: &str, depth: usize) {
    if !indent.is_empty() {
        out.push('\n');
        for _ in 0..depth {
            out.push_str(indent);
        }
    }
}

/// About how many bytes `value` takes as JSON (strings without their escapes), counted without
/// writing it and given up past `limit` (`None`): a value that shares one large part many
/// times is cheap in memory and huge as JSON, and must be refused before it is written out.
pub fn json_len_within(value: &Value, limit: usize) -> Option<usize> {
    fn walk(value: &Value, total: &mut usize, limit: usize) -> bool {
        *total += match value {
            Value::Undefined | Value::Null | Value::Bool(_) => 5,
            Value::Number(_) => 24,
            Value::String(s) => s.len() + 2,
            Value::Set(_) | Value::RegExp(_) => 2,
            Value::Array(items) => {
                *total += 2;
                for item in items.iter() {
                    if !walk(item, total, limit) {
                        return false;
                    }
                    *total += 1;
                }
                0
            }
            Value::Object(object) => {
                *total += 2;
                for (key, item) in object.entries() {
                    *total += key.len() + 4;
                    if !walk(item, total, limit) {
                        return false;
                    }
                }
                0
            }
        };
        *total <= limit
    }
    let mut total = 0;
    walk(value, &mut total, limit).then_some(total)
}

/// A JSON string literal, escaped as `JSON.stringify` escapes.
pub(crate) fn quote(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A value as `serde_json` data; `None` for `undefined`.
pub(crate) fn to_json(value: &Value) -> Option<serde_json::Value> {
    use serde_json::Value as J;
    Some(match value {
        Value::Undefined => return None,
        Value::Null => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Number(n) if n.fract() == 0.0 && n.abs() < 9_007_199_254_740_992.0 && !(*n == 0.0 && n.is_sign_negative()) => {
            J::from(*n as i64)
        }
        Value::Number(n) => serde_json::Number::from_f64(*n).map_or(J::Null, J::Number),
        Value::String(s) => J::String(s.to_string()),
        Value::Array(items) => J::Array(items.iter().map(|v| to_json(v).unwrap_or(J::Null)).collect()),
        Value::Object(object) => J::Object(
            object.entries().filter_map(|(k, v)| Some((k.to_string(), to_json(v)?))).collect(),
        ),
        Value::Set(_) | Value::RegExp(_) => J::Object(serde_json::Map::new()),
    })
}

/// `serde_json` data as a value.
pub(crate) fn from_json(json: &serde_json::Value) -> Value {
    use serde_json::Value as J;
    match json {
        J::Null => Value::Null,
        J::Bool(b) => Value::Bool(*b),
        J::Number(n) => Value::Number(n.as_f64().unwrap_or(f64::NAN)),
        J::String(s) => Value::string(s.as_str()),
        J::Array(items) => Value::array(items.iter().map(from_json).collect()),
        J::Object(map) => Value::Object(Arc::new(map.iter().map(|(k, v)| (Arc::from(k.as_str()), from_json(v))).collect())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_with_javascript_formatting() {
        let value = parse(r#"{"b": 1.0, "a": [1e21, null, "x\n"], "2": true, "1": false}"#).expect("valid JSON");
        assert_eq!(stringify(&value, "").as_deref(), Some(r#"{"1":false,"2":true,"b":1,"a":[1e+21,null,"x\n"]}"#));
        assert_eq!(stringify(&Value::Undefined, ""), None);
        assert_eq!(stringify(&parse("[1,{}]").expect("json"), "  ").as_deref(), Some("[\n  1,\n  {}\n]"));
    }

    #[test]
    fn converts_to_and_from_serde_json_like_stringify() {
        let value = parse(r#"{"b": [1, 2.5], "a": null}"#).expect("json");
        let json = to_json(&value).expect("not undefined");
        assert_eq!(json, serde_json::json!({"b": [1, 2.5], "a": null}));
        assert!(super::super::strict_equals(&from_json(&json).get_named("a").expect("a"), &Value::Null));
        let mut object = Object::new();
        object.insert("gone", Value::Undefined);
        object.insert("kept", Value::array(vec![Value::Undefined, Value::Number(f64::NAN)]));
        assert_eq!(to_json(&Value::Object(Arc::new(object))), Some(serde_json::json!({"kept": [null, null]})));
        assert_eq!(to_json(&Value::Undefined), None);
    }

    #[test]
    fn invalid_json_is_a_syntax_error() {
        assert_eq!(parse("{oops}").expect_err("invalid").kind, super::super::ErrorKind::SyntaxError);
        assert_eq!(parse("1 2").expect_err("trailing").kind, super::super::ErrorKind::SyntaxError);
    }
}
