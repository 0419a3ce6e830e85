//! The plan-language reference (`schemas/plan-language.md`) documents every node the decoder
//! accepts, in every place it may appear, and its examples are valid.

use hookplan::plan::grammar;
use std::path::Path;

fn reference() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/plan-language.md"))
        .unwrap()
}

/// The `## ` section of a context: "Top level", or "Inside `CONTEXT`".
fn section<'a>(text: &'a str, context: &str) -> Option<&'a str> {
    let heading = if context == "top" {
        "## Top level".to_string()
    } else {
        format!("## Inside `{context}`")
    };
    let start = text.lines().position(|l| l.trim_end() == heading)?;
    let lines: Vec<&str> = text.lines().collect();
    let end = lines[start + 1..]
        .iter()
        .position(|l| l.starts_with("## "))
        .map_or(lines.len(), |p| start + 1 + p);
    let begin = lines[..start].iter().map(|l| l.len() + 1).sum::<usize>();
    let finish = lines[..end]
        .iter()
        .map(|l| l.len() + 1)
        .sum::<usize>()
        .min(text.len());
    Some(&text[begin..finish])
}

#[test]
fn every_node_of_every_context_is_documented() {
    let text = reference();
    let mut missing = Vec::new();
    for (context, nodes) in grammar::contexts() {
        if nodes.is_empty() {
            continue;
        }
        let Some(section) = section(&text, context) else {
            missing.push(format!("a section \"## Inside `{context}`\""));
            continue;
        };
        for node in nodes {
            // `*` stands for any name: documented as `NAME`.
            let name = if *node == "*" { "NAME" } else { node };
            let heading = format!("### `{name}`");
            if !section.lines().any(|l| l.trim_end() == heading) {
                missing.push(format!("{heading} in the {context:?} section"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "schemas/plan-language.md lacks:\n  {}",
        missing.join("\n  ")
    );
}

#[test]
fn nothing_is_documented_that_the_grammar_does_not_accept() {
    let text = reference();
    let mut extra = Vec::new();
    for (context, nodes) in grammar::contexts() {
        let Some(section) = section(&text, context) else {
            continue;
        };
        for line in section.lines().filter(|l| l.starts_with("### `")) {
            let name = line
                .trim_start_matches("### `")
                .trim_end()
                .trim_end_matches('`');
            let accepted = nodes.contains(&name) || (name == "NAME" && nodes.contains(&"*"));
            if !accepted {
                extra.push(format!("{name} in {context:?}"));
            }
        }
    }
    assert!(extra.is_empty(), "documented but not accepted: {extra:?}");
}

/// Every complete example (a ```kdl block with a `plan` node) passes `check`; the fragments
/// parse as KDL v2.
#[test]
fn examples_are_valid() {
    let text = reference();
    let mut in_block = false;
    let mut block = String::new();
    let mut blocks = Vec::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```kdl") {
            in_block = true;
            block.clear();
        } else if in_block && line.trim_start().starts_with("```") {
            in_block = false;
            blocks.push(block.clone());
        } else if in_block {
            block.push_str(line);
            block.push('\n');
        }
    }
    assert!(blocks.len() > 20, "found {} examples", blocks.len());
    let plans = Path::new(env!("CARGO_MANIFEST_DIR")).join("plans/reference.kdl");
    for block in blocks {
        if let Err(e) = hookplan::plan::parse_document(&block) {
            panic!(
                "an example is not KDL v2: {:?}\n{block}",
                e.iter().map(|d| &d.message).collect::<Vec<_>>()
            );
        }
        if block.starts_with("plan ") && block.contains("\nstep ") {
            // Checked as if it sat in plans/, where its fixtures are.
            let file = hookplan::plan::SourceFile::new("reference.kdl", block.as_str());
            if let Err(errors) = hookplan::plan::check(file, &plans) {
                let messages: Vec<_> = errors
                    .files
                    .iter()
                    .flat_map(|f| f.diagnostics.iter().map(|d| d.message.clone()))
                    .collect();
                panic!("the example does not check: {messages:?}\n{block}");
            }
        }
    }
}

/// Every step kind has a `details` shape in the report schema, and the schema applies it.
#[test]
fn every_step_kind_has_its_details_schema() {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/report.schema.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let shapes = &schema["$defs"]["details"]["properties"];
    let applied: Vec<&str> = schema["$defs"]["step"]["allOf"]
        .as_array()
        .map(|all| {
            all.iter()
                .filter_map(|rule| rule["if"]["properties"]["kind"]["const"].as_str())
                .collect()
        })
        .unwrap_or_default();
    let mut missing = Vec::new();
    for kind in hookplan::plan::kinds::names() {
        if shapes.get(kind).is_none() {
            missing.push(format!("$defs/details/properties/{kind}"));
        }
        if !applied.contains(&kind) {
            missing.push(format!("an allOf rule for kind {kind:?} in $defs/step"));
        }
    }
    assert!(
        missing.is_empty(),
        "schemas/report.schema.json lacks:\n  {}",
        missing.join("\n  ")
    );
}
