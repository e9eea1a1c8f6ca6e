use async_trait::async_trait;

use crate::Result;
use crate::jit::{NewReportEntry, ReportEntry, ReportQuery};

/// The provisioning report. Successful decisions are written by
/// [`Directory::provision`](crate::ports::Directory::provision) inside their
/// transaction; denials, which change nothing, through [`record`](Self::record).
#[async_trait]
pub trait ProvisioningReport: Send + Sync {
    /// Appends a row.
    async fn record(&self, entry: NewReportEntry) -> Result<ReportEntry>;
    /// Rows matching every filter in `query`, oldest first.
    async fn query(&self, query: &ReportQuery) -> Result<Vec<ReportEntry>>;
}
