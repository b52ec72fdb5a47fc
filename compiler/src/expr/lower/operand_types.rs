//! Operations that make no sense on the type an operand is known to have at build time: the
//! `.length` of a number, arithmetic on a boolean, a string compared with a number, `===`
//! between a string and a number. JavaScript answers each without complaint (`undefined`, a
//! number, `false`), and the workflow quietly takes the wrong branch; each is a warning that
//! shows the types.
//!
//! Known are literals, what operators and `.length` produce, and the declared type of a state
//! field or input read by name (`Names::types`): every write is checked against the
//! declaration, so such a field holds a value of its type or none. Anything else is unknown
//! and never warned about.

use oxc_ast::ast;
use oxc_span::GetSpan;
use wfc_runtime::machine::FieldType;

use super::{Lowerer, range};
use crate::check::types::a_type;
use crate::expr::ir::Root;
use crate::expr::{ExprIssue, IssueKind};

impl Lowerer<'_, '_> {
    /// The type `e` is known to have, if any.
    pub(super) fn known_type(&self, e: &ast::Expression) -> Option<FieldType> {
        use ast::BinaryOperator as B;
        use ast::Expression as E;
        match e {
            E::NumericLiteral(_) => Some(FieldType::Number),
            E::StringLiteral(_) | E::TemplateLiteral(_) => Some(FieldType::String),
            E::BooleanLiteral(_) => Some(FieldType::Boolean),
            E::ArrayExpression(_) => Some(FieldType::Array),
            E::ObjectExpression(_) => Some(FieldType::Object),
            E::ParenthesizedExpression(p) => self.known_type(&p.expression),
            E::UnaryExpression(u) => match u.operator {
                ast::UnaryOperator::LogicalNot => Some(FieldType::Boolean),
                ast::UnaryOperator::UnaryNegation | ast::UnaryOperator::UnaryPlus => Some(FieldType::Number),
                ast::UnaryOperator::Typeof => Some(FieldType::String),
                _ => None,
            },
            E::BinaryExpression(b) => match b.operator {
                B::Addition => match (self.known_type(&b.left), self.known_type(&b.right)) {
                    (Some(FieldType::Number), Some(FieldType::Number)) => Some(FieldType::Number),
                    (Some(FieldType::String), _) | (_, Some(FieldType::String)) => Some(FieldType::String),
                    _ => None,
                },
                B::Subtraction | B::Multiplication | B::Division | B::Remainder | B::Exponential => Some(FieldType::Number),
                B::LessThan | B::LessEqualThan | B::GreaterThan | B::GreaterEqualThan | B::Equality | B::Inequality | B::StrictEquality | B::StrictInequality | B::In => {
                    Some(FieldType::Boolean)
                }
                _ => None,
            },
            E::StaticMemberExpression(m) if m.property.name == "length" => {
                self.known_type(&m.object).filter(|t| matches!(t, FieldType::String | FieldType::Array)).map(|_| FieldType::Number)
            }
            E::StaticMemberExpression(m) => self.declared_type(&m.object, &m.property.name),
            _ => None,
        }
    }

    /// The declared type of field `field` of `object`, when `object` names `this`, `state`,
    /// `computed` or `inputs` (not a local of that name).
    fn declared_type(&self, object: &ast::Expression, field: &str) -> Option<FieldType> {
        let name = match object {
            ast::Expression::Identifier(id) if self.local(&id.name).is_none() => id.name.as_str(),
            ast::Expression::ThisExpression(_) => "this",
            _ => return None,
        };
        let root = match &self.names.roots.iter().find(|r| r.name == name)?.root {
            Root::State | Root::Computed => Root::This,
            other => other.clone(),
        };
        self.names.types.iter().find(|(r, f, _)| *r == root && f == field).map(|(_, _, t)| *t)
    }

    /// Warns of `.length` read from a number or a boolean.
    pub(super) fn check_length_of(&mut self, object: &ast::Expression, property: oxc_span::Span) {
        if let Some(t @ (FieldType::Number | FieldType::Boolean)) = self.known_type(object) {
            let message = format!("`{}` is {}, which has no `.length`: it is `undefined`", self.source(object.span()), a_type(t));
            let help = "a number's digits are `String(x).length`; for a count, read the array or string itself".to_owned();
            self.issues.push(ExprIssue::new(IssueKind::OperandTypes { help }, message, range(property)));
        }
    }

    /// Warns of a binary operation whose operands' known types make it meaningless.
    pub(super) fn check_operands(&mut self, b: &ast::BinaryExpression) {
        use ast::BinaryOperator as B;
        let (Some(left), Some(right)) = (self.known_type(&b.left), self.known_type(&b.right)) else {
            // One known type is enough for arithmetic on a boolean, an object or an array.
            return self.check_arithmetic_operand(b);
        };
        let op = b.operator.as_str();
        let (l, r) = (self.source(b.left.span()), self.source(b.right.span()));
        let primitive = |t: FieldType| matches!(t, FieldType::String | FieldType::Number | FieldType::Boolean);
        let (message, help) = match b.operator {
            B::StrictEquality | B::StrictInequality if left != right && primitive(left) && primitive(right) => (
                format!("`{l} {op} {r}` compares {} with {}: `===` never finds them equal, so it is always {}", a_type(left), a_type(right), b.operator == B::StrictInequality),
                "convert one side first (`Number(x)`, `String(x)`), or compare with a value of the same type".to_owned(),
            ),
            B::LessThan | B::LessEqualThan | B::GreaterThan | B::GreaterEqualThan
                if matches!((left, right), (FieldType::String, FieldType::Number) | (FieldType::Number, FieldType::String)) =>
            {
                (
                    format!("`{l} {op} {r}` compares {} with {}: the string is converted to a number, and one that is not a number makes it `false`", a_type(left), a_type(right)),
                    "convert the string yourself (`Number(x)`, `parseInt(x)`) so that the intent is visible".to_owned(),
                )
            }
            _ => return self.check_arithmetic_operand(b),
        };
        self.issues.push(ExprIssue::new(IssueKind::OperandTypes { help }, message, range(b.span)));
    }

    /// Warns of arithmetic (`+` on a boolean, `-`, `*`, `/`, `%`, `**` on anything but numbers)
    /// with an operand of a known type that is not a number.
    fn check_arithmetic_operand(&mut self, b: &ast::BinaryExpression) {
        use ast::BinaryOperator as B;
        let arithmetic = matches!(b.operator, B::Subtraction | B::Multiplication | B::Division | B::Remainder | B::Exponential);
        if !arithmetic && b.operator != B::Addition {
            return;
        }
        for operand in [&b.left, &b.right] {
            let meaningless = match self.known_type(operand) {
                Some(t @ FieldType::Boolean) => Some(t),
                Some(t @ (FieldType::String | FieldType::Object | FieldType::Array)) if arithmetic => Some(t),
                _ => None,
            };
            if let Some(t) = meaningless {
                let message = format!("`{}` is {}, an operand of `{}`: JavaScript converts it to a number", self.source(operand.span()), a_type(t), b.operator.as_str());
                let help = "convert it explicitly (`Number(x)`, `x ? 1 : 0`) if that is meant".to_owned();
                self.issues.push(ExprIssue::new(IssueKind::OperandTypes { help }, message, range(b.span)));
                return;
            }
        }
    }

    /// The source text at `span`.
    fn source(&self, span: oxc_span::Span) -> &str {
        self.text.get(span.start as usize..span.end as usize).unwrap_or_default()
    }
}
