//! safeguard: a batch pipeline for local safeguarding children partnerships and their Child Death
//! Overview Panels. Data flows one way: read -> validate -> pseudonymise -> store -> measure -> render.

pub mod calendar;
pub mod cdop;
pub mod compare;
pub mod config;
pub mod csv_out;
pub mod error;
pub mod ingest;
pub mod measures;
pub mod pseudonym;
pub mod report;
pub mod rules;
pub mod schema;
pub mod store;
pub mod suppress;
pub mod synth;
pub mod table;
