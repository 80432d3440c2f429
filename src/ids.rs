//! Typed ids: a `ClaimId` cannot be passed where a `SourceId` is expected,
//! from the HTTP path to the row.
//!
//! Each id is a UUID. It travels as its canonical text (lowercase,
//! hyphenated), which is how both backends store it, so reading and
//! writing rows converts nothing; JSON and the URL path carry the same text.
//! In the OpenAPI document the fields say `value_type = Uuid`.

use std::fmt;
use std::str::FromStr;

use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql};
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::Text;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

macro_rules! typed_id {
    ($($(#[$meta:meta])* $name:ident;)+) => {$(
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, diesel::AsExpression, diesel::FromSqlRow)]
        #[diesel(sql_type = Text)]
        pub struct $name(String);

        impl $name {
            /// A fresh server-made id: UUID v7, so ids sort by creation time.
            pub fn generate() -> $name {
                $name::from(Uuid::now_v7())
            }

            /// The id as stored and sent: a lowercase hyphenated UUID.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn uuid(&self) -> Uuid {
                // Every value was made from a `Uuid` or read from a column
                // that only ever holds them.
                Uuid::parse_str(&self.0).unwrap_or_default()
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> $name {
                $name(id.hyphenated().to_string())
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(s: &str) -> Result<$name, uuid::Error> {
                Uuid::parse_str(s).map($name::from)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<$name, D::Error> {
                Uuid::deserialize(deserializer).map($name::from)
            }
        }

        impl<DB: Backend> ToSql<Text, DB> for $name
        where
            String: ToSql<Text, DB>,
        {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, DB>) -> serialize::Result {
                self.0.to_sql(out)
            }
        }

        impl<DB: Backend> FromSql<Text, DB> for $name
        where
            String: FromSql<Text, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<$name> {
                String::from_sql(bytes).map($name)
            }
        }
    )+};
}

typed_id! {
    /// The id of an agent (a person or organisation).
    AgentId;
    /// The id of a source.
    SourceId;
    /// The id of a claim.
    ClaimId;
    /// The id of an attribution.
    AttributionId;
    /// The id of a fact-check review.
    ReviewId;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_read_any_uuid_spelling_and_keep_the_canonical_one() {
        let id: ClaimId = serde_json::from_str("\"0193A7E0-0000-7000-8000-00000000C001\"").unwrap();
        assert_eq!(id.as_str(), "0193a7e0-0000-7000-8000-00000000c001");
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"0193a7e0-0000-7000-8000-00000000c001\"");
        assert!(serde_json::from_str::<ClaimId>("\"not-a-uuid\"").is_err());
        assert_eq!("0193a7e0-0000-7000-8000-00000000c001".parse::<ClaimId>().ok(), Some(id));
    }
}
