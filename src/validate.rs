//! Field rules shared by every resource. A [`Check`] collects every broken
//! rule of a request so that one 422 names all offending fields.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use utoipa::ToSchema;

use crate::error::FieldError;

/// Accumulates field errors.
#[derive(Default)]
pub struct Check {
    errors: Vec<FieldError>,
}

impl Check {
    pub fn new() -> Check {
        Check::default()
    }

    pub fn fail(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, message));
    }

    /// A required string: `min..=max` characters, not blank, no NUL.
    pub fn text(&mut self, field: &str, value: &str, min: usize, max: usize) {
        let chars = value.chars().count();
        if chars < min || chars > max {
            self.fail(field, format!("must be {min} to {max} characters"));
        } else if min > 0 && value.trim().is_empty() {
            self.fail(field, "must not be blank");
        } else if value.contains('\0') {
            self.fail(field, "must not contain NUL characters");
        }
    }

    /// An optional string: when present, 1..=max characters.
    pub fn opt_text(&mut self, field: &str, value: Option<&str>, max: usize) {
        if let Some(value) = value {
            self.text(field, value, 1, max);
        }
    }

    /// An optional absolute `http`/`https` URL.
    pub fn url(&mut self, field: &str, value: Option<&str>) {
        let Some(value) = value else { return };
        let lower = value.to_ascii_lowercase();
        let rest = lower.strip_prefix("https://").or_else(|| lower.strip_prefix("http://"));
        let host_ok = rest.is_some_and(|r| !r.is_empty() && !r.starts_with('/'));
        if !host_ok || value.chars().any(|c| c.is_whitespace() || c.is_control()) || value.len() > 2048 {
            self.fail(field, "must be an absolute http or https URL of at most 2048 characters");
        }
    }

    /// An optional BCP 47 language tag such as `en`, `fr` or `pt-BR`.
    pub fn language(&mut self, field: &str, value: Option<&str>) {
        let Some(value) = value else { return };
        let mut parts = value.split('-');
        let primary_ok =
            parts.next().is_some_and(|p| (2..=3).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphabetic()));
        let rest_ok = parts.all(|p| (1..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()));
        if !primary_ok || !rest_ok {
            self.fail(field, "must be a BCP 47 language tag such as `en` or `pt-BR`");
        }
    }

    pub fn into_errors(self) -> Vec<FieldError> {
        self.errors
    }
}

/// An ISO 8601 date of reduced precision: `"2025"`, `"2025-11"` or
/// `"2025-11-18"`; the precision is what the source tells. A full date must
/// be a day of the calendar (`2024-02-29` is one, `2025-02-29` is not).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, ToSchema, diesel::AsExpression, diesel::FromSqlRow)]
#[diesel(sql_type = diesel::sql_types::Text)]
#[schema(
    value_type = String,
    pattern = r"^[0-9]{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12][0-9]|3[01]))?)?$",
    example = "2025-11"
)]
pub struct PartialDate(String);

/// Why a string is not a partial date.
#[derive(Debug)]
pub struct InvalidPartialDate(String);

impl fmt::Display for InvalidPartialDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` is not a date of the form YYYY, YYYY-MM or YYYY-MM-DD", self.0)
    }
}

impl PartialDate {
    pub fn parse(value: &str) -> Result<PartialDate, InvalidPartialDate> {
        let invalid = || InvalidPartialDate(value.chars().take(40).collect());
        let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
        let parts: Vec<&str> = value.split('-').collect();
        let valid = match parts.as_slice() {
            [y] => digits(y, 4),
            [y, m] => digits(y, 4) && digits(m, 2) && matches!(m.parse::<u32>(), Ok(1..=12)),
            [_, _, _] => chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d").is_ok() && value.len() == 10,
            _ => false,
        };
        if valid { Ok(PartialDate(value.to_string())) } else { Err(invalid()) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first day the date can mean, as `YYYY-MM-DD` (for overlap tests).
    pub fn earliest(&self) -> String {
        match self.0.len() {
            4 => format!("{}-01-01", self.0),
            7 => format!("{}-01", self.0),
            _ => self.0.clone(),
        }
    }

    /// The last day the date can mean, as `YYYY-MM-DD` (a bound, not always
    /// a real day: `2025-02-31` still sorts after every day of February).
    pub fn latest(&self) -> String {
        match self.0.len() {
            4 => format!("{}-12-31", self.0),
            7 => format!("{}-31", self.0),
            _ => self.0.clone(),
        }
    }
}

impl<DB: diesel::backend::Backend> diesel::serialize::ToSql<diesel::sql_types::Text, DB> for PartialDate
where
    String: diesel::serialize::ToSql<diesel::sql_types::Text, DB>,
{
    fn to_sql<'b>(&'b self, out: &mut diesel::serialize::Output<'b, '_, DB>) -> diesel::serialize::Result {
        self.0.to_sql(out)
    }
}

/// Stored values were validated on the way in.
impl<DB: diesel::backend::Backend> diesel::deserialize::FromSql<diesel::sql_types::Text, DB> for PartialDate
where
    String: diesel::deserialize::FromSql<diesel::sql_types::Text, DB>,
{
    fn from_sql(bytes: DB::RawValue<'_>) -> diesel::deserialize::Result<PartialDate> {
        String::from_sql(bytes).map(PartialDate)
    }
}

/// A stored partial date read back from JSON (PostgreSQL's card reads rows
/// that way), taken as [`FromSql`](diesel::deserialize::FromSql) takes it:
/// as stored, not checked again. For `#[serde(deserialize_with)]`.
pub fn stored_partial_date<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<PartialDate>, D::Error> {
    Ok(Option::<String>::deserialize(deserializer)?.map(PartialDate))
}

impl Serialize for PartialDate {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for PartialDate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<PartialDate, D::Error> {
        let value = String::deserialize(deserializer)?;
        PartialDate::parse(&value).map_err(serde::de::Error::custom)
    }
}

/// Declares a string enum stored as text: serde names, `as_str`, `parse`,
/// and the diesel mapping to a text column (an unknown stored value is a
/// deserialization error: the database was written by something else).
macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:tt),+ $(,)? }) => {
        $(#[$meta])*
        // `$text` is matched as a token tree, not a `literal` fragment:
        // utoipa reads `rename` from the tokens, and a `literal` fragment
        // reaches it wrapped in an invisible group that it skips.
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
            diesel::AsExpression, diesel::FromSqlRow,
        )]
        #[diesel(sql_type = diesel::sql_types::Text)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(value: &str) -> Option<$name> {
                match value { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl<DB: diesel::backend::Backend> diesel::serialize::ToSql<diesel::sql_types::Text, DB> for $name
        where
            str: diesel::serialize::ToSql<diesel::sql_types::Text, DB>,
        {
            fn to_sql<'b>(&'b self, out: &mut diesel::serialize::Output<'b, '_, DB>) -> diesel::serialize::Result {
                let text: &'static str = self.as_str();
                <str as diesel::serialize::ToSql<diesel::sql_types::Text, DB>>::to_sql(text, out)
            }
        }

        impl<DB: diesel::backend::Backend> diesel::deserialize::FromSql<diesel::sql_types::Text, DB> for $name
        where
            String: diesel::deserialize::FromSql<diesel::sql_types::Text, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> diesel::deserialize::Result<$name> {
                let text = String::from_sql(bytes)?;
                $name::parse(&text)
                    .ok_or_else(|| format!("unknown {} `{}` in the database", stringify!($name), text).into())
            }
        }
    };
}
pub(crate) use text_enum;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_dates_of_every_precision_parse_and_bad_ones_do_not() {
        for good in ["2025", "2025-11", "2025-11-18", "2024-02-29"] {
            assert!(PartialDate::parse(good).is_ok(), "{good}");
        }
        for bad in ["2025-13", "2025-00", "2025-02-30", "25", "2025-1", "2025-11-18T00:00", "", "abcd", "2023-02-29"] {
            assert!(PartialDate::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn partial_dates_expand_to_their_first_and_last_days() {
        let d = PartialDate::parse("2025").unwrap();
        assert_eq!((d.earliest(), d.latest()), ("2025-01-01".to_string(), "2025-12-31".to_string()));
        let m = PartialDate::parse("2025-02").unwrap();
        assert_eq!((m.earliest(), m.latest()), ("2025-02-01".to_string(), "2025-02-31".to_string()));
    }

    text_enum! {
        Sample { SocialPost = "social_post", NotFound = "not_found", ProvJson = "prov-json" }
    }

    #[test]
    fn text_enums_serialize_as_their_stored_text() {
        for v in [Sample::SocialPost, Sample::NotFound, Sample::ProvJson] {
            assert_eq!(serde_json::to_value(v).unwrap(), v.as_str());
            assert_eq!(Sample::parse(v.as_str()), Some(v));
        }
    }

    #[test]
    fn urls_must_be_http_or_https() {
        let mut check = Check::new();
        check.url("a", Some("javascript:alert(1)"));
        check.url("b", Some("https://example.org/x"));
        check.url("c", Some("ftp://example.org"));
        check.url("d", Some("http://"));
        let fields: Vec<_> = check.into_errors().into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["a", "c", "d"]);
    }
}
