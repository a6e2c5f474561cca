//! Queries on the read tables the projections maintain, one module per
//! read model. Dialects render these rows in their own shapes; services
//! are the only callers.

mod api_keys;
mod bulk_invites;
mod catalogue;
mod entity_types;
mod forms;
mod notification_templates;
mod organizations;
mod profiles;
mod role_requests;
mod user_search;
mod users;

pub use api_keys::*;
pub use bulk_invites::*;
pub use catalogue::*;
pub use entity_types::*;
pub use forms::*;
pub use notification_templates::*;
pub use organizations::*;
pub use profiles::*;
pub use role_requests::*;
pub use user_search::*;
pub use users::*;
