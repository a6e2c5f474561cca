//! The mixed load: each client task signs up its own users and drives them
//! (logins, profile updates, role requests, lists), approving their role
//! requests with the admin's token. Every answer is one of three outcomes:
//! acknowledged (2xx: the effect must be in the log), refused (another
//! status: no effect expected), or unknown (the connection broke, as it does
//! when the server is killed: the effect may or may not be there).
//! What each acknowledged command should have done is kept per user.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::{Client, RequestBuilder};
use serde_json::{json, Value};

pub const PASSWORD: &str = "Soak!pass1";

/// The roles a user asks for (mentor, session_manager); they start as mentee.
const REQUESTABLE_ROLES: [i64; 2] = [2, 6];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    SignUp,
    Login,
    Update,
    RoleRequest,
    Approval,
    List,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::SignUp => "sign-up",
            Kind::Login => "login",
            Kind::Update => "profile update",
            Kind::RoleRequest => "role request",
            Kind::Approval => "approval",
            Kind::List => "list",
        }
    }
}

enum Outcome {
    Acknowledged(Value),
    Refused(u16, String),
    /// The connection was refused (the server is down): nothing was sent.
    NotSent,
    Unknown,
}

/// What the soak knows about one user whose sign-up was acknowledged.
#[derive(Debug, Clone)]
pub struct Account {
    pub email: String,
    pub uuid: String,
    token: String,
    pub logins_acknowledged: u64,
    pub updates_acknowledged: u64,
    /// The `about` of the last acknowledged update.
    pub last_about: Option<String>,
    /// `about`s sent after it with an unknown outcome: any may have won.
    pub later_unknown_abouts: Vec<String>,
    /// Acknowledged role requests: request id → role.
    pub requests: BTreeMap<i64, i64>,
    /// The open request to approve, and whether an approval of it had an unknown outcome.
    pending: Option<(i64, i64, bool)>,
    /// Roles granted by an acknowledged (or, after an unknown one, confirmed) approval.
    pub roles_granted: BTreeSet<i64>,
    /// A request with an unknown outcome may be open under an id never seen: ask no more.
    asks_no_more: bool,
}

/// Everything one client saw; merged over clients at the end.
#[derive(Debug, Default)]
pub struct Ledger {
    pub accounts: Vec<Account>,
    pub unknown_sign_ups: Vec<String>,
    pub acknowledged: BTreeMap<Kind, u64>,
    pub refused: BTreeMap<Kind, u64>,
    pub unknown: BTreeMap<Kind, u64>,
    /// Commands not sent: the connection was refused while the server restarted.
    pub not_sent: u64,
    /// Approvals whose first try had an unknown outcome, then answered "already decided".
    pub confirmed_approvals: u64,
    /// 5xx answers (each also counted as an unknown outcome), with the first few bodies.
    pub server_errors: u64,
    pub server_error_samples: Vec<String>,
    /// Refusals no command of this load should meet, with the first few bodies.
    pub unexpected_refusal_samples: Vec<String>,
}

impl Ledger {
    pub fn merge(&mut self, other: Ledger) {
        self.accounts.extend(other.accounts);
        self.unknown_sign_ups.extend(other.unknown_sign_ups);
        for (into, from) in [
            (&mut self.acknowledged, other.acknowledged),
            (&mut self.refused, other.refused),
            (&mut self.unknown, other.unknown),
        ] {
            for (kind, n) in from {
                *into.entry(kind).or_default() += n;
            }
        }
        self.server_errors += other.server_errors;
        self.not_sent += other.not_sent;
        self.confirmed_approvals += other.confirmed_approvals;
        self.server_error_samples.extend(other.server_error_samples);
        self.server_error_samples.truncate(5);
        self.unexpected_refusal_samples.extend(other.unexpected_refusal_samples);
        self.unexpected_refusal_samples.truncate(5);
    }

    fn count(&mut self, kind: Kind, outcome: &Outcome) {
        let into = match outcome {
            Outcome::Acknowledged(_) => &mut self.acknowledged,
            Outcome::Refused(..) => &mut self.refused,
            Outcome::Unknown => &mut self.unknown,
            Outcome::NotSent => {
                self.not_sent += 1;
                return;
            }
        };
        *into.entry(kind).or_default() += 1;
    }

    fn unexpected(&mut self, kind: Kind, status: u16, body: &str) {
        if self.unexpected_refusal_samples.len() < 5 {
            self.unexpected_refusal_samples.push(format!("{}: {status} {}", kind.name(), truncate(body)));
        }
    }
}

fn truncate(text: &str) -> String {
    text.chars().take(300).collect()
}

pub struct Shared {
    pub http: Client,
    pub base: String,
    pub admin_token: String,
    /// Each run's emails are its own, so a soak can run against a used database too.
    pub run_tag: String,
}

/// Sends and classifies. A 5xx is an unknown outcome too (the command may
/// have committed before the error), and is reported on its own.
async fn send(request: RequestBuilder, ledger: &mut Ledger) -> Outcome {
    let response = match request.timeout(Duration::from_secs(30)).send().await {
        Ok(response) => response,
        Err(error) if error.is_connect() => return Outcome::NotSent,
        Err(_) => return Outcome::Unknown,
    };
    let status = response.status();
    let Ok(body) = response.text().await else { return Outcome::Unknown };
    if status.is_success() {
        Outcome::Acknowledged(serde_json::from_str(&body).unwrap_or(Value::Null))
    } else if status.is_server_error() {
        ledger.server_errors += 1;
        if ledger.server_error_samples.len() < 5 {
            ledger.server_error_samples.push(format!("{status} {}", truncate(&body)));
        }
        Outcome::Unknown
    } else {
        Outcome::Refused(status.as_u16(), body)
    }
}

fn authorised(request: RequestBuilder, token: &str) -> RequestBuilder {
    request.header("X-auth-token", format!("bearer {token}"))
}

/// One client task: until `stop`, picks an action at random and records its outcome.
pub async fn client_task(client: Arc<Shared>, index: usize, seed: u64, stop: Arc<AtomicBool>) -> Ledger {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut ledger = Ledger::default();
    let mut created = 0u64;
    let mut iteration = 0u64;
    while !stop.load(Ordering::Relaxed) {
        iteration += 1;
        let roll: u32 = rng.gen_range(0..100);
        let kind = match roll {
            _ if ledger.accounts.is_empty() => Kind::SignUp,
            0..=11 => Kind::SignUp,
            12..=21 => Kind::Login,
            22..=54 => Kind::Update,
            55..=66 => Kind::RoleRequest,
            67..=78 => Kind::Approval,
            _ => Kind::List,
        };
        let unknown_before = ledger.unknown.values().sum::<u64>() + ledger.not_sent;
        match kind {
            Kind::SignUp => {
                created += 1;
                sign_up(&client, &mut ledger, format!("soak-{}-c{index}-u{created}@soak.example", client.run_tag)).await
            }
            Kind::Login => {
                let at = rng.gen_range(0..ledger.accounts.len());
                login(&client, &mut ledger, at).await
            }
            Kind::Update => {
                let at = rng.gen_range(0..ledger.accounts.len());
                update(&client, &mut ledger, at, format!("c{index} i{iteration}")).await
            }
            Kind::RoleRequest => {
                let askers: Vec<usize> = (0..ledger.accounts.len())
                    .filter(|&i| {
                        let a = &ledger.accounts[i];
                        a.pending.is_none() && !a.asks_no_more && a.roles_granted.len() < REQUESTABLE_ROLES.len()
                    })
                    .collect();
                if let Some(&at) = askers.get(rng.gen_range(0..askers.len().max(1))) {
                    request_role(&client, &mut ledger, at).await
                }
            }
            Kind::Approval => {
                let pending: Vec<usize> =
                    (0..ledger.accounts.len()).filter(|&i| ledger.accounts[i].pending.is_some()).collect();
                if let Some(&at) = pending.get(rng.gen_range(0..pending.len().max(1))) {
                    approve(&client, &mut ledger, at).await
                }
            }
            Kind::List => {
                let at = rng.gen_range(0..ledger.accounts.len());
                list(&client, &mut ledger, at).await
            }
        }
        // The server is down (killed, restarting): do not spin.
        if ledger.unknown.values().sum::<u64>() + ledger.not_sent > unknown_before {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    ledger
}

async fn sign_up(client: &Shared, ledger: &mut Ledger, email: String) {
    let body = json!({"name": format!("Soak {}", email.split('@').next().unwrap_or_default()), "email": email, "password": PASSWORD});
    let outcome = send(client.http.post(format!("{}/user/v1/account/create", client.base)).json(&body), ledger).await;
    ledger.count(Kind::SignUp, &outcome);
    match outcome {
        Outcome::Acknowledged(body) => {
            let result = &body["result"];
            ledger.accounts.push(Account {
                email,
                uuid: result["user"]["uuid"].as_str().unwrap_or_default().to_string(),
                token: result["access_token"].as_str().unwrap_or_default().to_string(),
                logins_acknowledged: 0,
                updates_acknowledged: 0,
                last_about: None,
                later_unknown_abouts: Vec::new(),
                requests: BTreeMap::new(),
                pending: None,
                roles_granted: BTreeSet::new(),
                asks_no_more: false,
            });
        }
        Outcome::Unknown => ledger.unknown_sign_ups.push(email),
        Outcome::NotSent => {}
        Outcome::Refused(status, body) => ledger.unexpected(Kind::SignUp, status, &body),
    }
}

async fn login(client: &Shared, ledger: &mut Ledger, at: usize) {
    let body = json!({"email": ledger.accounts[at].email, "password": PASSWORD});
    let outcome = send(client.http.post(format!("{}/user/v1/account/login", client.base)).json(&body), ledger).await;
    ledger.count(Kind::Login, &outcome);
    match outcome {
        Outcome::Acknowledged(body) => {
            let account = &mut ledger.accounts[at];
            account.logins_acknowledged += 1;
            if let Some(token) = body["result"]["access_token"].as_str() {
                account.token = token.to_string();
            }
        }
        Outcome::Unknown | Outcome::NotSent => {}
        Outcome::Refused(status, body) => ledger.unexpected(Kind::Login, status, &body),
    }
}

async fn update(client: &Shared, ledger: &mut Ledger, at: usize, about: String) {
    let request = client.http.patch(format!("{}/user/v1/user/update", client.base)).json(&json!({"about": about}));
    let outcome = send(authorised(request, &ledger.accounts[at].token), ledger).await;
    ledger.count(Kind::Update, &outcome);
    let account = &mut ledger.accounts[at];
    match outcome {
        Outcome::Acknowledged(_) => {
            account.updates_acknowledged += 1;
            account.last_about = Some(about);
            account.later_unknown_abouts.clear();
        }
        Outcome::Unknown => account.later_unknown_abouts.push(about),
        Outcome::NotSent => {}
        Outcome::Refused(status, body) => ledger.unexpected(Kind::Update, status, &body),
    }
}

async fn request_role(client: &Shared, ledger: &mut Ledger, at: usize) {
    let account = &ledger.accounts[at];
    let Some(&role) = REQUESTABLE_ROLES.iter().find(|r| !account.roles_granted.contains(r)) else { return };
    let request = client
        .http
        .post(format!("{}/user/v1/organization/requestOrgRole", client.base))
        .json(&json!({"role": role, "form_data": {"why": "soak"}}));
    let outcome = send(authorised(request, &account.token), ledger).await;
    ledger.count(Kind::RoleRequest, &outcome);
    let account = &mut ledger.accounts[at];
    match outcome {
        Outcome::Acknowledged(body) => {
            let id = body["result"]["request_id"].as_i64().unwrap_or_default();
            account.requests.insert(id, role);
            account.pending = Some((id, role, false));
        }
        Outcome::Unknown => account.asks_no_more = true,
        Outcome::NotSent => {}
        Outcome::Refused(status, body) => ledger.unexpected(Kind::RoleRequest, status, &body),
    }
}

async fn approve(client: &Shared, ledger: &mut Ledger, at: usize) {
    let Some((id, role, tried_before)) = ledger.accounts[at].pending else { return };
    let request = client
        .http
        .post(format!("{}/user/v1/org-admin/updateRequestStatus", client.base))
        .json(&json!({"request_id": id, "status": "APPROVED", "comments": ["soak"]}));
    let outcome = send(authorised(request, &client.admin_token), ledger).await;
    ledger.count(Kind::Approval, &outcome);
    let account = &mut ledger.accounts[at];
    match outcome {
        Outcome::Acknowledged(_) => {
            account.roles_granted.insert(role);
            account.pending = None;
        }
        Outcome::Unknown => account.pending = Some((id, role, true)),
        Outcome::NotSent => {}
        // Only this client decides this request: "already decided" after an
        // unknown outcome says that earlier approval committed.
        Outcome::Refused(400, body) if tried_before && body.contains("already been decided") => {
            account.roles_granted.insert(role);
            account.pending = None;
            ledger.confirmed_approvals += 1;
            *ledger.refused.entry(Kind::Approval).or_default() -= 1;
        }
        Outcome::Refused(status, body) => {
            account.pending = None;
            ledger.unexpected(Kind::Approval, status, &body);
        }
    }
}

async fn list(client: &Shared, ledger: &mut Ledger, at: usize) {
    let account = &ledger.accounts[at];
    let term = account.email.split('@').next().unwrap_or_default().to_string();
    let url = format!("{}/user/v1/account/list?search={term}&page=1&limit=20", client.base);
    let outcome = send(authorised(client.http.get(url), &account.token), ledger).await;
    ledger.count(Kind::List, &outcome);
    if let Outcome::Refused(status, body) = outcome {
        ledger.unexpected(Kind::List, status, &body);
    }
}
