//! Byte ranges into a workflow's source text, and values that remember where they came from.
//!
//! Spans are byte offsets, not lines and columns: those are computed only when a diagnostic is
//! rendered (see [`crate::source::Source::line_column`]), so every stage can carry spans cheaply.
//! A span always belongs to the one [`crate::Source`] a stage is working on; diagnostics are
//! collected per source, so the span itself does not name its file.

use std::fmt;
use std::hash::{Hash, Hasher};

use serde::{Deserialize, Deserializer};

/// A half-open byte range `start..end` in one source text.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Span {
    /// Offset of the first byte.
    pub start: u32,
    /// Offset one past the last byte (equal to `start` for a point).
    pub end: u32,
}

impl Span {
    /// The range `start..end`.
    pub fn new(start: u32, end: u32) -> Self {
        Span { start, end: end.max(start) }
    }

    /// A zero-width span at `offset`, for errors that point between characters.
    pub fn point(offset: u32) -> Self {
        Span { start: offset, end: offset }
    }

    /// Length in bytes.
    pub fn len(self) -> u32 {
        self.end - self.start
    }

    /// True for a zero-width span.
    pub fn is_empty(self) -> bool {
        self.start == self.end
    }
}

impl fmt::Debug for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.start, self.end)
    }
}

/// A value together with the span of the YAML node it was read from.
///
/// Like askama's `WithSpan`, equality, hashing and `Debug` look only at the value, so tests can
/// build expected trees with [`Spanned::detached`] and compare them with parsed ones.
#[derive(Clone, Copy, Default)]
pub struct Spanned<T> {
    /// The value.
    pub value: T,
    /// Where it was written.
    pub span: Span,
}

impl<T> Spanned<T> {
    /// A value read at `span`.
    pub fn new(value: T, span: Span) -> Self {
        Spanned { value, span }
    }

    /// A value with no position, for tests and for values the compiler makes up.
    pub fn detached(value: T) -> Self {
        Spanned { value, span: Span::default() }
    }
}

impl<T> std::ops::Deref for Spanned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: PartialEq> PartialEq for Spanned<T> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl<T: Eq> Eq for Spanned<T> {}

impl<T: Hash> Hash for Spanned<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.value.hash(state);
    }
}

impl<T: fmt::Debug> fmt::Debug for Spanned<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.value.fmt(f)
    }
}

/// The struct name by which a [`Spanned`] asks its deserializer for a span. Only the syntax
/// stage's node deserializer answers it (with the fields below, in order), as toml's
/// `serde_spanned` does; spans are read from the spanned YAML tree, never from text directly.
pub(crate) const SPANNED_NAME: &str = "$__wfc_private_Spanned";
/// The fields of the [`SPANNED_NAME`] protocol: start offset, end offset, value.
pub(crate) const SPANNED_FIELDS: [&str; 3] = ["$__wfc_private_start", "$__wfc_private_end", "$__wfc_private_value"];

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Spanned<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SpannedVisitor<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for SpannedVisitor<T> {
            type Value = Spanned<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a value from a spanned YAML tree")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Spanned<T>, A::Error> {
                fn expect_key<'de, A: serde::de::MapAccess<'de>>(map: &mut A, field: &str) -> Result<(), A::Error> {
                    match map.next_key::<&str>()? {
                        Some(key) if key == field => Ok(()),
                        _ => Err(serde::de::Error::custom("spans can only be read from a spanned YAML tree")),
                    }
                }
                expect_key(&mut map, SPANNED_FIELDS[0])?;
                let start: u32 = map.next_value()?;
                expect_key(&mut map, SPANNED_FIELDS[1])?;
                let end: u32 = map.next_value()?;
                expect_key(&mut map, SPANNED_FIELDS[2])?;
                let value: T = map.next_value()?;
                Ok(Spanned { value, span: Span::new(start, end) })
            }
        }
        deserializer.deserialize_struct(SPANNED_NAME, &SPANNED_FIELDS, SpannedVisitor(std::marker::PhantomData))
    }
}

/// The JSON Schema of a spanned value is the value's own: spans are not part of the format.
impl<T: schemars::JsonSchema> schemars::JsonSchema for Spanned<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }
    fn schema_name() -> std::borrow::Cow<'static, str> {
        T::schema_name()
    }
    fn schema_id() -> std::borrow::Cow<'static, str> {
        T::schema_id()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        T::json_schema(generator)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spanned_compares_values_only() {
        assert_eq!(Spanned::new(3, Span::new(1, 2)), Spanned::detached(3));
        assert_eq!(format!("{:?}", Spanned::new("a", Span::new(4, 5))), "\"a\"");
    }
}
