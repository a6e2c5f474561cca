//! Given/when/then for aggregate tests: the state folded from earlier events,
//! one command, and the events (or the refusal) it must lead to. The same
//! shape as cqrs-es's `TestFramework`, which the tests were first written
//! against, without its runtime.

use std::fmt::Debug;

use crate::Aggregate;

pub struct TestFramework<A: Aggregate> {
    state: A,
}

pub struct Outcome<A: Aggregate> {
    result: Result<Vec<A::Event>, A::Error>,
}

impl<A: Aggregate> TestFramework<A> {
    pub fn given_no_previous_events() -> Self {
        TestFramework { state: A::default() }
    }

    pub fn given(events: Vec<A::Event>) -> Self {
        let mut state = A::default();
        for event in events {
            state.apply(event);
        }
        TestFramework { state }
    }

    pub fn when(self, command: A::Command) -> Outcome<A> {
        Outcome { result: self.state.decide(command) }
    }
}

impl<A: Aggregate> Outcome<A>
where
    A::Event: PartialEq,
    A::Error: PartialEq + Debug,
{
    #[track_caller]
    pub fn then_expect_events(self, expected: Vec<A::Event>) {
        match self.result {
            Ok(events) => assert_eq!(events, expected),
            Err(error) => panic!("expected events {expected:?}, got the error {error:?}"),
        }
    }

    #[track_caller]
    pub fn then_expect_error(self, expected: A::Error) {
        match self.result {
            Ok(events) => panic!("expected the error {expected:?}, got the events {events:?}"),
            Err(error) => assert_eq!(error, expected),
        }
    }
}
