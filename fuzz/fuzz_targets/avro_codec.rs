//! Differential: the hand-written Avro codec (`traceledger_wire::binary`)
//! must accept exactly what apache-avro accepts, with the same value, for
//! trace events (first byte even) and sealed records (first byte odd).
#![no_main]
use libfuzzer_sys::fuzz_target;
use traceledger_wire::avro::{event_from_value, record_from_value, sealed_record_schema, trace_event_schema};
use traceledger_wire::binary;

fn reference<T>(schema: &apache_avro::Schema, mut p: &[u8], map: impl Fn(&apache_avro::types::Value) -> Option<T>) -> Option<T> {
    let v = apache_avro::from_avro_datum(schema, &mut p, None).ok()?;
    if p.is_empty() {
        map(&v)
    } else {
        None
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, payload)) = data.split_first() else { return };
    if sel % 2 == 0 {
        let want = reference(trace_event_schema(), payload, |v| event_from_value("", v).ok());
        assert_eq!(binary::decode_event(payload).ok(), want);
    } else {
        let want = reference(sealed_record_schema(), payload, |v| record_from_value(v).ok());
        assert_eq!(binary::decode_record(payload).ok(), want);
    }
});
