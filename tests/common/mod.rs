//! Shared harness for the integration tests: a gateway started in-process on
//! loopback ports chosen by the kernel ([`gateway`]), its REST API ([`api`]), scripted SIP user agents
//! playing the PBX and the carriers ([`ua`]), RTP peers ([`rtp`]), the
//! hand-driven call-flow worker ([`worker`]) and sipp ([`sipp`]).
#![allow(dead_code)]

pub mod api;
pub mod gateway;
pub mod rtp;
pub mod sipp;
pub mod ua;
pub mod worker;

// Not every test uses every part.
#[allow(unused_imports)]
pub use gateway::*;
#[allow(unused_imports)]
pub use rtp::*;
#[allow(unused_imports)]
pub use ua::*;
