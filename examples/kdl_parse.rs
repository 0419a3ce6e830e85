//! Parses a file with the kdl crate alone and nothing else: the baseline that
//! `scripts/bench-check.sh` compares `hookplan check` against.
//!
//! Usage: kdl_parse FILE [--v1]

fn main() -> std::process::ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: kdl_parse FILE [--v1]");
        return std::process::ExitCode::from(2);
    };
    let v1 = args.next().as_deref() == Some("--v1");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("cannot read {path}: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let parsed = if v1 {
        kdl::KdlDocument::parse_v1(&text)
    } else {
        kdl::KdlDocument::parse_v2(&text)
    };
    match parsed {
        Ok(document) => {
            println!("{} top-level nodes", document.nodes().len());
            std::process::ExitCode::SUCCESS
        }
        Err(error) => {
            println!("{} parse error(s)", error.diagnostics.len());
            std::process::ExitCode::from(1)
        }
    }
}
