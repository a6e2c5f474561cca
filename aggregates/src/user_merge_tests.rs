//! Account merge and migration prospects on the user aggregate.

use super::*;
use crate::testing::TestFramework;

type Test = TestFramework<User>;

fn at() -> Timestamp {
    chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").unwrap().into()
}

fn registered() -> UserEvent {
    let registration = Registration {
        numeric_id: 7,
        email: Some("a@b.co".into()),
        name: "A".into(),
        phone: None,
        username: None,
        password_hash: Some("$argon2id$x".into()),
        organization_id: 1,
        role_ids: vec![3],
        has_accepted_terms_and_conditions: false,
        preferred_language: "en".into(),
        managed_by: None,
        extension: None,
    };
    UserEvent::UserRegistered { registration, at: at() }
}

fn prospect(feed: &str, channel: &str) -> MigrationProspect {
    MigrationProspect {
        feed_id: feed.into(),
        organization_id: 5,
        channel: channel.into(),
        expected_external_id: "Ext-1".into(),
        priority: 1,
        created_by: Some("admin".into()),
    }
}

fn added(feed: &str, channel: &str) -> UserEvent {
    UserEvent::MigrationProspectAdded { prospect: prospect(feed, channel), at: at() }
}

fn accept(external_id: &str) -> UserCommand {
    UserCommand::AcceptMigration {
        channel: "state".into(),
        external_id: external_id.into(),
        dropped_on_move: vec![3],
        at: at(),
    }
}

#[test]
fn a_merged_account_ends_deleted_and_the_target_records_it() {
    Test::given(vec![registered()]).when(UserCommand::MergeInto { into: "t".into(), at: at() }).then_expect_events(
        vec![UserEvent::AccountMergedInto { into: "t".into(), at: at() }, UserEvent::UserDeleted { at: at() }],
    );
    Test::given(vec![registered(), UserEvent::UserDeleted { at: at() }])
        .when(UserCommand::MergeInto { into: "t".into(), at: at() })
        .then_expect_error(UserError::NotFound);
    Test::given(vec![registered()])
        .when(UserCommand::RecordMerge { from: "s".into(), at: at() })
        .then_expect_events(vec![UserEvent::AccountMerged { from: "s".into(), at: at() }]);
    Test::given(vec![registered(), UserEvent::UserDeactivated { at: at() }])
        .when(UserCommand::RecordMerge { from: "s".into(), at: at() })
        .then_expect_error(UserError::NotActive);
    let mut user = User::default();
    user.apply(registered());
    user.apply(UserEvent::AccountMerged { from: "s".into(), at: at() });
    assert_eq!(user.merged_from, vec!["s".to_string()]);
}

#[test]
fn one_pending_prospect_per_channel() {
    Test::given(vec![registered()])
        .when(UserCommand::AddMigrationProspect { prospect: prospect("f1", "state"), at: at() })
        .then_expect_events(vec![added("f1", "state")]);
    Test::given(vec![registered(), added("f1", "state")])
        .when(UserCommand::AddMigrationProspect { prospect: prospect("f2", "state"), at: at() })
        .then_expect_error(UserError::ProspectExists);
    Test::given(vec![registered(), added("f1", "state")])
        .when(UserCommand::AddMigrationProspect { prospect: prospect("f2", "other"), at: at() })
        .then_expect_events(vec![added("f2", "other")]);
    Test::given(vec![])
        .when(UserCommand::AddMigrationProspect { prospect: prospect("f1", "state"), at: at() })
        .then_expect_error(UserError::NotFound);
}

#[test]
fn the_right_external_id_migrates_in_any_case() {
    let migrated = UserEvent::UserMigrated {
        migration: Migration {
            feed_id: "f1".into(),
            organization_id: 5,
            channel: "state".into(),
            external_id: "Ext-1".into(),
        },
        at: at(),
    };
    Test::given(vec![registered(), added("f1", "state")]).when(accept(" ext-1 ")).then_expect_events(vec![
        UserEvent::RoleRevoked { role_id: 3, at: at() },
        UserEvent::OrganizationChanged { from: 1, to: 5, at: at() },
        migrated.clone(),
    ]);
    let mut user = User::default();
    for event in [registered(), added("f1", "state"), added("f2", "other"), migrated] {
        user.apply(event);
    }
    assert!(user.migration_prospects.is_empty(), "every prospect is gone");
    assert_eq!(user.organization_id, 5);
    assert_eq!(user.external_ids, vec![ExternalId { id: "Ext-1".into(), provider: "state".into() }]);
}

#[test]
fn wrong_external_ids_spend_the_attempts_then_fail_the_prospect() {
    let failed_once = UserEvent::MigrationAttemptFailed { feed_id: "f1".into(), attempts: 1, at: at() };
    Test::given(vec![registered(), added("f1", "state")])
        .when(accept("nope"))
        .then_expect_events(vec![failed_once.clone()]);
    Test::given(vec![registered(), added("f1", "state"), failed_once.clone()])
        .when(accept("nope"))
        .then_expect_events(vec![UserEvent::MigrationFailed { feed_id: "f1".into(), at: at() }]);
    // A failed prospect is gone: nothing is left to answer.
    Test::given(vec![
        registered(),
        added("f1", "state"),
        failed_once.clone(),
        UserEvent::MigrationFailed { feed_id: "f1".into(), at: at() },
    ])
    .when(accept("Ext-1"))
    .then_expect_error(UserError::NoMigrationProspect);
    // One wrong attempt still lets the right one through.
    let events = {
        let mut user = User::default();
        for event in [registered(), added("f1", "state"), failed_once] {
            user.apply(event);
        }
        user.decide(accept("Ext-1")).unwrap()
    };
    assert!(matches!(events.last(), Some(UserEvent::UserMigrated { .. })), "{events:?}");
    Test::given(vec![registered()]).when(accept("Ext-1")).then_expect_error(UserError::NoMigrationProspect);
}

#[test]
fn a_rejection_drops_every_pending_prospect() {
    Test::given(vec![registered(), added("f1", "state"), added("f2", "other")])
        .when(UserCommand::RejectMigration { at: at() })
        .then_expect_events(vec![UserEvent::MigrationRejected { feed_ids: vec!["f1".into(), "f2".into()], at: at() }]);
    Test::given(vec![registered()])
        .when(UserCommand::RejectMigration { at: at() })
        .then_expect_error(UserError::NoMigrationProspect);
}
