//! A model's lineage as text or Graphviz DOT: the models it derives from
//! (parents, recursively) and everything derived from it (models trained
//! from it, score files, runs, audits, recursively), read from the
//! registry's manifests and lineage records.

use std::collections::BTreeSet;
use std::path::Path;

use crate::lineage::registry::{self, DerivedRecord, ModelLineage};

/// A node of the lineage graph: a model or a derived artifact.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Node {
    /// Model ID or artifact ID.
    pub id: String,
    /// `model`, `scores`, `run`, `audit`.
    pub kind: String,
    /// One-line description (family and population, or the output path).
    pub label: String,
}

/// The lineage around one model: nodes and parent → child edges.
#[derive(Debug, Clone, Default)]
pub struct Lineage {
    /// Every node reached, the model first.
    pub nodes: Vec<Node>,
    /// (parent ID, child ID), sorted.
    pub edges: Vec<(String, String)>,
}

fn model_node(m: &ModelLineage) -> Node {
    Node {
        id: m.model_id.clone(),
        kind: "model".into(),
        label: format!(
            "{} on {} users of {}",
            m.family, m.population_rule, m.data.dir
        ),
    }
}

fn derived_node(d: &DerivedRecord) -> Node {
    Node {
        id: d.artifact_id.clone(),
        kind: d.kind.clone(),
        label: d.paths.first().cloned().unwrap_or_default(),
    }
}

/// The direct children of model `id`: models naming it as a parent, and
/// derived artifacts (score files, runs, audits) recorded from it.
pub fn children(registry: &Path, id: &str) -> Vec<Node> {
    let (models, _) = registry::list_lineage(registry);
    let (derived, _) = registry::list_derived(registry);
    let mut out: Vec<Node> = models
        .iter()
        .filter(|m| m.parents.iter().any(|p| p == id))
        .map(model_node)
        .collect();
    out.extend(
        derived
            .iter()
            .filter(|d| d.parents.iter().any(|p| p == id))
            .map(derived_node),
    );
    out
}

/// The lineage of model `id`: its ancestors and its descendants.
pub fn lineage(registry: &Path, id: &str) -> Lineage {
    let (models, _) = registry::list_lineage(registry);
    let (derived, _) = registry::list_derived(registry);
    let model = |x: &str| models.iter().find(|m| m.model_id == x);
    let mut nodes: Vec<Node> = model(id).map(model_node).into_iter().collect();
    let mut edges: BTreeSet<(String, String)> = BTreeSet::new();
    let mut seen: BTreeSet<String> = BTreeSet::from([id.to_string()]);
    // Ancestors.
    let mut todo = vec![id.to_string()];
    while let Some(x) = todo.pop() {
        for p in model(&x).map(|m| m.parents.clone()).unwrap_or_default() {
            edges.insert((p.clone(), x.clone()));
            if seen.insert(p.clone()) {
                nodes.extend(model(&p).map(model_node));
                todo.push(p);
            }
        }
    }
    // Descendants.
    let mut todo = vec![id.to_string()];
    while let Some(x) = todo.pop() {
        let kids = models
            .iter()
            .filter(|m| m.parents.contains(&x))
            .map(model_node)
            .chain(
                derived
                    .iter()
                    .filter(|d| d.parents.contains(&x))
                    .map(derived_node),
            );
        for k in kids.collect::<Vec<_>>() {
            edges.insert((x.clone(), k.id.clone()));
            if seen.insert(k.id.clone()) {
                todo.push(k.id.clone());
                nodes.push(k);
            }
        }
    }
    Lineage {
        nodes,
        edges: edges.into_iter().collect(),
    }
}

impl Lineage {
    fn node(&self, id: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.id == id)
    }

    /// Plain text: the model, then every edge as `parent -> child`.
    pub fn text(&self, id: &str) -> String {
        let mut s = match self.node(id) {
            Some(n) => format!("model {} ({})\n", n.id, n.label),
            None => format!("model {id}\n"),
        };
        if self.edges.is_empty() {
            s.push_str("  no parents and nothing derived from it\n");
        }
        for (p, c) in &self.edges {
            let desc = |x: &str| match self.node(x) {
                Some(n) => format!("{} {} ({})", n.kind, n.id, n.label),
                None => format!("model {x} (gone)"),
            };
            s.push_str(&format!("  {} -> {}\n", desc(p), desc(c)));
        }
        s
    }

    /// Graphviz DOT: one node per model or artifact (boxes for models),
    /// one edge per derivation.
    pub fn dot(&self) -> String {
        let q = |t: &str| format!("\"{}\"", t.replace('\\', "\\\\").replace('"', "\\\""));
        let mut s = String::from("digraph lineage {\n  rankdir=LR;\n");
        for n in &self.nodes {
            let shape = if n.kind == "model" { "box" } else { "note" };
            s.push_str(&format!(
                "  {} [shape={shape}, label={}];\n",
                q(&n.id),
                q(&format!("{} {}: {}", n.kind, n.id, n.label))
            ));
        }
        for (p, c) in &self.edges {
            s.push_str(&format!("  {} -> {};\n", q(p), q(c)));
        }
        s.push_str("}\n");
        s
    }
}
