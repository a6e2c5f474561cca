//! Roster: an event-sourced user, organisation and role service that speaks
//! the ELEVATE user-service API (and, in time, Sunbird's and entity-v5's).

pub mod accounts;
pub mod aggregate_cache;
pub mod app;
pub mod audit;
pub mod auth;
pub mod authorization;
pub mod bootstrap;
pub mod capabilities;
pub mod catalogue;
pub mod cli;
pub mod commands;
pub mod config;
pub mod error;
pub mod event_id;
pub mod first_admin;
pub mod forms;
pub mod http;
pub mod leadership;
pub mod managed_users;
pub mod organizations;
pub mod orphaned_claims;
pub mod privacy;
pub mod projector;
pub mod publisher;
pub mod rank;
pub mod read_models;
pub mod seed;
pub mod services;
pub mod startup_checks;
pub mod storage;
pub mod telemetry;
pub mod unit_of_work;
pub mod upcasting;
pub mod users;
pub mod visibility;
