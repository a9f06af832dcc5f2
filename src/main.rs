//! The `sluis` binary: parses the command line and hands over to the library.
#![forbid(unsafe_code)]

use clap::Parser as _;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match sluis::cli::run(sluis::cli::Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sluis: {}", sluis::cli::error_text(&e));
            std::process::ExitCode::FAILURE
        }
    }
}
