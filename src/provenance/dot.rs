//! The provenance graph in Graphviz DOT, styled like the SVG picture.

use std::fmt::Write;

use super::drawing::{Drawing, Shape};
use super::model::Provenance;

/// A DOT `digraph`: node ids are the sources', agents' and claim's UUIDs.
pub fn render(graph: &Provenance) -> String {
    let drawing = Drawing::of(graph);
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = write_graph(&mut out, &drawing);
    out
}

fn write_graph(out: &mut String, drawing: &Drawing) -> std::fmt::Result {
    writeln!(out, "digraph provenance {{")?;
    writeln!(
        out,
        "  graph [rankdir=TB, labelloc=t, fontname=\"Helvetica\", fontsize=13, nodesep=0.4, ranksep=0.6, label={}];",
        quoted(&format!("{}\n{}", drawing.title, drawing.summary))
    )?;
    writeln!(out, "  node [fontname=\"Helvetica\", fontsize=11, margin=\"0.15,0.08\"];")?;
    writeln!(out, "  edge [fontname=\"Helvetica\", fontsize=9];")?;
    for figure in &drawing.figures {
        let paint = figure.paint();
        let shape = match figure.shape {
            Shape::Claim => "note",
            Shape::Source => "box",
            Shape::Speaker => "ellipse",
        };
        let mut style = vec!["filled"];
        if figure.shape == Shape::Source {
            style.push("rounded");
        }
        if paint.dashed {
            style.push("dashed");
        }
        let mut label = figure.heading.clone();
        label.extend(figure.lines.iter().cloned());
        label.extend(figure.badges.iter().map(|b| b.to_string()));
        writeln!(
            out,
            "  {} [shape={shape}, style={}, fillcolor={}, color={}, penwidth={}, label={}];",
            quoted(&figure.id.to_string()),
            quoted(&style.join(",")),
            quoted(paint.fill),
            quoted(paint.stroke),
            paint.stroke_width,
            quoted(&label.join("\n")),
        )?;
    }
    for link in &drawing.links {
        let (colour, dashed) = link.paint();
        let mut attributes = vec![
            format!("label={}", quoted(&format!(" {}", link.label))),
            format!("color={}", quoted(colour)),
            format!("fontcolor={}", quoted(colour)),
        ];
        if dashed {
            attributes.push("style=dashed".to_string());
        }
        if link.both_ways {
            attributes.push("dir=both".to_string());
        }
        writeln!(
            out,
            "  {} -> {} [{}];",
            quoted(&drawing.figures[link.from].id.to_string()),
            quoted(&drawing.figures[link.to].id.to_string()),
            attributes.join(", ")
        )?;
    }
    writeln!(out, "}}")
}

/// A DOT double-quoted string; line breaks become centred DOT line breaks.
fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::quoted;

    #[test]
    fn quotes_and_backslashes_are_escaped_in_dot_strings() {
        assert_eq!(quoted(r#"say "hi" \ bye"#), r#""say \"hi\" \\ bye""#);
        assert_eq!(quoted("two\nlines"), r#""two\nlines""#);
    }
}
