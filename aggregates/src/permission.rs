//! Permissions: what a role may call, as ELEVATE models it (a module, the
//! HTTP methods and an API path, where a trailing `*` matches a prefix).

use crate::Aggregate;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::{domain_event, Timestamp};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PermissionDefinition {
    pub numeric_id: i64,
    pub code: String,
    pub module: String,
    pub request_type: Vec<String>,
    pub api_path: String,
    pub status: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum PermissionCommand {
    Define {
        permission: PermissionDefinition,
        at: Timestamp,
    },
    /// Replaces the definition (ELEVATE's update sends every field).
    Redefine {
        permission: PermissionDefinition,
        at: Timestamp,
    },
    Delete {
        at: Timestamp,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum PermissionEvent {
    PermissionDefined { permission: PermissionDefinition, at: Timestamp },
    PermissionRedefined { permission: PermissionDefinition, at: Timestamp },
    PermissionDeleted { at: Timestamp },
}
domain_event!(PermissionEvent, [PermissionDefined, PermissionRedefined, PermissionDeleted]);

#[derive(Debug, Error, PartialEq, Eq)]
pub enum PermissionError {
    #[error("permission already exists")]
    AlreadyExists,
    #[error("permission not found")]
    NotFound,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Permission {
    pub definition: Option<PermissionDefinition>,
    pub deleted: bool,
}

impl Aggregate for Permission {
    const TYPE: &'static str = "permission";
    type Command = PermissionCommand;
    type Event = PermissionEvent;
    type Error = PermissionError;

    fn decide(&self, command: PermissionCommand) -> Result<Vec<PermissionEvent>, PermissionError> {
        let live = self.definition.is_some() && !self.deleted;
        let event = match command {
            PermissionCommand::Define { permission, at } => {
                if self.definition.is_some() {
                    return Err(PermissionError::AlreadyExists);
                }
                PermissionEvent::PermissionDefined { permission, at }
            }
            PermissionCommand::Redefine { permission, at } if live => {
                PermissionEvent::PermissionRedefined { permission, at }
            }
            PermissionCommand::Delete { at } if live => PermissionEvent::PermissionDeleted { at },
            _ => return Err(PermissionError::NotFound),
        };
        Ok(vec![event])
    }

    fn apply(&mut self, event: PermissionEvent) {
        match event {
            PermissionEvent::PermissionDefined { permission, .. }
            | PermissionEvent::PermissionRedefined { permission, .. } => self.definition = Some(permission),
            PermissionEvent::PermissionDeleted { .. } => self.deleted = true,
        }
    }
}

/// Whether a permission's `api_path` pattern covers a route (`*` at the end
/// matches any rest) and its `request_type` covers the method.
pub fn permits(api_path: &str, request_types: &[String], route: &str, method: &str) -> bool {
    let path_ok = match api_path.strip_suffix('*') {
        Some(prefix) => route.starts_with(prefix),
        None => api_path == route,
    };
    path_ok && request_types.iter().any(|t| t == "*" || t.eq_ignore_ascii_case(method))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_prefixes_and_methods() {
        let get = vec!["GET".to_string()];
        assert!(permits("/user/v1/user/read*", &get, "/user/v1/user/read/{id}", "GET"));
        assert!(permits("/user/v1/user/read", &get, "/user/v1/user/read", "get"));
        assert!(!permits("/user/v1/user/read", &get, "/user/v1/user/read/{id}", "GET"));
        assert!(!permits("/user/v1/user/read*", &get, "/user/v1/user/read", "PATCH"));
        assert!(permits("/user/v1/*", &["*".to_string()], "/user/v1/admin/deleteUser/{id}", "DELETE"));
    }
}
