//! Quote verification: does an attribution's quote occur in its source's
//! archived text? Follows the W3C Web Annotation TextQuoteSelector: `exact`
//! must occur with `prefix` right before it and `suffix` right after it.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::validate::text_enum;

text_enum! {
    /// Whether the quote was found in the source's `content`.
    QuoteStatus {
        /// `exact` (with its prefix and suffix) occurs in the content.
        Verified = "verified",
        /// The source has content and the quote is not in it.
        NotFound = "not_found",
        /// The source has no content to check against.
        Unchecked = "unchecked",
    }
}

/// A W3C Web Annotation TextQuoteSelector: the words in the source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"exact": "the total since 2012 has exceeded 17,700", "prefix": "risen sharply; ", "suffix": null}))]
pub struct Quote {
    /// The quoted words, verbatim. 1 to 5000 characters.
    #[schema(min_length = 1, max_length = 5000)]
    pub exact: String,
    /// Text right before `exact`, to tell repeated passages apart.
    #[serde(default)]
    #[schema(required = true, min_length = 1, max_length = 500)]
    pub prefix: Option<String>,
    /// Text right after `exact`.
    #[serde(default)]
    #[schema(required = true, min_length = 1, max_length = 500)]
    pub suffix: Option<String>,
}

/// A quote as sent to create an attribution: `prefix` and `suffix` may be
/// left out.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"exact": "the total since 2012 has exceeded 17,700", "prefix": "risen sharply; "}))]
pub struct NewQuote {
    /// The quoted words, verbatim. 1 to 5000 characters.
    #[schema(min_length = 1, max_length = 5000)]
    pub exact: String,
    /// Text right before `exact`, to tell repeated passages apart.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 500)]
    pub prefix: Option<String>,
    /// Text right after `exact`.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 500)]
    pub suffix: Option<String>,
}

/// A merge patch of an attribution's quote: each member present replaces
/// the stored one, `null` removes `prefix` or `suffix`. Merged into an
/// attribution without a quote, the result must have `exact`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"suffix": ", with more than two-thirds"}))]
pub struct QuotePatch {
    #[schema(nullable = false, min_length = 1, max_length = 5000)]
    pub exact: Option<String>,
    #[schema(min_length = 1, max_length = 500)]
    pub prefix: Option<String>,
    #[schema(min_length = 1, max_length = 500)]
    pub suffix: Option<String>,
}

/// The outcome of checking a quote: status and, when verified, the
/// character offsets `[start, end)` of `exact` in the content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verification {
    pub status: QuoteStatus,
    pub start: Option<i32>,
    pub end: Option<i32>,
}

/// Finds `quote` in `content`. Offsets count Unicode scalar values, as
/// JavaScript's `Array.from(text)` and Python's `str` do.
pub fn verify_quote(quote: &Quote, content: Option<&str>) -> Verification {
    let Some(content) = content else {
        return Verification { status: QuoteStatus::Unchecked, start: None, end: None };
    };
    let prefix = quote.prefix.as_deref().unwrap_or("");
    let suffix = quote.suffix.as_deref().unwrap_or("");
    // The selector matches exactly where prefix, exact and suffix occur in a
    // row, so one search for them together finds it, in linear time, even
    // where occurrences of `exact` overlap (which `match_indices` skips).
    let selector = format!("{prefix}{}{suffix}", quote.exact);
    match content.find(&selector).map(|at| at + prefix.len()) {
        Some(byte_start) => {
            let start = content[..byte_start].chars().count();
            let end = start + quote.exact.chars().count();
            Verification {
                status: QuoteStatus::Verified,
                start: i32::try_from(start).ok(),
                end: i32::try_from(end).ok(),
            }
        }
        None => Verification { status: QuoteStatus::NotFound, start: None, end: None },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quote(exact: &str, prefix: Option<&str>, suffix: Option<&str>) -> Quote {
        Quote { exact: exact.into(), prefix: prefix.map(Into::into), suffix: suffix.map(Into::into) }
    }

    #[test]
    fn a_quote_in_the_content_is_verified_with_character_offsets() {
        let v = verify_quote(&quote("Bamako’s", None, None), Some("é “Bamako’s [the capital]"));
        assert_eq!(v, Verification { status: QuoteStatus::Verified, start: Some(3), end: Some(11) });
    }

    #[test]
    fn prefix_and_suffix_choose_between_repeated_passages() {
        let content = "one coup. two coup. three coup.";
        let v = verify_quote(&quote("coup", Some("two "), Some(".")), Some(content));
        assert_eq!((v.start, v.end), (Some(14), Some(18)));
        let v = verify_quote(&quote("coup", Some("four "), None), Some(content));
        assert_eq!(v.status, QuoteStatus::NotFound);
    }

    #[test]
    fn a_quote_is_found_where_its_occurrences_overlap() {
        let v = verify_quote(&quote("coup, coup", Some("coup, "), None), Some("coup, coup, coup"));
        assert_eq!((v.status, v.start, v.end), (QuoteStatus::Verified, Some(6), Some(16)));
    }

    #[test]
    fn a_source_without_content_leaves_the_quote_unchecked() {
        assert_eq!(verify_quote(&quote("x", None, None), None).status, QuoteStatus::Unchecked);
    }
}
