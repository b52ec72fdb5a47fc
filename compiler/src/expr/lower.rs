//! JavaScript (parsed by oxc) to the expression IR, resolving every name and refusing every
//! construct outside the subset at its exact position.

use oxc_allocator::Allocator;
use oxc_ast::ast;
use oxc_span::{GetSpan, SourceType};
use wfc_runtime::value::{BinaryOp, CALLBACK_METHODS, UnaryOp};

use super::ir::{Argument, Body, Element, Expr, Function, LogicalOp, Name, Pattern, Property, Root, Statement, TemplatePart};
use super::{ExprIssue, IssueKind, Names};

mod operand_types;

/// Global functions a call may name, by their dotted name.
pub(crate) const GLOBAL_FUNCTIONS: &[&str] = &[
    "parseInt", "parseFloat", "isNaN", "Number", "String", "Boolean",
    "Math.min", "Math.max", "Math.round", "Math.floor", "Math.ceil", "Math.abs", "Math.trunc", "Math.sign", "Math.sqrt", "Math.pow",
    "JSON.parse", "JSON.stringify",
    "Object.keys", "Object.values", "Object.entries", "Object.assign", "Object.fromEntries",
    "Array.isArray", "Array.from", "Number.isInteger",
];

/// Methods of built-in values an expression may call.
pub(crate) const METHODS: &[&str] = &[
    "filter", "map", "reduce", "some", "every", "find", "findIndex", "includes", "indexOf", "slice", "concat", "join",
    "sort", "flatMap", "forEach", "push", "reverse", "at", "length", "split", "trim", "trimStart", "trimEnd", "startsWith",
    "endsWith", "toUpperCase", "toLowerCase", "substring", "replace", "replaceAll", "match", "padStart", "padEnd",
    "localeCompare", "toString", "charAt", "repeat", "toFixed", "has", "test",
];

/// Why randomness and the clock are refused, and what to do instead.
const UNREPEATABLE: &str = "an expression must give the same value each time it is evaluated (a workflow is re-run and resumed); \
    take the value from a `shell_command` (`echo $RANDOM`, `date -u +%Y-%m-%dT%H:%M:%SZ`) and store its result";

/// The result of lowering one expression.
pub(crate) struct Lowered {
    pub(crate) expr: Expr,
    pub(crate) slots: usize,
}

pub(crate) fn lower(text: &str, names: &Names, issues: &mut Vec<ExprIssue>) -> Option<Lowered> {
    // Everything below recurses over the tree, the parser first: bound its depth on the text.
    if let Err(super::depth::TooDeep(at)) = super::depth::check(text) {
        let message = format!("this expression nests more than {} levels deep (brackets, operators and member accesses)", super::MAX_NESTING);
        issues.push(ExprIssue::new(IssueKind::TooDeep, message, at));
        return None;
    }
    let allocator = Allocator::default();
    let parsed = oxc_parser::Parser::new(&allocator, text, SourceType::mjs()).parse_expression();
    let expression = match parsed {
        Ok(expression) => expression,
        Err(errors) => {
            for error in errors {
                let span = error.labels.first().map_or(0..text.len(), |l| l.span().start as usize..l.span().end as usize);
                issues.push(ExprIssue::new(IssueKind::Syntax, error.message.to_string(), span));
            }
            return None;
        }
    };
    let mut lowerer = Lowerer { text, names, scopes: vec![Vec::new()], slots: 0, loops: 0, issues };
    let expr = lowerer.expr(&expression);
    let had_errors = lowerer.issues.iter().any(|i| i.kind.is_error());
    (!had_errors).then_some(Lowered { expr, slots: lowerer.slots })
}

struct Lowerer<'a, 'n> {
    /// The expression's text, which spans index.
    text: &'n str,
    names: &'n Names,
    /// Local names in scope, innermost scope last.
    scopes: Vec<Vec<Local>>,
    slots: usize,
    /// How many `for…of` loops of the function being lowered enclose the statement at hand
    /// (`break` and `continue` need one; a function body starts at none).
    loops: usize,
    issues: &'a mut Vec<ExprIssue>,
}

/// A local name: an arrow's parameter, a `const` or `let`, a `for…of` binding.
struct Local {
    name: String,
    slot: usize,
    /// Declared `const`: assigning it is refused (a `TypeError` in JavaScript).
    constant: bool,
}

fn range(span: oxc_span::Span) -> std::ops::Range<usize> {
    span.start as usize..span.end as usize
}

impl Lowerer<'_, '_> {
    fn unsupported(&mut self, what: &str, span: oxc_span::Span) -> Expr {
        self.issues.push(ExprIssue::new(IssueKind::Unsupported, format!("{what} is not supported in workflow expressions"), range(span)));
        Expr::Undefined
    }

    fn local(&self, name: &str) -> Option<usize> {
        self.local_named(name).map(|local| local.slot)
    }

    fn local_named(&self, name: &str) -> Option<&Local> {
        self.scopes.iter().rev().flat_map(|scope| scope.iter().rev()).find(|local| local.name == name)
    }

    /// Whether `object` is a workflow root or a path below one (`this`, `inputs.config`,
    /// `loop.item.meta`, a tool result's field, a shorthand): its members are data the workflow
    /// declared, wrote or was given.
    fn reads_workflow_data(&self, object: &ast::Expression) -> bool {
        match object {
            ast::Expression::Identifier(id) => {
                let name = id.name.as_str();
                self.local(name).is_none()
                    && (self.names.open || self.names.roots.iter().any(|r| r.name == name) || self.names.shorthands.iter().any(|(bare, ..)| bare == name))
            }
            ast::Expression::ThisExpression(_) => true,
            ast::Expression::StaticMemberExpression(m) => self.reads_workflow_data(&m.object),
            ast::Expression::ComputedMemberExpression(m) => self.reads_workflow_data(&m.object),
            ast::Expression::ParenthesizedExpression(p) => self.reads_workflow_data(&p.expression),
            _ => false,
        }
    }

    fn bind(&mut self, name: &str, constant: bool) -> usize {
        let slot = self.slots;
        self.slots += 1;
        self.scopes.last_mut().expect("a scope is always open").push(Local { name: name.to_owned(), slot, constant });
        slot
    }

    fn expr(&mut self, e: &ast::Expression) -> Expr {
        use ast::Expression as E;
        match e {
            E::BooleanLiteral(b) => Expr::Bool(b.value),
            E::NullLiteral(_) => Expr::Null,
            E::NumericLiteral(n) => Expr::Number(n.value),
            E::StringLiteral(s) => Expr::String(s.value.to_string()),
            E::TemplateLiteral(t) => self.template(t),
            E::RegExpLiteral(r) => {
                let source = r.regex.pattern.text.to_string();
                let flags = r.regex.flags.to_string();
                if let Err(error) = wfc_runtime::value::RegExp::new(&source, &flags) {
                    self.issues.push(ExprIssue::new(IssueKind::InvalidRegex, error.message, range(r.span)));
                }
                Expr::Regex { source, flags }
            }
            E::Identifier(id) => self.identifier(&id.name, id.span),
            E::ThisExpression(_) => self.root_named("this", e.span()),
            E::ArrayExpression(array) => Expr::Array(
                array
                    .elements
                    .iter()
                    .map(|element| match element {
                        ast::ArrayExpressionElement::SpreadElement(s) => Element::Spread(self.expr(&s.argument)),
                        ast::ArrayExpressionElement::Elision(_) => Element::Item(Expr::Undefined),
                        other => Element::Item(self.expr(other.to_expression())),
                    })
                    .collect(),
            ),
            E::ObjectExpression(object) => self.object(object),
            E::ParenthesizedExpression(p) => self.expr(&p.expression),
            E::StaticMemberExpression(m) => {
                self.member(&m.object, Expr::String(m.property.name.to_string()), m.optional, Some((&m.property.name, m.property.span)))
            }
            E::ComputedMemberExpression(m) => {
                let property = self.expr(&m.expression);
                self.member(&m.object, property, m.optional, None)
            }
            E::ChainExpression(chain) => match &chain.expression {
                ast::ChainElement::CallExpression(call) => self.call(call),
                ast::ChainElement::StaticMemberExpression(m) => {
                    self.member(&m.object, Expr::String(m.property.name.to_string()), m.optional, Some((&m.property.name, m.property.span)))
                }
                ast::ChainElement::ComputedMemberExpression(m) => {
                    let property = self.expr(&m.expression);
                    self.member(&m.object, property, m.optional, None)
                }
                _ => self.unsupported("this kind of optional chain", chain.span),
            },
            E::CallExpression(call) => self.call(call),
            E::NewExpression(new) => match &new.callee {
                E::Identifier(id) if id.name == "Set" && self.local("Set").is_none() => {
                    Expr::GlobalCall { function: "new Set".to_owned(), args: self.arguments(&new.arguments, "new Set") }
                }
                E::Identifier(id) if id.name == "Date" && self.local("Date").is_none() => {
                    self.issues.push(ExprIssue::new(IssueKind::Unsupported, format!("`new Date` is not supported: {UNREPEATABLE}"), range(new.span)));
                    Expr::Undefined
                }
                _ => self.unsupported("`new` of anything but `Set`", new.span),
            },
            E::UnaryExpression(u) => {
                let op = match u.operator {
                    ast::UnaryOperator::LogicalNot => UnaryOp::Not,
                    ast::UnaryOperator::UnaryNegation => UnaryOp::Neg,
                    ast::UnaryOperator::UnaryPlus => UnaryOp::Plus,
                    ast::UnaryOperator::Typeof => UnaryOp::TypeOf,
                    other => return self.unsupported(&format!("the `{}` operator", other.as_str()), u.span),
                };
                Expr::Unary(op, Box::new(self.expr(&u.argument)))
            }
            E::BinaryExpression(b) => {
                use ast::BinaryOperator as B;
                let op = match b.operator {
                    B::Addition => BinaryOp::Add,
                    B::Subtraction => BinaryOp::Sub,
                    B::Multiplication => BinaryOp::Mul,
                    B::Division => BinaryOp::Div,
                    B::Remainder => BinaryOp::Rem,
                    B::Exponential => BinaryOp::Exp,
                    B::LessThan => BinaryOp::Lt,
                    B::LessEqualThan => BinaryOp::Le,
                    B::GreaterThan => BinaryOp::Gt,
                    B::GreaterEqualThan => BinaryOp::Ge,
                    B::Equality => BinaryOp::LooseEq,
                    B::Inequality => BinaryOp::LooseNe,
                    B::StrictEquality => BinaryOp::StrictEq,
                    B::StrictInequality => BinaryOp::StrictNe,
                    B::In => BinaryOp::In,
                    other => return self.unsupported(&format!("the `{}` operator", other.as_str()), b.span),
                };
                self.check_operands(b);
                Expr::Binary(op, Box::new(self.expr(&b.left)), Box::new(self.expr(&b.right)))
            }
            E::LogicalExpression(l) => {
                let op = match l.operator {
                    ast::LogicalOperator::And => LogicalOp::And,
                    ast::LogicalOperator::Or => LogicalOp::Or,
                    ast::LogicalOperator::Coalesce => LogicalOp::Nullish,
                };
                Expr::Logical(op, Box::new(self.expr(&l.left)), Box::new(self.expr(&l.right)))
            }
            E::ConditionalExpression(c) => {
                Expr::Conditional(Box::new(self.expr(&c.test)), Box::new(self.expr(&c.consequent)), Box::new(self.expr(&c.alternate)))
            }
            E::ArrowFunctionExpression(arrow) => {
                self.unsupported("an arrow function outside a method call (functions can only be passed to array methods)", arrow.span)
            }
            E::AssignmentExpression(a) => self.unsupported("assignment", a.span),
            E::UpdateExpression(u) => self.unsupported("`++`/`--`", u.span),
            E::SequenceExpression(s) => self.unsupported("the comma operator", s.span),
            E::FunctionExpression(f) => self.unsupported("`function`", f.span),
            E::ClassExpression(c) => self.unsupported("`class`", c.span),
            E::AwaitExpression(a) => self.unsupported("`await`", a.span),
            E::YieldExpression(y) => self.unsupported("`yield`", y.span),
            E::TaggedTemplateExpression(t) => self.unsupported("a tagged template", t.span),
            E::ImportExpression(i) => self.unsupported("`import()`", i.span),
            E::BigIntLiteral(b) => self.unsupported("a BigInt literal", b.span),
            other => self.unsupported("this syntax", other.span()),
        }
    }

    fn template(&mut self, t: &ast::TemplateLiteral) -> Expr {
        let mut parts = Vec::new();
        for (i, quasi) in t.quasis.iter().enumerate() {
            let text = quasi.value.cooked.as_ref().map_or_else(|| quasi.value.raw.to_string(), |c| c.to_string());
            if !text.is_empty() {
                parts.push(TemplatePart::Text(text));
            }
            if let Some(e) = t.expressions.get(i) {
                parts.push(TemplatePart::Expr(self.expr(e)));
            }
        }
        Expr::Template(parts)
    }

    fn object(&mut self, object: &ast::ObjectExpression) -> Expr {
        let mut properties = Vec::new();
        for property in &object.properties {
            match property {
                ast::ObjectPropertyKind::SpreadProperty(s) => properties.push(Property::Spread(self.expr(&s.argument))),
                ast::ObjectPropertyKind::ObjectProperty(p) => {
                    if p.method || p.kind != ast::PropertyKind::Init {
                        self.unsupported("methods, getters and setters in object literals", p.span);
                        continue;
                    }
                    let value = self.expr(&p.value);
                    match (&p.key, p.computed) {
                        (ast::PropertyKey::StaticIdentifier(id), false) => properties.push(Property::Static(id.name.to_string(), value)),
                        (ast::PropertyKey::StringLiteral(s), false) => properties.push(Property::Static(s.value.to_string(), value)),
                        (ast::PropertyKey::NumericLiteral(n), false) => {
                            properties.push(Property::Static(wfc_runtime::value::number::to_js_string(n.value), value));
                        }
                        (key, _) => match key.as_expression() {
                            Some(key) => properties.push(Property::Computed(self.expr(key), value)),
                            None => {
                                self.unsupported("this kind of property key", p.span);
                            }
                        },
                    }
                }
            }
        }
        Expr::Object(properties)
    }

    fn identifier(&mut self, name: &str, span: oxc_span::Span) -> Expr {
        if let Some(slot) = self.local(name) {
            return Expr::Name(Name::Local(slot));
        }
        match name {
            "undefined" => Expr::Undefined,
            "NaN" => Expr::Name(Name::NaN),
            "Infinity" => Expr::Name(Name::Infinity),
            _ => self.root_named(name, span),
        }
    }

    fn root_named(&mut self, name: &str, span: oxc_span::Span) -> Expr {
        if let Some(entry) = self.names.roots.iter().find(|r| r.name == name) {
            if let Some(replacement) = &entry.legacy_of {
                self.issues.push(ExprIssue::new(
                    IssueKind::LegacyName { replacement: replacement.clone() },
                    format!("`{name}.` is a legacy prefix"),
                    range(span),
                ).with_subject(name));
            }
            return Expr::Name(Name::Root(entry.root.clone()));
        }
        if let Some((_, root, member)) = self.names.shorthands.iter().find(|(bare, ..)| bare == name) {
            let full = format!("{}.{member}", root.name());
            self.issues.push(ExprIssue::new(IssueKind::Shorthand { full: full.clone() }, format!("`{name}` is shorthand for `{full}`"), range(span)).with_subject(name));
            return Expr::Member { object: Box::new(Expr::Name(Name::Root(root.clone()))), property: Box::new(Expr::String(member.clone())), optional: false };
        }
        if self.names.open {
            return Expr::Name(Name::Root(Root::Named(name.to_owned())));
        }
        let mut candidates: Vec<String> = self.scopes.iter().flatten().map(|local| local.name.clone()).collect();
        candidates.extend(self.names.roots.iter().map(|r| r.name.clone()));
        candidates.extend(self.names.shorthands.iter().map(|(bare, ..)| bare.clone()));
        candidates.extend(["undefined", "NaN", "Infinity", "Math", "JSON", "Object", "Array"].map(str::to_owned));
        let why = if name == "loop" {
            "`loop` is only defined inside a `while_loop` or `foreach`".to_owned()
        } else if ["Math", "JSON", "Object", "Array", "Number", "String", "Boolean", "parseInt", "parseFloat", "isNaN", "Set"].contains(&name) {
            format!("`{name}` can only be called (e.g. `{name}.…(…)` or `{name}(…)`)")
        } else {
            match &self.names.unknown_hint {
                Some(hint) => format!("`{name}` is not defined here; {hint}"),
                None => format!("`{name}` is not defined here"),
            }
        };
        self.issues.push(ExprIssue::new(IssueKind::UnknownName { candidates }, why, range(span)).with_subject(name));
        Expr::Undefined
    }

    fn member(&mut self, object: &ast::Expression, property: Expr, optional: bool, static_name: Option<(&str, oxc_span::Span)>) -> Expr {
        // A method read without a call (`x.toFixed ? …`) is a function in JavaScript and
        // `undefined` here: refused, unless it reads a workflow field (`this.filter`), which is
        // data in both.
        if let Some((name, span)) = static_name
            && name != "length"
            && METHODS.contains(&name)
            && !self.reads_workflow_data(object)
        {
            self.issues.push(
                ExprIssue::new(IssueKind::MethodAsValue, format!("`.{name}` is read without a call: JavaScript gives the method, a workflow expression `undefined`"), range(span))
                    .with_subject(name),
            );
        }
        if let Some(("length", span)) = static_name {
            self.check_length_of(object, span);
        }
        // `loop.x` is checked against the loops around the expression.
        if let (ast::Expression::Identifier(id), Some((field, field_span))) = (object, static_name)
            && id.name == "loop"
            && self.local("loop").is_none()
            && self.names.roots.iter().any(|r| r.root == Root::Loop)
            && !self.names.loop_names.iter().any(|n| n == field)
        {
            let candidates = self.names.loop_names.clone();
            let defined: Vec<String> = candidates.iter().map(|n| format!("`loop.{n}`")).collect();
            let message = format!("no enclosing loop defines `loop.{field}` (defined here: {}; a foreach names its item with `variable_name`)", defined.join(", "));
            self.issues.push(
                ExprIssue::new(IssueKind::UnknownName { candidates }, message, range(field_span))
                    .with_subject(field),
            );
        }
        Expr::Member { object: Box::new(self.expr(object)), property: Box::new(property), optional }
    }

    fn call(&mut self, call: &ast::CallExpression) -> Expr {
        match &call.callee {
            ast::Expression::StaticMemberExpression(m) => {
                let method = m.property.name.as_str();
                if let ast::Expression::Identifier(namespace) = &m.object {
                    let dotted = format!("{}.{method}", namespace.name);
                    if self.local(&namespace.name).is_none() && (dotted == "Math.random" || namespace.name == "Date") {
                        self.issues.push(
                            ExprIssue::new(IssueKind::UnknownFunction { candidates: Vec::new() }, format!("`{dotted}` is not a supported function: {UNREPEATABLE}"), range(m.span))
                                .with_subject(&dotted),
                        );
                        return Expr::Undefined;
                    }
                    if self.local(&namespace.name).is_none() && GLOBAL_FUNCTIONS.contains(&dotted.as_str()) {
                        return Expr::GlobalCall { args: self.arguments(&call.arguments, &dotted), function: dotted };
                    }
                    if self.local(&namespace.name).is_none() && ["Math", "JSON", "Object", "Array", "Number"].contains(&namespace.name.as_str()) {
                        let candidates = GLOBAL_FUNCTIONS.iter().map(|s| s.to_string()).collect();
                        self.issues.push(
                            ExprIssue::new(IssueKind::UnknownFunction { candidates }, format!("`{dotted}` is not a supported function"), range(m.span))
                                .with_subject(&dotted),
                        );
                        return Expr::Undefined;
                    }
                }
                if !METHODS.contains(&method) {
                    let candidates = METHODS.iter().map(|s| s.to_string()).collect();
                    self.issues.push(
                        ExprIssue::new(IssueKind::UnknownFunction { candidates }, format!("`.{method}()` is not a supported method"), range(m.property.span))
                            .with_subject(method),
                    );
                    return Expr::Undefined;
                }
                if method == "push" && !matches!(&m.object, ast::Expression::Identifier(id) if self.local(&id.name).is_some()) {
                    return self.unsupported("`push` on anything but a local array (`const out = []; … out.push(x)`)", call.span);
                }
                let object = Box::new(self.expr(&m.object));
                Expr::MethodCall { object, method: method.to_owned(), args: self.arguments(&call.arguments, method), optional: m.optional || call.optional }
            }
            ast::Expression::Identifier(id) if self.local(&id.name).is_none() && GLOBAL_FUNCTIONS.contains(&id.name.as_str()) => {
                Expr::GlobalCall { function: id.name.to_string(), args: self.arguments(&call.arguments, &id.name) }
            }
            ast::Expression::Identifier(id) if ["eval", "Function", "require", "setTimeout", "setInterval", "fetch"].contains(&id.name.as_str()) => {
                self.unsupported(&format!("`{}`", id.name), call.span)
            }
            ast::Expression::Identifier(id) => {
                let candidates = GLOBAL_FUNCTIONS.iter().map(|s| s.to_string()).collect();
                self.issues.push(
                    ExprIssue::new(IssueKind::UnknownFunction { candidates }, format!("`{}` is not a function workflow expressions can call", id.name), range(id.span))
                        .with_subject(&id.name),
                );
                Expr::Undefined
            }
            ast::Expression::ArrowFunctionExpression(arrow) => self.invoke(arrow, &call.arguments),
            ast::Expression::ParenthesizedExpression(p) if let ast::Expression::ArrowFunctionExpression(arrow) = &p.expression => {
                self.invoke(arrow, &call.arguments)
            }
            other => self.unsupported("calling this kind of expression", other.span()),
        }
    }

    /// `(params => body)(args)`: the arguments are evaluated where the call is, then the body
    /// runs with the parameters bound to them.
    fn invoke(&mut self, arrow: &ast::ArrowFunctionExpression, args: &oxc_allocator::Vec<ast::Argument>) -> Expr {
        let args = args
            .iter()
            .map(|arg| match arg {
                ast::Argument::SpreadElement(s) => self.unsupported("spreading the arguments of an invoked arrow function", s.span),
                ast::Argument::ArrowFunctionExpression(a) => {
                    self.unsupported("an arrow function as an argument of an invoked arrow function (functions are not values)", a.span)
                }
                other => self.expr(other.to_expression()),
            })
            .collect();
        Expr::Invoke(Box::new(self.function(arrow)), args)
    }

    fn arguments(&mut self, args: &oxc_allocator::Vec<ast::Argument>, callee: &str) -> Vec<Argument> {
        let takes_callback = CALLBACK_METHODS.contains(&callee) || callee == "Array.from";
        args.iter()
            .enumerate()
            .map(|(i, arg)| match arg {
                ast::Argument::SpreadElement(s) => Argument::Spread(self.expr(&s.argument)),
                ast::Argument::ArrowFunctionExpression(arrow) if takes_callback && (i == 0 || callee == "Array.from") => {
                    Argument::Function(self.function(arrow))
                }
                other => Argument::Value(self.expr(other.to_expression())),
            })
            .collect()
    }

    fn function(&mut self, arrow: &ast::ArrowFunctionExpression) -> Function {
        if arrow.r#async {
            self.unsupported("`async`", arrow.span);
        }
        self.scopes.push(Vec::new());
        let enclosing_loops = std::mem::take(&mut self.loops);
        let params = arrow
            .params
            .items
            .iter()
            .map(|p| {
                if p.initializer.is_some() {
                    self.unsupported("default parameter values", p.span);
                }
                self.pattern(&p.pattern, false)
            })
            .collect();
        if let Some(rest) = &arrow.params.rest {
            self.unsupported("rest parameters", rest.span);
        }
        let body = match &arrow.body {
            ast::ArrowFunctionBody::FunctionBody(block) => Body::Block(self.statements(&block.statements)),
            expression => Body::Expr(Box::new(self.expr(expression.to_expression()))),
        };
        self.scopes.pop();
        self.loops = enclosing_loops;
        Function { params, body }
    }

    /// A binding pattern, its names bound as `constant` (`const`) or not (`let`, parameters).
    fn pattern(&mut self, pattern: &ast::BindingPattern, constant: bool) -> Pattern {
        match pattern {
            ast::BindingPattern::BindingIdentifier(id) => Pattern::Local(self.bind(&id.name, constant)),
            ast::BindingPattern::ArrayPattern(array) => {
                if let Some(rest) = &array.rest {
                    self.unsupported("rest elements in destructuring", rest.span);
                }
                Pattern::Array(array.elements.iter().map(|e| e.as_ref().map(|p| self.pattern(p, constant))).collect())
            }
            ast::BindingPattern::ObjectPattern(object) => {
                if let Some(rest) = &object.rest {
                    self.unsupported("rest properties in destructuring", rest.span);
                }
                let mut fields = Vec::new();
                for property in &object.properties {
                    let key = match (&property.key, property.computed) {
                        (ast::PropertyKey::StaticIdentifier(id), false) => id.name.to_string(),
                        (ast::PropertyKey::StringLiteral(s), false) => s.value.to_string(),
                        _ => {
                            self.unsupported("computed keys in destructuring", property.span);
                            continue;
                        }
                    };
                    fields.push((key, self.pattern(&property.value, constant)));
                }
                Pattern::Object(fields)
            }
            ast::BindingPattern::AssignmentPattern(a) => {
                self.unsupported("default values in destructuring", a.span);
                Pattern::Ignore
            }
        }
    }

    fn statements(&mut self, statements: &[ast::Statement]) -> Vec<Statement> {
        let mut out = Vec::new();
        for statement in statements {
            match statement {
                ast::Statement::VariableDeclaration(declaration) => {
                    if declaration.kind == ast::VariableDeclarationKind::Var {
                        self.unsupported("`var` (use `const` or `let`)", declaration.span);
                    }
                    for declarator in &declaration.declarations {
                        let value = match &declarator.init {
                            Some(init) => self.expr(init),
                            None => Expr::Undefined,
                        };
                        let pattern = self.pattern(&declarator.id, declaration.kind == ast::VariableDeclarationKind::Const);
                        out.push(Statement::Declare(pattern, value));
                    }
                }
                ast::Statement::ReturnStatement(r) => {
                    out.push(Statement::Return(r.argument.as_ref().map_or(Expr::Undefined, |a| self.expr(a))));
                }
                ast::Statement::ExpressionStatement(s) => out.push(match &s.expression {
                    ast::Expression::AssignmentExpression(a) => self.assignment(a),
                    ast::Expression::UpdateExpression(u) => self.update(u),
                    other => Statement::Expr(self.expr(other)),
                }),
                ast::Statement::ForOfStatement(f) => out.push(self.for_of(f)),
                ast::Statement::BreakStatement(b) => out.push(self.jump(Statement::Break, "break", b.label.is_some(), b.span)),
                ast::Statement::ContinueStatement(c) => out.push(self.jump(Statement::Continue, "continue", c.label.is_some(), c.span)),
                ast::Statement::IfStatement(i) => {
                    let test = self.expr(&i.test);
                    let then = self.block(&i.consequent);
                    let otherwise = i.alternate.as_ref().map(|a| self.block(a)).unwrap_or_default();
                    out.push(Statement::If(test, then, otherwise));
                }
                ast::Statement::BlockStatement(b) => {
                    self.scopes.push(Vec::new());
                    out.extend(self.statements(&b.body));
                    self.scopes.pop();
                }
                ast::Statement::EmptyStatement(_) => {}
                other => {
                    let what = match other {
                        ast::Statement::ForStatement(_) | ast::Statement::ForInStatement(_) => "this kind of `for` (use `for (const x of …)` or array methods)",
                        ast::Statement::WhileStatement(_) | ast::Statement::DoWhileStatement(_) => {
                            "a `while` loop (use `for (const x of …)` or array methods: every loop must end)"
                        }
                        ast::Statement::LabeledStatement(_) => "a label",
                        ast::Statement::TryStatement(_) => "`try`",
                        ast::Statement::ThrowStatement(_) => "`throw`",
                        ast::Statement::FunctionDeclaration(_) => "`function`",
                        ast::Statement::SwitchStatement(_) => "`switch`",
                        _ => "this statement",
                    };
                    self.unsupported(what, other.span());
                }
            }
        }
        out
    }

    /// `x = e`, `x += e`, `x ||= e`, …: a `let` local (or parameter) given a new value.
    fn assignment(&mut self, a: &ast::AssignmentExpression) -> Statement {
        use ast::AssignmentOperator as A;
        let ast::AssignmentTarget::AssignmentTargetIdentifier(target) = &a.left else {
            self.unsupported("assigning to anything but a local variable (build a new object or array instead)", a.left.span());
            return Statement::Expr(Expr::Undefined);
        };
        let Some(slot) = self.assignable(&target.name, target.span) else { return Statement::Expr(Expr::Undefined) };
        let current = Box::new(Expr::Name(Name::Local(slot)));
        let value = Box::new(self.expr(&a.right));
        let binary = |op| Expr::Binary(op, current.clone(), value.clone());
        let new_value = match a.operator {
            A::Assign => *value.clone(),
            A::Addition => binary(BinaryOp::Add),
            A::Subtraction => binary(BinaryOp::Sub),
            A::Multiplication => binary(BinaryOp::Mul),
            A::Division => binary(BinaryOp::Div),
            A::Remainder => binary(BinaryOp::Rem),
            A::Exponential => binary(BinaryOp::Exp),
            A::LogicalOr => Expr::Logical(LogicalOp::Or, current.clone(), value.clone()),
            A::LogicalAnd => Expr::Logical(LogicalOp::And, current.clone(), value.clone()),
            A::LogicalNullish => Expr::Logical(LogicalOp::Nullish, current.clone(), value.clone()),
            other => {
                self.unsupported(&format!("the `{}` operator", other.as_str()), a.span);
                Expr::Undefined
            }
        };
        Statement::Assign(slot, new_value)
    }

    /// `x++`, `--x`, … as a statement: `x = +x + 1` (the value the expression would have is
    /// not used, so prefix and postfix are the same).
    fn update(&mut self, u: &ast::UpdateExpression) -> Statement {
        let ast::SimpleAssignmentTarget::AssignmentTargetIdentifier(target) = &u.argument else {
            self.unsupported("`++`/`--` on anything but a local variable", u.span);
            return Statement::Expr(Expr::Undefined);
        };
        let Some(slot) = self.assignable(&target.name, target.span) else { return Statement::Expr(Expr::Undefined) };
        let op = match u.operator {
            ast::UpdateOperator::Increment => BinaryOp::Add,
            ast::UpdateOperator::Decrement => BinaryOp::Sub,
        };
        let number = Expr::Unary(UnaryOp::Plus, Box::new(Expr::Name(Name::Local(slot))));
        Statement::Assign(slot, Expr::Binary(op, Box::new(number), Box::new(Expr::Number(1.0))))
    }

    /// The slot of the local `name` if it may be assigned; otherwise says why not.
    fn assignable(&mut self, name: &str, span: oxc_span::Span) -> Option<usize> {
        match self.local_named(name) {
            Some(Local { constant: false, slot, .. }) => Some(*slot),
            Some(Local { constant: true, .. }) => {
                let message = format!("`{name}` is declared `const` and cannot be assigned (declare it with `let`)");
                self.issues.push(ExprIssue::new(IssueKind::Unsupported, message, range(span)).with_subject(name));
                None
            }
            None => {
                let message = format!("`{name}` is not a local variable: only a `let` declared in the expression can be assigned (state changes through `state_update`)");
                self.issues.push(ExprIssue::new(IssueKind::Unsupported, message, range(span)).with_subject(name));
                None
            }
        }
    }

    /// `for (const x of items) body`.
    fn for_of(&mut self, f: &ast::ForOfStatement) -> Statement {
        if f.r#await {
            self.unsupported("`for await`", f.span);
        }
        let iterable = self.expr(&f.right);
        self.scopes.push(Vec::new());
        let pattern = match &f.left {
            ast::ForStatementLeft::VariableDeclaration(declaration) if declaration.declarations.len() == 1 => {
                if declaration.kind == ast::VariableDeclarationKind::Var {
                    self.unsupported("`var` (use `const` or `let`)", declaration.span);
                }
                self.pattern(&declaration.declarations[0].id, declaration.kind == ast::VariableDeclarationKind::Const)
            }
            other => {
                self.unsupported("a `for…of` that does not declare its variable (write `for (const x of …)`)", other.span());
                Pattern::Ignore
            }
        };
        self.loops += 1;
        let body = self.block(&f.body);
        self.loops -= 1;
        self.scopes.pop();
        if let Expr::Name(Name::Local(slot)) = iterable
            && super::ir::any_in_statements(&body, |e| matches!(e, Expr::MethodCall { object, method, .. } if method == "push" && **object == Expr::Name(Name::Local(slot))))
        {
            self.unsupported("appending to the array a `for…of` walks, inside the loop (JavaScript would walk the new items too)", f.span);
        }
        Statement::ForOf(pattern, iterable, body)
    }

    /// `break` or `continue`: only unlabelled, inside a `for…of` of the same function.
    fn jump(&mut self, jump: Statement, word: &str, labelled: bool, span: oxc_span::Span) -> Statement {
        if labelled {
            self.unsupported(&format!("a labelled `{word}`"), span);
        } else if self.loops == 0 {
            self.issues.push(ExprIssue::new(IssueKind::Unsupported, format!("`{word}` outside a `for…of` loop"), range(span)));
        }
        jump
    }

    fn block(&mut self, statement: &ast::Statement) -> Vec<Statement> {
        self.scopes.push(Vec::new());
        let out = match statement {
            ast::Statement::BlockStatement(b) => self.statements(&b.body),
            other => self.statements(std::slice::from_ref(other)),
        };
        self.scopes.pop();
        out
    }
}
