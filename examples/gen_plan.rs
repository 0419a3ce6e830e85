//! Writes a valid plan with N steps to stdout, for `scripts/bench-check.sh`.
//!
//! Usage: gen_plan STEPS
//!
//! The steps look like real ones: `http` with headers and a JSON body, `needs` on earlier
//! steps, `expect`, named retry policies, and now and then a value captured by one step and
//! read by a later one that needs it (`${steps.X.k}`). About 100 bytes a step.

use std::fmt::Write;

fn main() {
    let steps: usize = match std::env::args().nth(1).map(|n| n.parse()) {
        Some(Ok(n)) if n > 0 => n,
        _ => {
            eprintln!("usage: gen_plan STEPS");
            std::process::exit(2);
        }
    };
    let mut out = String::with_capacity(steps * 110);
    out.push_str(
        "plan \"generated\" {\n    description \"A generated plan for benchmarks\"\n    seed 7\n    jobs 8\n}\n\n\
         vars {\n    base \"${env.HOOKS_URL:-https://hooks.example.com}\"\n}\n\n\
         retry \"std\" {\n    max-retries 3\n    base-delay \"2s\"\n    max-delay \"30s\"\n}\n\n\
         retry \"fast\" {\n    max-retries 1\n    base-delay \"100ms\"\n}\n\n",
    );
    for i in 0..steps {
        let _ = writeln!(out, "step \"s{i}\" {{");
        if i > 0 {
            // The step before, and now and then one further back.
            if i % 4 == 0 && i >= 10 {
                let _ = writeln!(out, "    needs \"s{}\" \"s{}\"", i - 1, i - 10);
            } else {
                let _ = writeln!(out, "    needs \"s{}\"", i - 1);
            }
        }
        let reads_capture = i % 50 == 1 && i > 1;
        if i % 3 == 0 || reads_capture {
            let _ = writeln!(out, "    http \"POST\" \"${{vars.base}}/e/{i}\" {{");
            if reads_capture {
                let _ = writeln!(
                    out,
                    "        header \"Authorization\" \"Bearer ${{steps.s{}.token}}\"",
                    i - 1
                );
            } else {
                let _ = writeln!(out, "        header \"X-Id\" \"{i}\"");
            }
            let _ = writeln!(out, "        json #\"{{\"n\": {i}}}\"#\n    }}");
        } else {
            let _ = writeln!(out, "    http \"GET\" \"${{vars.base}}/s/{i}\"");
        }
        match i % 4 {
            0 => out.push_str("    retry \"std\"\n"),
            1 => out.push_str("    expect status=200\n"),
            2 => out.push_str("    retry \"fast\"\n    expect status=200\n"),
            _ => {}
        }
        if i % 50 == 0 {
            out.push_str("    capture \"token\" json=\"/token\"\n");
        }
        out.push_str("}\n");
    }
    print!("{out}");
}
