//! `concord mock`: a mock vendor from the command line (filled in with the harness).

use clap::Args;

/// Run a mock vendor.
#[derive(Args)]
pub struct MockArgs {}

pub async fn run(_args: MockArgs) -> u8 {
    eprintln!("error: `concord mock` is not built yet");
    crate::EXIT_USAGE
}
