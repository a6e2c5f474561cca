//! The default organisation and roles, written as events. Ids are derived
//! from names (UUID v5), so running this again, or on two instances at once,
//! finds the aggregates already created and changes nothing.

use aggregates::role::RoleDefinition;
use aggregates::{Aggregate, Permission, PermissionCommand, PermissionDefinition, PermissionError};
use aggregates::{
    ClaimCommand, ClaimKind, Organization, OrganizationCommand, OrganizationError, Role, RoleCommand, RoleError,
    UniqueClaim,
};
use uuid::Uuid;

use crate::commands::{CommandBus, CommandError, Committed, Metadata};
use crate::storage::log::CommitPoint;

pub const DEFAULT_ORGANIZATION_ID: i64 = 1;
pub const ADMIN_ROLE_ID: i64 = 4;
pub const ORG_ADMIN_ROLE_ID: i64 = 5;

/// (numeric id, title, label, user_type)
pub const DEFAULT_ROLES: [(i64, &str, &str, i32); 7] = [
    (1, "user", "User", 0),
    (2, "mentor", "Mentor", 0),
    (3, "mentee", "Mentee", 0),
    (ADMIN_ROLE_ID, "admin", "Admin", 1),
    (ORG_ADMIN_ROLE_ID, "org_admin", "Org Admin", 0),
    (6, "session_manager", "Session Manager", 0),
    (7, "public", "Public", 0),
];

const NAMESPACE: Uuid = Uuid::from_u128(0x6f0d_5a0e_8d2b_4c47_9a7e_2f3c_1b5d_9e01);

pub fn organization_uuid(numeric_id: i64) -> String {
    Uuid::new_v5(&NAMESPACE, format!("organization:{numeric_id}").as_bytes()).to_string()
}

pub fn role_uuid(numeric_id: i64) -> String {
    Uuid::new_v5(&NAMESPACE, format!("role:{numeric_id}").as_bytes()).to_string()
}

/// Returns where its last write landed, if it wrote anything.
pub async fn run(bus: &CommandBus, organisation_code: &str) -> anyhow::Result<Option<CommitPoint>> {
    let mut last = None;
    // Default permissions added in a later release are granted to the default
    // roles that already exist; grants an admin revoked stay revoked.
    let mut newly_defined = Vec::new();
    let meta = Metadata::system("bootstrap");
    let at = chrono::Utc::now();
    let org_uuid = organization_uuid(DEFAULT_ORGANIZATION_ID);
    // The default organisation's code is fixed at first start: a different
    // one later would claim a code nobody owns and change nothing, so refuse.
    let existing = bus
        .load::<Organization>(&org_uuid)
        .await
        .map_err(|e| anyhow::anyhow!("cannot load the default organisation: {e}"))?;
    if existing.created && existing.code != organisation_code {
        anyhow::bail!(
            "DEFAULT_ORGANISATION_CODE={organisation_code} but this database's default organisation has the code {}: \
             set DEFAULT_ORGANISATION_CODE={} (or unset it if that is the default); the code cannot change after first start",
            existing.code,
            existing.code
        );
    }
    let create = OrganizationCommand::Create {
        numeric_id: DEFAULT_ORGANIZATION_ID,
        name: "Default Organisation".into(),
        code: organisation_code.to_string(),
        description: "Created by Roster at first start".into(),
        at,
    };
    let code_claim = bus.claim_id(ClaimKind::OrganizationCode, organisation_code);
    let created = claim_and_create::<Organization>(bus, &meta, &code_claim, &org_uuid, create, |e| {
        matches!(e, OrganizationError::AlreadyExists)
    })
    .await
    .map_err(|e| anyhow::anyhow!("cannot create the default organisation: {e}"))?;
    last = created.0.point.or(last);
    for (numeric_id, code, module, methods, api_path) in crate::authorization::DEFAULT_PERMISSIONS.iter().copied() {
        let permission = PermissionDefinition {
            numeric_id,
            code: code.into(),
            module: module.into(),
            request_type: methods.iter().map(|m| m.to_string()).collect(),
            api_path: api_path.into(),
            status: "ACTIVE".into(),
        };
        let define = PermissionCommand::Define { permission, at };
        let code_claim = bus.claim_id(ClaimKind::PermissionCode, code);
        let defined =
            claim_and_create::<Permission>(bus, &meta, &code_claim, &permission_uuid(numeric_id), define, |e| {
                matches!(e, PermissionError::AlreadyExists)
            })
            .await
            .map_err(|e| anyhow::anyhow!("cannot define the default permission {code}: {e}"))?;
        last = defined.0.point.or(last);
        if defined.1 {
            newly_defined.push(numeric_id);
        }
    }
    for (numeric_id, title, label, user_type) in DEFAULT_ROLES {
        let role = RoleDefinition {
            numeric_id,
            title: title.into(),
            label: label.into(),
            user_type,
            status: "ACTIVE".into(),
            visibility: "PUBLIC".into(),
            organization_id: DEFAULT_ORGANIZATION_ID,
            translations: serde_json::Value::Null,
            meta: serde_json::Value::Null,
        };
        let title_claim = bus.claim_id(ClaimKind::RoleTitle, &format!("{DEFAULT_ORGANIZATION_ID}:{title}"));
        let permission_ids = crate::authorization::default_grants(title).to_vec();
        let create = RoleCommand::Create { role, permission_ids, at };
        let created = claim_and_create::<Role>(bus, &meta, &title_claim, &role_uuid(numeric_id), create, |e| {
            matches!(e, RoleError::AlreadyExists)
        })
        .await
        .map_err(|e| anyhow::anyhow!("cannot create the default role {title}: {e}"))?;
        last = created.0.point.or(last);
        if !created.1 {
            for permission_id in
                crate::authorization::default_grants(title).iter().filter(|p| newly_defined.contains(p))
            {
                let grant = RoleCommand::GrantPermission { permission_id: *permission_id, at };
                match bus.execute::<Role>(&role_uuid(numeric_id), grant, &meta).await {
                    Ok(c) => last = c.point.or(last),
                    Err(CommandError::Domain(RoleError::AlreadyGranted)) => {}
                    Err(e) => anyhow::bail!("cannot grant a new default permission to {title}: {e}"),
                }
            }
        }
    }
    Ok(last)
}

/// Claims `claim` for `owner` and creates the aggregate `owner`, in one
/// commit. If it exists already (`exists` says which refusal means that),
/// only a missing claim is written (one made before its kind was claimed).
/// Returns what was written and whether the aggregate was created.
async fn claim_and_create<A: Aggregate>(
    bus: &CommandBus,
    meta: &Metadata,
    claim: &str,
    owner: &str,
    create: A::Command,
    exists: fn(&A::Error) -> bool,
) -> anyhow::Result<(Committed, bool)>
where
    A::Command: Clone,
{
    let mut unit = bus.unit(meta);
    loop {
        let command = ClaimCommand::Claim { owner: owner.to_string(), at: chrono::Utc::now() };
        unit.decide::<UniqueClaim>(claim, command).await.map_err(|e| anyhow::anyhow!("its claim: {e}"))?;
        let created = match unit.decide::<A>(owner, create.clone()).await {
            Ok(_) => true,
            Err(CommandError::Domain(e)) if exists(&e) => false,
            Err(e) => anyhow::bail!("{e}"),
        };
        if let Some(committed) = unit.commit().await? {
            return Ok((committed, created));
        }
    }
}

pub fn permission_uuid(numeric_id: i64) -> String {
    Uuid::new_v5(&NAMESPACE, format!("permission:{numeric_id}").as_bytes()).to_string()
}

/// The numeric id of a default role, without a read-model lookup.
pub fn default_role_id(title: &str) -> Option<i64> {
    DEFAULT_ROLES.iter().find(|r| r.1 == title).map(|r| r.0)
}
