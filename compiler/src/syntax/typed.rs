//! Reading typed `Raw*` structs out of a spanned [`Node`] tree with serde: a `Deserializer`
//! over the tree that also answers [`Spanned`]'s request for a span. The YAML text is parsed
//! once, into the tree; the shape check and the typed structs both read that tree.

use std::fmt;

use serde::de::value::{BorrowedStrDeserializer, StrDeserializer, U32Deserializer};
use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor};

use super::node::{Node, NodeValue};
use crate::span::{SPANNED_FIELDS, SPANNED_NAME, Span, Spanned};

/// A deserialization error, with the span of the innermost node it concerns.
#[derive(Debug)]
pub(crate) struct NodeError {
    pub(crate) message: String,
    pub(crate) span: Option<Span>,
}

impl NodeError {
    /// Sets the span if no inner node has set one yet.
    fn at(mut self, span: Span) -> Self {
        self.span.get_or_insert(span);
        self
    }
}

impl fmt::Display for NodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for NodeError {}

impl de::Error for NodeError {
    fn custom<T: fmt::Display>(message: T) -> Self {
        NodeError { message: message.to_string(), span: None }
    }
}

/// Reads a `T` out of `node`.
pub(crate) fn from_node<T: DeserializeOwned>(node: &Node) -> Result<T, NodeError> {
    T::deserialize(NodeDeserializer(node))
}

#[derive(Clone, Copy)]
struct NodeDeserializer<'a>(&'a Node);

impl<'de> de::Deserializer<'de> for NodeDeserializer<'_> {
    type Error = NodeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, NodeError> {
        let node = self.0;
        let result = match &node.value {
            NodeValue::Null => visitor.visit_unit(),
            NodeValue::Bool(b) => visitor.visit_bool(*b),
            NodeValue::Integer(i) => visitor.visit_i64(*i),
            NodeValue::Float(f) => visitor.visit_f64(*f),
            NodeValue::String(s) => visitor.visit_str(s),
            NodeValue::Seq(items) => visitor.visit_seq(Items(items.iter())),
            NodeValue::Map(entries) => visitor.visit_map(Entries { entries: entries.iter(), value: None }),
        };
        result.map_err(|e| e.at(node.span))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, NodeError> {
        match self.0.value {
            NodeValue::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, NodeError> {
        if name == SPANNED_NAME {
            return visitor.visit_map(SpannedFields { span: self.0.span, value: Some(self), field: 0 });
        }
        self.deserialize_any(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, NodeError> {
        match &self.0.value {
            NodeValue::String(s) => visitor.visit_enum(s.as_str().into_deserializer()).map_err(|e: NodeError| e.at(self.0.span)),
            _ => Err(NodeError { message: format!("expected a string, found {}", self.0.type_name()), span: Some(self.0.span) }),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _name: &'static str, visitor: V) -> Result<V::Value, NodeError> {
        visitor.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf unit
        unit_struct seq tuple tuple_struct map identifier ignored_any
    }
}

/// A mapping key: its text, and its span when a [`Spanned`] asks for it.
#[derive(Clone, Copy)]
struct KeyDeserializer<'a>(&'a Spanned<String>);

impl<'de> de::Deserializer<'de> for KeyDeserializer<'_> {
    type Error = NodeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, NodeError> {
        visitor.visit_str(&self.0.value).map_err(|e: NodeError| e.at(self.0.span))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, NodeError> {
        if name == SPANNED_NAME {
            let text = StrDeserializer::<NodeError>::new(self.0.value.as_str());
            return visitor.visit_map(SpannedFields { span: self.0.span, value: Some(text), field: 0 });
        }
        self.deserialize_any(visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
        unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
    }
}

struct Items<'a>(std::slice::Iter<'a, Node>);

impl<'de> SeqAccess<'de> for Items<'_> {
    type Error = NodeError;
    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, NodeError> {
        self.0.next().map(|node| seed.deserialize(NodeDeserializer(node))).transpose()
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

struct Entries<'a> {
    entries: std::slice::Iter<'a, (Spanned<String>, Node)>,
    value: Option<&'a Node>,
}

impl<'de> MapAccess<'de> for Entries<'_> {
    type Error = NodeError;
    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, NodeError> {
        let Some((key, value)) = self.entries.next() else { return Ok(None) };
        self.value = Some(value);
        seed.deserialize(KeyDeserializer(key)).map(Some)
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, NodeError> {
        let value = self.value.take().ok_or_else(|| de::Error::custom("a mapping value was read before its key"))?;
        seed.deserialize(NodeDeserializer(value))
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

/// The three fields of the [`SPANNED_NAME`] protocol: start, end, then the value itself.
struct SpannedFields<D> {
    span: Span,
    value: Option<D>,
    field: usize,
}

impl<'de, D: de::Deserializer<'de, Error = NodeError>> MapAccess<'de> for SpannedFields<D> {
    type Error = NodeError;
    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, NodeError> {
        let Some(name) = SPANNED_FIELDS.get(self.field) else { return Ok(None) };
        seed.deserialize(BorrowedStrDeserializer::new(name)).map(Some)
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, NodeError> {
        self.field += 1;
        match self.field {
            1 => seed.deserialize(U32Deserializer::new(self.span.start)),
            2 => seed.deserialize(U32Deserializer::new(self.span.end)),
            _ => {
                let value = self.value.take().ok_or_else(|| de::Error::custom("a span's value was read twice"))?;
                seed.deserialize(value)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(value: NodeValue, start: u32) -> Node {
        Node { value, span: Span::new(start, start + 1) }
    }

    #[test]
    fn spanned_fields_get_the_node_spans() {
        let tree = node(
            NodeValue::Map(vec![(Spanned::new("a".to_owned(), Span::new(0, 1)), node(NodeValue::Integer(7), 3))]),
            0,
        );
        let map: crate::syntax::IdentMap<Spanned<u32>> = from_node(&tree).expect("reads");
        let (key, value) = map.0.into_iter().next().expect("one entry");
        assert_eq!((key.value.as_str(), key.span), ("a", Span::new(0, 1)));
        assert_eq!((value.value, value.span), (7, Span::new(3, 4)));
    }

    #[test]
    fn errors_point_at_the_innermost_node() {
        let tree = node(NodeValue::Seq(vec![node(NodeValue::Integer(1), 2), node(NodeValue::String("x".into()), 5)]), 0);
        let error = from_node::<Vec<u32>>(&tree).expect_err("a string is not a u32");
        assert_eq!(error.span, Some(Span::new(5, 6)));
    }
}
