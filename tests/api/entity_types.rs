//! ELEVATE's entity types and entities (README, "Entity types and
//! entities"): org admins and admins write their organisation's catalogue,
//! every signed-in user reads their organisation's and the default one's,
//! an org admin inherits a default type with its entities, values are
//! unique (a type's in its organisation, an entity's in its type), even
//! under parallel creates.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::on_both_backends;
use crate::organizations::cast;

fn languages() -> Value {
    // The seed's own body, `has_entities: "STRING"` included.
    json!({"value": "languages", "label": "Languages", "type": "SYSTEM", "allow_filtering": true,
        "data_type": "ARRAY[STRING]", "has_entities": "STRING", "model_names": ["User"]})
}

fn entity(value: &str, label: &str, entity_type_id: &Value) -> Value {
    json!({"value": value, "label": label, "type": "SYSTEM", "entity_type_id": entity_type_id})
}

fn values(reply: &Reply) -> Vec<String> {
    let list = reply.result().as_array().cloned().or_else(|| reply.result()["data"].as_array().cloned());
    list.unwrap_or_else(|| panic!("no list: {}", reply.body))
        .iter()
        .map(|e| e["value"].as_str().unwrap().to_string())
        .collect()
}

async fn the_catalogue_is_written_by_admins_and_read_by_members(backend: Backend) {
    let app = spawn_app(backend).await;
    let c = cast(&app).await;
    let (admin, mentee) = (Some(c.admin.access_token.as_str()), Some(c.mentee.access_token.as_str()));

    let created = app.post("/user/v1/entity-type/create", admin, languages()).await;
    assert_eq!(created.status.as_u16(), 201, "{}", created.body);
    assert_eq!(created.body["message"], "Entity type created successfully.");
    let type_id = created.result()["id"].clone();
    assert_eq!(created.result()["status"], "ACTIVE");
    assert_eq!(created.result()["has_entities"], true, "the seed's \"STRING\" reads as true");
    assert_eq!(created.result()["model_names"], json!(["User"]));
    assert_eq!(created.result()["organization_id"], 1);
    assert_eq!(created.result()["created_by"], c.admin.user["id"]);
    let again = app.post("/user/v1/entity-type/create", admin, languages()).await;
    again.assert_error_envelope(400);
    assert_eq!(again.body["message"], "Entity type already exists", "{}", again.body);
    app.post("/user/v1/entity-type/create", mentee, json!({"value": "x", "label": "X"}))
        .await
        .assert_error_envelope(403);

    for (value, label) in [("en", "English"), ("ml", "Malayalam"), ("hi", "Hindi")] {
        let made = app.post("/user/v1/entity/create", admin, entity(value, label, &type_id)).await;
        assert_eq!(made.status.as_u16(), 201, "{}", made.body);
        assert_eq!(made.body["message"], "Entity created successfully");
        assert_eq!(made.result()["entity_type_id"], type_id);
    }
    let twice = app.post("/user/v1/entity/create", admin, entity("en", "English again", &type_id)).await;
    twice.assert_error_envelope(400);
    assert_eq!(twice.body["message"], "Entity already exists");
    app.post("/user/v1/entity/create", mentee, entity("ta", "Tamil", &type_id)).await.assert_error_envelope(403);

    // A member reads the types with their entities, by value or all of them.
    let read =
        app.post("/user/v1/entity-type/read", mentee, json!({"value": ["languages"], "read_user_entity": false})).await;
    assert_eq!(read.status.as_u16(), 201, "POST, as upstream's contract: {}", read.body);
    assert_eq!(read.body["message"], "Entity type fetched successfully");
    assert_eq!(read.result().as_array().unwrap().len(), 1);
    let entities: Vec<&str> =
        read.result()[0]["entities"].as_array().unwrap().iter().map(|e| e["value"].as_str().unwrap()).collect();
    assert_eq!(entities, ["en", "ml", "hi"]);
    assert_eq!(values(&app.get("/user/v1/entity-type/read", mentee).await), ["languages"]);
    assert!(app
        .post("/user/v1/entity-type/read", mentee, json!({"value": ["nothing"]}))
        .await
        .result()
        .as_array()
        .unwrap()
        .is_empty());

    // Entities: list (paged, searched), read by id or by value.
    let listed = app.get(&format!("/user/v1/entity/list?entity_type_id={type_id}&page=1&limit=2"), mentee).await;
    assert_eq!(listed.status.as_u16(), 200, "{}", listed.body);
    assert_eq!(listed.result()["count"], 3);
    assert_eq!(values(&listed), ["en", "ml"]);
    let searched = app.get(&format!("/user/v1/entity/list?entity_type_id={type_id}&search=MALA"), mentee).await;
    assert_eq!(values(&searched), ["ml"]);
    let ml_id = searched.result()["data"][0]["id"].clone();
    let by_id = app.get(&format!("/user/v1/entity/read?id={ml_id}"), mentee).await;
    assert_eq!(by_id.body["message"], "Entity fetched successfully");
    assert_eq!(values(&by_id), ["ml"]);
    let by_value =
        app.post(&format!("/user/v1/entity/read?value=hi&entity_type_id={type_id}"), mentee, json!({})).await;
    assert_eq!(values(&by_value), ["hi"]);

    // Entity updates answer 202, a type's update 201, as upstream's contract; deleting frees the value.
    let renamed = app
        .patch(&format!("/user/v1/entity/update/{ml_id}"), admin, Some(json!({"label": "മലയാളം", "status": "ACTIVE"})))
        .await;
    assert_eq!(renamed.status.as_u16(), 202, "{}", renamed.body);
    assert_eq!(renamed.body["message"], "Entity updated successfully");
    assert_eq!(renamed.result()["label"], "മലയാളം");
    let retyped =
        app.post(&format!("/user/v1/entity-type/update/{type_id}"), admin, json!({"label": "Spoken languages"})).await;
    assert_eq!(retyped.status.as_u16(), 201, "{}", retyped.body);
    assert_eq!(retyped.result()["label"], "Spoken languages");
    assert_eq!(retyped.result()["value"], "languages", "what the body leaves out stays");
    let deleted = app.call(Method::DELETE, &format!("/user/v1/entity/delete/{ml_id}"), admin, None).await;
    assert_eq!(deleted.status.as_u16(), 202, "{}", deleted.body);
    assert_eq!(deleted.body["message"], "Entity deleted successfully");
    app.get(&format!("/user/v1/entity/read?id={ml_id}"), mentee).await.assert_error_envelope(404);
    let listed = app.get(&format!("/user/v1/entity/list?entity_type_id={type_id}"), mentee).await;
    assert_eq!(values(&listed), ["en", "hi"]);
    let back = app.post("/user/v1/entity/create", admin, entity("ml", "Malayalam", &type_id)).await;
    assert_eq!(back.status.as_u16(), 201, "a deleted entity's value is free: {}", back.body);

    // An inactive entity is not read; an inactive type neither.
    let hi_id = by_value.result()[0]["id"].clone();
    app.patch(&format!("/user/v1/entity/update/{hi_id}"), admin, Some(json!({"status": "INACTIVE"}))).await;
    let read = app.post("/user/v1/entity-type/read", mentee, json!({"value": "languages"})).await;
    let entities: Vec<&str> =
        read.result()[0]["entities"].as_array().unwrap().iter().map(|e| e["value"].as_str().unwrap()).collect();
    assert_eq!(entities, ["en", "ml"]);

    let gone = app.call(Method::DELETE, &format!("/user/v1/entity-type/delete/{type_id}"), admin, None).await;
    assert_eq!(gone.status.as_u16(), 202, "{}", gone.body);
    assert!(app.get("/user/v1/entity-type/read", mentee).await.result().as_array().unwrap().is_empty());
    app.get(&format!("/user/v1/entity/list?entity_type_id={type_id}"), mentee).await.assert_error_envelope(404);
    let anew = app.post("/user/v1/entity-type/create", admin, languages()).await;
    assert_eq!(anew.status.as_u16(), 201, "a deleted type's value is free: {}", anew.body);
    assert_ne!(anew.result()["id"], type_id);
}

/// Another organisation reads the default catalogue until it has its own;
/// its org admin inherits a default type (with its entities), cannot touch
/// the default one, and the default organisation's members keep theirs.
async fn organisations_read_the_default_catalogue_and_inherit_it(backend: Backend) {
    let app = spawn_app(backend).await;
    let c = cast(&app).await;
    let (admin, mentee) = (Some(c.admin.access_token.as_str()), Some(c.mentee.access_token.as_str()));
    let other = Some(c.other_org_admin.access_token.as_str());
    let default_type = app.post("/user/v1/entity-type/create", admin, languages()).await.result()["id"].clone();
    for (value, label) in [("en", "English"), ("ml", "Malayalam")] {
        app.post("/user/v1/entity/create", admin, entity(value, label, &default_type)).await;
    }
    let theirs = app.post("/user/v1/entity-type/read", other, json!({"value": ["languages"]})).await;
    assert_eq!(theirs.result()[0]["id"], default_type, "the default organisation's: {}", theirs.body);

    // The default type is not theirs to change.
    app.post(&format!("/user/v1/entity-type/update/{default_type}"), other, json!({"label": "Mine"}))
        .await
        .assert_error_envelope(404);
    app.post("/user/v1/entity/create", other, entity("ta", "Tamil", &default_type)).await.assert_error_envelope(400);

    let inherited = app
        .post(
            "/user/v1/org-admin/inheritEntityType",
            other,
            json!({"entity_type_value": "languages", "target_entity_type_label": "Our languages"}),
        )
        .await;
    assert_eq!(inherited.status.as_u16(), 202, "{}", inherited.body);
    assert_eq!(inherited.result()["parent_id"], default_type);
    assert_eq!(inherited.result()["organization_id"], c.other_org_id);
    assert_eq!(inherited.result()["label"], "Our languages");
    assert_eq!(inherited.result()["data_type"], "ARRAY[STRING]");
    let own_type = inherited.result()["id"].clone();
    let again = app
        .post(
            "/user/v1/org-admin/inheritEntityType",
            other,
            json!({"entity_type_value": "languages", "target_entity_type_label": "Twice"}),
        )
        .await;
    again.assert_error_envelope(400);
    app.post(
        "/user/v1/org-admin/inheritEntityType",
        other,
        json!({"entity_type_value": "no_such_type", "target_entity_type_label": "X"}),
    )
    .await
    .assert_error_envelope(404);

    // Their own copy, with the entities copied, now shadows the default.
    let read = app.post("/user/v1/entity-type/read", other, json!({"value": ["languages"]})).await;
    assert_eq!(read.result().as_array().unwrap().len(), 1, "{}", read.body);
    assert_eq!(read.result()[0]["id"], own_type);
    let copied: Vec<&str> =
        read.result()[0]["entities"].as_array().unwrap().iter().map(|e| e["value"].as_str().unwrap()).collect();
    assert_eq!(copied, ["en", "ml"]);
    let added = app.post("/user/v1/entity/create", other, entity("ta", "Tamil", &own_type)).await;
    assert_eq!(added.status.as_u16(), 201, "{}", added.body);
    // The default organisation's members still read the default type, without Tamil.
    let default_read = app.post("/user/v1/entity-type/read", mentee, json!({"value": ["languages"]})).await;
    assert_eq!(default_read.result()[0]["id"], default_type);
    assert_eq!(default_read.result()[0]["entities"].as_array().unwrap().len(), 2);
    // ... and cannot read the other organisation's entities.
    app.get(&format!("/user/v1/entity/list?entity_type_id={own_type}"), mentee).await.assert_error_envelope(404);
    let tamil = added.result()["id"].clone();
    app.get(&format!("/user/v1/entity/read?id={tamil}"), mentee).await.assert_error_envelope(404);
    app.post(
        &format!("/user/v1/entity/update/{tamil}"),
        Some(c.org_admin.access_token.as_str()),
        json!({"label": "x"}),
    )
    .await
    .assert_error_envelope(404);
}

async fn bad_catalogue_input_is_refused_in_the_envelope(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin_session().await;
    let a = Some(admin.access_token.as_str());
    let type_id = app.post("/user/v1/entity-type/create", a, languages()).await.result()["id"].clone();
    for (what, body, field) in [
        ("no value", json!({"label": "L"}), "value"),
        ("no label", json!({"value": "v"}), "label"),
        ("a value with spaces", json!({"value": "a b", "label": "L"}), "value"),
        ("NUL in the label", json!({"value": "v", "label": "a\u{0}b"}), "label"),
        ("an unknown status", json!({"value": "v", "label": "L", "status": "MAYBE"}), "status"),
        ("model_names not a list", json!({"value": "v", "label": "L", "model_names": "User"}), "model_names"),
        ("a label too long", json!({"value": "v", "label": "x".repeat(300)}), "label"),
    ] {
        let reply = app.post("/user/v1/entity-type/create", a, body).await;
        reply.assert_error_envelope(400);
        assert_eq!(reply.body["error"][0]["param"], field, "{what}: {}", reply.body);
    }
    for (what, body, field) in [
        ("no entity type", json!({"value": "v", "label": "L"}), "entity_type_id"),
        ("an unknown entity type", json!({"value": "v", "label": "L", "entity_type_id": 999_999}), "entity_type_id"),
        ("no value", json!({"label": "L", "entity_type_id": type_id}), "value"),
        ("NUL in the value", json!({"value": "a\u{0}", "label": "L", "entity_type_id": type_id}), "value"),
        ("a value too long", json!({"value": "v".repeat(65), "label": "L", "entity_type_id": type_id}), "value"),
        ("an id as text", json!({"value": "v", "label": "L", "entity_type_id": "one"}), "entity_type_id"),
    ] {
        let reply = app.post("/user/v1/entity/create", a, body).await;
        reply.assert_error_envelope(400);
        assert_eq!(reply.body["error"][0]["param"], field, "{what}: {}", reply.body);
    }
    app.get("/user/v1/entity/list", a).await.assert_error_envelope(400);
    app.get("/user/v1/entity/list?entity_type_id=abc", a).await.assert_error_envelope(400);
    app.get(&format!("/user/v1/entity/list?entity_type_id={type_id}&limit=0"), a).await.assert_error_envelope(400);
    app.get("/user/v1/entity/read", a).await.assert_error_envelope(400);
    app.get("/user/v1/entity/read?id=x", a).await.assert_error_envelope(404);
    app.post("/user/v1/entity-type/update/not-a-number", a, json!({"label": "L"})).await.assert_error_envelope(404);
    app.call(Method::DELETE, "/user/v1/entity/delete/999999", a, None).await.assert_error_envelope(404);
    app.post("/user/v1/entity-type/read", a, json!({"value": 5})).await.assert_error_envelope(400);
    // Nothing of the refused requests was stored.
    let read = app.get("/user/v1/entity-type/read", a).await;
    assert_eq!(values(&read), ["languages"]);
    assert!(read.result()[0]["entities"].as_array().unwrap().is_empty());
}

/// Twenty creates of one entity value at once make one entity, and twenty
/// of one type value one type.
async fn parallel_creates_of_one_value_make_one(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin_session().await;
    let token = admin.access_token.clone();
    let types = futures::future::join_all((0..20).map(|_| {
        let (app, token) = (&app, token.clone());
        async move { app.post("/user/v1/entity-type/create", Some(&token), languages()).await }
    }))
    .await;
    let made: Vec<&Reply> = types.iter().filter(|r| r.status.as_u16() == 201).collect();
    assert_eq!(made.len(), 1, "{:?}", types.iter().map(|r| r.status).collect::<Vec<_>>());
    assert!(types.iter().all(|r| matches!(r.status.as_u16(), 201 | 400)));
    let type_id = made[0].result()["id"].clone();
    let entities = futures::future::join_all((0..20).map(|i| {
        let (app, token, type_id) = (&app, token.clone(), type_id.clone());
        async move {
            app.post("/user/v1/entity/create", Some(&token), entity("en", &format!("English {i}"), &type_id)).await
        }
    }))
    .await;
    assert_eq!(entities.iter().filter(|r| r.status.as_u16() == 201).count(), 1);
    assert!(entities.iter().all(|r| matches!(r.status.as_u16(), 201 | 400)));
    let listed = app.get(&format!("/user/v1/entity/list?entity_type_id={type_id}"), Some(&token)).await;
    assert_eq!(listed.result()["count"], 1, "{}", listed.body);
}

/// A profile field named like a `User` entity type takes only its values
/// and reads back as `{value, label}`; untyped fields keep what was sent.
async fn typed_profile_fields_are_checked_and_labelled(backend: Backend) {
    let app = spawn_app(backend).await;
    let c = cast(&app).await;
    let (admin, mentee) = (Some(c.admin.access_token.as_str()), Some(c.mentee.access_token.as_str()));
    let before = app.patch("/user/v1/user/update", mentee, Some(json!({"gender": "robot"}))).await;
    assert_eq!(before.status.as_u16(), 200, "untyped, anything goes: {}", before.body);
    assert_eq!(before.result()["gender"], "robot");

    let gender = json!({"value": "gender", "label": "Gender", "data_type": "STRING", "has_entities": true,
        "allow_filtering": true, "model_names": ["User"]});
    let type_id = app.post("/user/v1/entity-type/create", admin, gender).await.result()["id"].clone();
    for (value, label) in [("male", "Male"), ("female", "Female")] {
        app.post("/user/v1/entity/create", admin, entity(value, label, &type_id)).await;
    }
    // A type for another model does not type the profile.
    let session_type = json!({"value": "location", "label": "Location", "model_names": ["Session"]});
    app.post("/user/v1/entity-type/create", admin, session_type).await;

    let read = app.get("/user/v1/user/read", mentee).await;
    assert_eq!(
        read.result()["gender"],
        json!({"value": "robot", "label": "robot"}),
        "a stored value is read as it was"
    );
    let refused = app.patch("/user/v1/user/update", mentee, Some(json!({"gender": "robot", "about": "x"}))).await;
    refused.assert_error_envelope(400);
    assert_eq!(refused.body["error"][0]["param"], "gender", "{}", refused.body);
    assert_eq!(app.get("/user/v1/user/read", mentee).await.result()["about"], read.result()["about"], "nothing stored");

    for sent in [json!("female"), json!({"value": "female", "label": "Whatever"})] {
        let updated =
            app.patch("/user/v1/user/update", mentee, Some(json!({"gender": sent, "location": ["anywhere"]}))).await;
        assert_eq!(updated.status.as_u16(), 200, "{}", updated.body);
        assert_eq!(updated.result()["gender"], json!({"value": "female", "label": "Female"}));
        assert_eq!(updated.result()["location"], json!(["anywhere"]), "location is typed for sessions only");
    }
    // Another organisation's user falls back to the default organisation's type.
    let theirs = app
        .patch("/user/v1/user/update", Some(c.other_org_admin.access_token.as_str()), Some(json!({"gender": "male"})))
        .await;
    assert_eq!(theirs.result()["gender"], json!({"value": "male", "label": "Male"}), "{}", theirs.body);
    // A relabelled entity reads with its new label.
    let listed = app.get(&format!("/user/v1/entity/list?entity_type_id={type_id}&search=female"), admin).await;
    let female = listed.result()["data"][0]["id"].clone();
    app.patch(&format!("/user/v1/entity/update/{female}"), admin, Some(json!({"label": "Woman"}))).await;
    assert_eq!(app.get("/user/v1/user/read", mentee).await.result()["gender"]["label"], "Woman");
}

on_both_backends!(
    typed_profile_fields_are_checked_and_labelled,
    the_catalogue_is_written_by_admins_and_read_by_members,
    organisations_read_the_default_catalogue_and_inherit_it,
    bad_catalogue_input_is_refused_in_the_envelope,
    parallel_creates_of_one_value_make_one,
);
