//! The one integration test binary (one binary, so Polars is linked once).

mod calendar;
mod synth;
