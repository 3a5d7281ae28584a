//! Fuzz target `layout`: see [`fastconv_fuzz::run_layout`].
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| fastconv_fuzz::run_layout(data));
