//! The Google Fact Check Tools API's answer (`claims[].claimReview[]`),
//! read as the ClaimReviews it describes; problems are named at the API's
//! own paths (`$.claims[0].claimReview[1].textualRating`).

use serde_json::{Map, Value};

use super::{MAX_REVIEWS, Reader, key_path};

impl Reader {
    /// The Fact Check Tools API's answer: `claims[]`, each with its
    /// `claimReview[]`.
    pub(super) fn fact_check_api(&mut self, claims: Option<&Value>, path: &str) {
        let Some(Value::Array(claims)) = claims else {
            return self.fail(path, "must be an array of claims");
        };
        if claims.len() > MAX_REVIEWS {
            return self.fail(path, format!("holds {} claims; at most {MAX_REVIEWS} per request", claims.len()));
        }
        for (i, claim) in claims.iter().enumerate() {
            self.fact_check_api_claim(claim, &format!("{path}[{i}]"));
        }
    }

    pub(super) fn fact_check_api_claim(&mut self, claim: &Value, path: &str) {
        let Value::Object(claim) = claim else {
            return self.fail(path, "must be a claim object (text, claimant, claimDate, claimReview)");
        };
        let Some(text) = self.text(claim, path, "text") else {
            if claim.get("text").is_none_or(Value::is_null) {
                self.fail(&key_path(path, "text"), "is required: the claim's text");
            }
            return;
        };
        for key in ["claimant", "claimDate"] {
            if claim.contains_key(key) {
                self.note(
                    &key_path(path, key),
                    "not recorded: claimtrail keeps who said a claim, and when, on an attribution to a source, \
                     and the Fact Check Tools API names no source",
                );
            }
        }
        let reviews = match claim.get("claimReview") {
            Some(Value::Array(reviews)) if reviews.len() <= MAX_REVIEWS => reviews,
            Some(Value::Array(reviews)) => {
                let message = format!("holds {} reviews; at most {MAX_REVIEWS}", reviews.len());
                return self.fail(&key_path(path, "claimReview"), message);
            }
            _ => return self.fail(&key_path(path, "claimReview"), "is required: an array of reviews"),
        };
        for (j, review) in reviews.iter().enumerate() {
            let here = format!("{}[{j}]", key_path(path, "claimReview"));
            let Value::Object(review) = review else {
                self.fail(&here, "must be a review object (publisher, url, textualRating, reviewDate)");
                continue;
            };
            let document = self.fact_check_api_review(review, &here, &text);
            if let Some(document) = document {
                let (errors_before, items_before) = (self.errors.len(), self.items.len());
                self.claim_review(&document, &here);
                if self.items.len() > items_before
                    && let Some(item) = self.items.last_mut()
                {
                    item.reviewer.path = api_path(&item.reviewer.path, &here);
                    item.claim.path = path.to_string();
                }
                // Errors name the ClaimReview member; say the API's name.
                for error in &mut self.errors[errors_before..] {
                    error.field = api_path(&error.field, &here);
                }
            }
        }
    }

    /// A Fact Check Tools API review as the ClaimReview it describes.
    fn fact_check_api_review(
        &mut self,
        review: &Map<String, Value>,
        path: &str,
        text: &str,
    ) -> Option<Map<String, Value>> {
        let publisher = match review.get("publisher") {
            Some(Value::Object(p)) => p,
            _ => {
                self.fail(&key_path(path, "publisher"), "is required: an object with the fact-checker's name");
                return None;
            }
        };
        let site = self.text(publisher, &key_path(path, "publisher"), "site");
        let mut author = Map::new();
        author.insert("@type".to_string(), Value::from("Organization"));
        if let Some(name) = publisher.get("name").or_else(|| publisher.get("site")) {
            author.insert("name".to_string(), name.clone());
        }
        if let Some(site) = site {
            author.insert("url".to_string(), Value::from(format!("https://{site}")));
        }
        let mut rating = Map::new();
        if let Some(label) = review.get("textualRating") {
            rating.insert("alternateName".to_string(), label.clone());
        }
        let mut document = Map::new();
        document.insert("@type".to_string(), Value::from("ClaimReview"));
        document.insert("claimReviewed".to_string(), Value::from(text));
        document.insert("author".to_string(), Value::Object(author));
        document.insert("reviewRating".to_string(), Value::Object(rating));
        for (from, to) in
            [("url", "url"), ("reviewDate", "datePublished"), ("languageCode", "inLanguage"), ("title", "reviewBody")]
        {
            if let Some(value) = review.get(from) {
                document.insert(to.to_string(), value.clone());
            }
        }
        Some(document)
    }
}

/// A ClaimReview member's path, as the Fact Check Tools API names it.
fn api_path(path: &str, review: &str) -> String {
    let Some(rest) = path.strip_prefix(review) else { return path.to_string() };
    let renamed = [
        (".claimReviewed", "text"),
        (".author.name", ".publisher.name"),
        (".author.url", ".publisher.site"),
        (".author", ".publisher"),
        (".reviewRating.alternateName", ".textualRating"),
        (".reviewRating", ".textualRating"),
        (".datePublished", ".reviewDate"),
        (".inLanguage", ".languageCode"),
        (".reviewBody", ".title"),
    ];
    for (from, to) in renamed {
        if let Some(tail) = rest.strip_prefix(from) {
            // The claim's text is a member of the claim, not of the review.
            if to == "text" {
                let claim = review.rsplit_once(".claimReview").map_or(review, |(claim, _)| claim);
                return format!("{claim}.text{tail}");
            }
            return format!("{review}{to}{tail}");
        }
    }
    path.to_string()
}
