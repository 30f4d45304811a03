//! safeguard: a batch pipeline for local safeguarding children partnerships and their Child Death
//! Overview Panels. Data flows one way: read -> validate -> pseudonymise -> store -> measure -> render.
//!
//! Comments cite the project's specification as `data-contract.md`, `measures.md`, `cdop.md` and
//! `report.md` (with a section number): those files are in the project's shared documents,
//! `shared/spec/` beside the repository, not in it (the README's "Where the contract lives").
//! The command line itself is `src/main.rs` and `src/cmd/`, one file per subcommand.

pub mod calendar;
pub mod cdop;
pub mod compare;
pub mod config;
pub mod csv_out;
pub mod dates;
pub mod error;
pub mod ingest;
pub mod measures;
pub mod period;
pub mod pseudonym;
pub mod report;
pub mod rules;
pub mod schema;
pub mod store;
pub mod suppress;
pub mod synth;
pub mod table;
