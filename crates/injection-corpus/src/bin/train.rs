//! Trains the injection classifier and writes its weights and provenance
//! into `crates/injection/model/`. Deterministic: run it again and the
//! bytes are the same (`tests/model.rs` checks the committed ones).

use std::path::PathBuf;
use std::time::Instant;
use traceledger_injection_corpus::train::{provenance, train, training_corpus};

fn main() -> std::process::ExitCode {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../injection/model");
    let t = Instant::now();
    let items = training_corpus();
    eprintln!("corpus: {} items in {:.1?}", items.len(), t.elapsed());
    let model = train(&items);
    eprintln!("trained in {:.1?}; bias {:.3}", t.elapsed(), model.bias());
    for (name, bytes) in [("injection.model", model.to_bytes()), ("TRAINING.md", provenance(&items).into_bytes())] {
        if let Err(e) = std::fs::write(dir.join(name), bytes) {
            eprintln!("error: cannot write {}: {e}", dir.join(name).display());
            return std::process::ExitCode::from(1);
        }
        println!("wrote {}", dir.join(name).display());
    }
    std::process::ExitCode::SUCCESS
}
