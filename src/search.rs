//! The search syntax of `q`: what a user types, turned into items (words,
//! phrases, prefixes) that SQLite's FTS5 `MATCH` and PostgreSQL's
//! `to_tsquery` both accept.
//!
//! The syntax is deliberately small, so that nothing a user types can be
//! read as an operator by either engine:
//!
//! - words (runs of letters and digits) must all occur, in any order;
//! - `"fuel blockade"` is a phrase: those words, adjacent, in that order;
//! - a `*` right after a word (`jihad*`) matches every word starting so;
//! - words joined by punctuation (`al-Qaida`, `17.7`, `l'armée`) are a
//!   phrase of their parts, as both indexes split them that way;
//! - everything else (other punctuation, `-`, `^`, `:`, parentheses, emoji)
//!   separates words and is never syntax. `AND`, `OR`, `NOT` and `NEAR` are
//!   searched as ordinary words, except an upper-case `AND`, which is what
//!   separating words means anyway.
//!
//! Words also match their English inflections in claims that are stemmed
//! (see [`crate::stems`]): [`Item::stems`] gives SQLite's side the stems to
//! look for; PostgreSQL stems the query itself. A prefix matches words as
//! written.
//!
//! The translated expression quotes every word, so the engines never see
//! an operator that came from the user. For PostgreSQL the same items are
//! assembled into a `tsquery` in SQL (see `claims::listing`), so that each
//! word goes through the normalisation the documents went through.

/// Longest `q` accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 2000;
/// Most words a query may hold, phrases' words included.
pub const MAX_WORDS: usize = 64;
/// Longest word, in characters; no real word comes close.
pub const MAX_WORD_CHARS: usize = 100;
/// Shortest stem a prefix search accepts: shorter ones match most of the
/// vocabulary and cost as much as a scan.
pub const MIN_PREFIX_CHARS: usize = 2;

/// One thing the document must contain: a word, or a phrase of several.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// The words, in order; more than one makes a phrase.
    pub words: Vec<String>,
    /// The last word is a prefix (`jihad*`).
    pub prefix: bool,
}

/// A parsed search: every item must match (AND).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    pub items: Vec<Item>,
}

/// Why a query cannot be searched; the message completes "Query parameter `q`: …".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidQuery(pub String);

impl SearchQuery {
    /// Parses what the user typed. `Ok(None)` when there is nothing to
    /// search for because `q` is blank.
    pub fn parse(input: &str) -> Result<Option<SearchQuery>, InvalidQuery> {
        if input.chars().count() > MAX_QUERY_CHARS {
            return Err(InvalidQuery(format!("must be at most {MAX_QUERY_CHARS} characters")));
        }
        if input.trim().is_empty() {
            return Ok(None);
        }
        let mut items: Vec<Item> = Vec::new();
        let mut rest = input;
        while let Some(start) = rest.find(|c: char| !c.is_whitespace()) {
            rest = &rest[start..];
            if let Some(inner) = rest.strip_prefix('"') {
                // A phrase runs to the closing quote, or to the end when the
                // user forgot it.
                let (phrase, after) = match inner.find('"') {
                    Some(end) => (&inner[..end], &inner[end + 1..]),
                    None => (inner, ""),
                };
                let prefix = after.starts_with('*');
                push_item(&mut items, words_of(phrase), prefix);
                rest = after.trim_start_matches('*');
            } else {
                let end = rest.find(|c: char| c.is_whitespace() || c == '"').unwrap_or(rest.len());
                let chunk = &rest[..end];
                rest = &rest[end..];
                if chunk == "AND" {
                    continue;
                }
                let words = words_of(chunk);
                // `jihad*` but not `jihad-*` or a lone `*`.
                let prefix = chunk.ends_with('*') && chunk.trim_end_matches('*').ends_with(char::is_alphanumeric);
                push_item(&mut items, words, prefix);
            }
        }
        if items.is_empty() {
            return Err(InvalidQuery("has no words to search for (letters or digits)".to_string()));
        }
        let word_count: usize = items.iter().map(|i| i.words.len()).sum();
        if word_count > MAX_WORDS {
            return Err(InvalidQuery(format!("may hold at most {MAX_WORDS} words")));
        }
        if items.iter().flat_map(|i| &i.words).any(|w| w.chars().count() > MAX_WORD_CHARS) {
            return Err(InvalidQuery(format!("words are at most {MAX_WORD_CHARS} characters long")));
        }
        if let Some(short) = items
            .iter()
            .filter(|i| i.prefix)
            .filter_map(|i| i.words.last())
            .find(|w| w.chars().count() < MIN_PREFIX_CHARS)
        {
            return Err(InvalidQuery(format!(
                "a prefix search needs at least {MIN_PREFIX_CHARS} letters before `*` (got `{short}*`)"
            )));
        }
        Ok(Some(SearchQuery { items }))
    }

    /// The same search as a user types it into a name field: the last
    /// word also matches as the start of a word (`souf` finds "Soufan"),
    /// once it has [`MIN_PREFIX_CHARS`] letters.
    pub fn as_typed(mut self) -> SearchQuery {
        if let Some(last) = self.items.last_mut()
            && last.words.last().is_some_and(|w| w.chars().count() >= MIN_PREFIX_CHARS)
        {
            last.prefix = true;
        }
        self
    }
}

impl Item {
    /// The item as an FTS5 phrase: its words in double quotes (words hold
    /// only letters and digits, so no quote needs escaping), `*` after a
    /// prefix.
    pub fn fts5_phrase(&self) -> String {
        let mut out = format!("\"{}\"", self.words.join(" "));
        if self.prefix {
            out.push('*');
        }
        out
    }

    /// The English stems of the item's words (see [`crate::stems`]), when
    /// they find more than the words do: not for a prefix, nor when every
    /// word is its own stem.
    pub fn stems(&self) -> Option<Vec<String>> {
        if self.prefix {
            return None;
        }
        let stems: Vec<String> = self.words.iter().map(|w| crate::stems::stem(w)).collect();
        let same = stems.iter().zip(&self.words).all(|(stem, word)| *stem == word.to_lowercase());
        (!same).then_some(stems)
    }
}

/// The words of a piece of text: maximal runs of letters and digits.
pub fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty())
}

fn words_of(text: &str) -> Vec<String> {
    words(text).map(str::to_string).collect()
}

/// Adds an item unless it is empty or already there (case aside).
fn push_item(items: &mut Vec<Item>, words: Vec<String>, prefix: bool) {
    if words.is_empty() {
        return;
    }
    let item = Item { words, prefix };
    let same = |a: &Item| {
        a.prefix == item.prefix
            && a.words.len() == item.words.len()
            && a.words.iter().zip(&item.words).all(|(x, y)| x.to_lowercase() == y.to_lowercase())
    };
    if !items.iter().any(same) {
        items.push(item);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The items as FTS5 phrases, ANDed.
    fn fts(q: &str) -> String {
        let query = SearchQuery::parse(q).expect("valid").expect("not blank");
        query.items.iter().map(Item::fts5_phrase).collect::<Vec<_>>().join(" AND ")
    }

    #[test]
    fn plain_words_are_quoted_and_anded() {
        assert_eq!(fts("fuel blockade"), r#""fuel" AND "blockade""#);
    }

    #[test]
    fn quoted_words_are_a_phrase() {
        assert_eq!(fts(r#""fuel blockade" Mali"#), r#""fuel blockade" AND "Mali""#);
    }

    #[test]
    fn a_trailing_star_is_a_prefix() {
        assert_eq!(fts("jihad*"), r#""jihad"*"#);
        assert_eq!(fts(r#""fuel block"*"#), r#""fuel block"*"#);
    }

    #[test]
    fn words_joined_by_punctuation_are_a_phrase_of_their_parts() {
        assert_eq!(fts("al-Qaida"), r#""al Qaida""#);
        assert_eq!(fts("17.7%"), r#""17 7""#);
    }

    #[test]
    fn operators_and_stray_syntax_are_not_syntax() {
        assert_eq!(fts("fuel AND blockade"), r#""fuel" AND "blockade""#);
        assert_eq!(fts("fuel OR NOT NEAR(x)"), r#""fuel" AND "OR" AND "NOT" AND "NEAR x""#);
        assert_eq!(fts("-mali ^text: (a)"), r#""mali" AND "text" AND "a""#);
        assert_eq!(fts(r#"unclosed "fuel block"#), r#""unclosed" AND "fuel block""#);
        assert_eq!(fts(r#"a"b"c"#), r#""a" AND "b" AND "c""#);
        assert_eq!(fts("Mali 🙂 Bamako"), r#""Mali" AND "Bamako""#);
    }

    #[test]
    fn repeated_items_count_once() {
        assert_eq!(fts("Mali mali MALI"), r#""Mali""#);
    }

    #[test]
    fn stems_are_given_only_where_they_find_more() {
        let items = |q: &str| SearchQuery::parse(q).unwrap().unwrap().items;
        assert_eq!(items("coup")[0].stems(), None);
        assert_eq!(items("coups")[0].stems(), Some(vec!["coup".to_string()]));
        assert_eq!(items("\"fuel blockades\"")[0].stems(), Some(vec!["fuel".to_string(), "blockad".to_string()]));
        assert_eq!(items("coups*")[0].stems(), None);
    }

    #[test]
    fn as_typed_the_last_word_is_a_prefix() {
        let typed = |q: &str| SearchQuery::parse(q).unwrap().unwrap().as_typed().items;
        assert_eq!(typed("souf")[0].fts5_phrase(), r#""souf"*"#);
        let items = typed("human rights w");
        assert_eq!(items[1].fts5_phrase(), r#""rights""#);
        assert_eq!(items[2].fts5_phrase(), r#""w""#);
    }

    #[test]
    fn blank_queries_are_no_search_and_wordless_ones_are_invalid() {
        assert_eq!(SearchQuery::parse("   "), Ok(None));
        for q in ["***", "\"\"", "🙂🙂", "AND", "- ^ :", "\u{0}"] {
            assert!(SearchQuery::parse(q).is_err(), "{q:?}");
        }
    }

    #[test]
    fn limits_are_enforced() {
        assert!(SearchQuery::parse(&"a".repeat(2001)).is_err());
        assert!(SearchQuery::parse(&"a".repeat(101)).is_err());
        assert!(SearchQuery::parse(&"a".repeat(100)).is_ok());
        let many: Vec<String> = (0..65).map(|i| format!("w{i}")).collect();
        assert!(SearchQuery::parse(&many.join(" ")).is_err());
        assert!(SearchQuery::parse("a*").is_err());
        assert!(SearchQuery::parse("ab*").is_ok());
    }
}
