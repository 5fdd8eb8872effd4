//! The `traceledger` binary: parses arguments and calls the library.

/// jemalloc for Rust's allocations. With glibc's malloc a sequencer holding
/// 100k tenants peaked anywhere from 218 to 268 MiB from run to run (freed
/// buffers stayed in its per-thread heaps); with this, 202–235 MiB
/// (`traceledger bench --only memory`; BENCHMARKS.md).
///
/// Not unprefixed (taking malloc for RocksDB's C++ too), although that
/// measured lower (193–235 MiB, median 200): an LD_PRELOADed library that
/// hooks the clock (libfaketime, in the privacy tests) deadlocks it, since
/// jemalloc reads the clock while it initialises and the hook allocates.
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    traceledger_cli::main()
}
