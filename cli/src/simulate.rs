//! placeholder
#[derive(clap::Args, Debug)]
pub struct SimulateArgs {}
pub fn run(_args: SimulateArgs) -> std::process::ExitCode {
    std::process::ExitCode::SUCCESS
}
