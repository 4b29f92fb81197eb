//! The `bantin` binary: parse the command line, run the command, print any
//! error with its causes on one line, and exit with the command's code.
//! Nothing here may panic: the error line is written without `eprintln!`,
//! which would panic when stderr is closed or full.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

/// jemalloc, not glibc's malloc: glibc keeps a heap per thread that
/// allocated and gives little of it back, and renders run on many blocking
/// threads, so every thread that once rendered a month of the archive kept
/// its tens of megabytes (issue 17: 48 cold months left 1.7 GB resident
/// with 0.16 GB cached). jemalloc's background thread returns freed pages
/// to the system within seconds, whatever the threads do next. (mimalloc,
/// tried first, kept them: 574 MB settled.)
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let cli = bantin::cli::Cli::parse();
    // `serve`'s connection cap follows the open-file limit: let it reach
    // the hard limit rather than the soft one (often just 1024).
    bantin::http::server::raise_file_limit();
    match bantin::cmd::run(cli) {
        Ok(code) => code,
        Err(err) => {
            let chain: Vec<String> = err.chain().map(ToString::to_string).collect();
            // With stderr gone too there is nowhere left to say it; the
            // exit code still does.
            let _ = writeln!(
                std::io::stderr().lock(),
                "bantin: error: {}",
                chain.join(": ")
            );
            ExitCode::FAILURE
        }
    }
}
