//! The one integration test binary (one binary, so Polars is linked once).

mod annex_a;
mod calendar;
mod catalogue;
mod cdop;
mod cin_xml;
mod cli;
mod common;
mod compressed;
mod compare;
mod formats;
mod fuzz;
mod hostile_outputs;
mod hostile_privacy;
mod hostile_store;
mod hostile_structure;
mod ingest;
mod layers;
mod measures;
mod pre_proceedings;
mod report;
mod report_publish;
mod store;
mod suppress;
mod synth;
mod workbook;
