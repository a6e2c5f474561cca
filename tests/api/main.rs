//! The HTTP suite. Every test runs twice: on SQLite (a temp file) and on the
//! real PostgreSQL (a fresh database per test), against the real app on port 0.

mod helpers;

mod account_flow;
mod aggregate_cache;
mod audit;
mod authorization;
mod bad_input;
mod catalogue;
mod claim_ids;
mod commit_order;
mod concurrency;
mod connections;
mod crash_and_replay;
mod dialects;
mod entity_v5;
mod erasure;
mod first_admin;
mod forms;
mod fuzz;
mod hardening;
mod input_rules;
mod kafka_support;
mod layering;
mod listing;
mod one_commit;
mod openapi;
mod operations;
pub mod organizations;
mod orphaned_claims;
mod otp;
mod parked_indexes;
mod poisoned_events;
mod publishing;
mod rate_limits;
mod schemathesis;
mod search;
mod seed_fidelity;
mod seeding;
mod signing_keys;
mod soak;
mod startup_checks;
mod sunbird;
mod sunbird_contacts;
mod sunbird_managed;
mod text_hygiene;
mod visibility;
