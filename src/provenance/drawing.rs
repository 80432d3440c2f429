//! What the pictures of a provenance graph show, shared by the DOT and SVG
//! renderings: labelled figures with their marks, and the links between
//! them with parallel steps merged into one.

use std::collections::{HashMap, HashSet};

use uuid::Uuid;

use super::model::{EdgeType, Node, Origin, Provenance};
use crate::agents::model::AgentKind;
use crate::attributions::model::{Mode, Stance};

/// The shape of a figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Claim,
    Source,
    Speaker,
}

/// How a figure is marked; the first that applies, in this order, sets its
/// colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// A cited source with nothing on record: the trail goes cold.
    Cold,
    /// Where a supporting trail ends.
    Origin,
    /// Its citations were not followed (`max_depth`).
    NotFollowed,
    /// It denies the claim.
    Denies,
    Plain,
}

/// A node of the picture.
#[derive(Debug, Clone)]
pub struct Figure {
    /// The node's id (the claim's for the claim).
    pub id: Uuid,
    pub shape: Shape,
    pub mark: Mark,
    /// The first lines, set in bold: the outlet (or the title when the
    /// source has no publisher), the speaker, or "CLAIM".
    pub heading: Vec<String>,
    /// The lines under the heading.
    pub lines: Vec<String>,
    /// Badges such as "ORIGIN", set apart at the bottom.
    pub badges: Vec<&'static str>,
}

/// The tone of a link, from the stances of its steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Affirms,
    Denies,
    Questions,
}

/// An arrow of the picture: every step between two figures, merged.
#[derive(Debug, Clone)]
pub struct Link {
    pub from: usize,
    pub to: usize,
    pub edge_type: EdgeType,
    pub label: String,
    pub tone: Tone,
    /// Two sources citing each other: one arrow with heads at both ends.
    pub both_ways: bool,
}

/// The picture of a provenance graph.
#[derive(Debug, Clone)]
pub struct Drawing {
    pub title: String,
    /// One-line findings: origins, cold trails, denials, depth.
    pub summary: String,
    pub figures: Vec<Figure>,
    pub links: Vec<Link>,
}

const CLAIM_WIDTH: usize = 46;
const NODE_WIDTH: usize = 30;
const HEADING_WIDTH: usize = 40;

impl Drawing {
    pub fn of(graph: &Provenance) -> Drawing {
        let origins: HashSet<Uuid> = graph.origins.iter().map(Origin::id).collect();
        let unresolved: HashSet<Uuid> = graph.unresolved.iter().copied().collect();
        let truncated: HashSet<Uuid> = graph.truncated.iter().copied().collect();
        let denials: HashSet<Uuid> = graph.denials.iter().copied().collect();
        let badges_of = |id: &Uuid| {
            let mut badges = Vec::new();
            if origins.contains(id) {
                badges.push("ORIGIN");
            }
            if unresolved.contains(id) {
                badges.push("COLD TRAIL: NOTHING ON RECORD");
            }
            if truncated.contains(id) {
                badges.push("NOT FOLLOWED FURTHER");
            }
            if denials.contains(id) {
                badges.push("DENIES");
            }
            badges
        };
        let mark_of = |id: &Uuid| {
            if unresolved.contains(id) {
                Mark::Cold
            } else if origins.contains(id) {
                Mark::Origin
            } else if truncated.contains(id) {
                Mark::NotFollowed
            } else if denials.contains(id) {
                Mark::Denies
            } else {
                Mark::Plain
            }
        };

        let claim = &graph.claim;
        let mut figures = vec![Figure {
            id: claim.id.uuid(),
            shape: Shape::Claim,
            mark: Mark::Plain,
            heading: vec!["CLAIM".to_string()],
            lines: wrap(&claim.text, CLAIM_WIDTH, 5),
            badges: Vec::new(),
        }];
        for node in &graph.nodes {
            figures.push(match node {
                Node::Source(s) => {
                    let source = &s.source;
                    let title = wrap(&source.title, NODE_WIDTH, 3);
                    let (heading, mut lines) = match &source.publisher {
                        Some(publisher) => (vec![ellipsised(&publisher.name, HEADING_WIDTH)], title),
                        None => (title, Vec::new()),
                    };
                    let mut meta = source.kind.as_str().replace('_', " ");
                    if let Some(date) = &source.published_on {
                        meta = format!("{meta}, {}", date.as_str());
                    }
                    lines.push(meta);
                    Figure {
                        id: source.id.uuid(),
                        shape: Shape::Source,
                        mark: mark_of(&source.id.uuid()),
                        heading,
                        lines,
                        badges: badges_of(&source.id.uuid()),
                    }
                }
                Node::Agent(a) => {
                    let mut lines = a.description.as_deref().map(|d| wrap(d, NODE_WIDTH, 2)).unwrap_or_default();
                    let kind = match a.kind {
                        AgentKind::Person => "person",
                        AgentKind::Organization => "organisation",
                    };
                    lines.push(if a.anonymous {
                        format!("speaker, anonymous {kind}")
                    } else {
                        format!("speaker, {kind}")
                    });
                    Figure {
                        id: a.id.uuid(),
                        shape: Shape::Speaker,
                        mark: mark_of(&a.id.uuid()),
                        heading: vec![ellipsised(&a.name, HEADING_WIDTH)],
                        lines,
                        badges: badges_of(&a.id.uuid()),
                    }
                }
            });
        }

        let position: HashMap<Uuid, usize> = figures.iter().enumerate().map(|(i, f)| (f.id, i)).collect();
        let mut links: Vec<Link> = Vec::new();
        let mut steps: Vec<Vec<(EdgeType, Mode, Stance)>> = Vec::new();
        for edge in &graph.edges {
            // The claim is figure 0; every other end is a node.
            let from = if edge.edge_type == EdgeType::States { Some(0) } else { position.get(&edge.from).copied() };
            let (Some(from), Some(to)) = (from, position.get(&edge.to).copied()) else { continue };
            let same_way = links.iter().position(|l| l.from == from && l.to == to);
            let other_way = links.iter().position(|l| l.from == to && l.to == from);
            let at = match (same_way, other_way) {
                (Some(i), _) => i,
                (None, Some(i)) => {
                    links[i].both_ways = true;
                    i
                }
                (None, None) => {
                    links.push(Link {
                        from,
                        to,
                        edge_type: edge.edge_type,
                        label: String::new(),
                        tone: Tone::Affirms,
                        both_ways: false,
                    });
                    steps.push(Vec::new());
                    links.len() - 1
                }
            };
            steps[at].push((edge.edge_type, edge.mode, edge.stance));
        }
        for (link, steps) in links.iter_mut().zip(&steps) {
            link.label = if link.both_ways && steps.iter().all(|s| s.0 == EdgeType::Cites && s.2 == Stance::Affirms) {
                "cite each other".to_string()
            } else {
                label(steps)
            };
            let stances: Vec<Stance> = steps.iter().map(|s| s.2).collect();
            link.tone = if stances.contains(&Stance::Affirms) {
                Tone::Affirms
            } else if stances.contains(&Stance::Denies) {
                Tone::Denies
            } else {
                Tone::Questions
            };
        }

        Drawing { title: "Where this claim comes from".to_string(), summary: summary(graph), figures, links }
    }
}

/// How a figure is painted.
#[derive(Debug, Clone, Copy)]
pub struct Paint {
    pub fill: &'static str,
    pub stroke: &'static str,
    pub stroke_width: f64,
    pub dashed: bool,
}

impl Paint {
    /// How a figure of this shape and mark is painted.
    pub fn of(shape: Shape, mark: Mark) -> Paint {
        let paint = |fill, stroke, stroke_width, dashed| Paint { fill, stroke, stroke_width, dashed };
        match (shape, mark) {
            (Shape::Claim, _) => paint("#eef2ff", "#4338ca", 2.0, false),
            (_, Mark::Cold) => paint("#fef3c7", "#b45309", 2.0, true),
            (_, Mark::Origin) => paint("#dcfce7", "#15803d", 3.0, false),
            (_, Mark::NotFollowed) => paint("#f3f4f6", "#6b7280", 1.5, true),
            (_, Mark::Denies) => paint("#fee2e2", "#b91c1c", 2.0, false),
            (_, Mark::Plain) => paint("#ffffff", "#4b5563", 1.0, false),
        }
    }

    /// The colour of an arrow (and its label) of this tone and type, and
    /// whether it is dashed.
    pub fn of_link(tone: Tone, edge_type: EdgeType) -> (&'static str, bool) {
        match (tone, edge_type) {
            (Tone::Denies, _) => ("#b91c1c", false),
            (Tone::Questions, _) => ("#c2410c", true),
            (Tone::Affirms, EdgeType::States) => ("#4b5563", false),
            (Tone::Affirms, EdgeType::Cites) => ("#1d4ed8", false),
            (Tone::Affirms, EdgeType::Says) => ("#7e22ce", false),
        }
    }
}

impl Figure {
    pub fn paint(&self) -> Paint {
        Paint::of(self.shape, self.mark)
    }
}

impl Link {
    /// The colour of the arrow and its label, and whether it is dashed.
    pub fn paint(&self) -> (&'static str, bool) {
        Paint::of_link(self.tone, self.edge_type)
    }
}

/// The label of an arrow: its steps grouped by stance, e.g. "stated by
/// (citation, quote)" or "quotes / paraphrases, denies".
impl Drawing {
    /// The most figures at one distance from the claim (in arrows).
    pub fn widest_rank(&self) -> usize {
        let mut rank = vec![usize::MAX; self.figures.len()];
        let mut queue = std::collections::VecDeque::new();
        if !rank.is_empty() {
            rank[0] = 0;
            queue.push_back(0);
        }
        while let Some(at) = queue.pop_front() {
            for link in self.links.iter().filter(|l| l.from == at) {
                if rank[link.to] == usize::MAX {
                    rank[link.to] = rank[at] + 1;
                    queue.push_back(link.to);
                }
            }
        }
        let mut counts: HashMap<usize, usize> = HashMap::new();
        for r in rank {
            *counts.entry(r).or_default() += 1;
        }
        counts.into_values().max().unwrap_or(0)
    }
}

fn label(steps: &[(EdgeType, Mode, Stance)]) -> String {
    let mut parts = Vec::new();
    for stance in [Stance::Affirms, Stance::Denies, Stance::Questions] {
        let mut words: Vec<String> = Vec::new();
        let mut modes: Vec<&str> = Vec::new();
        for &(edge_type, mode, _) in steps.iter().filter(|s| s.2 == stance) {
            // Grey arrows from the claim say "stated by" (the legend tells);
            // only a denial or a doubt there needs words.
            if edge_type == EdgeType::States && stance == Stance::Affirms {
                continue;
            }
            let word = match (edge_type, mode) {
                (EdgeType::States, mode) => {
                    if !modes.contains(&mode.as_str()) {
                        modes.push(mode.as_str());
                    }
                    "stated by"
                }
                (EdgeType::Cites, _) => "cites",
                (EdgeType::Says, Mode::Quote) => "quotes",
                (EdgeType::Says, Mode::Paraphrase) => "paraphrases",
                (EdgeType::Says, _) => "speaker",
            };
            let word = if word == "stated by" {
                // One "stated by" per stance, naming every mode.
                words.retain(|w| !w.starts_with("stated by"));
                format!("stated by ({})", modes.join(", "))
            } else {
                word.to_string()
            };
            if !words.contains(&word) {
                words.push(word);
            }
        }
        if words.is_empty() {
            continue;
        }
        let words = words.join(", ");
        parts.push(match stance {
            Stance::Affirms => words,
            Stance::Denies => format!("{words}, denies"),
            Stance::Questions => format!("{words}, questions"),
        });
    }
    parts.join(" / ")
}

fn summary(graph: &Provenance) -> String {
    let count = |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let mut parts = vec![count(graph.independent_origins, "independent origin", "independent origins")];
    if !graph.unresolved.is_empty() {
        parts.push(count(graph.unresolved.len(), "cold trail", "cold trails"));
    }
    if !graph.denials.is_empty() {
        parts.push(count(graph.denials.len(), "denial", "denials"));
    }
    parts.push(format!(
        "walked {} hop{} deep",
        graph.max_depth_reached,
        if graph.max_depth_reached == 1 { "" } else { "s" }
    ));
    if !graph.truncated.is_empty() {
        parts.push(format!("{} not followed further (max_depth)", count(graph.truncated.len(), "source", "sources")));
    }
    parts.join(" · ")
}

/// At most `width` characters, with an ellipsis when cut.
pub fn ellipsised(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let cut: String = text.chars().take(width.saturating_sub(1)).collect();
    format!("{}…", cut.trim_end())
}

/// Words wrapped into at most `max_lines` lines of about `width` characters;
/// the last line ends in an ellipsis when the text does not fit.
pub fn wrap(text: &str, width: usize, max_lines: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let word = ellipsised(word, width);
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    if lines.len() > max_lines {
        lines.truncate(max_lines);
        if let Some(last) = lines.last_mut() {
            let kept: String = last.chars().take(width.saturating_sub(1)).collect();
            *last = format!("{}…", kept.trim_end());
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_wraps_into_few_lines_with_an_ellipsis() {
        let lines = wrap("one two three four five six seven eight nine ten", 10, 2);
        assert_eq!(lines, ["one two", "three fou…"]);
        assert_eq!(wrap("short", 10, 2), ["short"]);
    }
}
