//! Sunbird's profile extension (`dob`, `profileLocation`,
//! `profileUserType(s)`, `framework`: kept as events, read back as written,
//! merged on update, erased with the user) and self-declarations
//! (`PATCH /api/user/v1/declarations`).

use aggregates::{ProfileExtension, Registration, User, UserCommand};
use reqwest::{Method, StatusCode};
use roster::commands::Metadata;
use serde_json::{json, Value};

use crate::erasure::{events_table_text, export_text};
use crate::helpers::*;
use crate::on_both_backends;
use crate::sunbird::{assert_envelope, assert_error, sb};

/// Values no other field holds, to look for in the log.
const SCHOOL: &str = "Marmalade-Grammar-School";
const BOARD: &str = "Quince-Board-Of-Studies";
const DECLARED: &str = "declared.zebulon@example.org";

fn created_body() -> Value {
    json!({"request": {
        "firstName": "Ext", "lastName": "Ender", "email": "ext@example.com", "password": PASSWORD,
        "userName": "ext_ender",
        "dob": "2000",
        "profileLocation": [{"code": "02", "type": "state"}, {"id": "loc-11", "type": "school", "name": SCHOOL}],
        "profileUserType": {"type": "teacher", "subType": null},
        "framework": {"id": ["fw1"], "board": [BOARD], "medium": ["English"]}
    }})
}

async fn read(app: &TestApp, key: &str, token: &str, path: &str) -> Value {
    let reply = sb(app, Method::GET, path, Some(key), Some(token), None).await;
    assert_envelope(&reply, 200, "api.user.read");
    reply.result()["response"].clone()
}

async fn extension_round_trips_merges_and_stays_out_of_elevate(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin_session().await;
    let key = admin.access_token.as_str();
    let created = sb(&app, Method::POST, "/api/user/v3/create", Some(key), None, Some(created_body())).await;
    assert_envelope(&created, 200, "api.user.create");
    let id = created.result()["userId"].as_str().unwrap().to_string();
    let login = app.login("ext_ender", PASSWORD).await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    let own = session(&login).access_token;

    // Every read version gives back what was written (the year kept as its last day).
    for version in 1..=5 {
        for path in [format!("/api/user/v{version}/read/{id}"), format!("/v{version}/user/read/{id}")] {
            let me = read(&app, key, &own, &path).await;
            assert_eq!(me["dob"], "2000-12-31", "{path}: {me}");
            assert_eq!(me["profileLocation"], created_body()["request"]["profileLocation"], "{path}");
            assert_eq!(me["profileUserType"], json!({"type": "teacher", "subType": null}));
            assert_eq!(me["profileUserTypes"], json!([{"type": "teacher", "subType": null}]), "derived");
            assert_eq!(me["framework"], created_body()["request"]["framework"]);
        }
    }
    // Someone else sees the public view: no extension.
    let other = app.sign_up("Nosy Neighbour", "nosy@example.com").await;
    let seen = read(&app, key, &other.access_token, &format!("/api/user/v1/read/{id}")).await;
    for hidden in ["dob", "profileLocation", "framework", "profileUserTypes"] {
        assert!(seen.get(hidden).is_none(), "{hidden} shown to another user: {seen}");
    }

    // An update replaces the keys it names, a null removes one, the rest stays.
    let update = json!({"request": {"userId": id, "dob": "1999-05-04", "framework": null,
        "profileUserTypes": [{"type": "parent"}, {"type": "teacher", "subType": "hm"}]}});
    let updated = sb(&app, Method::PATCH, "/api/user/v2/update", Some(key), Some(&own), Some(update.clone())).await;
    assert_envelope(&updated, 200, "api.user.update");
    let me = read(&app, key, &own, &format!("/api/user/v3/read/{id}")).await;
    assert_eq!(me["dob"], "1999-05-04");
    assert_eq!(me["framework"], json!({}), "removed reads as Sunbird's empty map");
    assert_eq!(me["profileLocation"], created_body()["request"]["profileLocation"], "kept");
    assert_eq!(me["profileUserTypes"], update["request"]["profileUserTypes"]);
    assert_eq!(me["firstName"], "Ext", "names untouched");
    // The same again changes nothing and still succeeds; names and extension in one update.
    let again = sb(&app, Method::PATCH, "/v2/user/update", Some(key), Some(&own), Some(update)).await;
    assert_envelope(&again, 200, "api.user.update");
    let both = json!({"request": {"firstName": "Extra", "dob": "2001"}});
    let both = sb(&app, Method::PATCH, "/api/user/v1/update", Some(key), Some(&own), Some(both)).await;
    assert_envelope(&both, 200, "api.user.update");
    let me = read(&app, key, &own, &format!("/api/user/v1/read/{id}")).await;
    assert_eq!((me["firstName"].as_str(), me["dob"].as_str()), (Some("Extra"), Some("2001-12-31")), "{me}");
    // With a contact change in the same commit too.
    let contact = json!({"request": {"email": "ext.moved@example.com", "dob": "2002-02-02"}});
    let contact = sb(&app, Method::PATCH, "/api/user/v3/update", Some(key), Some(&own), Some(contact)).await;
    assert_envelope(&contact, 200, "api.user.update");
    let me = read(&app, key, &own, &format!("/api/user/v1/read/{id}")).await;
    assert_eq!((me["email"].as_str(), me["dob"].as_str()), (Some("ext.moved@example.com"), Some("2002-02-02")));

    // ELEVATE's read is unchanged: it has no such fields.
    let elevate = app.get("/user/v1/user/read", Some(&own)).await;
    assert_eq!(elevate.status, StatusCode::OK, "{}", elevate.body);
    for absent in ["dob", "framework", "profileLocation", "profile_extension", "extension"] {
        assert!(elevate.result().get(absent).is_none(), "{absent} in ELEVATE's read: {}", elevate.body);
    }

    // A user who never wrote one reads Sunbird's empty values.
    let plain =
        read(&app, key, &other.access_token, &format!("/api/user/v1/read/{}", other.user["uuid"].as_str().unwrap()))
            .await;
    assert_eq!(
        (
            &plain["dob"],
            &plain["profileLocation"],
            &plain["profileUserType"],
            &plain["profileUserTypes"],
            &plain["framework"]
        ),
        (&Value::Null, &json!([]), &json!({}), &json!([]), &json!({})),
        "{plain}"
    );

    // Managed creates keep theirs too.
    let child = json!({"request": {"firstName": "Kid", "managedBy": id, "dob": "2015",
        "profileLocation": [{"code": "0211", "type": "district"}], "framework": {"id": "fw2", "board": ["CBSE"]}}});
    let child = sb(&app, Method::POST, "/api/user/v1/managed/create", Some(key), Some(&own), Some(child)).await;
    assert_envelope(&child, 200, "api.manageduser.create");
    let kid = child.result()["userId"].as_str().unwrap().to_string();
    let kid = read(&app, key, &own, &format!("/api/user/v1/read/{kid}")).await;
    assert_eq!(kid["dob"], "2015-12-31", "{kid}");
    assert_eq!(kid["profileLocation"], json!([{"code": "0211", "type": "district"}]));
    assert_eq!(kid["framework"], json!({"id": "fw2", "board": ["CBSE"]}));
}

async fn extension_fields_are_refused_with_sunbirds_codes(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin_session().await;
    let key = admin.access_token.as_str();
    let user = app.sign_up("Val Idator", "val@example.com").await;
    let token = user.access_token.as_str();
    let update = |field: &str, value: Value| {
        let mut body = json!({"request": {}});
        body["request"][field] = value;
        sb(&app, Method::PATCH, "/api/user/v1/update", Some(key), Some(token), Some(body))
    };
    let cases: Vec<(&str, Value, &str, &str)> = vec![
        ("dob", json!("31-12-2000"), "UOS_USRUPD0009", "Invalid format for given dob."),
        ("dob", json!("2001-02-30"), "UOS_USRUPD0009", "Invalid format for given dob."),
        ("dob", json!(2000), "UOS_USRUPD0003", "Data type of dob should be String."),
        ("profileLocation", json!({"id": "x"}), "UOS_USRUPD0003", "Data type of profileLocation should be List."),
        (
            "profileLocation",
            json!([{"id": "x"}]),
            "UOS_USRUPD0030",
            "Mandatory parameter profileLocation.type is missing.",
        ),
        (
            "profileLocation",
            json!([{"type": "state"}]),
            "UOS_USRUPD0030",
            "Mandatory parameter profileLocation.id is missing.",
        ),
        (
            "profileLocation",
            json!([{"id": "x", "type": "planet"}]),
            "UOS_USRUPD0018",
            "Invalid locationType: planet. Valid values are: [state, district, block, cluster, school].",
        ),
        ("profileUserType", json!("teacher"), "UOS_USRUPD0003", "Data type of profileUserType should be Map."),
        (
            "profileUserType",
            json!({"subType": "hm"}),
            "UOS_USRUPD0030",
            "Mandatory parameter profileUserType.type is missing.",
        ),
        ("profileUserTypes", json!([]), "UOS_USRUPD0019", "Please provide valid profileUserTypes."),
        ("framework", json!(["fw1"]), "UOS_USRUPD0003", "Data type of framework should be Map."),
        ("framework", json!({"board": ["CBSE"]}), "UOS_USRUPD0030", "Mandatory parameter framework.id is missing."),
        (
            "framework",
            json!({"id": ["a", "b"]}),
            "UOS_USRUPD0058",
            "Parameter framework.id is of invalid size (expected: 1, actual: 2).",
        ),
        ("framework", json!({"id": "fw1", "board": "CBSE"}), "UOS_USRUPD0003", "Data type of board should be List."),
        ("dob", json!("20\u{0}00"), "UOS_USRUPD0019", "Please provide valid dob."),
        ("externalIds", json!([]), "UOS_USRUPD0021", "Invalid parameter externalIds in request."),
    ];
    for (field, value, err, message) in cases {
        let reply = update(field, value.clone()).await;
        assert_envelope(&reply, 400, "api.user.update");
        assert_error(&reply, 400, err, "CLIENT_ERROR", Some(message));
    }
    // Caps: entries, and bytes of one field.
    let many: Vec<Value> = (0..33).map(|i| json!({"id": i.to_string(), "type": "block"})).collect();
    let reply = update("profileLocation", Value::Array(many)).await;
    assert_error(&reply, 400, "UOS_USRUPD0058", "CLIENT_ERROR", None);
    let big = json!({"id": "fw1", "board": ["x".repeat(5000)]});
    let reply = update("framework", big).await;
    assert_error(
        &reply,
        400,
        "UOS_USRUPD0058",
        "CLIENT_ERROR",
        Some("Parameter framework is of invalid size (expected: at most 4096 bytes of JSON, actual: 5025)."),
    );
    // A create answers with its own operation, and stores nothing.
    let mut body = created_body();
    body["request"]["dob"] = json!("2000-13-01");
    let refused = sb(&app, Method::POST, "/api/user/v1/create", Some(key), None, Some(body)).await;
    assert_error(&refused, 400, "UOS_USRCRT0009", "CLIENT_ERROR", Some("Invalid format for given dob."));
    let exists = sb(&app, Method::GET, "/api/user/v1/exists/email/ext@example.com", Some(key), Some(key), None).await;
    assert_eq!(exists.result()["exists"], false, "{}", exists.body);
    // And nothing of the refused updates was kept.
    let me = read(&app, key, token, &format!("/api/user/v1/read/{}", user.user["uuid"].as_str().unwrap())).await;
    assert_eq!((&me["dob"], &me["framework"]), (&Value::Null, &json!({})), "{me}");
}

fn declaration(user: &str, op: &str, persona: &str, info: Value) -> Value {
    json!({"operation": op, "userId": user, "orgId": 1, "persona": persona, "info": info})
}

async fn declare(app: &TestApp, path: &str, key: Option<&str>, token: Option<&str>, entries: Value) -> Reply {
    sb(app, Method::PATCH, path, key, token, Some(json!({"params": {}, "request": {"declarations": entries}}))).await
}

async fn declarations(app: &TestApp, key: &str, token: &str, user: &str) -> Value {
    let me = read(app, key, token, &format!("/api/user/v1/read/{user}?fields=organisations,declarations")).await;
    me["declarations"].clone()
}

async fn declarations_are_added_edited_removed_and_read(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin_session().await;
    let key = admin.access_token.as_str();
    let teacher = app.sign_up("Tess Teacher", "tess@example.com").await;
    let (token, uuid) = (teacher.access_token.as_str(), teacher.user["uuid"].as_str().unwrap().to_string());
    let info = json!({"declared-school-name": SCHOOL, "declared-email": DECLARED, "declared-phone": 99999999});

    // The seed's request, with the user's own token.
    let added = declare(
        &app,
        "/api/user/v1/declarations",
        Some(key),
        Some(token),
        json!([declaration(&uuid, "add", "teacher", info.clone())]),
    )
    .await;
    assert_envelope(&added, 200, "api.user.declarations");
    assert_eq!(added.result()["response"], "SUCCESS", "{}", added.body);
    let listed = declarations(&app, key, token, &uuid).await;
    assert_eq!(
        listed,
        json!([{"orgId": "1", "persona": "teacher", "status": "SUBMITTED", "errorType": null, "info": info}]),
        "{listed}"
    );
    // Only with `fields=declarations`, and only in the full view.
    let plain = read(&app, key, token, &format!("/api/user/v1/read/{uuid}")).await;
    assert!(plain.get("declarations").is_none(), "{plain}");
    let other = app.sign_up("Oscar Other", "oscar@example.com").await;
    let seen = read(&app, key, &other.access_token, &format!("/api/user/v1/read/{uuid}?fields=declarations")).await;
    assert!(seen.get("declarations").is_none(), "{seen}");

    // A second persona, then an edit to a third: the organisation's others go, as in Sunbird.
    let parent = declare(
        &app,
        "/v1/user/declarations",
        Some(key),
        Some(token),
        json!([declaration(&uuid, "add", "parent", json!({"kids": 2}))]),
    )
    .await;
    assert_envelope(&parent, 200, "api.user.declarations");
    assert_eq!(declarations(&app, key, token, &uuid).await.as_array().unwrap().len(), 2);
    // The user's own status is ignored: it is a reviewer's to set.
    let mut edit = declaration(&uuid, "edit", "volunteer", json!({"hours": 5}));
    edit["status"] = json!("VALIDATED");
    let edited = declare(&app, "/api/user/v1/declarations", Some(key), Some(token), json!([edit])).await;
    assert_envelope(&edited, 200, "api.user.declarations");
    let listed = declarations(&app, key, token, &uuid).await;
    assert_eq!(
        listed,
        json!([{"orgId": "1", "persona": "volunteer", "status": "SUBMITTED", "errorType": null, "info": {"hours": 5}}])
    );
    // An admin reviews it: status and error type kept.
    let mut review = declaration(&uuid, "edit", "volunteer", json!({"hours": 5}));
    review["status"] = json!("ERROR");
    review["errorType"] = json!("ERROR-PHONE");
    let reviewed = declare(&app, "/api/user/v1/declarations", Some(key), Some(key), json!([review])).await;
    assert_envelope(&reviewed, 200, "api.user.declarations");
    let listed = declarations(&app, key, token, &uuid).await;
    assert_eq!((listed[0]["status"].as_str(), listed[0]["errorType"].as_str()), (Some("ERROR"), Some("ERROR-PHONE")));
    // Several operations in one request, in order; a persona defaults to `default`.
    let entries = json!([
        declaration(&uuid, "remove", "volunteer", json!({})),
        {"operation": "add", "userId": uuid, "orgId": "1", "info": {"a": "b"}},
    ]);
    let mixed = declare(&app, "/api/user/v1/declarations", Some(key), Some(token), entries).await;
    assert_envelope(&mixed, 200, "api.user.declarations");
    let listed = declarations(&app, key, token, &uuid).await;
    assert_eq!(
        listed,
        json!([{"orgId": "1", "persona": "default", "status": "SUBMITTED", "errorType": null, "info": {"a": "b"}}])
    );
    let removed = declare(
        &app,
        "/api/user/v1/declarations",
        Some(key),
        Some(token),
        json!([declaration(&uuid, "remove", "default", json!({}))]),
    )
    .await;
    assert_envelope(&removed, 200, "api.user.declarations");
    assert_eq!(declarations(&app, key, token, &uuid).await, json!([]));

    // Refusals, each with Sunbird's code.
    let path = "/api/user/v1/declarations";
    let one = |entry: Value| json!([entry]);
    let cases: Vec<(Value, u16, &str, Option<&str>)> = vec![
        (json!([]), 400, "UOS_UDECLUPD0030", Some("Mandatory parameter declarations is missing.")),
        (
            one(json!({"operation": "add", "orgId": 1})),
            400,
            "UOS_UDECLUPD0030",
            Some("Mandatory parameter userId or orgId is missing."),
        ),
        (
            one(json!({"operation": "add", "userId": uuid})),
            400,
            "UOS_UDECLUPD0030",
            Some("Mandatory parameter userId or orgId is missing."),
        ),
        (
            one(json!({"operation": "upsert", "userId": uuid, "orgId": 1})),
            400,
            "UOS_UDECLUPD0027",
            Some("Operation name is invalid. Please provide a valid operation name"),
        ),
        (one(json!({"userId": uuid, "orgId": 1})), 400, "UOS_UDECLUPD0027", None),
        (
            one(json!({"operation": "add", "userId": uuid, "orgId": 999})),
            400,
            "UOS_UDECLUPD0017",
            Some("Invalid value 999 for parameter orgId. Please provide a valid value."),
        ),
        (one(json!({"operation": "add", "userId": uuid, "orgId": 1, "info": "x"})), 400, "UOS_UDECLUPD0003", None),
        (one(json!({"operation": "add", "userId": uuid, "orgId": 1, "shoeSize": 9})), 400, "UOS_UDECLUPD0021", None),
        (
            one(json!({"operation": "add", "userId": uuid, "orgId": 1, "info": {"big": "x".repeat(5000)}})),
            400,
            "UOS_UDECLUPD0058",
            None,
        ),
        (
            json!([
                declaration(&uuid, "add", "a", json!({})),
                declaration(other.user["uuid"].as_str().unwrap(), "add", "a", json!({}))
            ]),
            400,
            "UOS_UDECLUPD0017",
            None,
        ),
        (one(json!({"operation": "add", "userId": "a\u{0}b", "orgId": 1})), 400, "UOS_UDECLUPD0019", None),
        (
            one(declaration(&uuid::Uuid::new_v4().to_string(), "add", "a", json!({}))),
            404,
            "UOS_UDECLUPD0013",
            Some("Requested user resource not found"),
        ),
    ];
    for (entries, status, err, message) in cases {
        let reply = declare(&app, path, Some(key), Some(token), entries.clone()).await;
        assert_envelope(&reply, status, "api.user.declarations");
        let code = if status == 404 { "RESOURCE_NOT_FOUND" } else { "CLIENT_ERROR" };
        assert_error(&reply, status, err, code, message);
    }
    let no_request = sb(&app, Method::PATCH, path, Some(key), Some(token), Some(json!({"declarations": []}))).await;
    assert_error(&no_request, 400, "UOS_UDECLUPD0028", "CLIENT_ERROR", None);

    // Credentials: no key, no user, another user's declarations.
    let entries = json!([declaration(&uuid, "add", "teacher", json!({}))]);
    let no_key = declare(&app, path, None, Some(token), entries.clone()).await;
    assert_error(&no_key, 401, "UOS_0070", "UNAUTHORIZED", Some("You are not authorized."));
    let anonymous = declare(&app, path, Some(key), None, entries.clone()).await;
    assert_error(&anonymous, 401, "UOS_0070", "UNAUTHORIZED", None);
    let bad_token = declare(&app, path, Some(key), Some("not-a-token"), entries.clone()).await;
    assert_error(&bad_token, 401, "UOS_0070", "UNAUTHORIZED", None);
    let theirs = declare(&app, path, Some(key), Some(&other.access_token), entries).await;
    assert_envelope(&theirs, 403, "api.user.declarations");
    assert_error(&theirs, 403, "UOS_UDECLUPD0071", "FORBIDDEN", None);
    assert_eq!(declarations(&app, key, token, &uuid).await, json!([]), "nothing was declared for her");

    // A blocked user's declarations stay as they are.
    let blocked =
        sb(&app, Method::POST, "/api/user/v1/block", Some(key), Some(key), Some(json!({"request": {"userId": uuid}})))
            .await;
    assert_envelope(&blocked, 200, "api.user.block");
    let by_admin =
        declare(&app, path, Some(key), Some(key), json!([declaration(&uuid, "add", "teacher", json!({}))])).await;
    assert_error(&by_admin, 400, "UOS_UDECLUPD0073", "CLIENT_ERROR", None);
}

/// The extension and the declarations are personal data: sealed in the
/// log from the start, unreadable everywhere once the user is erased.
async fn extension_and_declarations_are_erased_with_the_user(backend: Backend) {
    let app = spawn_app(backend).await;
    let db = app.state.db.clone();
    let admin = app.admin_session().await;
    let key = admin.access_token.as_str();
    let created = sb(&app, Method::POST, "/api/user/v1/create", Some(key), None, Some(created_body())).await;
    assert_envelope(&created, 200, "api.user.create");
    let uuid = created.result()["userId"].as_str().unwrap().to_string();
    let own = session(&app.login("ext_ender", PASSWORD).await).access_token;
    let info = json!({"declared-email": DECLARED});
    let declared = declare(
        &app,
        "/api/user/v1/declarations",
        Some(key),
        Some(&own),
        json!([declaration(&uuid, "add", "teacher", info)]),
    )
    .await;
    assert_envelope(&declared, 200, "api.user.declarations");
    let moved = json!({"request": {"framework": {"id": "fw9", "board": [format!("{BOARD}-2")]}}});
    let moved = sb(&app, Method::PATCH, "/api/user/v1/update", Some(key), Some(&own), Some(moved)).await;
    assert_envelope(&moved, 200, "api.user.update");

    let secrets = [SCHOOL, BOARD, DECLARED, "2000-12-31"];
    let table = events_table_text(&db).await;
    let export = export_text(&db).await;
    for secret in secrets {
        assert!(!table.contains(secret), "{secret} stored in plain text");
        assert!(export.contains(secret), "{secret} not readable before erasure");
    }

    let numeric: i64 = roster::on_pool!(&db, pool => {
        sqlx::query_scalar("SELECT id FROM users WHERE user_uuid = $1").bind(&uuid).fetch_one(pool).await.unwrap()
    });
    let deleted = app.call(Method::DELETE, &format!("/user/v1/admin/deleteUser/{numeric}"), Some(key), None).await;
    assert_eq!(deleted.status, StatusCode::ACCEPTED, "{}", deleted.body);
    let export = export_text(&db).await;
    let dumped = format!("{:?}", dump(&db).await);
    for secret in secrets {
        assert!(!export.contains(secret), "{secret} readable after erasure");
        assert!(!dumped.contains(secret), "{secret} left in a read table");
    }
    // A replay from the erased log brings none of it back.
    roster::projector::Projector::new(db.clone()).rebuild(|_, _| {}).await.unwrap();
    let replayed = format!("{:?}", dump(&db).await);
    for secret in secrets {
        assert!(!replayed.contains(secret), "{secret} back after replay");
    }
    let gone = sb(&app, Method::GET, &format!("/api/user/v1/read/{uuid}"), Some(key), Some(key), None).await;
    assert_error(&gone, 404, "UOS_USRRED0013", "RESOURCE_NOT_FOUND", None);
}

/// A NUL is refused at the edge; one in an extension the log holds anyway
/// (an import, an older version) still projects on PostgreSQL, whose text
/// refuses NUL: the column holds the JSON text, where it is `\u0000`.
async fn a_nul_inside_an_extension_event_does_not_stop_the_read_model(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin_session().await;
    let key = admin.access_token.as_str();
    let mut body = created_body();
    body["request"]["framework"]["board"] = json!(["a\u{0}b"]);
    let refused = sb(&app, Method::POST, "/api/user/v1/create", Some(key), None, Some(body)).await;
    assert_error(&refused, 400, "UOS_USRCRT0019", "CLIENT_ERROR", Some("Please provide valid framework.board[0]."));

    let extension: ProfileExtension =
        json!({"framework": {"id": ["fw1"], "board": ["a\u{0}b"]}, "dob": "2000-12-31"}).as_object().cloned().unwrap();
    let uuid = uuid::Uuid::new_v4().to_string();
    let registration = Registration {
        numeric_id: app.state.db.next_numeric_id("user").await.unwrap(),
        email: None,
        name: "Nul Imported".into(),
        phone: None,
        username: None,
        password_hash: None,
        organization_id: 1,
        role_ids: vec![],
        has_accepted_terms_and_conditions: false,
        preferred_language: "en".into(),
        managed_by: None,
        extension: Some(extension),
    };
    let committed = app
        .state
        .bus
        .execute::<User>(
            &uuid,
            UserCommand::Register { registration, at: chrono::Utc::now() },
            &Metadata::system("nul-test"),
        )
        .await
        .unwrap();
    app.state.settle(committed).await.expect("the event projects");
    let seen = read(&app, key, key, &format!("/api/user/v1/read/{uuid}")).await;
    assert_eq!(seen["framework"]["board"], json!(["a\u{0}b"]), "{seen}");
    assert_eq!(seen["dob"], "2000-12-31");
    // And the read model goes on: a later write still reads back.
    let after = sb(
        &app,
        Method::POST,
        "/api/user/v1/create",
        Some(key),
        None,
        Some(crate::sunbird::create_body("After", "Nul", "after@example.com")),
    )
    .await;
    assert_envelope(&after, 200, "api.user.create");
}

on_both_backends!(
    extension_round_trips_merges_and_stays_out_of_elevate,
    extension_fields_are_refused_with_sunbirds_codes,
    declarations_are_added_edited_removed_and_read,
    extension_and_declarations_are_erased_with_the_user,
    a_nul_inside_an_extension_event_does_not_stop_the_read_model,
);
