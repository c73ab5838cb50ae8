//! cargo-fuzz target `rtp`: `trunkgate::fuzzing::media_packets` (see that module for what
//! it drives and which invariants it asserts).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| trunkgate::fuzzing::media_packets(data));
