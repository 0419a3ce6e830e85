//! `vars { NAME "value"; … }`: values may read `${env.…}` and `${secret.…}`.

use super::super::diagnostic::{Diagnostic, Diagnostics};
use super::super::raw::{RawNode, RawValue};
use super::super::reader::NodeReader;
use super::{check_name, parse_template};
use crate::model::{Spanned, Template, Var};

pub fn decode(node: &RawNode, diags: &mut Diagnostics) -> Vec<Var> {
    NodeReader::new(node, diags).finish();
    let mut vars = Vec::new();
    for child in node.children() {
        let mut c = NodeReader::new(child, diags);
        let name = Spanned::new(child.name.clone(), child.name_span);
        let Some(entry) = c.value(&format!("{} \"value\"", child.name)) else {
            c.finish();
            continue;
        };
        c.finish();
        if !check_name(&name, "variable", diags) {
            continue;
        }
        let value = match &entry.value {
            RawValue::String(text) => parse_template(text, entry, diags),
            RawValue::Integer(i) => Some(Template::literal(i.to_string(), entry.span)),
            RawValue::Float(f) => Some(Template::literal(f.to_string(), entry.span)),
            RawValue::Bool(b) => Some(Template::literal(b.to_string(), entry.span)),
            RawValue::Null => {
                diags.push(
                    Diagnostic::error(
                        "hookplan::wrong-type",
                        format!("variable `{}` has no value", child.name),
                        entry.span,
                        "#null",
                    )
                    .with_help("give it a string, number or boolean"),
                );
                None
            }
        };
        if let Some(value) = value {
            vars.push(Var {
                name: name.value,
                value,
                span: child.name_span,
            });
        }
    }
    vars
}
