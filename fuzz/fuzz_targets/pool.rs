//! Fuzz target `pool`: see [`fastconv_fuzz::run_pool`].
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| fastconv_fuzz::run_pool(data));
