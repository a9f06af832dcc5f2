//! Sluis: a privacy-first broker for the Westfriesland outflow arrangement
//! (Uitstroomregeling Bijzondere Doelgroepen). The broker seals each field of a client's file
//! to exactly the parties the agreement entitles, and never opens one itself.
#![forbid(unsafe_code)]

pub mod api;
pub mod audit;
pub mod auth;
pub mod bench;
pub mod cases;
pub mod chart;
pub mod cli;
pub mod client;
pub mod clock;
pub mod config;
pub mod consent;
pub mod demo;
pub mod form;
pub mod monitor;
pub mod nudge;
pub mod policy;
pub mod sealing;
pub mod store;
pub mod telemetry;
