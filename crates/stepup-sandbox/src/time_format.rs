//! The date format of the API's views (`createdAt`, `verifiedAt`), without a date crate.

/// Unix milliseconds → RFC 3339 (UTC), e.g. `2023-11-14T22:13:20.123Z`.
pub(crate) fn rfc3339(ms: i64) -> String {
    stepup_protocol::clock::iso_8601_ms(ms)
}
