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

use rust_stemmers::{Algorithm, Stemmer};

/// Separates the fields in a document's stems: a token of its own (a
/// private-use character, which FTS5's `unicode61` keeps as a word and no
/// query can contain), so that a phrase cannot run from one field into the
/// next.
const FIELD_BREAK: &str = " \u{E010} ";

thread_local! {
    static ENGLISH: Stemmer = Stemmer::create(Algorithm::English);
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

/// The stems of a text's words (runs of letters and digits), in order.
fn stems_of(text: &str) -> String {
    crate::search::words(text).map(stem).collect::<Vec<_>>().join(" ")
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
    fn fields_are_kept_apart() {
        let stems = document_stems(Some("Fighters killed"), Some("coups"), None, None).unwrap();
        assert_eq!(stems, "fighter kill \u{E010} coup \u{E010} ");
    }
}
