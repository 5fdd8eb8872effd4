//! The `traceledger` binary: parses arguments and calls the library.

/// jemalloc, for Rust and (unprefixed) for RocksDB's C++ allocations too,
/// as RocksDB's tuning guide recommends. With glibc's malloc a sequencer
/// holding 100k tenants peaked anywhere from 218 to 268 MiB from run to run
/// (freed memtable blocks and batch buffers stayed in its per-thread
/// heaps); with jemalloc 193–235 MiB (median 200), and sealing was no slower
/// (`traceledger bench --only memory`, `--only embedded`; BENCHMARKS.md).
/// jemalloc's default page decay is kept: returning pages at once
/// (`MALLOC_CONF=dirty_decay_ms:0`) saved another ~35 MiB but cost a
/// quarter of the sealing rate.
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    traceledger_cli::main()
}
