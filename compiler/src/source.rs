//! One workflow file: its name as the user should see it, its text, and a line index.

use std::sync::Arc;

use crate::span::Span;

/// The text of one workflow file. Cheap to clone: diagnostics keep a handle to it so they can
/// be rendered with a snippet long after the stage that produced them has finished.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    inner: Arc<SourceInner>,
}

#[derive(Debug, PartialEq, Eq)]
struct SourceInner {
    name: String,
    text: String,
    /// Byte offset at which each line starts; `line_starts[0] == 0`.
    line_starts: Vec<u32>,
}

impl Source {
    /// A source named `name` (normally the path as the user wrote it) with contents `text`.
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        let text = text.into();
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i as u32 + 1))
            .collect();
        Source { inner: Arc::new(SourceInner { name: name.into(), text, line_starts }) }
    }

    /// The name shown in diagnostics.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The full text.
    pub fn text(&self) -> &str {
        &self.inner.text
    }

    /// The text under `span`, or `""` if the span does not fall on character boundaries.
    pub fn slice(&self, span: Span) -> &str {
        self.text().get(span.start as usize..span.end as usize).unwrap_or("")
    }

    /// 1-based line and column (in characters) of a byte offset; offsets past the end are
    /// clamped to the end of the text.
    pub fn line_column(&self, offset: u32) -> (usize, usize) {
        let offset = offset.min(self.text().len() as u32);
        let line = self.inner.line_starts.partition_point(|&start| start <= offset) - 1;
        let line_start = self.inner.line_starts[line] as usize;
        let prefix = self.text().get(line_start..offset as usize).unwrap_or("");
        (line + 1, prefix.chars().count() + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based_and_count_characters() {
        let source = Source::new("w.yaml", "a: 1\nné: x\n");
        assert_eq!(source.line_column(0), (1, 1));
        assert_eq!(source.line_column(5), (2, 1));
        // 'é' is two bytes; ':' after it is the third character.
        assert_eq!(source.line_column(8), (2, 3));
        assert_eq!(source.line_column(1000), (3, 1));
    }
}
