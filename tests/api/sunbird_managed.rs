//! Sunbird's managed users (create v4, managed create, the list with
//! tokens, the limit of 30 under parallel creates), profile read by login
//! id and terms-and-conditions acceptance, on the same users as ELEVATE.

use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::*;
use crate::on_both_backends;
use crate::sunbird::{assert_envelope, assert_error, assert_matrix, create, sb, MatrixRow, Who};

fn child(first: &str, manager: &str) -> Value {
    json!({"request": {"firstName": first, "lastName": "Child", "managedBy": manager}})
}

/// Creates a managed user of `manager` (acting with `token`) at `path`; its UUID.
async fn create_managed(app: &TestApp, key: &str, token: &str, path: &str, body: Value, id: &str) -> String {
    let reply = sb(app, Method::POST, path, Some(key), Some(token), Some(body)).await;
    assert_envelope(&reply, 200, id);
    assert_eq!(reply.result()["response"], "SUCCESS", "{}", reply.body);
    reply.result()["userId"].as_str().unwrap().to_string()
}

fn identifiers(reply: &Reply) -> Vec<String> {
    reply.result()["response"]["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["identifier"].as_str().unwrap().to_string())
        .collect()
}

async fn managed_users_are_created_listed_and_act_with_their_tokens(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin_session().await;
    let key = admin.access_token.as_str();
    let parent = app.sign_up("Pat Parent", "parent@example.com").await;
    let (token, manager) = (parent.access_token.as_str(), parent.user["uuid"].as_str().unwrap().to_string());

    // Every form creates one; the seed's own managed/create example included.
    let first =
        create_managed(&app, key, token, "/api/user/v4/create", child("Kim", &manager), "api.user.create").await;
    let second = create_managed(&app, key, token, "/v4/user/create", child("Lee", &manager), "api.user.create").await;
    let seed_example = json!({"request": {
        "firstName": "child7", "managedBy": manager,
        "profileLocation": [{"code": "02,", "type": "state"}, {"code": "0211,", "type": "district"}]
    }});
    let third =
        create_managed(&app, key, token, "/api/user/v1/managed/create", seed_example, "api.manageduser.create").await;
    let fourth = create_managed(
        &app,
        key,
        token,
        "/v1/manageduser/create",
        json!({"request": {"firstname": "Max", "managedBy": manager, "framework": {"id": ["fw1"], "board": ["CBSE"]}}}),
        "api.manageduser.create",
    )
    .await;

    // Refusals: someone else as manager, no manager, no name, an unknown manager, no user.
    let other = app.sign_up("Oscar Other", "other@example.com").await;
    let theirs =
        sb(&app, Method::POST, "/api/user/v4/create", Some(key), Some(&other.access_token), Some(child("X", &manager)))
            .await;
    assert_envelope(&theirs, 401, "api.user.create");
    assert_error(&theirs, 401, "UOS_0070", "UNAUTHORIZED", Some("You are not authorized."));
    let no_manager = json!({"request": {"firstName": "X"}});
    let no_manager = sb(&app, Method::POST, "/v1/manageduser/create", Some(key), Some(token), Some(no_manager)).await;
    assert_error(&no_manager, 400, "UOS_USRCRT0030", "CLIENT_ERROR", Some("Mandatory parameter managedBy is missing."));
    let no_name = json!({"request": {"managedBy": manager}});
    let no_name = sb(&app, Method::POST, "/api/user/v4/create", Some(key), Some(token), Some(no_name)).await;
    assert_error(&no_name, 400, "UOS_USRCRT0030", "CLIENT_ERROR", Some("Mandatory parameter firstName is missing."));
    let nobody = child("X", &uuid::Uuid::new_v4().to_string());
    let nobody = sb(&app, Method::POST, "/api/user/v4/create", Some(key), Some(token), Some(nobody)).await;
    assert_error(&nobody, 404, "UOS_USRCRT0013", "RESOURCE_NOT_FOUND", Some("Requested user resource not found"));
    let unknown = json!({"request": {"firstName": "X", "managedBy": manager, "email": "x@example.com"}});
    let unknown = sb(&app, Method::POST, "/api/user/v4/create", Some(key), Some(token), Some(unknown)).await;
    assert_error(&unknown, 400, "UOS_USRCRT0021", "CLIENT_ERROR", Some("Invalid parameter email in request."));
    let anonymous = sb(&app, Method::POST, "/api/user/v4/create", Some(key), None, Some(child("X", &manager))).await;
    assert_error(&anonymous, 401, "UOS_0070", "UNAUTHORIZED", None);
    let no_key = sb(&app, Method::POST, "/v4/user/create", None, Some(token), Some(child("X", &manager))).await;
    assert_error(&no_key, 401, "UOS_0070", "UNAUTHORIZED", None);

    // The list: the manager's, oldest first, each with managedBy; tokens on request.
    let path = format!("/api/user/v1/managed/{manager}");
    let listed = sb(&app, Method::GET, &path, Some(key), Some(token), None).await;
    assert_envelope(&listed, 200, "api.user.managed");
    assert_eq!(listed.result()["response"]["count"], 4, "{}", listed.body);
    assert_eq!(identifiers(&listed), [first.clone(), second, third, fourth]);
    let kim = &listed.result()["response"]["content"][0];
    assert_eq!((kim["firstName"].as_str(), kim["lastName"].as_str()), (Some("Kim"), Some("Child")), "{kim}");
    assert_eq!(kim["managedBy"], manager.as_str());
    assert!(kim["email"].is_null() && kim["phone"].is_null(), "no contacts: {kim}");
    assert!(kim.get("managedToken").is_none(), "{kim}");
    let with_tokens =
        sb(&app, Method::GET, &format!("/v1/user/managed/{manager}?withTokens=true"), Some(key), Some(token), None)
            .await;
    assert_envelope(&with_tokens, 200, "api.user.managed");
    let content = with_tokens.result()["response"]["content"].as_array().unwrap().clone();
    assert_eq!(content.len(), 4);
    assert!(content.iter().all(|u| u["managedToken"].is_string()), "{content:?}");

    // A managed user's token is a Roster access token for them, in every dialect.
    let kim_token = content[0]["managedToken"].as_str().unwrap();
    let own = sb(&app, Method::GET, &format!("/api/user/v1/read/{first}"), Some(key), Some(kim_token), None).await;
    assert_envelope(&own, 200, "api.user.read");
    assert_eq!(own.result()["response"]["managedBy"], manager.as_str());
    assert_eq!(own.result()["response"]["promptTnC"], true, "the full view: it is her own");
    let elevate = app.get("/user/v1/user/read", Some(kim_token)).await;
    assert_eq!(elevate.status, StatusCode::OK, "{}", elevate.body);
    assert_eq!(elevate.result()["name"], "Kim Child", "{}", elevate.body);
    let grandchild = child("Grand", &first);
    let grandchild = sb(&app, Method::POST, "/api/user/v4/create", Some(key), Some(kim_token), Some(grandchild)).await;
    assert_error(&grandchild, 404, "UOS_USRCRT0013", "RESOURCE_NOT_FOUND", None);
    let listed_by_elevate = app.get("/user/v1/account/list?search=kim", Some(key)).await;
    assert_eq!(listed_names(&listed_by_elevate), ["Kim Child"]);

    // Who may list: the manager, an admin (without tokens); not another user.
    let by_admin = sb(&app, Method::GET, &path, Some(key), Some(key), None).await;
    assert_envelope(&by_admin, 200, "api.user.managed");
    assert_eq!(by_admin.result()["response"]["count"], 4);
    let admin_tokens = sb(&app, Method::GET, &format!("{path}?withTokens=true"), Some(key), Some(key), None).await;
    assert_error(&admin_tokens, 403, "UOS_USRRED0071", "FORBIDDEN", None);
    let by_other = sb(&app, Method::GET, &path, Some(key), Some(&other.access_token), None).await;
    assert_error(&by_other, 403, "UOS_USRRED0071", "FORBIDDEN", None);
    let none = sb(
        &app,
        Method::GET,
        &format!("/api/user/v1/managed/{}", other.user["uuid"].as_str().unwrap()),
        Some(key),
        Some(&other.access_token),
        None,
    )
    .await;
    assert_envelope(&none, 200, "api.user.managed");
    assert_eq!(none.result()["response"], json!({"count": 0, "content": []}));
    let missing =
        sb(&app, Method::GET, &format!("/api/user/v1/managed/{}", uuid::Uuid::new_v4()), Some(key), Some(key), None)
            .await;
    assert_error(&missing, 404, "UOS_USRRED0013", "RESOURCE_NOT_FOUND", None);
    let anonymous = sb(&app, Method::GET, &path, Some(key), None, None).await;
    assert_error(&anonymous, 401, "UOS_0070", "UNAUTHORIZED", None);

    // The manager is in the registration event; the manager's state counts them.
    let state = app.get(&format!("/user/v1/audit/users/{first}/state?at=2100-01-01T00:00:00Z"), Some(key)).await;
    assert_eq!(state.result()["managed_by"], manager.as_str(), "{}", state.body);
    assert!(state.result()["email"].is_null(), "{}", state.body);
    let manager_state =
        app.get(&format!("/user/v1/audit/users/{manager}/state?at=2100-01-01T00:00:00Z"), Some(key)).await;
    assert_eq!(manager_state.result()["managed_users"].as_array().map(Vec::len), Some(4), "{}", manager_state.body);
    let history = app.get(&format!("/user/v1/audit/users/{first}/history"), Some(key)).await;
    let events = history.result()["events"].as_array().unwrap().clone();
    let registered = events.iter().find(|e| e["event_type"] == "UserRegistered").unwrap();
    assert_eq!(registered["metadata"]["dialect"], "sunbird", "{registered}");
    assert_eq!(registered["actor"], manager.as_str(), "{registered}");

    // A user created before (no managedBy) reads with `managedBy: null`.
    let plain = create(&app, key, "Ada", "Lovelace", "ada@example.com").await;
    let read = sb(&app, Method::GET, &format!("/api/user/v1/read/{plain}"), Some(key), Some(key), None).await;
    assert!(read.result()["response"]["managedBy"].is_null(), "{}", read.body);
}

async fn forty_parallel_managed_creates_make_thirty(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin_session().await;
    let parent = app.sign_up("Pat Parent", "parent@example.com").await;
    let manager = parent.user["uuid"].as_str().unwrap().to_string();
    let replies = join_all((0..40).map(|i| {
        let path =
            ["/api/user/v4/create", "/v4/user/create", "/api/user/v1/managed/create", "/v1/manageduser/create"][i % 4];
        sb(
            &app,
            Method::POST,
            path,
            Some(&admin.access_token),
            Some(&parent.access_token),
            Some(child(&format!("Kid{i}"), &manager)),
        )
    }))
    .await;
    let created = replies.iter().filter(|r| r.status == StatusCode::OK).count();
    assert_eq!(created, 30, "{:?}", replies.iter().map(|r| r.body.to_string()).collect::<Vec<_>>());
    for reply in replies.iter().filter(|r| r.status != StatusCode::OK) {
        let b = &reply.body;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{b}");
        assert_eq!(
            (b["params"]["err"].as_str(), b["responseCode"].as_str()),
            (Some("MANAGED_USER_LIMIT_EXCEEDED"), Some("CLIENT_ERROR")),
            "{b}"
        );
        assert_eq!(b["params"]["errmsg"], "Managed user creation limit exceeded", "{b}");
        assert_eq!(reply.body["params"]["status"], "MANAGED_USER_LIMIT_EXCEEDED", "Sunbird's old code in `status` too");
    }
    let listed = sb(
        &app,
        Method::GET,
        &format!("/api/user/v1/managed/{manager}"),
        Some(&admin.access_token),
        Some(&parent.access_token),
        None,
    )
    .await;
    assert_eq!(listed.result()["response"]["count"], 30, "{}", listed.body);
    let one_more = sb(
        &app,
        Method::POST,
        "/api/user/v4/create",
        Some(&admin.access_token),
        Some(&parent.access_token),
        Some(child("Late", &manager)),
    )
    .await;
    assert_eq!((one_more.status.as_u16(), &one_more.body["id"]), (400, &json!("api.user.create")), "{}", one_more.body);
    assert_eq!(one_more.body["params"]["err"], "MANAGED_USER_LIMIT_EXCEEDED");
}

async fn profile_read_by_login_id(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin_session().await;
    let key = admin.access_token.as_str();
    let body = json!({"request": {
        "firstName": "Grace", "lastName": "Hopper", "email": "grace@example.com", "password": PASSWORD, "userName": "ghopper"
    }});
    let created = sb(&app, Method::POST, "/v1/user/create", Some(key), None, Some(body)).await;
    assert_envelope(&created, 200, "api.user.create");
    let grace = created.result()["userId"].as_str().unwrap().to_string();
    let own = session(&app.login("ghopper", PASSWORD).await).access_token;

    let login_id = |id: &str| json!({"request": {"loginId": id}});
    for (path, user) in [("/v1/user/getuser", own.as_str()), ("/api/user/v1/profile/read?fields=roles", key)] {
        let read = sb(&app, Method::POST, path, Some(key), Some(user), Some(login_id("GHopper"))).await;
        assert_envelope(&read, 200, "api.user.getuser");
        let me = &read.result()["response"];
        assert_eq!(me["identifier"], grace.as_str(), "{me}");
        assert_eq!((me["firstName"].as_str(), me["userName"].as_str()), (Some("Grace"), Some("ghopper")), "{me}");
        assert_eq!(me["email"], "grace@example.com");
    }
    // Anyone else cannot tell whose a login id is.
    let other = app.sign_up("Nosy Neighbour", "nosy@example.com").await;
    let theirs =
        sb(&app, Method::POST, "/v1/user/getuser", Some(key), Some(&other.access_token), Some(login_id("ghopper")))
            .await;
    assert_error(&theirs, 404, "UOS_USRRED0013", "RESOURCE_NOT_FOUND", Some("Requested user resource not found"));
    let unknown =
        sb(&app, Method::POST, "/api/user/v1/profile/read", Some(key), Some(key), Some(login_id("nobody"))).await;
    assert_envelope(&unknown, 404, "api.user.getuser");
    for blank in [json!({"request": {}}), login_id("  ")] {
        let reply = sb(&app, Method::POST, "/v1/user/getuser", Some(key), Some(key), Some(blank)).await;
        assert_error(&reply, 400, "UOS_USRRED0019", "CLIENT_ERROR", Some("Please provide valid loginId."));
    }
    let typed =
        sb(&app, Method::POST, "/v1/user/getuser", Some(key), Some(key), Some(json!({"request": {"loginId": 5}})))
            .await;
    assert_error(&typed, 400, "UOS_USRRED0003", "CLIENT_ERROR", Some("Data type of loginId should be String."));
    let anonymous = sb(&app, Method::POST, "/v1/user/getuser", Some(key), None, Some(login_id("ghopper"))).await;
    assert_error(&anonymous, 401, "UOS_0070", "UNAUTHORIZED", None);
    let wrong_method = sb(&app, Method::GET, "/api/user/v1/profile/read", Some(key), Some(key), None).await;
    assert_error(&wrong_method, 405, "UOS_USRRED0027", "CLIENT_ERROR", None);
}

async fn terms_accepted_for_oneself_and_for_a_managed_user(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin_session().await;
    let key = admin.access_token.as_str();
    let parent = app.sign_up("Pat Parent", "parent@example.com").await;
    let manager = parent.user["uuid"].as_str().unwrap().to_string();
    let token = parent.access_token.as_str();
    let prompt = |user: String| {
        let app = &app;
        async move {
            let read = sb(app, Method::GET, &format!("/api/user/v1/read/{user}"), Some(key), Some(key), None).await;
            read.result()["response"]["promptTnC"].as_bool()
        }
    };
    assert_eq!(prompt(manager.clone()).await, Some(true));

    let accept = |version: &str| json!({"request": {"version": version}});
    let accepted = sb(&app, Method::POST, "/api/user/v1/tnc/accept", Some(key), Some(token), Some(accept("v4"))).await;
    assert_envelope(&accepted, 200, "api.user.tnc.accept");
    assert_eq!(accepted.result()["response"], "SUCCESS");
    assert_eq!(prompt(manager.clone()).await, Some(false));
    let elevate = app.get("/user/v1/user/read", Some(token)).await;
    assert_eq!(elevate.result()["has_accepted_terms_and_conditions"], true, "the same command as ELEVATE's");
    let again = sb(&app, Method::POST, "/v1/user/tnc/accept", Some(key), Some(token), Some(accept("v4"))).await;
    assert_envelope(&again, 200, "api.user.tnc.accept");

    // For a managed user: the manager may; another user may not.
    let kid = sb(&app, Method::POST, "/api/user/v4/create", Some(key), Some(token), Some(child("Kim", &manager))).await;
    let kid = kid.result()["userId"].as_str().unwrap().to_string();
    assert_eq!(prompt(kid.clone()).await, Some(true));
    let other = app.sign_up("Oscar Other", "other@example.com").await;
    let for_kid = json!({"request": {"version": "v4", "userId": kid}});
    let refused =
        sb(&app, Method::POST, "/v1/user/tnc/accept", Some(key), Some(&other.access_token), Some(for_kid.clone()))
            .await;
    assert_error(&refused, 403, "UOS_TNCACCPT0071", "FORBIDDEN", None);
    assert_eq!(prompt(kid.clone()).await, Some(true));
    let for_parent = json!({"request": {"version": "v4", "userId": manager}});
    let not_managed =
        sb(&app, Method::POST, "/v1/user/tnc/accept", Some(key), Some(&other.access_token), Some(for_parent)).await;
    assert_error(&not_managed, 403, "UOS_TNCACCPT0071", "FORBIDDEN", None);
    let by_manager = sb(&app, Method::POST, "/api/user/v1/tnc/accept", Some(key), Some(token), Some(for_kid)).await;
    assert_envelope(&by_manager, 200, "api.user.tnc.accept");
    assert_eq!(prompt(kid).await, Some(false));

    // Refusals in Sunbird's words.
    let no_version =
        sb(&app, Method::POST, "/api/user/v1/tnc/accept", Some(key), Some(token), Some(json!({"request": {}}))).await;
    assert_error(&no_version, 400, "UOS_TNCACCPT0030", "CLIENT_ERROR", Some("Mandatory parameter version is missing."));
    let bad_id = json!({"request": {"version": "v4", "userId": "not-a-uuid"}});
    let bad_id = sb(&app, Method::POST, "/api/user/v1/tnc/accept", Some(key), Some(token), Some(bad_id)).await;
    assert_error(&bad_id, 400, "UOS_TNCACCPT0019", "CLIENT_ERROR", Some("Please provide valid userId."));
    let nobody = json!({"request": {"version": "v4", "userId": uuid::Uuid::new_v4()}});
    let nobody = sb(&app, Method::POST, "/v1/user/tnc/accept", Some(key), Some(token), Some(nobody)).await;
    assert_error(&nobody, 404, "UOS_TNCACCPT0013", "RESOURCE_NOT_FOUND", None);
    let extra = json!({"request": {"version": "v4", "shoeSize": 9}});
    let extra = sb(&app, Method::POST, "/v1/user/tnc/accept", Some(key), Some(token), Some(extra)).await;
    assert_error(&extra, 400, "UOS_TNCACCPT0021", "CLIENT_ERROR", None);
    let anonymous = sb(&app, Method::POST, "/v1/user/tnc/accept", Some(key), None, Some(accept("v4"))).await;
    assert_error(&anonymous, 401, "UOS_0070", "UNAUTHORIZED", None);
}

/// The new routes against every kind of acting user, as
/// `sunbird::every_route_against_every_caller` runs the others.
async fn new_routes_against_every_caller(backend: Backend) {
    use Who::*;
    const SIGNED_IN: &[Who] = &[Mentee, OtherOrgAdmin, OrgAdmin, Admin];
    const MENTEE: &[Who] = &[Mentee];
    const MENTEE_OR_HER_ADMINS: &[Who] = &[Mentee, OrgAdmin, Admin];

    let app = spawn_app(backend).await;
    let c = crate::organizations::cast(&app).await;
    let service = app.sign_up("Service Account", "service@example.com").await;
    let mentee = c.mentee.user["uuid"].as_str().unwrap().to_string();
    let rows: Vec<MatrixRow> = vec![
        (Method::POST, "/api/user/v4/create".into(), Some(child("Kid", &mentee)), MENTEE),
        (Method::POST, "/api/user/v1/managed/create".into(), Some(child("Kid", &mentee)), MENTEE),
        (Method::POST, "/api/user/v2/managed/create".into(), Some(child("Kid", &mentee)), MENTEE),
        (Method::GET, format!("/api/user/v1/read/{mentee}?withTokens=true"), None, SIGNED_IN),
        (Method::GET, format!("/api/user/v1/managed/{mentee}"), None, MENTEE_OR_HER_ADMINS),
        (Method::GET, format!("/api/user/v1/managed/{mentee}?withTokens=true"), None, MENTEE),
        (Method::POST, "/api/user/v1/profile/read".into(), Some(json!({"request": {"loginId": "nobody"}})), SIGNED_IN),
        (Method::POST, "/api/user/v1/tnc/accept".into(), Some(json!({"request": {"version": "v1"}})), SIGNED_IN),
        (
            Method::POST,
            "/api/user/v1/tnc/accept".into(),
            Some(json!({"request": {"version": "v1", "userId": mentee}})),
            MENTEE,
        ),
    ];
    assert_matrix(&app, &c, &service, &rows).await;
}

/// Sunbird's v2 managed create (the same as v1), and a managed user read
/// with `withTokens=true`: their manager gets `managedToken`, a Roster
/// access token for them; no one else gets one.
async fn v2_managed_creates_and_reads_with_tokens(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin_session().await;
    let key = admin.access_token.as_str();
    let parent = app.sign_up("Pat Parent", "parent@example.com").await;
    let (token, manager) = (parent.access_token.as_str(), parent.user["uuid"].as_str().unwrap().to_string());
    let kim =
        create_managed(&app, key, token, "/v2/manageduser/create", child("Kim", &manager), "api.manageduser.create")
            .await;
    let lee = create_managed(
        &app,
        key,
        token,
        "/api/user/v2/managed/create",
        child("Lee", &manager),
        "api.manageduser.create",
    )
    .await;
    let listed = sb(&app, Method::GET, &format!("/v1/user/managed/{manager}"), Some(key), Some(token), None).await;
    assert_eq!(identifiers(&listed), [kim.clone(), lee]);

    let read = |path: String, user: &str| {
        let user = user.to_string();
        let app = &app;
        async move { sb(app, Method::GET, &path, Some(key), Some(&user), None).await }
    };
    let with_token = read(format!("/api/user/v5/read/{kim}?withTokens=true&fields=organisations"), token).await;
    assert_envelope(&with_token, 200, "api.user.read");
    let kim_token =
        with_token.result()["response"]["managedToken"].as_str().expect("a token for the manager").to_string();
    let elevate = app.get("/user/v1/user/read", Some(&kim_token)).await;
    assert_eq!(elevate.status, StatusCode::OK, "{}", elevate.body);
    assert_eq!(elevate.result()["name"], "Kim Child", "{}", elevate.body);
    let as_kim = read(format!("/v1/user/read/{kim}"), &kim_token).await;
    assert_eq!(as_kim.result()["response"]["identifier"], kim.as_str(), "{}", as_kim.body);
    // No token without asking, for an admin, or for a user nobody manages.
    for (path, user) in [
        (format!("/api/user/v1/read/{kim}"), token),
        (format!("/api/user/v1/read/{kim}?withTokens=false"), token),
        (format!("/api/user/v1/read/{kim}?withTokens=true"), key),
        (format!("/api/user/v1/read/{manager}?withTokens=true"), token),
    ] {
        let reply = read(path.clone(), user).await;
        assert_envelope(&reply, 200, "api.user.read");
        assert!(reply.result()["response"].get("managedToken").is_none(), "{path}: {}", reply.body);
    }
    // A blocked managed user gets none either.
    let blocked =
        sb(&app, Method::POST, "/api/user/v1/block", Some(key), Some(key), Some(json!({"request": {"userId": kim}})))
            .await;
    assert_envelope(&blocked, 200, "api.user.block");
    let reply = read(format!("/api/user/v1/read/{kim}?withTokens=true"), token).await;
    assert!(reply.result()["response"].get("managedToken").is_none(), "{}", reply.body);
}

on_both_backends!(
    v2_managed_creates_and_reads_with_tokens,
    new_routes_against_every_caller,
    managed_users_are_created_listed_and_act_with_their_tokens,
    forty_parallel_managed_creates_make_thirty,
    profile_read_by_login_id,
    terms_accepted_for_oneself_and_for_a_managed_user,
);
