//! The committed classifier is what the training run writes: same corpus,
//! same weights to the byte, same provenance.

use traceledger_injection_corpus::train::{provenance, train, training_corpus};

#[test]
fn the_committed_model_is_what_training_writes() {
    let items = training_corpus();
    let model = train(&items);
    let committed = include_bytes!("../../injection/model/injection.model");
    assert!(
        model.to_bytes() == committed.as_slice(),
        "crates/injection/model/injection.model is not what training writes: \
         run `cargo run --release -p traceledger-injection-corpus --bin train`"
    );
    assert_eq!(provenance(&items), include_str!("../../injection/model/TRAINING.md"));
    assert_eq!(traceledger_injection::model::builtin(), &model_from(&committed[..]));
}

fn model_from(b: &[u8]) -> traceledger_injection::model::Model {
    traceledger_injection::model::Model::from_bytes(b).expect("parses")
}
