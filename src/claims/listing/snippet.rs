//! Search snippets as HTML. Both engines put private-use characters
//! around matches (U+E000 and U+E001: `char(57344)` and `char(57345)` in
//! SQLite's SQL), which cannot be confused with the text; the text is
//! escaped before the marks become `<mark>` tags.

const MARK_START: char = '\u{E000}';
const MARK_END: char = '\u{E001}';

/// Escapes a snippet for HTML and turns the engine's marks into `<mark>`.
pub fn marked_html(snippet: &str) -> String {
    let mut out = String::with_capacity(snippet.len() + 32);
    for c in snippet.chars() {
        match c {
            MARK_START => out.push_str("<mark>"),
            MARK_END => out.push_str("</mark>"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippets_are_escaped_and_marked() {
        let raw = format!("a <b> & {MARK_START}fuel{MARK_END} \"x\"");
        assert_eq!(marked_html(&raw), "a &lt;b&gt; &amp; <mark>fuel</mark> &quot;x&quot;");
    }
}
