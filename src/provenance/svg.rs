//! The provenance graph drawn as an SVG picture, in-process: `layout-rs` (a
//! layered, Graphviz-style layout in pure Rust) places the figures and routes
//! the arrows; the render backend here paints them, so that the labels,
//! colours, legend and XML escaping are ours.

use std::collections::BTreeSet;
use std::fmt::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};

use layout::core::base::Orientation;
use layout::core::color::Color;
use layout::core::format::{ClipHandle, RenderBackend};
use layout::core::geometry::Point;
use layout::core::style::{LineStyleKind, StyleAttr};
use layout::std_shapes::shapes::{Arrow, Element, LineEndKind, ShapeKind};
use layout::topo::layout::VisualGraph;

use super::drawing::{Drawing, Figure, Link, Mark, Paint, Shape, Tone};
use super::model::{EdgeType, Provenance};
use crate::error::ApiError;

const FONT: &str = "Helvetica, Arial, 'DejaVu Sans', sans-serif";
const FONT_SIZE: f64 = 12.0;
const LINE_HEIGHT: f64 = 15.0;
/// Average advance of a character at [`FONT_SIZE`], generous enough for
/// DejaVu Sans, the widest of the fonts above.
const CHAR_WIDTH: f64 = 7.0;
const BOLD_CHAR_WIDTH: f64 = 7.6;
const BADGE_FONT_SIZE: f64 = 9.5;
const BADGE_CHAR_WIDTH: f64 = 7.0;
const BADGE_LINE_HEIGHT: f64 = 13.0;
const PAD_X: f64 = 12.0;
const PAD_Y: f64 = 8.0;
const EDGE_FONT_SIZE: f64 = 10.5;
/// layout-rs reserves `font_size` pixels per character of an edge label;
/// this size makes it reserve about what [`EDGE_FONT_SIZE`] text takes.
const EDGE_LAYOUT_FONT_SIZE: usize = 7;
const MARGIN: f64 = 24.0;
/// The most figures side by side in a top-to-bottom picture.
const WIDEST_TOP_TO_BOTTOM: usize = 8;
const HEADER_HEIGHT: f64 = 64.0;

/// The most nodes a picture is drawn with. layout-rs's crossing
/// minimisation grows steeply with the graph (about 80 ms for 50 nodes,
/// 0.4 s for 100, 6 s for 200 on one core), and without it large pictures
/// are a tangle; such graphs are better read as DOT or JSON.
pub const MAX_NODES: usize = 80;

/// The SVG picture of the graph; a 422 for graphs of more than
/// [`MAX_NODES`] nodes.
pub fn render(graph: &Provenance) -> Result<String, ApiError> {
    if graph.nodes.len() > MAX_NODES {
        return Err(ApiError::invalid_field(
            "format",
            format!(
                "the graph has {} nodes and pictures are drawn for at most {MAX_NODES}: \
                 ask for dot or json, or a lower max_depth",
                graph.nodes.len()
            ),
        ));
    }
    let drawing = Drawing::of(graph);
    // A wide fan (many outlets repeating one report) reads better as
    // columns running left to right than as one very long row.
    let orientation =
        if drawing.widest_rank() > WIDEST_TOP_TO_BOTTOM { Orientation::LeftToRight } else { Orientation::TopToBottom };
    let mut canvas = Canvas::new(&drawing, orientation);
    let mut visual = VisualGraph::new(orientation);
    let figure_orientation = match orientation {
        Orientation::TopToBottom => Orientation::LeftToRight,
        Orientation::LeftToRight => Orientation::TopToBottom,
    };
    let handles: Vec<_> = drawing
        .figures
        .iter()
        .enumerate()
        .map(|(i, figure)| {
            let shape = match figure.shape {
                Shape::Speaker => ShapeKind::Circle(String::new()),
                Shape::Claim | Shape::Source => ShapeKind::Box(String::new()),
            };
            let look = StyleAttr::new(Color::fast("black"), 1, None, 0, FONT_SIZE as usize);
            let size = figure_size(figure);
            // The figure's index rides along as the element's properties, so
            // the backend knows what it is painting.
            visual.add_node(Element::create_with_properties(
                shape,
                look,
                figure_orientation,
                Point::new(size.0, size.1),
                i.to_string(),
            ))
        })
        .collect();
    for (i, link) in drawing.links.iter().enumerate() {
        let (colour, dashed) = link.paint();
        let look = StyleAttr::new(Color::fast(colour), 2, None, 0, EDGE_LAYOUT_FONT_SIZE);
        let start = if link.both_ways { LineEndKind::Arrow } else { LineEndKind::None };
        let style = if dashed { LineStyleKind::Dashed } else { LineStyleKind::Normal };
        let mut arrow = Arrow::new(start, LineEndKind::Arrow, style, &link.label, &look, &None, &None);
        arrow.properties = Some(i.to_string());
        visual.add_edge(arrow, handles[link.from], handles[link.to]);
    }
    // layout-rs asserts its invariants; a graph it cannot lay out must be a
    // 500 for this request, not a dead worker thread.
    catch_unwind(AssertUnwindSafe(|| visual.do_it(false, false, false, &mut canvas)))
        .map_err(|_| ApiError::internal("laying out the provenance graph failed"))?;
    Ok(canvas.finish())
}

/// Width and height of a figure, from its text.
fn figure_size(figure: &Figure) -> (f64, f64) {
    let chars = |s: &str| s.chars().count() as f64;
    let width = figure
        .heading
        .iter()
        .map(|h| chars(h) * BOLD_CHAR_WIDTH)
        .chain(figure.lines.iter().map(|l| chars(l) * CHAR_WIDTH))
        .chain(figure.badges.iter().map(|b| chars(b) * BADGE_CHAR_WIDTH))
        .fold(90.0, f64::max)
        + 2.0 * PAD_X;
    let height = 2.0 * PAD_Y
        + LINE_HEIGHT * (figure.heading.len() + figure.lines.len()) as f64
        + BADGE_LINE_HEIGHT * figure.badges.len() as f64;
    match figure.shape {
        // Text inside an ellipse needs room at the sides and corners.
        Shape::Speaker => (width * 1.3, height + 16.0),
        Shape::Claim | Shape::Source => (width, height),
    }
}

/// Escapes text for XML, dropping the control characters XML 1.0 forbids.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(' '),
            c if c.is_control() || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Numbers for SVG attributes: two decimals at most.
fn num(value: f64) -> String {
    let rounded = (value * 100.0).round() / 100.0;
    if rounded == rounded.trunc() { format!("{rounded:.0}") } else { format!("{rounded}") }
}

/// The render backend: collects arrows, figures and edge labels apart, so
/// that arrows go under the figures and labels on top of everything.
struct Canvas<'a> {
    drawing: &'a Drawing,
    orientation: Orientation,
    arrows: String,
    figures: String,
    labels: String,
    colours: BTreeSet<&'static str>,
    min: Point,
    max: Point,
}

impl<'a> Canvas<'a> {
    fn new(drawing: &'a Drawing, orientation: Orientation) -> Canvas<'a> {
        Canvas {
            drawing,
            orientation,
            arrows: String::new(),
            figures: String::new(),
            labels: String::new(),
            colours: BTreeSet::new(),
            min: Point::new(f64::MAX, f64::MAX),
            max: Point::new(f64::MIN, f64::MIN),
        }
    }

    fn grow(&mut self, at: Point) {
        self.min = Point::new(self.min.x.min(at.x), self.min.y.min(at.y));
        self.max = Point::new(self.max.x.max(at.x), self.max.y.max(at.y));
    }

    fn figure(&self, properties: &Option<String>) -> Option<&'a Figure> {
        properties.as_deref()?.parse::<usize>().ok().and_then(|i| self.drawing.figures.get(i))
    }

    fn link(&self, properties: &Option<String>) -> Option<&'a Link> {
        properties.as_deref()?.parse::<usize>().ok().and_then(|i| self.drawing.links.get(i))
    }

    /// A figure's group: its outline (`outline` is the SVG element) and its
    /// text, centred on `centre`, with a tooltip.
    fn paint_figure(&mut self, figure: &Figure, outline: String, centre: Point) {
        let paint = figure.paint();
        let mut tooltip = figure.heading.clone();
        tooltip.extend(figure.lines.iter().cloned());
        let class = match figure.shape {
            Shape::Claim => "claim",
            Shape::Source => "source",
            Shape::Speaker => "speaker",
        };
        let out = &mut self.figures;
        let _ = write!(
            out,
            "<g class=\"node {class}\" data-id=\"{}\"><title>{}</title>{outline}",
            figure.id,
            esc(&tooltip.join(" — "))
        );
        let text_height = LINE_HEIGHT * (figure.heading.len() + figure.lines.len()) as f64
            + BADGE_LINE_HEIGHT * figure.badges.len() as f64;
        // Baselines: the first sits one line below the top of the text block.
        let mut y = centre.y - text_height / 2.0 - 3.5;
        for line in &figure.heading {
            y += LINE_HEIGHT;
            let _ = write!(
                out,
                "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"{FONT_SIZE}\" font-weight=\"bold\" fill=\"#111827\">{}</text>",
                num(centre.x),
                num(y),
                esc(line)
            );
        }
        for line in &figure.lines {
            y += LINE_HEIGHT;
            let _ = write!(
                out,
                "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"{FONT_SIZE}\" fill=\"#1f2937\">{}</text>",
                num(centre.x),
                num(y),
                esc(line)
            );
        }
        for badge in &figure.badges {
            y += BADGE_LINE_HEIGHT;
            let _ = write!(
                out,
                "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"{BADGE_FONT_SIZE}\" font-weight=\"bold\" letter-spacing=\"0.5\" fill=\"{}\">{}</text>",
                num(centre.x),
                num(y),
                paint.stroke,
                esc(badge)
            );
        }
        out.push_str("</g>\n");
    }

    /// The finished document: header, graph and legend.
    fn finish(self) -> String {
        let graph_width = if self.max.x >= self.min.x { self.max.x - self.min.x } else { 0.0 };
        let graph_height = if self.max.y >= self.min.y { self.max.y - self.min.y } else { 0.0 };
        let header_width = self.drawing.summary.chars().count() as f64 * 6.6;
        let content_width = graph_width.max(header_width).max(LEGEND_MIN_WIDTH);
        let width = content_width + 2.0 * MARGIN;
        let (legend, legend_height) = legend(content_width);
        let graph_top = HEADER_HEIGHT;
        let legend_top = graph_top + graph_height + 28.0;
        let height = legend_top + legend_height + MARGIN;
        // Centre the graph under the header when the header or legend is wider.
        let dx = MARGIN + (content_width - graph_width) / 2.0 - self.min.x;
        let dy = graph_top - self.min.y;

        let mut out = String::new();
        let _ = writeln!(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
        let _ = writeln!(
            out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"{FONT}\">",
            w = num(width),
            h = num(height)
        );
        let claim = self.drawing.figures.first().map(|f| f.lines.join(" ")).unwrap_or_default();
        let _ = writeln!(out, "<title>{}: {}</title>", esc(&self.drawing.title), esc(&claim));
        out.push_str("<defs>\n");
        for colour in &self.colours {
            let id = &colour[1..];
            let _ = writeln!(
                out,
                "<marker id=\"head-{id}\" markerWidth=\"10\" markerHeight=\"8\" refX=\"9\" refY=\"4\" orient=\"auto\" markerUnits=\"userSpaceOnUse\"><path d=\"M0,0 L10,4 L0,8 z\" fill=\"{colour}\"/></marker>"
            );
            let _ = writeln!(
                out,
                "<marker id=\"tail-{id}\" markerWidth=\"10\" markerHeight=\"8\" refX=\"1\" refY=\"4\" orient=\"auto\" markerUnits=\"userSpaceOnUse\"><path d=\"M10,0 L0,4 L10,8 z\" fill=\"{colour}\"/></marker>"
            );
        }
        out.push_str("</defs>\n<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n");
        let _ = writeln!(
            out,
            "<g class=\"header\"><text x=\"{m}\" y=\"30\" font-size=\"17\" font-weight=\"bold\" fill=\"#111827\">{}</text><text x=\"{m}\" y=\"50\" font-size=\"12\" fill=\"#374151\">{}</text></g>",
            esc(&self.drawing.title),
            esc(&self.drawing.summary),
            m = num(MARGIN)
        );
        let _ = writeln!(out, "<g class=\"graph\" transform=\"translate({} {})\">", num(dx), num(dy));
        out.push_str(&self.arrows);
        out.push_str(&self.figures);
        out.push_str(&self.labels);
        out.push_str("</g>\n");
        let _ = writeln!(out, "<g class=\"legend\" transform=\"translate({} {})\">", num(MARGIN), num(legend_top));
        out.push_str(&legend);
        out.push_str("</g>\n</svg>\n");
        out
    }
}

impl RenderBackend for Canvas<'_> {
    fn draw_rect(&mut self, xy: Point, size: Point, _: &StyleAttr, properties: Option<String>, _: Option<ClipHandle>) {
        let Some(figure) = self.figure(&properties) else { return };
        self.grow(xy);
        self.grow(xy.add(size));
        let paint = figure.paint();
        let radius = if figure.shape == Shape::Source { 8.0 } else { 3.0 };
        let outline = format!(
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"{radius}\" {}/>",
            num(xy.x),
            num(xy.y),
            num(size.x),
            num(size.y),
            outline_style(&paint)
        );
        let centre = Point::new(xy.x + size.x / 2.0, xy.y + size.y / 2.0);
        self.paint_figure(figure, outline, centre);
    }

    fn draw_circle(&mut self, centre: Point, size: Point, _: &StyleAttr, properties: Option<String>) {
        let Some(figure) = self.figure(&properties) else { return };
        self.grow(Point::new(centre.x - size.x / 2.0, centre.y - size.y / 2.0));
        self.grow(Point::new(centre.x + size.x / 2.0, centre.y + size.y / 2.0));
        let paint = figure.paint();
        let outline = format!(
            "<ellipse cx=\"{}\" cy=\"{}\" rx=\"{}\" ry=\"{}\" {}/>",
            num(centre.x),
            num(centre.y),
            num(size.x / 2.0),
            num(size.y / 2.0),
            outline_style(&paint)
        );
        self.paint_figure(figure, outline, centre);
    }

    fn draw_text(&mut self, _: Point, _: &str, _: &StyleAttr) {
        // Figures are painted with their own text, and arrows with their
        // labels (see `draw_arrow`), so there is nothing left to write here.
    }

    fn draw_arrow(
        &mut self,
        path: &[(Point, Point)],
        dashed: bool,
        head: (bool, bool),
        _: &StyleAttr,
        properties: Option<String>,
        _: &str,
    ) {
        let Some(link) = self.link(&properties) else { return };
        let ([first, second], rest) = match path {
            [first, second, rest @ ..] => ([first, second], rest),
            _ => return,
        };
        for (a, b) in path {
            self.grow(*a);
            self.grow(*b);
        }
        let mut d = format!(
            "M {} {} C {} {}, {} {}, {} {}",
            num(first.0.x),
            num(first.0.y),
            num(first.1.x),
            num(first.1.y),
            num(second.0.x),
            num(second.0.y),
            num(second.1.x),
            num(second.1.y)
        );
        for (control, point) in rest {
            let _ = write!(d, " S {} {}, {} {}", num(control.x), num(control.y), num(point.x), num(point.y));
        }
        let (colour, _) = link.paint();
        self.colours.insert(colour);
        let id = &colour[1..];
        let mut attributes = format!("stroke=\"{colour}\" stroke-width=\"{}\" fill=\"none\"", arrow_width(link));
        if dashed {
            attributes.push_str(" stroke-dasharray=\"6 4\"");
        }
        if head.0 {
            let _ = write!(attributes, " marker-start=\"url(#tail-{id})\"");
        }
        if head.1 {
            let _ = write!(attributes, " marker-end=\"url(#head-{id})\"");
        }
        let _ = writeln!(self.arrows, "<path class=\"edge {}\" d=\"{d}\" {attributes}/>", link.edge_type.as_str());
        // layout-rs routes a labelled arrow through a box it reserves for the
        // label, the second point of the path: beside it (top to bottom) or
        // above it (left to right) is where the label goes.
        if let (false, Some((_, at))) = (link.label.is_empty(), rest.first().and(path.get(1))) {
            let (x, y, anchor) = match self.orientation {
                Orientation::TopToBottom => (at.x - 6.0, at.y, "end"),
                Orientation::LeftToRight => (at.x, at.y - 8.0, "middle"),
            };
            let width = link.label.chars().count() as f64 * EDGE_FONT_SIZE * 0.6;
            let left = if anchor == "end" { x - width } else { x - width / 2.0 };
            self.grow(Point::new(left, y - EDGE_FONT_SIZE));
            self.grow(Point::new(left + width, y + EDGE_FONT_SIZE));
            let _ = writeln!(
                self.labels,
                "<text class=\"edge-label\" x=\"{}\" y=\"{}\" text-anchor=\"{anchor}\" dominant-baseline=\"middle\" font-size=\"{EDGE_FONT_SIZE}\" fill=\"{colour}\" stroke=\"#ffffff\" stroke-width=\"4\" stroke-linejoin=\"round\" paint-order=\"stroke\">{}</text>",
                num(x),
                num(y),
                esc(&link.label)
            );
        }
    }

    fn draw_line(&mut self, _: Point, _: Point, _: &StyleAttr, _: Option<String>) {}

    fn create_clip(&mut self, _: Point, _: Point, _: usize) -> ClipHandle {
        0
    }
}

fn arrow_width(link: &Link) -> f64 {
    match (link.tone, link.edge_type) {
        (Tone::Affirms, EdgeType::States) => 1.5,
        _ => 2.0,
    }
}

fn outline_style(paint: &Paint) -> String {
    let dash = if paint.dashed { " stroke-dasharray=\"7 4\"" } else { "" };
    format!("fill=\"{}\" stroke=\"{}\" stroke-width=\"{}\"{dash}", paint.fill, paint.stroke, num(paint.stroke_width))
}

const LEGEND_MIN_WIDTH: f64 = 560.0;

/// The legend, laid out in rows as wide as `width`; returns it and its height.
fn legend(width: f64) -> (String, f64) {
    let figure = |shape: Shape, mark: Mark| {
        let style = outline_style(&Paint::of(shape, mark));
        match shape {
            Shape::Speaker => format!("<ellipse cx=\"15\" cy=\"0\" rx=\"15\" ry=\"9\" {style}/>"),
            Shape::Claim | Shape::Source => {
                format!("<rect x=\"0\" y=\"-9\" width=\"30\" height=\"18\" rx=\"4\" {style}/>")
            }
        }
    };
    let arrow = |tone: Tone, edge_type: EdgeType| {
        let (colour, dashed) = Paint::of_link(tone, edge_type);
        let dash = if dashed { " stroke-dasharray=\"6 4\"" } else { "" };
        format!("<line x1=\"0\" y1=\"0\" x2=\"30\" y2=\"0\" stroke=\"{colour}\" stroke-width=\"2\"{dash}/>")
    };
    let items: Vec<(String, &str)> = vec![
        (figure(Shape::Claim, Mark::Plain), "The claim"),
        (figure(Shape::Source, Mark::Plain), "A source relaying the claim"),
        (figure(Shape::Source, Mark::Origin), "Origin: a supporting trail ends here"),
        (figure(Shape::Source, Mark::Cold), "Cold trail: cited, nothing on record"),
        (figure(Shape::Source, Mark::NotFollowed), "Not followed further (max_depth)"),
        (figure(Shape::Source, Mark::Denies), "Denies the claim"),
        (figure(Shape::Speaker, Mark::Plain), "A speaker (person or organisation)"),
        (arrow(Tone::Affirms, EdgeType::States), "stated by: where a reader meets it"),
        (arrow(Tone::Affirms, EdgeType::Cites), "cites: took it from that source"),
        (arrow(Tone::Affirms, EdgeType::Says), "quotes, paraphrases: its speaker"),
        (arrow(Tone::Denies, EdgeType::States), "a step that denies the claim"),
        (arrow(Tone::Questions, EdgeType::States), "a step that questions the claim"),
    ];
    let column_width = 280.0;
    let columns = ((width / column_width).floor() as usize).max(1);
    let row_height = 24.0;
    let mut out = format!(
        "<text x=\"0\" y=\"0\" font-size=\"12\" font-weight=\"bold\" fill=\"#111827\">Legend</text>\n<line x1=\"0\" y1=\"8\" x2=\"{}\" y2=\"8\" stroke=\"#e5e7eb\"/>\n",
        num(width)
    );
    for (i, (symbol, text)) in items.iter().enumerate() {
        let x = (i % columns) as f64 * column_width;
        let y = 28.0 + (i / columns) as f64 * row_height;
        let _ = writeln!(
            out,
            "<g transform=\"translate({} {})\">{symbol}<text x=\"40\" y=\"4\" font-size=\"11\" fill=\"#374151\">{}</text></g>",
            num(x),
            num(y),
            esc(text)
        );
    }
    let rows = items.len().div_ceil(columns);
    (out, 28.0 + rows as f64 * row_height)
}
