//! The `bantin` binary: parse the command line, run the command, print any
//! error with its causes on one line, and exit with the command's code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = bantin::cli::Cli::parse();
    match bantin::cmd::run(cli) {
        Ok(code) => code,
        Err(err) => {
            let chain: Vec<String> = err.chain().map(ToString::to_string).collect();
            eprintln!("bantin: error: {}", chain.join(": "));
            ExitCode::FAILURE
        }
    }
}
