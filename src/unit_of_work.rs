//! One write that changes several aggregates, stored in one commit.
//!
//! A sign-up claims its email, phone and username (`UniqueClaim`s) and
//! registers its user; an approval decides the request, grants the role and
//! gives back the pending-request claim. A `UnitOfWork` loads every
//! aggregate it touches together with the sequence it is at, lets each decide
//! its command, and keeps the events in memory, applied to its copy (so a
//! second command on the same aggregate sees the first). `commit` appends all
//! of them in one statement (one transaction on SQLite), which fails as a
//! whole if any of those aggregates gained an event since it was loaded: its
//! next sequence number is taken, the optimistic lock. Aggregates the unit
//! only read, or on which a command decided nothing, are guarded in the same
//! statement: their sequence must still be the one loaded (exactly on SQLite,
//! whose writers are serialised; on PostgreSQL as of the statement's start).
//!
//! Nothing reaches the log before `commit`, so a refusal, an error or a
//! crash anywhere in between leaves no trace of the write, and after it every
//! part is there: no claim can be left without its owner, no approved
//! request without its role.
//!
//! On a conflict `commit` empties the unit, waits a moment (jitter, like
//! `CommandBus::execute`, which is a unit of one) and returns `None`; the
//! caller then decides the whole write again on fresh state:
//!
//! ```ignore
//! let mut unit = bus.unit(&meta);
//! let committed = loop {
//!     unit.decide::<UniqueClaim>(&claim_id, ClaimCommand::Claim { owner: user.clone(), at }).await?;
//!     unit.decide_new::<User>(&user, UserCommand::Register { registration: registration.clone(), at }).await?;
//!     if let Some(committed) = unit.commit().await? {
//!         break committed;
//!     }
//! };
//! ```
//!
//! The commit point it returns is where the write's caller waits for its
//! read models (`Services::settle`).

use std::any::Any;
use std::collections::HashMap;
use std::convert::Infallible;
use std::time::Duration;

use aggregates::{Aggregate, DomainEvent};
use rand::Rng;
use serde_json::Value;

use crate::commands::{CommandBus, CommandError, Committed, Metadata};
use crate::storage::inline::InlineReadModels;
use crate::storage::{NewEvent, SequenceGuard};
use crate::upcasting;

/// Attempts before a unit gives up with `CommandError::Conflict`: enough for
/// dozens of writers racing on one aggregate, since each round lets one through.
pub const MAX_ATTEMPTS: u32 = 40;

pub struct UnitOfWork {
    bus: CommandBus,
    metadata: Value,
    participants: Vec<Participant>,
    index: HashMap<(&'static str, String), usize>,
    attempt: u32,
    /// Set after a conflict: from then on aggregates `decide_new` expected to
    /// be new are loaded too, so one that exists gets its own refusal.
    load_all: bool,
}

/// One aggregate of the unit: its state with the unit's events applied.
struct Participant {
    aggregate_type: &'static str,
    id: String,
    /// The sequence it was loaded at (0: new); the unit's events follow it.
    loaded_at: i64,
    state: Box<dyn Any + Send + Sync>,
    events: Vec<NewEvent>,
}

impl CommandBus {
    /// An empty unit of work whose events will carry `metadata`.
    pub fn unit(&self, metadata: &Metadata) -> UnitOfWork {
        UnitOfWork {
            bus: self.clone(),
            metadata: serde_json::json!(metadata.to_map()),
            participants: Vec::new(),
            index: HashMap::new(),
            attempt: 0,
            load_all: false,
        }
    }
}

impl UnitOfWork {
    /// The aggregate id of the claim on a unique value (`storage::claim_ids`).
    pub fn claim_id(&self, kind: aggregates::ClaimKind, normalized_value: &str) -> String {
        self.bus.claim_id(kind, normalized_value)
    }

    /// The current state of aggregate `id` as this unit sees it: loaded from
    /// the log on first use (and guarded at commit), with the unit's own
    /// decisions applied.
    pub async fn load<A: Aggregate>(&mut self, id: &str) -> Result<&A, CommandError<Infallible>> {
        let index = self.enter::<A>(id, false).await?;
        self.participants[index].state.downcast_ref::<A>().ok_or_else(|| two_types(A::TYPE))
    }

    /// Lets aggregate `id` decide `command`; its events are kept for the
    /// commit. Returns how many (0: nothing to do). A refusal changes nothing.
    pub async fn decide<A: Aggregate>(
        &mut self,
        id: &str,
        command: A::Command,
    ) -> Result<usize, CommandError<A::Error>> {
        self.bus.injected_fault(A::TYPE).map_err(CommandError::widen)?;
        let index = self.enter::<A>(id, false).await.map_err(CommandError::widen)?;
        self.decide_at::<A>(index, command)
    }

    /// As `decide`, on an aggregate that should not exist yet (a fresh id):
    /// its load is skipped. If it does exist, the commit conflicts, and on
    /// the next attempt it is loaded and decides on its real state.
    pub async fn decide_new<A: Aggregate>(
        &mut self,
        id: &str,
        command: A::Command,
    ) -> Result<usize, CommandError<A::Error>> {
        self.bus.injected_fault(A::TYPE).map_err(CommandError::widen)?;
        let index = self.enter::<A>(id, true).await.map_err(CommandError::widen)?;
        self.decide_at::<A>(index, command)
    }

    /// Appends every event the unit decided in one transaction and returns
    /// where they landed; `None` after a conflict, with the unit emptied for
    /// the caller to decide again (`CommandError::Conflict` once attempts run
    /// out). A unit that decided nothing writes nothing.
    pub async fn commit(&mut self) -> Result<Option<Committed>, CommandError<Infallible>> {
        self.index.clear();
        let participants = std::mem::take(&mut self.participants);
        let first_type = participants.first().map_or("none", |p| p.aggregate_type);
        let mut guards = Vec::new();
        let mut events = Vec::new();
        let mut counts: Vec<(&'static str, u64)> = Vec::new();
        for p in participants {
            if p.events.is_empty() {
                guards.push(SequenceGuard {
                    aggregate_type: p.aggregate_type,
                    aggregate_id: p.id,
                    sequence: p.loaded_at,
                });
            } else {
                counts.push((p.aggregate_type, p.events.len() as u64));
                events.extend(p.events);
            }
        }
        if events.is_empty() {
            self.attempt = 0;
            return Ok(Some(Committed { point: None, events: 0, visible: true, skipped: Vec::new() }));
        }
        let count = events.len() as u64;
        let projector = self.bus.projector();
        let inline = events.iter().any(|e| projector.target_of(&e.aggregate_type).is_some());
        let _rebuilds_wait = if inline { projector.pause_rebuilds().await } else { None };
        match self.bus.db().append_events(events, &guards, Some(projector)).await {
            Ok(Some(appended)) => {
                self.attempt = 0;
                self.load_all = false;
                projector.applied_inline(&appended.inline.applied);
                let visible = !appended.inline.deferred
                    && projector.visible_on_commit(counts.iter().map(|(aggregate, _)| *aggregate));
                self.bus.notify_projector();
                for (aggregate, appended) in counts {
                    metrics::counter!("roster_events_appended_total", "aggregate" => aggregate).increment(appended);
                }
                Ok(Some(Committed {
                    point: Some(appended.point),
                    events: count,
                    visible,
                    skipped: appended.inline.skipped,
                }))
            }
            // Someone changed one of the aggregates since it was loaded.
            Ok(None) => {
                self.attempt += 1;
                self.load_all = true;
                metrics::counter!("roster_command_conflicts_total", "aggregate" => first_type).increment(1);
                if self.attempt >= MAX_ATTEMPTS {
                    self.attempt = 0;
                    return Err(CommandError::Conflict);
                }
                let jitter = rand::thread_rng().gen_range(1..=2 * self.attempt as u64);
                tokio::time::sleep(Duration::from_millis(jitter)).await;
                Ok(None)
            }
            Err(error) => Err(CommandError::Store(error.into())),
        }
    }

    /// The participant for (`A`, `id`), loaded on first use unless expected new.
    async fn enter<A: Aggregate>(&mut self, id: &str, expect_new: bool) -> Result<usize, CommandError<Infallible>> {
        if let Some(index) = self.index.get(&(A::TYPE, id.to_string())) {
            return Ok(*index);
        }
        let (state, loaded_at) = if expect_new && !self.load_all {
            (A::default(), 0)
        } else {
            self.bus.load_current::<A>(id).await.map_err(CommandError::widen)?
        };
        self.participants.push(Participant {
            aggregate_type: A::TYPE,
            id: id.to_string(),
            loaded_at,
            state: Box::new(state),
            events: Vec::new(),
        });
        let index = self.participants.len() - 1;
        self.index.insert((A::TYPE, id.to_string()), index);
        Ok(index)
    }

    fn decide_at<A: Aggregate>(&mut self, index: usize, command: A::Command) -> Result<usize, CommandError<A::Error>> {
        let participant = &mut self.participants[index];
        let (aggregate_id, loaded_at) = (participant.id.clone(), participant.loaded_at);
        let (state, events) = state_of_mut::<A>(participant).map_err(CommandError::widen)?;
        let decided = state.decide(command).map_err(CommandError::Domain)?;
        let count = decided.len();
        for event in decided {
            let payload = serde_json::to_value(&event).map_err(|e| CommandError::Store(e.into()))?;
            let event_type = event.event_type();
            events.push(NewEvent {
                aggregate_type: A::TYPE.to_string(),
                aggregate_id: aggregate_id.clone(),
                sequence: loaded_at + events.len() as i64 + 1,
                event_type: event_type.to_string(),
                event_version: upcasting::current_version(A::TYPE, event_type).to_string(),
                payload,
                metadata: self.metadata.clone(),
            });
            state.apply(event);
        }
        Ok(count)
    }
}

fn state_of_mut<A: Aggregate>(
    participant: &mut Participant,
) -> Result<(&mut A, &mut Vec<NewEvent>), CommandError<Infallible>> {
    match participant.state.downcast_mut::<A>() {
        Some(state) => Ok((state, &mut participant.events)),
        None => Err(two_types(A::TYPE)),
    }
}

fn two_types(aggregate_type: &str) -> CommandError<Infallible> {
    CommandError::Store(anyhow::anyhow!("two aggregate types are both named {aggregate_type}"))
}

#[cfg(test)]
mod tests {
    use aggregates::{
        ClaimCommand, ClaimError, Organization, OrganizationChanges, OrganizationCommand, OrganizationError,
        UniqueClaim,
    };

    use super::*;
    use crate::projector::Projector;
    use crate::storage::Db;

    fn at() -> aggregates::Timestamp {
        chrono::Utc::now()
    }

    fn claim(owner: &str) -> ClaimCommand {
        ClaimCommand::Claim { owner: owner.into(), at: at() }
    }

    fn create() -> OrganizationCommand {
        OrganizationCommand::Create {
            numeric_id: 9,
            name: "Nine".into(),
            code: "nine".into(),
            description: String::new(),
            at: at(),
        }
    }

    async fn bus() -> CommandBus {
        let db = Db::in_memory().await;
        let claim_ids = crate::storage::claim_ids::ClaimIds::load(&db).await.unwrap();
        CommandBus::new(db.clone(), Projector::new(db), claim_ids)
    }

    /// (aggregate type, aggregate id, sequence) of every event, in log order.
    async fn log(bus: &CommandBus) -> Vec<(String, String, i64)> {
        crate::on_pool!(bus.db(), pool => {
            sqlx::query_as("SELECT aggregate_type, aggregate_id, sequence FROM events ORDER BY position")
                .fetch_all(pool)
                .await
                .unwrap()
        })
    }

    fn meta() -> Metadata {
        Metadata::system("test")
    }

    #[tokio::test]
    async fn the_events_of_several_aggregates_land_in_one_commit() {
        let bus = bus().await;
        let before = log(&bus).await.len();
        let mut unit = bus.unit(&meta());
        assert_eq!(unit.decide::<UniqueClaim>("organization_code:nine", claim("org-9")).await.unwrap(), 1);
        assert_eq!(unit.decide_new::<Organization>("org-9", create()).await.unwrap(), 1);
        // A second command on the same aggregate sees the first.
        let rename = OrganizationCommand::Update {
            changes: OrganizationChanges { name: Some("Nine!".into()), ..Default::default() },
            at: at(),
        };
        unit.decide::<Organization>("org-9", rename).await.unwrap();
        assert_eq!(unit.load::<Organization>("org-9").await.unwrap().name, "Nine!");
        let committed = unit.commit().await.unwrap().expect("no conflict");
        assert_eq!(committed.events, 3);
        let written = log(&bus).await.split_off(before);
        let expected =
            [("unique_claim", "organization_code:nine", 1), ("organization", "org-9", 1), ("organization", "org-9", 2)];
        assert_eq!(written, expected.map(|(t, i, s)| (t.to_string(), i.to_string(), s)));
        assert_eq!(bus.load::<Organization>("org-9").await.unwrap().name, "Nine!");
    }

    #[tokio::test]
    async fn a_conflict_on_any_aggregate_stores_nothing_and_the_write_is_decided_again() {
        let bus = bus().await;
        let before = log(&bus).await.len();
        let mut unit = bus.unit(&meta());
        unit.decide::<UniqueClaim>("email:a", claim("u-1")).await.unwrap();
        unit.decide::<UniqueClaim>("email:b", claim("u-1")).await.unwrap();
        // Someone else claims the second value first.
        bus.execute::<UniqueClaim>("email:b", claim("u-2"), &meta()).await.unwrap();
        assert!(unit.commit().await.unwrap().is_none(), "a conflict");
        assert_eq!(log(&bus).await.len(), before + 1, "only the other writer's claim");
        // Decided again on fresh state, the write is refused as a whole.
        unit.decide::<UniqueClaim>("email:a", claim("u-1")).await.unwrap();
        let refused = unit.decide::<UniqueClaim>("email:b", claim("u-1")).await;
        assert!(matches!(refused, Err(CommandError::Domain(ClaimError::Taken))), "{refused:?}");
        drop(unit);
        assert_eq!(bus.load::<UniqueClaim>("email:a").await.unwrap().owner, None);
    }

    #[tokio::test]
    async fn an_aggregate_read_but_not_changed_is_guarded() {
        let bus = bus().await;
        bus.execute::<Organization>("org-9", create(), &meta()).await.unwrap();
        let before = log(&bus).await.len();
        let mut unit = bus.unit(&meta());
        assert!(unit.load::<Organization>("org-9").await.unwrap().active);
        unit.decide::<UniqueClaim>("email:a", claim("u-1")).await.unwrap();
        bus.execute::<Organization>("org-9", OrganizationCommand::Deactivate { at: at() }, &meta()).await.unwrap();
        assert!(unit.commit().await.unwrap().is_none(), "the organisation moved on");
        assert_eq!(log(&bus).await.len(), before + 1);
        // Unchanged, the guard lets the write through.
        assert!(!unit.load::<Organization>("org-9").await.unwrap().active);
        unit.decide::<UniqueClaim>("email:a", claim("u-1")).await.unwrap();
        assert!(unit.commit().await.unwrap().is_some());
    }

    #[tokio::test]
    async fn an_aggregate_taken_for_new_that_exists_conflicts_then_refuses() {
        let bus = bus().await;
        bus.execute::<Organization>("org-9", create(), &meta()).await.unwrap();
        let mut unit = bus.unit(&meta());
        unit.decide_new::<Organization>("org-9", create()).await.unwrap();
        assert!(unit.commit().await.unwrap().is_none());
        let again = unit.decide_new::<Organization>("org-9", create()).await;
        assert!(matches!(again, Err(CommandError::Domain(OrganizationError::AlreadyExists))), "{again:?}");
    }

    #[tokio::test]
    async fn a_failure_between_the_aggregates_of_a_write_stores_nothing() {
        let bus = bus().await;
        let before = log(&bus).await.len();
        bus.fail_next_decision_on(Organization::TYPE);
        let mut unit = bus.unit(&meta());
        unit.decide::<UniqueClaim>("organization_code:nine", claim("org-9")).await.unwrap();
        let failed = unit.decide_new::<Organization>("org-9", create()).await;
        assert!(matches!(failed, Err(CommandError::Store(_))), "{failed:?}");
        drop(unit);
        assert_eq!(log(&bus).await.len(), before);
        assert_eq!(bus.load::<UniqueClaim>("organization_code:nine").await.unwrap().owner, None);
        // The fault fires once.
        bus.execute::<Organization>("org-9", create(), &meta()).await.unwrap();
    }

    #[tokio::test]
    async fn a_unit_that_decides_nothing_writes_nothing() {
        let bus = bus().await;
        bus.execute::<UniqueClaim>("email:a", claim("u-1"), &meta()).await.unwrap();
        let before = log(&bus).await.len();
        let mut unit = bus.unit(&meta());
        assert_eq!(unit.decide::<UniqueClaim>("email:a", claim("u-1")).await.unwrap(), 0);
        let committed = unit.commit().await.unwrap().unwrap();
        assert!(committed.point.is_none() && committed.events == 0);
        assert_eq!(log(&bus).await.len(), before);
    }
}
