//! What the check stage compiled at each expression site, kept for `ir::lower`: every expression
//! is compiled once, where its problems are reported at their line and column, and lowering takes
//! the result instead of compiling again (so it has nothing left that could fail).

use std::collections::HashMap;

use super::expressions::{ExpressionSite, SiteContext};
use crate::expr::{Compiled, CompiledTemplate};
use crate::span::Span;

/// One site's compiled form.
#[derive(Clone, Debug, PartialEq)]
pub enum CompiledSite {
    /// A string that may hold `{{ }}` templates (a message, a command, a write-path key).
    Template(CompiledTemplate),
    /// One expression (a condition, `items`, a transform, a `from` template).
    Expression(Compiled),
}

impl CompiledSite {
    /// Every expression of the site: the one, or each `{{ }}` of a template.
    pub(crate) fn expressions(&self) -> Vec<&crate::expr::ir::Expr> {
        match self {
            CompiledSite::Template(CompiledTemplate::Value(compiled)) | CompiledSite::Expression(compiled) => vec![&compiled.expr],
            CompiledSite::Template(CompiledTemplate::Parts(parts)) => parts
                .iter()
                .filter_map(|part| match part {
                    crate::expr::CompiledPart::Expr(compiled) | crate::expr::CompiledPart::ShellQuoted(compiled, _) => Some(&compiled.expr),
                    crate::expr::CompiledPart::Text(_) => None,
                })
                .collect(),
        }
    }

    /// Adds the state fields the site reads to `out`.
    pub(crate) fn reads(&self, out: &mut std::collections::BTreeSet<String>) {
        match self {
            CompiledSite::Template(template) => template.reads(out),
            CompiledSite::Expression(compiled) => compiled.reads(out),
        }
    }
}

/// Where a site stands: the scalar's span and the expression's offset in it (non-zero only for
/// a dynamic key inside a write path).
type Place = (Span, usize);

/// Every site of a checked workflow that compiled, by place and by the names it could see.
#[derive(Clone, Debug, Default)]
pub struct CompiledSites {
    /// Most places hold one entry; a YAML alias repeats a scalar, span and all, wherever it is
    /// used, and each use compiles with the names visible where it stands.
    by_place: HashMap<Place, Vec<(SiteContext, CompiledSite)>>,
}

impl CompiledSites {
    pub(crate) fn insert(&mut self, site: ExpressionSite, compiled: CompiledSite) {
        let entries = self.by_place.entry((site.text.span, site.part.start)).or_default();
        if !entries.iter().any(|(context, _)| *context == site.context) {
            entries.push((site.context, compiled));
        }
    }

    /// The template at `span` (+ `at`) compiled with `context`'s names.
    ///
    /// # Panics
    ///
    /// If the check stage compiled none there: lowering runs only on a workflow whose every
    /// site compiled, so that is a bug in wfc (the corpus, the fixtures and the fuzz targets
    /// lower every workflow they check).
    pub fn template(&self, span: Span, at: usize, context: &SiteContext) -> &CompiledTemplate {
        match self.find(span, at, context) {
            CompiledSite::Template(template) => template,
            CompiledSite::Expression(_) => panic!("wfc bug: the site at {span:?}+{at} was compiled as an expression, not a template"),
        }
    }

    /// The expression at `span` compiled with `context`'s names. Panics as [`Self::template`].
    pub fn expression(&self, span: Span, context: &SiteContext) -> &Compiled {
        match self.find(span, 0, context) {
            CompiledSite::Expression(compiled) => compiled,
            CompiledSite::Template(_) => panic!("wfc bug: the site at {span:?} was compiled as a template, not an expression"),
        }
    }

    /// What compiled at the scalar at `span`, with whichever names (one entry per place that
    /// uses it): for checks whose answer does not depend on the names in scope.
    pub(crate) fn at(&self, span: Span) -> impl Iterator<Item = &CompiledSite> {
        self.by_place.get(&(span, 0)).into_iter().flatten().map(|(_, compiled)| compiled)
    }

    fn find(&self, span: Span, at: usize, context: &SiteContext) -> &CompiledSite {
        self.by_place
            .get(&(span, at))
            .and_then(|entries| entries.iter().find(|(compiled_with, _)| compiled_with == context))
            .map(|(_, compiled)| compiled)
            .unwrap_or_else(|| panic!("wfc bug: the check stage compiled no expression at {span:?}+{at} with these names"))
    }
}

#[cfg(test)]
mod tests {
    use crate::ir::{ClientOp, IrExpr, Op, Program, Template};
    use crate::{Source, compile_source};

    /// The `parameters` template of the `mcp_call` of `program`.
    fn parameters(program: &Program<IrExpr>) -> &Template {
        let call = program.ops.iter().find_map(|op| match op {
            Op::Client(ClientOp { kind: "mcp_call", definition, .. }) => Some(definition),
            _ => None,
        });
        match call.and_then(|definition| definition.iter().find(|(name, _)| name == "parameters")) {
            Some((_, IrExpr::Value(template))) => template,
            other => panic!("no parameters: {other:?}"),
        }
    }

    #[test]
    fn an_aliased_scalar_is_compiled_with_the_names_of_each_place_that_uses_it() {
        // `{{ item }}` is the loop's item in the workflow's `foreach` (the shorthand) and the
        // task's own `item` in the sub-agent task: one span, two meanings.
        let yaml = r#"
name: "test:alias"
description: "d"
version: "1.0.0"
steps:
  - id: each
    type: foreach
    items: "{{ [1, 2] }}"
    body:
      - id: call
        type: mcp_call
        tool: "t"
        parameters: &arguments
          value: "{{ item }}"
  - id: fan
    type: parallel_foreach
    items: "{{ [1, 2] }}"
    sub_agent_task: task
sub_agent_tasks:
  task:
    description: "t"
    steps:
      - id: call
        type: mcp_call
        tool: "t"
        parameters: *arguments
"#;
        let (compiled, diagnostics) = compile_source(&Source::new("alias.yaml", yaml));
        let compiled = compiled.unwrap_or_else(|| panic!("{}", diagnostics.render_plain()));
        let (main, task) = (parameters(&compiled.machines.main), parameters(&compiled.machines.tasks[0]));
        assert_ne!(main, task, "the task's `item` is not the loop's");
    }
}
