//! Bodies posted to the node's schema registry (`POST /registry/subjects/…`,
//! open to anyone who reaches the node): JSON carrying a schema as a
//! string. Parsing never panics; what comes out has no `doc` left and
//! compares equal to itself once printed and read again.
#![no_main]
use libfuzzer_sys::fuzz_target;
use traceledger_wire::avro::{registry_body_schema, schema_for_comparison};

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = registry_body_schema(data) {
        let text = v.to_string();
        assert_eq!(schema_for_comparison(&text), Some(v));
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = schema_for_comparison(text);
    }
});
