//! English stems, so that a search for `coup` finds "coups" and `kill`
//! finds "killed".
//!
//! Both backends stem with Snowball's English stemmer (Porter2):
//! PostgreSQL's `english` snowball dictionary in its search documents, and
//! this module, the same algorithm, on SQLite, where the server registers
//! [`document_stems`] as the SQL function `claimtrail_stems` that the
//! search index's triggers call (see the `findability` migrations). A
//! query word is stemmed here for SQLite and by PostgreSQL for PostgreSQL.
//!
//! Only claims in English, or of no stated language, are stemmed: for the
//! others neither engine has a stemmer the other shares, so they are found
//! by their words as written (and by prefixes), as before.

use std::cell::RefCell;
use std::collections::HashMap;

use rust_stemmers::{Algorithm, Stemmer};

/// Separates the fields in a document's stems: a token of its own
/// ([`FIELD_BREAK_TERM`]), so that a phrase cannot run from one field into
/// the next.
const FIELD_BREAK: &str = " \u{E010} ";

/// The term between the fields of a document's stems: a private-use
/// character, which FTS5's `unicode61` keeps as a word and no query can
/// contain. Every stemmed claim of two fields or more holds it, so it has
/// one of the largest posting lists, which no search reads.
pub const FIELD_BREAK_TERM: &str = "\u{E010}";

/// Words whose stems a thread keeps ([`stem_into`]): a text's words are
/// mostly common ones, and looking one up costs a fraction of stemming it.
/// The map is emptied when full. Only words of at most [`KEPT_WORD_BYTES`]
/// are kept, so a thread's map stays under half a MiB whatever it stems;
/// the threads that write hold one each, and a thread's goes with it.
const KEPT_STEMS: usize = 4096;

/// The longest word whose stem is kept, in bytes.
const KEPT_WORD_BYTES: usize = 32;

thread_local! {
    static ENGLISH: Stemmer = Stemmer::create(Algorithm::English);
    static KEPT: RefCell<HashMap<String, String>> = RefCell::new(HashMap::with_capacity(KEPT_STEMS));
}

/// Whether a claim in this language (a BCP 47 tag, or none) is stemmed.
pub fn is_stemmed(language: Option<&str>) -> bool {
    match language {
        None => true,
        Some(tag) => {
            let tag = tag.to_ascii_lowercase();
            tag == "en" || tag.starts_with("en-")
        }
    }
}

/// The English stem of one word, lower-cased.
pub fn stem(word: &str) -> String {
    let lower = word.to_lowercase();
    ENGLISH.with(|stemmer| stemmer.stem(&lower).into_owned())
}

/// Appends a word's stem, as [`stem`] gives it, from the thread's kept
/// stems when it has it.
fn stem_into(word: &str, out: &mut String) {
    if word.len() > KEPT_WORD_BYTES {
        out.push_str(&stem(word));
        return;
    }
    KEPT.with_borrow_mut(|kept| {
        if let Some(stemmed) = kept.get(word) {
            out.push_str(stemmed);
            return;
        }
        let stemmed = stem(word);
        out.push_str(&stemmed);
        if kept.len() >= KEPT_STEMS {
            kept.clear();
        }
        kept.insert(word.to_owned(), stemmed);
    });
}

/// The stems of a text's words (runs of letters and digits), in order.
fn stems_of(text: &str) -> String {
    let mut stems = String::with_capacity(text.len());
    for (i, word) in crate::search::words(text).enumerate() {
        if i > 0 {
            stems.push(' ');
        }
        stem_into(word, &mut stems);
    }
    stems
}

/// What the search index holds as a claim's stems: those of its text,
/// subject and quotes, fields apart; `None` for a claim that is not
/// stemmed (see [`is_stemmed`]).
pub fn document_stems(
    text: Option<&str>,
    subject: Option<&str>,
    quotes: Option<&str>,
    language: Option<&str>,
) -> Option<String> {
    if !is_stemmed(language) {
        return None;
    }
    let fields = [text, subject, quotes].map(|field| stems_of(field.unwrap_or("")));
    Some(fields.join(FIELD_BREAK))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_field_break_is_its_term_between_spaces() {
        assert_eq!(FIELD_BREAK, format!(" {FIELD_BREAK_TERM} "));
    }

    #[test]
    fn inflections_share_a_stem() {
        assert_eq!(stem("coups"), stem("coup"));
        assert_eq!(stem("killed"), stem("kill"));
        assert_eq!(stem("Killing"), "kill");
        assert_eq!(stem("security"), stem("securities"));
    }

    #[test]
    fn only_english_or_unstated_languages_are_stemmed() {
        assert!(is_stemmed(None) && is_stemmed(Some("en")) && is_stemmed(Some("EN-gb")));
        assert!(!is_stemmed(Some("fr")) && !is_stemmed(Some("eng-x")));
        assert_eq!(document_stems(Some("Coups failed."), None, None, Some("fr")), None);
    }

    #[test]
    fn a_kept_stem_is_the_stem() {
        let text = "Killing coups KILLED Sécurité securities 2012";
        let first = stems_of(text);
        let expected: Vec<String> = crate::search::words(text).map(stem).collect();
        assert_eq!(first, expected.join(" "));
        assert_eq!(stems_of(text), first, "the second time from the kept stems");
        // More words than are kept: the map is emptied, the stems the same.
        let many: String = (0..KEPT_STEMS + 10).map(|i| format!("walking{i} ")).collect();
        let stems = stems_of(&many);
        assert_eq!(stems.split(' ').count(), KEPT_STEMS + 10);
        assert!(KEPT.with_borrow(|kept| kept.len() <= KEPT_STEMS));
        assert_eq!(stems_of(text), first);
        // A long word is stemmed, not kept.
        let long = "internationalisations".repeat(3);
        assert_eq!(stems_of(&long), stem(&long));
        assert!(KEPT.with_borrow(|kept| !kept.contains_key(long.as_str())));
    }

    #[test]
    fn fields_are_kept_apart() {
        let stems = document_stems(Some("Fighters killed"), Some("coups"), None, None).unwrap();
        assert_eq!(stems, "fighter kill \u{E010} coup \u{E010} ");
    }
}
