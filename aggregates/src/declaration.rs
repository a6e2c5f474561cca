//! A user's self-declarations (Sunbird's `user_declarations`): what the
//! user declares to an organisation in a persona (e.g. a teacher's school
//! and contact), for the organisation to validate. A user holds at most one
//! per (organisation, persona); the operations follow Sunbird's
//! `UserSelfDeclarationServiceImpl` so a client sees what it saw there.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// What a declaration is, until someone reviews it.
pub const SUBMITTED: &str = "SUBMITTED";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Declaration {
    pub org_id: String,
    pub persona: String,
    /// The declared fields (`declared-email`, `declared-school-name`, …).
    pub info: Map<String, Value>,
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_type: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeclarationOp {
    Add,
    Edit,
    Remove,
}

/// One operation of a declarations request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeclarationChange {
    pub op: DeclarationOp,
    pub declaration: Declaration,
}

/// The container of a user's declarations in their event, so the whole
/// list is sealed as one personal field (`privacy::PERSONAL_FIELDS`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeclarationSet {
    #[serde(default)]
    pub entries: Vec<Declaration>,
}

fn same_org(a: &Declaration, b: &Declaration) -> bool {
    a.org_id == b.org_id
}

fn same_persona(a: &Declaration, b: &Declaration) -> bool {
    a.persona == b.persona
}

/// `current` after `changes`, in order:
/// - add replaces the declaration of the same organisation and persona;
/// - edit first drops, as Sunbird does, the declarations it moves away
///   from: those of its organisation in another persona; failing those, of
///   its persona in another organisation; failing those, every other one;
///   then it replaces the one of its organisation and persona;
/// - remove drops the one of its organisation and persona.
pub fn apply(current: &[Declaration], changes: Vec<DeclarationChange>) -> Vec<Declaration> {
    let mut list = current.to_vec();
    for DeclarationChange { op, declaration } in changes {
        let same = |d: &Declaration| same_org(d, &declaration) && same_persona(d, &declaration);
        match op {
            DeclarationOp::Add => {
                list.retain(|d| !same(d));
                list.push(declaration);
            }
            DeclarationOp::Edit => {
                let persona_moved = |d: &Declaration| same_org(d, &declaration) && !same_persona(d, &declaration);
                let org_moved = |d: &Declaration| !same_org(d, &declaration) && same_persona(d, &declaration);
                if list.iter().any(persona_moved) {
                    list.retain(|d| !persona_moved(d));
                } else if list.iter().any(org_moved) {
                    list.retain(|d| !org_moved(d));
                } else {
                    list.retain(same);
                }
                match list.iter_mut().find(|d| same(d)) {
                    Some(existing) => *existing = declaration,
                    None => list.push(declaration),
                }
            }
            DeclarationOp::Remove => list.retain(|d| !same(d)),
        }
    }
    list
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(org: &str, persona: &str, school: &str) -> Declaration {
        let info = Map::from_iter([("declared-school-name".to_string(), Value::from(school))]);
        Declaration { org_id: org.into(), persona: persona.into(), info, status: SUBMITTED.into(), error_type: None }
    }

    fn change(op: DeclarationOp, declaration: Declaration) -> DeclarationChange {
        DeclarationChange { op, declaration }
    }

    #[test]
    fn add_replaces_the_same_organisation_and_persona_only() {
        let list = apply(
            &[d("1", "teacher", "a"), d("2", "teacher", "b")],
            vec![change(DeclarationOp::Add, d("1", "teacher", "c"))],
        );
        assert_eq!(list, vec![d("2", "teacher", "b"), d("1", "teacher", "c")]);
    }

    #[test]
    fn edit_moves_as_sunbird_moves() {
        let start = [d("1", "teacher", "a"), d("2", "volunteer", "b")];
        // Another persona in organisation 1: the teacher one goes.
        let list = apply(&start, vec![change(DeclarationOp::Edit, d("1", "parent", "c"))]);
        assert_eq!(list, vec![d("2", "volunteer", "b"), d("1", "parent", "c")]);
        // The teacher persona in another organisation: organisation 1's teacher goes.
        let list = apply(&start, vec![change(DeclarationOp::Edit, d("3", "teacher", "c"))]);
        assert_eq!(list, vec![d("2", "volunteer", "b"), d("3", "teacher", "c")]);
        // The same organisation and persona: replaced, every other one dropped.
        let list = apply(&start, vec![change(DeclarationOp::Edit, d("1", "teacher", "c"))]);
        assert_eq!(list, vec![d("1", "teacher", "c")]);
    }

    #[test]
    fn remove_drops_one_and_nothing_else() {
        let start = [d("1", "teacher", "a"), d("1", "parent", "b")];
        let list = apply(&start, vec![change(DeclarationOp::Remove, d("1", "teacher", ""))]);
        assert_eq!(list, vec![d("1", "parent", "b")]);
        assert_eq!(apply(&list, vec![change(DeclarationOp::Remove, d("9", "x", ""))]), list);
    }
}
