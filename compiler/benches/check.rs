//! How fast the front end judges a catalog: 500 generated workflows the size of AroMCP's
//! `test:sub-agents` (computed chains, nested conditionals, a loop, a sub-agent task), checked
//! in memory and from a directory. Target: under 0.5 ms per workflow.
//!
//! Run: `cargo bench -p wfc-compiler --bench check`

use divan::counter::ItemsCount;
use wfc_compiler::{Source, check_paths, check_source};

const WORKFLOWS: usize = 500;

fn main() {
    divan::main();
}

/// A workflow of about 9 KB with the shape of `test:sub-agents`, varied by `i`.
fn workflow(i: usize) -> String {
    format!(
        r#"name: "bench:workflow-{i}"
description: "Generated workflow {i}: git output to files, filtered, fanned out to sub-agents"
version: "1.{i}.0"

inputs:
  git_output:
    type: "string"
    description: "Raw git output with file paths (newline separated)"
    required: false
    default: "src/a{i}.ts\nsrc/b.js\nREADME.md\nnode_modules/x.js"
  file_list:
    type: "array"
    description: "Direct list of files to process"
    required: false
    default: []

default_state:
  state:
    processing_results: {{}}
    processed_count: 0
    attempts: 0

state_schema:
  state:
    processing_results: "object"
    processed_count: "number"
    attempts: "number"
  computed:
    changed_files:
      from: "inputs.git_output"
      transform: "input.split('\\n').filter(line => line.trim() !== '')"
    code_files:
      from: "this.changed_files"
      transform: |
        input.filter(file => {{
          const codeExts = ['.py', '.ts', '.tsx', '.js', '.jsx', '.java', '.rs', '.go'];
          const excludeDirs = ['node_modules', 'dist', 'build', 'target', 'vendor'];
          const parts = file.split('/');
          const hasExcluded = parts.some(part => excludeDirs.includes(part));
          return !hasExcluded && codeExts.some(ext => file.endsWith(ext));
        }})
    final_files:
      from: ["this.code_files", "inputs.file_list"]
      transform: "input[0].length > 0 ? input[0] : input[1]"
    total_files:
      from: "this.final_files"
      transform: "input.length"
    has_files:
      from: "this.final_files"
      transform: "input.length > 0"
    typescript_files:
      from: "this.final_files"
      transform: "input.filter(f => f.endsWith('.ts') || f.endsWith('.tsx'))"
    all_processed:
      from: ["this.processing_results", "this.final_files"]
      transform: "Object.keys(input[0] || {{}}).length === input[1].length"
    failed_files:
      from: "this.processing_results"
      transform: "Object.entries(input || {{}}).filter(([_, r]) => !r.success).map(([f, _]) => f)"

steps:
  - id: "files_found_message"
    type: "user_message"
    message: |
      Found {{{{ this.total_files }}}} files to process:
      - Changed files: {{{{ this.changed_files.length }}}}
      - TypeScript files: {{{{ this.typescript_files.length }}}}
  - id: "check_has_files"
    type: "conditional"
    condition: "{{{{ this.has_files }}}}"
    then_steps:
      - id: "start_processing_message"
        type: "user_message"
        message: "Starting parallel processing of {{{{ this.total_files }}}} files..."
      - id: "process_files_parallel"
        type: "parallel_foreach"
        items: "{{{{ this.final_files }}}}"
        max_parallel: 3
        sub_agent_task: "process_file"
    else_steps:
      - id: "no_files_message"
        type: "user_message"
        message: "No files found to process."
  - id: "count"
    type: "shell_command"
    command: "echo {{{{ this.total_files }}}}"
    timeout: 30
    state_update:
      path: "this.processed_count"
      value: "{{{{ Number(stdout) }}}}"
  - id: "completion_message"
    type: "user_message"
    message: "Processed {{{{ this.processed_count }}}}; failed {{{{ this.failed_files.length }}}}"

sub_agent_tasks:
  process_file:
    description: "Process a single file"
    inputs:
      file_path:
        type: "string"
        description: "Path to the file to process"
        required: true
      max_attempts:
        type: "number"
        description: "Maximum fix attempts"
        required: false
        default: 5
    default_state:
      state:
        attempt_number: 0
        success: false
        step_results:
          lint: null
          typescript: null
    state_schema:
      state:
        attempt_number: "number"
        success: "boolean"
        step_results: "object"
      computed:
        lint_completed:
          from: "this.step_results"
          transform: "input.lint !== null && input.lint.success === true"
        typescript_completed:
          from: "this.step_results"
          transform: "input.typescript !== null && input.typescript.success === true"
        all_steps_completed:
          from: ["this.lint_completed", "this.typescript_completed"]
          transform: "input[0] && input[1]"
    steps:
      - id: "enforcement_loop"
        type: "while_loop"
        condition: "{{{{ !this.all_steps_completed }}}}"
        max_iterations: 5
        body:
          - id: "attempt_message"
            type: "user_message"
            message: "Attempt {{{{ loop.iteration }}}} for {{{{ inputs.file_path }}}}"
          - id: "lint_step"
            type: "conditional"
            condition: "{{{{ !this.lint_completed }}}}"
            then_steps:
              - id: "run_lint"
                type: "mcp_call"
                tool: "lint_project"
                parameters:
                  target_files: ["{{{{ inputs.file_path }}}}"]
                state_update:
                  path: "this.step_results.lint"
                  value: "{{{{ {{ success: result.success, attempt: loop.iteration }} }}}}"
          - id: "typescript_step"
            type: "conditional"
            condition: "{{{{ this.lint_completed && !this.typescript_completed }}}}"
            then_steps:
              - id: "run_typescript"
                type: "mcp_call"
                tool: "check_typescript"
                parameters:
                  file_paths: ["{{{{ inputs.file_path }}}}"]
                store_result: "this.step_results.typescript"
      - id: "final_result"
        type: "conditional"
        condition: "{{{{ this.all_steps_completed }}}}"
        then_steps:
          - id: "mark_success"
            type: "mcp_call"
            tool: "echo"
            parameters:
              message: "All checks passed"
            state_update:
              path: "this.success"
              value: "{{{{ true }}}}"
"#
    )
}

fn sources() -> Vec<Source> {
    (0..WORKFLOWS).map(|i| Source::new(format!("bench-{i}.yaml"), workflow(i))).collect()
}

#[divan::bench]
fn check_in_memory(bencher: divan::Bencher) {
    let sources = sources();
    for source in &sources {
        let (workflow, diagnostics) = check_source(source);
        assert!(workflow.is_some(), "{}", diagnostics.render_plain());
    }
    bencher.counter(ItemsCount::new(WORKFLOWS)).bench(|| {
        for source in &sources {
            divan::black_box(check_source(source));
        }
    });
}

#[divan::bench]
fn check_directory(bencher: divan::Bencher) {
    let dir = std::env::temp_dir().join(format!("wfc-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    for i in 0..WORKFLOWS {
        std::fs::write(dir.join(format!("w{i:03}.yaml")), workflow(i)).expect("write");
    }
    let paths = [dir.clone()];
    bencher.counter(ItemsCount::new(WORKFLOWS)).bench(|| divan::black_box(check_paths(&paths).expect("readable")));
    std::fs::remove_dir_all(&dir).expect("cleanup");
}
