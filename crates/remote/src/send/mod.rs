//! The remote_write sender: configuration, the sharded queue, its metrics and the WAL follower.

pub mod config;
pub mod follow;
pub mod metrics;
pub mod queue;

pub use config::{MetadataConfig, QueueConfig, RemoteWriteConfig};
pub use follow::{FollowOptions, Progress, RemoteWriteTask};
pub use metrics::QueueMetrics;
pub use queue::{QueueManager, QueueOptions};
