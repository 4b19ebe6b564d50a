//! placeholder
use anyhow::Result;
use clap::Args;
use crate::Status;
#[derive(Debug, Args)]
pub struct DemoArgs {}
pub fn run(_args: DemoArgs) -> Result<Status> { Ok(Status::Ok) }
