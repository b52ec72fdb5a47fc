//! A lowered workflow as a diagram (Mermaid or Graphviz dot): steps, branches, loops with their
//! caps and sub-agent fan-out. Jumps and loop bookkeeping are followed, not drawn, so the
//! picture shows the machine a reader thinks in.

use std::fmt::Write as _;

use super::{LoopKind, Op, Pc, Program, Workflow};

/// The diagram language.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Mermaid `flowchart` (renders on GitHub).
    Mermaid,
    /// Graphviz dot.
    Dot,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    Step,
    Server,
    Decision,
    Loop,
    Terminal,
}

struct Node {
    id: String,
    label: String,
    shape: Shape,
}

struct Edge {
    from: String,
    to: String,
    label: Option<String>,
}

/// One machine's drawing: the workflow's or a task's.
struct Cluster {
    title: String,
    nodes: Vec<Node>,
    edges: Vec<Edge>,
}

/// Renders the workflow and each of its sub-agent tasks.
pub fn render(workflow: &Workflow, format: Format) -> String {
    let mut clusters = vec![collect(workflow.name.clone(), &workflow.main, "m")];
    for (i, task) in workflow.tasks.iter().enumerate() {
        clusters.push(collect(format!("sub-agent task {}", task.name), task, &format!("t{i}")));
    }
    let mut fan_out = Vec::new();
    for (pc, op) in workflow.main.ops.iter().enumerate() {
        if let Op::Spawn(spawn) = op {
            fan_out.push(Edge { from: format!("m_{pc}"), to: format!("t{}_start", spawn.task), label: Some("one task per item".to_owned()) });
        }
    }
    match format {
        Format::Mermaid => mermaid(&clusters, &fan_out),
        Format::Dot => dot(&clusters, &fan_out),
    }
}

fn collect<X>(title: String, program: &Program<X>, prefix: &str) -> Cluster {
    let id = |pc: Pc| format!("{prefix}_{pc}");
    let target = |pc: Pc| id(visible_target(program, pc));
    let mut nodes = Vec::new();
    let mut edges = Vec::new();
    for (pc, op) in program.ops.iter().enumerate() {
        let pc = pc as Pc;
        let next = pc + 1;
        let (label, shape, successors): (String, Shape, Vec<(Pc, Option<&str>)>) = match op {
            Op::Client(client) => (format!("{}\n{}", client.step, client.kind), Shape::Step, vec![(next, None)]),
            Op::Shell(shell) => (format!("{}\nshell_command", shell.step), Shape::Server, vec![(next, None)]),
            Op::Wait { step, .. } => (format!("{step}\nwait_step"), Shape::Step, vec![(next, None)]),
            Op::Write { step, .. } => (format!("{step}\nworkflow_state_update"), Shape::Step, vec![(next, None)]),
            Op::Spawn(spawn) => {
                (format!("{}\nparallel_foreach → {}\n(max {} at once)", spawn.step, spawn.task_name, spawn.max_parallel), Shape::Server, vec![(next, None)])
            }
            Op::Branch { step, otherwise, .. } => (format!("{step}?"), Shape::Decision, vec![(next, Some("then")), (*otherwise, Some("else"))]),
            Op::LoopNext { step, kind, exit, .. } => {
                let label = match kind {
                    LoopKind::While { max_iterations, .. } => format!("{step}\nwhile (≤ {max_iterations} iterations)"),
                    LoopKind::Foreach { variable_name, .. } => format!("{step}\nforeach {variable_name}"),
                };
                (label, Shape::Loop, vec![(next, Some("next")), (*exit, Some("done"))])
            }
            Op::Done => ("end".to_owned(), Shape::Terminal, vec![]),
            Op::LoopStart { .. } | Op::LoopEnd { .. } | Op::Jump { .. } => continue,
        };
        nodes.push(Node { id: id(pc), label, shape });
        for (to, label) in successors {
            edges.push(Edge { from: id(pc), to: target(to), label: label.map(str::to_owned) });
        }
    }
    let start = format!("{prefix}_start");
    nodes.insert(0, Node { id: start.clone(), label: "start".to_owned(), shape: Shape::Terminal });
    edges.insert(0, Edge { from: start, to: target(0), label: None });
    Cluster { title, nodes, edges }
}

/// The first drawn operation reached from `pc`, following jumps and loop bookkeeping.
fn visible_target<X>(program: &Program<X>, mut pc: Pc) -> Pc {
    // A jump chain is at most as long as the program; the bound guards against a malformed one.
    for _ in 0..=program.ops.len() {
        match &program.ops[pc as usize] {
            Op::Jump { to, .. } => pc = *to,
            Op::LoopStart { .. } | Op::LoopEnd { .. } => pc += 1,
            _ => return pc,
        }
    }
    pc
}

fn mermaid(clusters: &[Cluster], fan_out: &[Edge]) -> String {
    let mut out = String::from("flowchart TD\n");
    let escape = |text: &str| text.replace('"', "#quot;").replace('\n', "<br/>");
    for (i, Cluster { title, nodes, edges }) in clusters.iter().enumerate() {
        let _ = writeln!(out, "  subgraph c{i} [\"{}\"]", escape(title));
        for node in nodes {
            let label = escape(&node.label);
            let _ = match node.shape {
                Shape::Step => writeln!(out, "    {}[\"{label}\"]", node.id),
                Shape::Server => writeln!(out, "    {}[[\"{label}\"]]", node.id),
                Shape::Decision => writeln!(out, "    {}{{\"{label}\"}}", node.id),
                Shape::Loop => writeln!(out, "    {}{{{{\"{label}\"}}}}", node.id),
                Shape::Terminal => writeln!(out, "    {}([\"{label}\"])", node.id),
            };
        }
        for edge in edges {
            mermaid_edge(&mut out, edge, "-->");
        }
        out.push_str("  end\n");
    }
    for edge in fan_out {
        mermaid_edge(&mut out, edge, "-.->");
    }
    out
}

fn mermaid_edge(out: &mut String, edge: &Edge, arrow: &str) {
    let _ = match &edge.label {
        Some(label) => writeln!(out, "  {} {arrow}|{label}| {}", edge.from, edge.to),
        None => writeln!(out, "  {} {arrow} {}", edge.from, edge.to),
    };
}

fn dot(clusters: &[Cluster], fan_out: &[Edge]) -> String {
    let mut out = String::from("digraph workflow {\n  node [fontname=\"sans-serif\"];\n");
    let escape = |text: &str| text.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n");
    for (i, Cluster { title, nodes, edges }) in clusters.iter().enumerate() {
        let _ = writeln!(out, "  subgraph cluster_{i} {{\n    label=\"{}\";", escape(title));
        for node in nodes {
            let shape = match node.shape {
                Shape::Step => "box",
                Shape::Server => "box3d",
                Shape::Decision => "diamond",
                Shape::Loop => "hexagon",
                Shape::Terminal => "ellipse",
            };
            let _ = writeln!(out, "    {} [label=\"{}\", shape={shape}];", node.id, escape(&node.label));
        }
        out.push_str("  }\n");
        for edge in edges {
            dot_edge(&mut out, edge, false);
        }
    }
    for edge in fan_out {
        dot_edge(&mut out, edge, true);
    }
    out.push_str("}\n");
    out
}

fn dot_edge(out: &mut String, edge: &Edge, dashed: bool) {
    let mut attributes: Vec<String> = edge.label.iter().map(|l| format!("label=\"{l}\"")).collect();
    if dashed {
        attributes.push("style=dashed".to_owned());
    }
    let _ = writeln!(out, "  {} -> {} [{}];", edge.from, edge.to, attributes.join(", "));
}
