//! TEMPORARY integration stub (replaced by the store branch).
#![allow(missing_docs, dead_code)]
use std::path::Path;
#[derive(Debug, thiserror::Error)]
#[error("store")]
pub struct StoreError;
#[derive(Debug, Clone, PartialEq)]
pub enum CallStatus {
    Completed,
    Busy,
    Canceled,
    Failed,
    NoAnswer,
    Restricted,
    Error,
}
#[derive(Debug, Clone, PartialEq)]
pub struct SipInfo {
    pub call_id: String,
    pub response_code: u16,
}
#[derive(Debug, Clone, PartialEq)]
pub struct CallRecord {
    pub id: uuid::Uuid,
    pub call_id: String,
    pub parent_call_id: Option<String>,
    pub caller_no: String,
    pub api_no: String,
    pub start_time: String,
    pub end_time: String,
    pub direction: String,
    pub hangup_end: Option<String>,
    pub duration: u64,
    pub status: CallStatus,
    pub error: Option<String>,
    pub error_code: Option<u16>,
    pub connect_time_sec: Option<f64>,
    pub sip: SipInfo,
    pub service: String,
    pub trunk_id: Option<uuid::Uuid>,
    pub reason: Option<String>,
}
pub struct CallLogStore;
impl CallLogStore {
    pub fn open(_d: &Path) -> Result<CallLogStore, StoreError> {
        Ok(CallLogStore)
    }
}
#[derive(Clone)]
pub struct CallLogWriter;
impl CallLogWriter {
    pub fn start(_s: CallLogStore, _c: usize) -> Self {
        CallLogWriter
    }
    pub fn submit(&self, _r: CallRecord) -> bool {
        true
    }
    pub fn shutdown(&self) {}
}
pub fn to_rfc3339(_t: std::time::SystemTime) -> String {
    String::new()
}
