//! The step DAG: cycles, dependency order, selection, and text / dot / mermaid renderings.

use crate::model::Plan;
use petgraph::graph::{DiGraph, NodeIndex};
use std::collections::BTreeSet;
use std::fmt::Write;

/// Every cycle among `count` nodes with edges `from → to`, each as the list of nodes along it
/// (the first node is not repeated at the end). Self-loops are cycles of one.
pub fn find_cycles(count: usize, edges: &[(usize, usize)]) -> Vec<Vec<usize>> {
    let mut graph = DiGraph::<(), ()>::with_capacity(count, edges.len());
    for _ in 0..count {
        graph.add_node(());
    }
    for &(from, to) in edges {
        graph.add_edge(NodeIndex::new(from), NodeIndex::new(to), ());
    }
    let mut cycles = Vec::new();
    for component in petgraph::algo::tarjan_scc(&graph) {
        if component.len() == 1 {
            let n = component[0];
            if graph.contains_edge(n, n) {
                cycles.push(vec![n.index()]);
            }
            continue;
        }
        let members: BTreeSet<usize> = component.iter().map(|n| n.index()).collect();
        let start = *members.first().expect("a component has members");
        cycles.push(cycle_through(&graph, start, &members));
    }
    cycles.sort();
    cycles
}

/// A path from `start` back to itself inside one strongly connected component (breadth-first,
/// so the cycle named is a shortest one).
fn cycle_through(graph: &DiGraph<(), ()>, start: usize, members: &BTreeSet<usize>) -> Vec<usize> {
    let mut previous = vec![usize::MAX; graph.node_count()];
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(node) = queue.pop_front() {
        let mut next: Vec<usize> = graph
            .neighbors(NodeIndex::new(node))
            .map(|n| n.index())
            .collect();
        next.sort_unstable();
        for n in next {
            if !members.contains(&n) {
                continue;
            }
            if n == start {
                let mut path = vec![node];
                while *path.last().unwrap() != start {
                    path.push(previous[*path.last().unwrap()]);
                }
                path.reverse();
                return path;
            }
            if previous[n] == usize::MAX {
                previous[n] = node;
                queue.push_back(n);
            }
        }
    }
    vec![start]
}

/// The validated step graph of a plan (acyclic by construction).
#[derive(Debug, Clone)]
pub struct StepGraph {
    /// For each step (by index in the plan), the steps it needs.
    pub needs: Vec<Vec<usize>>,
    /// For each step, the steps that need it.
    pub dependents: Vec<Vec<usize>>,
    /// Steps in an order where every step comes after what it needs (stable: plan order first).
    pub order: Vec<usize>,
}

impl StepGraph {
    pub fn new(plan: &Plan) -> Self {
        let mut positions = std::collections::HashMap::with_capacity(plan.steps.len());
        for (i, step) in plan.steps.iter().enumerate() {
            positions.entry(step.name.as_str()).or_insert(i);
        }
        let index = |name: &str| positions.get(name).copied();
        let needs: Vec<Vec<usize>> = plan
            .steps
            .iter()
            .map(|s| {
                let mut n: Vec<usize> = s.needs.iter().filter_map(|n| index(n)).collect();
                n.sort_unstable();
                n.dedup();
                n
            })
            .collect();
        let mut dependents = vec![Vec::new(); needs.len()];
        for (step, needed) in needs.iter().enumerate() {
            for &n in needed {
                dependents[n].push(step);
            }
        }
        let order = topological_order(&needs, &dependents);
        Self {
            needs,
            dependents,
            order,
        }
    }

    pub fn len(&self) -> usize {
        self.needs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.needs.is_empty()
    }

    /// The given steps and everything they need, transitively.
    pub fn with_needs(&self, roots: impl IntoIterator<Item = usize>) -> BTreeSet<usize> {
        let mut selected = BTreeSet::new();
        let mut stack: Vec<usize> = roots.into_iter().collect();
        while let Some(step) = stack.pop() {
            if selected.insert(step) {
                stack.extend(&self.needs[step]);
            }
        }
        selected
    }

    /// Everything a step needs, transitively, without the step itself.
    pub fn ancestors(&self, step: usize) -> BTreeSet<usize> {
        let mut all = self.with_needs(self.needs[step].iter().copied());
        all.remove(&step);
        all
    }

    /// Depth of each step: 0 for a step that needs nothing, else 1 + the deepest it needs.
    pub fn levels(&self) -> Vec<usize> {
        let mut level = vec![0; self.len()];
        for &step in &self.order {
            level[step] = self.needs[step]
                .iter()
                .map(|&n| level[n] + 1)
                .max()
                .unwrap_or(0);
        }
        level
    }
}

/// Kahn's algorithm, taking ready steps in plan order.
fn topological_order(needs: &[Vec<usize>], dependents: &[Vec<usize>]) -> Vec<usize> {
    let mut waiting: Vec<usize> = needs.iter().map(Vec::len).collect();
    let mut ready: BTreeSet<usize> = (0..needs.len()).filter(|&s| waiting[s] == 0).collect();
    let mut order = Vec::with_capacity(needs.len());
    while let Some(step) = ready.pop_first() {
        order.push(step);
        for &d in &dependents[step] {
            waiting[d] -= 1;
            if waiting[d] == 0 {
                ready.insert(d);
            }
        }
    }
    order
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GraphFormat {
    Text,
    Dot,
    Mermaid,
}

/// Renders the plan's graph: steps, what they need, and the sandboxes they use.
pub fn render(plan: &Plan, graph: &StepGraph, format: GraphFormat) -> String {
    let mut out = String::new();
    match format {
        GraphFormat::Text => {
            let levels = graph.levels();
            let _ = writeln!(
                out,
                "plan {}: {} step(s)",
                quote_dot(&plan.name),
                plan.steps.len()
            );
            for &step in &graph.order {
                let s = &plan.steps[step];
                let _ = write!(
                    out,
                    "{}{} [{}]",
                    "  ".repeat(levels[step] + 1),
                    s.name,
                    s.action.kind()
                );
                let needs: Vec<&str> = graph.needs[step]
                    .iter()
                    .map(|&n| plan.steps[n].name.as_str())
                    .collect();
                if !needs.is_empty() {
                    let _ = write!(out, " ← {}", needs.join(", "));
                }
                let sandboxes = s.sandboxes_used();
                if !sandboxes.is_empty() {
                    let names: Vec<String> =
                        sandboxes.iter().map(|n| format!("sandbox {n}")).collect();
                    let _ = write!(out, " (uses {})", names.join(", "));
                }
                let mut flags = Vec::new();
                if s.always {
                    flags.push("always");
                }
                if s.continue_on_error {
                    flags.push("continue-on-error");
                }
                if !flags.is_empty() {
                    let _ = write!(out, " {{{}}}", flags.join(", "));
                }
                out.push('\n');
            }
        }
        GraphFormat::Dot => {
            let _ = writeln!(out, "digraph {} {{", quote_dot(&plan.name));
            let _ = writeln!(out, "  rankdir=LR;");
            for sandbox in &plan.sandboxes {
                let _ = writeln!(
                    out,
                    "  {} [shape=cylinder, label={}];",
                    quote_dot(&format!("sandbox:{}", sandbox.name)),
                    quote_dot(&sandbox.name)
                );
            }
            for &step in &graph.order {
                let s = &plan.steps[step];
                let shape = if s.always { "box, style=dashed" } else { "box" };
                let _ = writeln!(
                    out,
                    "  {} [shape={shape}, label={}];",
                    quote_dot(&s.name),
                    quote_dot(&format!("{}\n{}", s.name, s.action.kind()))
                );
            }
            for &step in &graph.order {
                for &n in &graph.needs[step] {
                    let _ = writeln!(
                        out,
                        "  {} -> {};",
                        quote_dot(&plan.steps[n].name),
                        quote_dot(&plan.steps[step].name)
                    );
                }
                for sandbox in plan.steps[step].sandboxes_used() {
                    let _ = writeln!(
                        out,
                        "  {} -> {} [style=dotted];",
                        quote_dot(&format!("sandbox:{sandbox}")),
                        quote_dot(&plan.steps[step].name)
                    );
                }
            }
            out.push_str("}\n");
        }
        GraphFormat::Mermaid => {
            out.push_str("flowchart LR\n");
            let id = |step: usize| format!("s{step}");
            for (i, sandbox) in plan.sandboxes.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "  sb{i}[({})]",
                    mermaid_text(&format!("sandbox {}", sandbox.name))
                );
            }
            for &step in &graph.order {
                let s = &plan.steps[step];
                let _ = writeln!(
                    out,
                    "  {}[{}]",
                    id(step),
                    mermaid_text(&format!("{} · {}", s.name, s.action.kind()))
                );
            }
            for &step in &graph.order {
                for &n in &graph.needs[step] {
                    let _ = writeln!(out, "  {} --> {}", id(n), id(step));
                }
                for sandbox in plan.steps[step].sandboxes_used() {
                    if let Some(i) = plan.sandboxes.iter().position(|s| s.name == sandbox) {
                        let _ = writeln!(out, "  sb{i} -.-> {}", id(step));
                    }
                }
            }
        }
    }
    out
}

fn quote_dot(text: &str) -> String {
    format!(
        "\"{}\"",
        text.replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n")
    )
}

fn mermaid_text(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "#quot;"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_each_cycle_once_in_order() {
        // 0 → 1 → 2 → 0, 3 → 3, 4 → 5 (no cycle)
        let cycles = find_cycles(6, &[(0, 1), (1, 2), (2, 0), (3, 3), (4, 5)]);
        assert_eq!(cycles, vec![vec![0, 1, 2], vec![3]]);
    }

    #[test]
    fn names_a_shortest_cycle_in_a_tangle() {
        // 0 → 1 → 2 → 3 → 0 and a shortcut 1 → 0.
        let cycles = find_cycles(4, &[(0, 1), (1, 2), (2, 3), (3, 0), (1, 0)]);
        assert_eq!(cycles, vec![vec![0, 1]]);
    }

    #[test]
    fn topological_order_keeps_plan_order_among_ready_steps() {
        let needs = vec![vec![2], vec![], vec![], vec![0, 1]];
        let mut dependents = vec![Vec::new(); 4];
        for (s, n) in needs.iter().enumerate() {
            for &d in n {
                dependents[d].push(s);
            }
        }
        assert_eq!(topological_order(&needs, &dependents), vec![1, 2, 0, 3]);
    }
}
