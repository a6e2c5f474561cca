//! What each entity v5 route asks for: every one acts on users of an
//! organisation (create, read, change), so every one asks for
//! `UserManageOrg`, which org admins and admins hold (it comes with
//! deactivating an organisation's users); the use cases then check that the
//! caller administers the organisation named (`corp_id`).

use crate::capabilities::Capability::UserManageOrg;
use crate::capabilities::{route, RouteCapability};

pub const ROUTES: &[RouteCapability] = &[
    route("POST", "/api/v5/entity/user/create", UserManageOrg),
    route("GET", "/api/v5/entity/profile/fetch", UserManageOrg),
    route("POST", "/api/v5/entity/user/owner/update", UserManageOrg),
    route("POST", "/api/v5/entity/user/pool/update", UserManageOrg),
    route("POST", "/api/v5/entity/user/email/update", UserManageOrg),
    route("GET", "/api/v5/entity/user/contact/fetch", UserManageOrg),
];
