//! Scraping: the `global`/`scrape_configs` configuration, target discovery (static lists and
//! watched `file_sd` files), relabeling of targets, and one scrape loop per target that appends
//! into any [`vitals_model::Appendable`]. It knows nothing of HTTP serving or storage internals.

pub mod config;
pub mod discovery;
pub mod manager;
pub mod scrape_loop;
pub mod target;

pub use config::{GlobalConfig, ScrapeConfig};
pub use manager::{Manager, TargetsView};

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ScrapeError {
    /// The configuration is invalid; the text names the job and key.
    #[error("{0}")]
    Config(String),
}
