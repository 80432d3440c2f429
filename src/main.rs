use clap::Parser;

fn main() -> anyhow::Result<()> {
    claimtrail::cli::run(claimtrail::cli::Cli::parse())
}
