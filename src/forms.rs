//! Forms (ELEVATE's `form` API): UI form definitions stored as sent, one per
//! type and organisation, read by id or by type and sub-type, falling back
//! to the default organisation's. Each update raises a form's version; the
//! versions of every form (`form_versions`) go out with every ELEVATE
//! answer, so clients know when to fetch a form again.

use std::sync::{Arc, RwLock};

use aggregates::validation::{self, InvalidInput};
use aggregates::{ClaimCommand, ClaimError, ClaimKind, Form, FormCommand, FormDefinition, FormError, UniqueClaim};
use serde_json::Value;
use uuid::Uuid;

use crate::bootstrap::DEFAULT_ORGANIZATION_ID;
use crate::commands::{CommandBus, CommandError, Metadata};
use crate::error::{Entity, ServiceError};
use crate::read_models;
pub use crate::read_models::{FormKey, FormRow, FormVersion};
use crate::services::Services;
use crate::unit_of_work::UnitOfWork;

/// The longest form type and sub-type.
const FORM_NAME_MAX: usize = 100;

/// A form as a client sends it.
#[derive(Debug, Clone)]
pub struct FormInput {
    pub form_type: String,
    pub sub_type: String,
    pub data: Value,
}

/// The version list, held in memory until the forms projection changes on
/// this instance (`Projector::changes_of`), as the grant cache is: every
/// ELEVATE answer carries it, so it must cost no query.
#[derive(Default)]
pub struct FormVersionCache {
    loaded: RwLock<Option<(u64, Arc<Vec<FormVersion>>)>>,
}

fn form_uuid(numeric_id: i64) -> String {
    Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("roster:form:{numeric_id}").as_bytes()).to_string()
}

fn type_claim(bus: &CommandBus, organization_id: i64, form_type: &str) -> String {
    bus.claim_id(ClaimKind::FormType, &format!("{organization_id}:{form_type}"))
}

fn checked(input: FormInput) -> Result<FormInput, ServiceError> {
    let checked = (
        validation::single_line("type", &input.form_type, true, FORM_NAME_MAX),
        validation::single_line("sub_type", &input.sub_type, true, FORM_NAME_MAX),
        match input.data {
            Value::Object(_) => validation::json_object("data", &input.data),
            _ => Err(InvalidInput::WrongType { field: "data", expected: "a JSON object" }),
        },
    );
    match checked {
        (Ok(form_type), Ok(sub_type), Ok(())) => Ok(FormInput { form_type, sub_type, data: input.data }),
        (a, b, c) => Err(ServiceError::invalid_input([a.err(), b.err(), c.err()].into_iter().flatten().collect())),
    }
}

fn form_error(error: CommandError<FormError>) -> ServiceError {
    match error {
        CommandError::Domain(FormError::NotFound) => ServiceError::not_found(Entity::Form),
        CommandError::Domain(FormError::AlreadyExists) => {
            ServiceError::Duplicate { entity: Entity::Form, field: "type" }
        }
        other => other.into(),
    }
}

async fn claim_type(unit: &mut UnitOfWork, claim: &str, owner: &str) -> Result<(), ServiceError> {
    let command = ClaimCommand::Claim { owner: owner.to_string(), at: chrono::Utc::now() };
    match unit.decide::<UniqueClaim>(claim, command).await {
        Ok(_) => Ok(()),
        Err(CommandError::Domain(ClaimError::Taken)) => {
            Err(ServiceError::Duplicate { entity: Entity::Form, field: "type" })
        }
        Err(other) => Err(other.into()),
    }
}

async fn release_type(unit: &mut UnitOfWork, claim: &str, owner: &str) -> Result<(), ServiceError> {
    let command = ClaimCommand::Release { owner: owner.to_string(), at: chrono::Utc::now() };
    match unit.decide::<UniqueClaim>(claim, command).await {
        Ok(_) | Err(CommandError::Domain(ClaimError::NotOwner)) => Ok(()),
        Err(other) => Err(other.into()),
    }
}

impl Services {
    /// A new form of the caller's organisation; its type must be new there.
    pub async fn create_form(
        &self,
        organization_id: i64,
        input: FormInput,
        meta: &Metadata,
    ) -> Result<FormRow, ServiceError> {
        let input = checked(input)?;
        let numeric_id = self.db.next_numeric_id("form").await?;
        let uuid = form_uuid(numeric_id);
        let form = FormDefinition {
            numeric_id,
            organization_id,
            form_type: input.form_type.clone(),
            sub_type: input.sub_type,
            data: input.data,
        };
        let claim = type_claim(&self.bus, organization_id, &input.form_type);
        let mut unit = self.bus.unit(meta);
        let committed = loop {
            claim_type(&mut unit, &claim, &uuid).await?;
            let create = FormCommand::Create { form: form.clone(), at: chrono::Utc::now() };
            unit.decide::<Form>(&uuid, create).await.map_err(form_error)?;
            if let Some(committed) = unit.commit().await? {
                break committed;
            }
        };
        self.settle(committed).await?;
        self.stored_form(numeric_id).await
    }

    /// Replaces a form of the caller's organisation (by id, or by its type
    /// and sub-type); its version goes up by one.
    pub async fn update_form(
        &self,
        organization_id: i64,
        key: FormKey,
        input: FormInput,
        meta: &Metadata,
    ) -> Result<FormRow, ServiceError> {
        let input = checked(input)?;
        let current = self.own_form(organization_id, &key).await?.ok_or(ServiceError::not_found(Entity::Form))?;
        let uuid = form_uuid(current.id);
        let form = FormDefinition {
            numeric_id: current.id,
            organization_id,
            form_type: input.form_type.clone(),
            sub_type: input.sub_type,
            data: input.data,
        };
        let retyped = current.form_type != input.form_type;
        let mut unit = self.bus.unit(meta);
        let committed = loop {
            if retyped {
                claim_type(&mut unit, &type_claim(&self.bus, organization_id, &input.form_type), &uuid).await?;
                release_type(&mut unit, &type_claim(&self.bus, organization_id, &current.form_type), &uuid).await?;
            }
            let update = FormCommand::Update { form: form.clone(), at: chrono::Utc::now() };
            unit.decide::<Form>(&uuid, update).await.map_err(form_error)?;
            if let Some(committed) = unit.commit().await? {
                break committed;
            }
        };
        self.settle(committed).await?;
        self.stored_form(current.id).await
    }

    /// The caller's organisation's form, or else the default organisation's.
    pub async fn form(&self, organization_id: i64, key: &FormKey) -> Result<FormRow, ServiceError> {
        if let Some(form) = self.own_form(organization_id, key).await? {
            return Ok(form);
        }
        match self.own_form(DEFAULT_ORGANIZATION_ID, key).await? {
            Some(form) => Ok(form),
            None => Err(ServiceError::not_found(Entity::Form)),
        }
    }

    /// Every form's id, type and version, in id order.
    pub async fn form_versions(&self) -> Result<Arc<Vec<FormVersion>>, ServiceError> {
        let cache = &self.form_versions;
        let version = self.projector.changes_of("forms");
        if let (Some(version), Some((at, list))) = (version, &*cache.loaded.read().unwrap_or_else(|p| p.into_inner())) {
            if *at == version {
                return Ok(list.clone());
            }
        }
        let list: Arc<Vec<FormVersion>> = Arc::new(read_models::form_versions(&self.db).await?);
        if let Some(version) = version {
            *cache.loaded.write().unwrap_or_else(|p| p.into_inner()) = Some((version, list.clone()));
        }
        Ok(list)
    }

    async fn own_form(&self, organization_id: i64, key: &FormKey) -> Result<Option<FormRow>, ServiceError> {
        Ok(read_models::form(&self.db, organization_id, key).await?)
    }

    async fn stored_form(&self, id: i64) -> Result<FormRow, ServiceError> {
        read_models::form_by_id(&self.db, id).await?.ok_or(ServiceError::not_found(Entity::Form))
    }
}
