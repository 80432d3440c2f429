//! The diesel schema, shared by the SQLite and PostgreSQL backends: only the
//! column types both support through `derive(MultiConnection)` appear here.

diesel::table! {
    agents (id) {
        id -> Text,
        kind -> Text,
        name -> Text,
        description -> Nullable<Text>,
        anonymous -> Bool,
        affiliation_id -> Nullable<Text>,
        url -> Nullable<Text>,
        wikidata_id -> Nullable<Text>,
        aliases -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> Integer,
    }
}

diesel::table! {
    sources (id) {
        id -> Text,
        kind -> Text,
        title -> Text,
        url -> Nullable<Text>,
        publisher_id -> Nullable<Text>,
        byline -> Nullable<Text>,
        published_on -> Nullable<Text>,
        language -> Nullable<Text>,
        content -> Nullable<Text>,
        content_sha256 -> Nullable<Text>,
        archived_url -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> Integer,
    }
}

diesel::table! {
    claims (id) {
        id -> Text,
        text -> Text,
        kind -> Text,
        subject -> Nullable<Text>,
        quantity_value -> Nullable<Double>,
        quantity_upper -> Nullable<Double>,
        quantity_unit -> Nullable<Text>,
        quantity_comparator -> Nullable<Text>,
        period_start -> Nullable<Text>,
        period_end -> Nullable<Text>,
        place -> Nullable<Text>,
        status -> Text,
        language -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> Integer,
        /// Derived, kept by triggers (see the `findability` migrations):
        /// the earliest date of the claim's attributions.
        stated_on -> Nullable<Text>,
    }
}

diesel::table! {
    claim_tags (claim_id, tag) {
        claim_id -> Text,
        tag -> Text,
    }
}

diesel::table! {
    attributions (id) {
        id -> Text,
        claim_id -> Text,
        source_id -> Text,
        speaker_id -> Nullable<Text>,
        mode -> Text,
        stance -> Text,
        cited_source_id -> Nullable<Text>,
        quote_exact -> Nullable<Text>,
        quote_prefix -> Nullable<Text>,
        quote_suffix -> Nullable<Text>,
        quote_status -> Nullable<Text>,
        quote_start -> Nullable<Integer>,
        quote_end -> Nullable<Integer>,
        locator -> Nullable<Text>,
        stated_on -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> Integer,
    }
}

diesel::table! {
    api_keys (id) {
        id -> Text,
        name -> Text,
        scope -> Text,
        secret_sha256 -> Text,
        created_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
        last_used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    revisions (seq) {
        seq -> BigInt,
        resource_type -> Text,
        resource_id -> Text,
        version -> Integer,
        action -> Text,
        data -> Nullable<Text>,
        cause -> Nullable<Text>,
        actor -> Text,
        comment -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    idempotency_keys (key_id, idempotency_key) {
        key_id -> Text,
        idempotency_key -> Text,
        request_sha256 -> Text,
        status -> Nullable<Integer>,
        headers -> Nullable<Text>,
        body -> Nullable<Binary>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    reviews (id) {
        id -> Text,
        claim_id -> Text,
        reviewer_id -> Text,
        author_id -> Nullable<Text>,
        rating_label -> Text,
        rating_key -> Text,
        rating_value -> Nullable<Double>,
        rating_best -> Nullable<Double>,
        rating_worst -> Nullable<Double>,
        summary -> Nullable<Text>,
        url -> Nullable<Text>,
        language -> Nullable<Text>,
        published_on -> Nullable<Text>,
        status -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> Integer,
    }
}

diesel::joinable!(claim_tags -> claims (claim_id));
diesel::joinable!(attributions -> claims (claim_id));
diesel::joinable!(sources -> agents (publisher_id));
diesel::joinable!(reviews -> claims (claim_id));

diesel::allow_tables_to_appear_in_same_query!(
    agents,
    sources,
    claims,
    claim_tags,
    attributions,
    api_keys,
    revisions,
    idempotency_keys,
    reviews
);
