//! Lowered workflows to Rust: one module per workflow holding a function per expression
//! (compiled by `codegen::expr`), the workflow's machines built from them, once, and per machine
//! its typed state and generated server-side steps (`native`). The machines run on the
//! runtime's `Instance`, as interpreted ones do, which calls the generated steps wherever they
//! apply and runs the rest (client steps, effects) itself.

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};

mod native;

use super::expr::{INTERPOLATION_ROOM, StateTypes, constant_string, expression_fn, f64_literal};
use super::ident::hidden;
use wfc_runtime::machine::FieldType;
use crate::expr::{Compiled, CompiledPart, CompiledTemplate, ShellQuoting};
use crate::ir::{
    AnswerCondition, AnswerRules, Bounds, ClientOp, Computed, Handling, IrExpr, LoopKind, OnFailure, Op, Program, Rules, Segment, Source, Template, Update,
    UpdateValue, Workflow, WritePath,
};

/// `pub mod <module> { … pub fn workflow() -> &'static Workflow<ExprFn> }` for one workflow.
pub fn workflow_module(module: &syn::Ident, workflow: &Workflow, runtime: &TokenStream) -> TokenStream {
    let mut emitter =
        Emitter { rt: runtime.clone(), functions: Vec::new(), emitted: Vec::new(), types: StateTypes::default(), machines: Vec::new() };
    let p = emitter.program_path();
    let main = emitter.program(&workflow.main, &format_ident!("machine"));
    let tasks: Vec<TokenStream> = (0..).zip(&workflow.tasks).map(|(i, task)| emitter.program(task, &format_ident!("task_{i}"))).collect();
    let (functions, machines) = (&emitter.functions, &emitter.machines);
    let (name, description, version) = (&workflow.name, &workflow.description, &workflow.version);
    let timeout = option(workflow.timeout_seconds.map(f64_literal));
    let doc = format!(" `{name}` {version}: {description}");
    quote! {
        #[doc = #doc]
        pub mod #module {
            #(#functions)*
            #(#machines)*

            /// The workflow's machines, built on first use.
            pub fn workflow() -> &'static #p::Workflow<#p::ExprFn> {
                static WORKFLOW: ::std::sync::LazyLock<#p::Workflow<#p::ExprFn>> = ::std::sync::LazyLock::new(|| #p::Workflow {
                    name: ::std::string::String::from(#name),
                    description: ::std::string::String::from(#description),
                    version: ::std::string::String::from(#version),
                    timeout_seconds: #timeout,
                    main: ::std::sync::Arc::new(#main),
                    tasks: ::std::vec![#(::std::sync::Arc::new(#tasks)),*],
                });
                &WORKFLOW
            }
        }
    }
}

struct Emitter {
    rt: TokenStream,
    functions: Vec<TokenStream>,
    /// Expressions already emitted, with the state types they were emitted for (a loop's
    /// condition appears in two operations; a task's state may have other types).
    emitted: Vec<(StateTypes, IrExpr, syn::Ident)>,
    /// What the declarations of the program being emitted say of its state.
    types: StateTypes,
    /// Each program's typed state and native steps (see [`native`]), a module each.
    machines: Vec<TokenStream>,
}

impl Emitter {
    fn program_path(&self) -> TokenStream {
        let rt = &self.rt;
        quote!(#rt::machine::program)
    }

    /// A reference to the function evaluating `x`, emitting it the first time.
    fn expr(&mut self, x: &IrExpr) -> TokenStream {
        let p = self.program_path();
        let name = self.expr_function(x);
        quote!(#name as #p::ExprFn)
    }

    /// The name of the function evaluating `x`, emitting it the first time.
    fn expr_function(&mut self, x: &IrExpr) -> syn::Ident {
        if let Some((_, _, name)) = self.emitted.iter().find(|(types, seen, _)| *types == self.types && seen == x) {
            return name.clone();
        }
        let name = format_ident!("x{}", self.emitted.len());
        self.emitted.push((self.types.clone(), x.clone(), name.clone()));
        let function = match x {
            IrExpr::Expr(compiled) | IrExpr::Template(CompiledTemplate::Value(compiled)) => expression_fn(&name, compiled, &self.rt, &self.types),
            IrExpr::Template(CompiledTemplate::Parts(parts)) => {
                let body = self.text(&name, parts);
                self.value_fn(&name, body)
            }
            IrExpr::Value(template) => {
                let body = self.template(&name, template);
                self.value_fn(&name, body)
            }
        };
        self.functions.push(function);
        name
    }

    fn value_fn(&self, name: &syn::Ident, body: TokenStream) -> TokenStream {
        let rt = &self.rt;
        let scope = hidden("scope");
        quote! {
            #[allow(unused_variables, clippy::all)]
            pub fn #name(#scope: &dyn #rt::value::Scope) -> ::core::result::Result<#rt::value::Value, #rt::value::EvalError> {
                ::core::result::Result::Ok(#body)
            }
        }
    }

    /// A helper function for one piece of a bigger expression, named after its owner.
    fn piece(&mut self, owner: &syn::Ident, compiled: &Compiled) -> syn::Ident {
        let name = format_ident!("{owner}_{}", self.functions.len());
        self.functions.push(expression_fn(&name, compiled, &self.rt, &self.types));
        name
    }

    /// Text with `{{ }}` pieces, as a string value.
    fn text(&mut self, owner: &syn::Ident, parts: &[CompiledPart]) -> TokenStream {
        let rt = self.rt.clone();
        if let Some(text) = parts.iter().map(|part| if let CompiledPart::Text(text) = part { Some(text.as_str()) } else { None }).collect::<Option<String>>() {
            return constant_string(&quote!(#rt::value), &text);
        }
        let scope = hidden("scope");
        let out = hidden("text");
        let room: usize = parts.iter().map(|part| if let CompiledPart::Text(text) = part { text.len() } else { INTERPOLATION_ROOM }).sum();
        let pieces: Vec<TokenStream> = parts
            .iter()
            .map(|part| match part {
                CompiledPart::Text(text) => quote!(#out.push_str(#text);),
                CompiledPart::Expr(compiled) => {
                    let piece = self.piece(owner, compiled);
                    quote!(#rt::value::push_template_piece(&mut #out, &#piece(#scope)?);)
                }
                CompiledPart::ShellQuoted(compiled, quoting) => {
                    let piece = self.piece(owner, compiled);
                    let quoting = match quoting {
                        ShellQuoting::Word => quote!(Word),
                        ShellQuoting::DoubleQuoted => quote!(DoubleQuoted),
                        ShellQuoting::SingleQuoted => quote!(SingleQuoted),
                    };
                    quote!(#rt::value::push_shell_quoted(&mut #out, &#piece(#scope)?, #rt::value::ShellQuoting::#quoting);)
                }
            })
            .collect();
        quote!({
            let mut #out = ::std::string::String::with_capacity(#room);
            #(#pieces)*
            #rt::value::Value::string(#out)
        })
    }

    /// A structured value with templates inside.
    fn template(&mut self, owner: &syn::Ident, template: &Template) -> TokenStream {
        let rt = self.rt.clone();
        let scope = hidden("scope");
        match template {
            Template::Json(json) => value(&rt, json),
            Template::Text(CompiledTemplate::Value(compiled)) => {
                let piece = self.piece(owner, compiled);
                quote!(#piece(#scope)?)
            }
            Template::Text(CompiledTemplate::Parts(parts)) => self.text(owner, parts),
            Template::Array(items) => {
                let items: Vec<TokenStream> = items.iter().map(|i| self.template(owner, i)).collect();
                quote!(#rt::value::Value::array(::std::vec![#(#items),*]))
            }
            Template::Object(entries) => {
                let object = hidden("object");
                let inserts: Vec<TokenStream> = entries
                    .iter()
                    .map(|(key, item)| {
                        let item = self.template(owner, item);
                        quote!(#object.insert(#key, #item);)
                    })
                    .collect();
                quote!({
                    let mut #object = #rt::value::Object::new();
                    #(#inserts)*
                    #rt::value::Value::Object(::std::sync::Arc::new(#object))
                })
            }
        }
    }

    fn program(&mut self, program: &Program<IrExpr>, module: &syn::Ident) -> TokenStream {
        self.types = state_types(program);
        let p = self.program_path();
        let rt = self.rt.clone();
        let name = &program.name;
        let inputs: Vec<TokenStream> = program.inputs.iter().map(|input| {
            let (name, required) = (&input.name, input.required);
            let field_type = option(input.field_type.map(|t| variant(&quote!(#rt::machine::FieldType), t)));
            let default = option(input.default.as_ref().map(|d| json(&rt, d)));
            let rules = option(input.rules.as_ref().map(|rules| self.rules(rules)));
            quote!(#p::Input { name: ::std::string::String::from(#name), field_type: #field_type, required: #required, default: #default, rules: #rules })
        }).collect();
        let state = program.state.iter().map(|field| {
            let name = &field.name;
            let field_type = option(field.field_type.map(|t| variant(&quote!(#rt::machine::FieldType), t)));
            let initial = option(field.initial.as_ref().map(|d| json(&rt, d)));
            quote!(#p::StateField { name: ::std::string::String::from(#name), field_type: #field_type, initial: #initial })
        });
        let computed: Vec<TokenStream> = program.computed.iter().map(|c| self.computed(c)).collect();
        let plan = |indices: &[usize]| quote!(::std::vec![#(#indices),*]);
        let refresh_state = program.refresh.state.iter().map(|(field, indices)| {
            let indices = plan(indices);
            quote!((::std::string::String::from(#field), #indices))
        });
        let (global, loops) = (plan(&program.refresh.global), plan(&program.refresh.loops));
        let ops: Vec<TokenStream> = program.ops.iter().map(|op| self.op(op)).collect();
        let loop_depth = program.loop_depth;
        let machine = self.native(program, module);
        self.machines.push(machine);
        let native = quote!(::core::option::Option::Some(#module::steps));
        let reads = program.reads.iter().map(|(step, fields)| {
            quote!((::std::string::String::from(#step), ::std::vec![#(::std::string::String::from(#fields)),*]))
        });
        quote!(#p::Program {
            name: ::std::string::String::from(#name),
            inputs: ::std::vec![#(#inputs),*],
            state: ::std::vec![#(#state),*],
            computed: ::std::vec![#(#computed),*],
            refresh: #p::Refresh { state: ::std::vec![#(#refresh_state),*], global: #global, loops: #loops },
            ops: ::std::vec![#(#ops),*],
            loop_depth: #loop_depth,
            reads: ::std::vec![#(#reads),*],
            native: #native,
        })
    }

    fn computed(&mut self, computed: &Computed<IrExpr>) -> TokenStream {
        let p = self.program_path();
        let rt = self.rt.clone();
        let from: Vec<TokenStream> = computed
            .from
            .iter()
            .map(|source| match source {
                Source::Path { tier, path } => {
                    let tier = variant(&quote!(#p::SourceTier), *tier);
                    quote!(#p::Source::Path { tier: #tier, path: ::std::vec![#(::std::string::String::from(#path)),*] })
                }
                Source::Template(x) => {
                    let x = self.expr(x);
                    quote!(#p::Source::Template(#x))
                }
            })
            .collect();
        let (name, from_is_list) = (&computed.name, computed.from_is_list);
        let transform = self.expr(&computed.transform);
        let on_error = variant(&quote!(#p::OnError), computed.on_error);
        let fallback = json(&rt, &computed.fallback);
        quote!(#p::Computed {
            name: ::std::string::String::from(#name),
            from: ::std::vec![#(#from),*],
            from_is_list: #from_is_list,
            transform: #transform,
            on_error: #on_error,
            fallback: #fallback,
        })
    }

    fn op(&mut self, op: &Op<IrExpr>) -> TokenStream {
        let p = self.program_path();
        match op {
            Op::Client(client) => {
                let client = self.client(client);
                quote!(#p::Op::Client(#client))
            }
            Op::Shell(shell) => {
                let step = &shell.step;
                let command = self.expr(&shell.command);
                let working_directory = option(shell.working_directory.as_ref().map(|w| self.expr(w)));
                let timeout = f64_literal(shell.timeout_seconds);
                let updates = self.updates(&shell.updates);
                let on_failure = self.on_failure(&shell.on_failure);
                quote!(#p::Op::Shell(#p::ShellOp {
                    step: ::std::string::String::from(#step),
                    command: #command,
                    working_directory: #working_directory,
                    timeout_seconds: #timeout,
                    updates: #updates,
                    on_failure: #on_failure,
                }))
            }
            Op::Wait { step, message, timeout_seconds } => {
                let message = self.expr(message);
                let timeout = option(timeout_seconds.map(f64_literal));
                quote!(#p::Op::Wait { step: ::std::string::String::from(#step), message: #message, timeout_seconds: #timeout })
            }
            Op::Spawn(spawn) => {
                let (step, task, task_name, max_parallel) = (&spawn.step, spawn.task, &spawn.task_name, spawn.max_parallel);
                let items = self.expr(&spawn.items);
                let inputs = &spawn.task_inputs;
                let timeout = option(spawn.timeout_seconds.map(f64_literal));
                let store = self.store(spawn.store.as_ref());
                quote!(#p::Op::Spawn(#p::SpawnOp {
                    step: ::std::string::String::from(#step),
                    items: #items,
                    task: #task,
                    task_name: ::std::string::String::from(#task_name),
                    task_inputs: ::std::vec![#(::std::string::String::from(#inputs)),*],
                    max_parallel: #max_parallel,
                    timeout_seconds: #timeout,
                    store: #store,
                }))
            }
            Op::Write { step, updates } => {
                let updates = self.updates(updates);
                quote!(#p::Op::Write { step: ::std::string::String::from(#step), updates: #updates })
            }
            Op::Branch { step, condition, otherwise } => {
                let condition = self.expr(condition);
                quote!(#p::Op::Branch { step: ::std::string::String::from(#step), condition: #condition, otherwise: #otherwise })
            }
            Op::LoopStart { step, depth, kind } => {
                let kind = self.loop_kind(kind);
                quote!(#p::Op::LoopStart { step: ::std::string::String::from(#step), depth: #depth, kind: #kind })
            }
            Op::LoopNext { step, depth, kind, exit } => {
                let kind = self.loop_kind(kind);
                quote!(#p::Op::LoopNext { step: ::std::string::String::from(#step), depth: #depth, kind: #kind, exit: #exit })
            }
            Op::LoopEnd { depth } => quote!(#p::Op::LoopEnd { depth: #depth }),
            Op::Jump { to, step } => {
                let step = option(step.as_ref().map(|s| quote!(::std::string::String::from(#s))));
                quote!(#p::Op::Jump { to: #to, step: #step })
            }
            Op::Done => quote!(#p::Op::Done),
        }
    }

    fn loop_kind(&mut self, kind: &LoopKind<IrExpr>) -> TokenStream {
        let p = self.program_path();
        match kind {
            LoopKind::While { condition, max_iterations, fail_at_limit } => {
                let condition = self.expr(condition);
                quote!(#p::LoopKind::While { condition: #condition, max_iterations: #max_iterations, fail_at_limit: #fail_at_limit })
            }
            LoopKind::Foreach { items, variable_name, index_name } => {
                let items = self.expr(items);
                quote!(#p::LoopKind::Foreach {
                    items: #items,
                    variable_name: ::std::string::String::from(#variable_name),
                    index_name: ::std::string::String::from(#index_name),
                })
            }
        }
    }

    fn client(&mut self, client: &ClientOp<IrExpr>) -> TokenStream {
        let p = self.program_path();
        let (step, kind) = (&client.step, client.kind);
        let definition: Vec<TokenStream> = client
            .definition
            .iter()
            .map(|(name, x)| {
                let x = self.expr(x);
                quote!((::std::string::String::from(#name), #x))
            })
            .collect();
        let handling = match &client.handling {
            Handling::Nothing => quote!(#p::Handling::Nothing),
            Handling::ToolResult { store, updates, on_failure } => {
                let (store, updates, on_failure) = (self.store(store.as_ref()), self.updates(updates), self.on_failure(on_failure));
                quote!(#p::Handling::ToolResult { store: #store, updates: #updates, on_failure: #on_failure })
            }
            Handling::Answer(answer) => {
                let answer = self.answer(answer);
                quote!(#p::Handling::Answer(::std::boxed::Box::new(#answer)))
            }
            Handling::Reply { schema, rules, updates, store, retries, on_failure } => {
                let schema = option(schema.as_ref().map(|s| json(&self.rt, s)));
                let rules = self.rules(rules);
                let (store, updates, on_failure) = (self.store(store.as_ref()), self.updates(updates), self.on_failure(on_failure));
                quote!(#p::Handling::Reply { schema: #schema, rules: #rules, updates: #updates, store: #store, retries: #retries, on_failure: #on_failure })
            }
            Handling::ShellOutput { updates, on_failure } => {
                let (updates, on_failure) = (self.updates(updates), self.on_failure(on_failure));
                quote!(#p::Handling::ShellOutput { updates: #updates, on_failure: #on_failure })
            }
        };
        quote!(#p::ClientOp {
            step: ::std::string::String::from(#step),
            kind: #kind,
            definition: ::std::vec![#(#definition),*],
            handling: #handling,
        })
    }

    fn answer(&mut self, answer: &AnswerRules<IrExpr>) -> TokenStream {
        let p = self.program_path();
        let rt = self.rt.clone();
        let input_type = variant(&quote!(#rt::machine::answer::InputType), answer.input_type);
        let rules = self.rules(&answer.rules);
        let default = option(answer.default.as_ref().map(|d| json(&rt, d)));
        let max_retries = answer.max_retries;
        let variable = option(answer.variable.as_ref().map(|v| quote!(::std::string::String::from(#v))));
        let (updates, on_failure) = (self.updates(&answer.updates), self.on_failure(&answer.on_failure));
        let condition = option(answer.condition.as_ref().map(|AnswerCondition { test, text }| {
            let test = self.expr(test);
            quote!(#p::AnswerCondition { test: #test, text: ::std::string::String::from(#text) })
        }));
        quote!(#p::AnswerRules {
            input_type: #input_type,
            rules: #rules,
            default: #default,
            max_retries: #max_retries,
            variable: #variable,
            condition: #condition,
            updates: #updates,
            on_failure: #on_failure,
        })
    }

    fn rules(&self, rules: &Rules) -> TokenStream {
        let p = self.program_path();
        let rt = &self.rt;
        let required = rules.required;
        let choices = rules.choices.iter().map(|c| json(rt, c));
        let allowed = rules.allowed_values.iter().map(|c| json(rt, c));
        let pattern = option(rules.pattern.as_ref().map(|s| quote!(::std::string::String::from(#s))));
        let bounds = self.bounds(&rules.bounds);
        let items = option(rules.items.as_ref().map(|schema| json(rt, schema)));
        let message = option(rules.message.as_ref().map(|s| quote!(::std::string::String::from(#s))));
        quote!(#p::Rules {
            required: #required,
            choices: ::std::vec![#(#choices),*],
            allowed_values: ::std::vec![#(#allowed),*],
            pattern: #pattern,
            bounds: #bounds,
            items: #items,
            message: #message,
        })
    }

    fn bounds(&self, bounds: &Bounds) -> TokenStream {
        let p = self.program_path();
        let Bounds { min_length, max_length, min, max, exclusive_min, exclusive_max, multiple_of, unique_items, min_items, max_items } = *bounds;
        let [min_length, max_length, min_items, max_items] = [min_length, max_length, min_items, max_items].map(|n| option(n.map(|n| quote!(#n))));
        let [min, max, exclusive_min, exclusive_max, multiple_of] = [min, max, exclusive_min, exclusive_max, multiple_of].map(|n| option(n.map(f64_literal)));
        quote!(#p::Bounds {
            min_length: #min_length,
            max_length: #max_length,
            min: #min,
            max: #max,
            exclusive_min: #exclusive_min,
            exclusive_max: #exclusive_max,
            multiple_of: #multiple_of,
            unique_items: #unique_items,
            min_items: #min_items,
            max_items: #max_items,
        })
    }

    fn on_failure(&self, on_failure: &OnFailure) -> TokenStream {
        let p = self.program_path();
        let rt = &self.rt;
        let strategy = variant(&quote!(#rt::machine::Strategy), on_failure.strategy);
        let max_retries = on_failure.max_retries;
        let retry_delay = f64_literal(on_failure.retry_delay);
        let fallback = option(on_failure.fallback.as_ref().map(|f| json(rt, f)));
        let message = option(on_failure.message.as_ref().map(|s| quote!(::std::string::String::from(#s))));
        quote!(#p::OnFailure { strategy: #strategy, max_retries: #max_retries, retry_delay: #retry_delay, fallback: #fallback, message: #message })
    }

    fn updates(&mut self, updates: &[Update<IrExpr>]) -> TokenStream {
        let p = self.program_path();
        let rt = self.rt.clone();
        let updates: Vec<TokenStream> = updates
            .iter()
            .map(|update| {
                let path = self.write_path(&update.path);
                let value = option(update.value.as_ref().map(|value| match value {
                    UpdateValue::Result(path) => quote!(#p::UpdateValue::Result(::std::vec![#(::std::string::String::from(#path)),*])),
                    UpdateValue::Value(x) => {
                        let x = self.expr(x);
                        quote!(#p::UpdateValue::Value(#x))
                    }
                }));
                let operation = variant(&quote!(#rt::machine::update::Operation), update.operation);
                quote!(#p::Update { path: #path, value: #value, operation: #operation })
            })
            .collect();
        quote!(::std::vec![#(#updates),*])
    }

    fn store(&mut self, store: Option<&WritePath<IrExpr>>) -> TokenStream {
        option(store.map(|path| self.write_path(path)))
    }

    fn write_path(&mut self, path: &WritePath<IrExpr>) -> TokenStream {
        let p = self.program_path();
        let text = &path.text;
        let tier = variant(&quote!(#p::WriteTier), path.tier);
        let segments: Vec<TokenStream> = path
            .segments
            .iter()
            .map(|segment| match segment {
                Segment::Field(name) => quote!(#p::Segment::Field(::std::sync::Arc::from(#name))),
                Segment::Index(i) => quote!(#p::Segment::Index(#i)),
                Segment::Key(x) => {
                    let x = self.expr(x);
                    quote!(#p::Segment::Key(#x))
                }
            })
            .collect();
        quote!(#p::WritePath { text: ::std::string::String::from(#text), tier: #tier, segments: ::std::vec![#(#segments),*] })
    }
}

/// The reads of `program`'s state that always give a number, `null` or nothing: its declared
/// `number` state fields (as `this.x`, unless a computed field `x` overlays it, and as the
/// legacy `state.x`) and `number` inputs.
fn state_types(program: &Program<IrExpr>) -> StateTypes {
    let number = Some(FieldType::Number);
    let overlaid = |name: &str| program.computed.iter().any(|c| c.name == name);
    let state = program.state.iter().filter(|field| field.field_type == number).flat_map(|field| {
        let this = (!overlaid(&field.name)).then(|| ("this".to_owned(), field.name.clone()));
        this.into_iter().chain([("state".to_owned(), field.name.clone())])
    });
    let inputs = program.inputs.iter().filter(|input| input.field_type == number).map(|input| ("inputs".to_owned(), input.name.clone()));
    StateTypes::numeric(state.chain(inputs))
}

fn option(value: Option<TokenStream>) -> TokenStream {
    match value {
        Some(value) => quote!(::core::option::Option::Some(#value)),
        None => quote!(::core::option::Option::None),
    }
}

/// `path::Variant` of a fieldless enum, by its `Debug` name (which is the variant's).
fn variant(path: &TokenStream, value: impl std::fmt::Debug) -> TokenStream {
    let variant = format_ident!("{value:?}");
    quote!(#path::#variant)
}

/// A constant as a runtime value.
fn value(rt: &TokenStream, json: &serde_json::Value) -> TokenStream {
    let v = quote!(#rt::value::Value);
    match json {
        serde_json::Value::Null => quote!(#v::Null),
        serde_json::Value::Bool(b) => quote!(#v::Bool(#b)),
        serde_json::Value::Number(n) => {
            let n = f64_literal(n.as_f64().unwrap_or(f64::NAN));
            quote!(#v::Number(#n))
        }
        serde_json::Value::String(s) => quote!(#v::string(#s)),
        serde_json::Value::Array(items) => {
            let items = items.iter().map(|i| value(rt, i));
            quote!(#v::array(::std::vec![#(#items),*]))
        }
        serde_json::Value::Object(entries) => {
            let object = hidden("object");
            let inserts = entries.iter().map(|(key, item)| {
                let item = value(rt, item);
                quote!(#object.insert(#key, #item);)
            });
            quote!({
                let mut #object = #rt::value::Object::new();
                #(#inserts)*
                #v::Object(::std::sync::Arc::new(#object))
            })
        }
    }
}

/// A constant as JSON (for defaults, initial values, schemas).
fn json(rt: &TokenStream, json_value: &serde_json::Value) -> TokenStream {
    let j = quote!(#rt::serde_json::Value);
    match json_value {
        serde_json::Value::Null => quote!(#j::Null),
        serde_json::Value::Bool(b) => quote!(#j::Bool(#b)),
        serde_json::Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => {
                let i = Literal::i64_suffixed(i);
                quote!(#j::from(#i))
            }
            (None, Some(u)) => {
                let u = Literal::u64_suffixed(u);
                quote!(#j::from(#u))
            }
            (None, None) => {
                let f = f64_literal(n.as_f64().unwrap_or_default());
                quote!(#j::from(#f))
            }
        },
        serde_json::Value::String(s) => quote!(#j::String(::std::string::String::from(#s))),
        serde_json::Value::Array(items) => {
            let items = items.iter().map(|i| json(rt, i));
            quote!(#j::Array(::std::vec![#(#items),*]))
        }
        serde_json::Value::Object(entries) => {
            let entries = entries.iter().map(|(key, item)| {
                let item = json(rt, item);
                quote!((::std::string::String::from(#key), #item))
            });
            quote!(#j::Object(::core::iter::Iterator::collect([#(#entries),*].into_iter())))
        }
    }
}
