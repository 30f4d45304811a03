//! The one integration test binary (one binary, so Polars is linked once).

mod annex_a;
mod calendar;
mod cdop;
mod cin_xml;
mod cli;
mod common;
mod formats;
mod fuzz;
mod ingest;
mod measures;
mod report;
mod store;
mod suppress;
mod synth;
