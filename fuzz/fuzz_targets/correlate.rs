//! Fuzz target `correlate`: see [`fastconv_fuzz::run_correlate`].
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| fastconv_fuzz::run_correlate(data));
