//! The seed's own requests, as `elevate-user-service-api.txt` writes them,
//! are accepted unchanged (issue 15, point 7): its casing of
//! `userRole/Create`, a scalar `id` for `org-admin/deactivateUser`, and the
//! profile body it shows for `user/setLanguagePreference`.

use serde_json::json;

use crate::helpers::*;
use crate::on_both_backends;

async fn the_seeds_role_creation_is_accepted(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin_session().await;
    // The seed's body, with its string `id` (the service numbers roles itself).
    let created = app
        .post(
            "/user/v1/userRole/Create",
            Some(&admin.access_token),
            json!({
                "id": "12", "title": "head_master", "label": "Head Master", "user_type": 1,
                "meta": {"entityTypes": [{"entityTypeId": "5f32d8228e0dc8312404056e", "entityType": "state"}]},
                "status": "ACTIVE", "visibility": "PUBLIC",
                "translations": {"hi": {"title": "हेड मास्टर"}, "kn": {"title": "ಹೆಡ್ ಮಾಸ್ಟರ್"}}
            }),
        )
        .await;
    assert!(created.status.is_success(), "{}", created.body);
    let listed = app.get("/user/v1/userRole/list?search=head_master", Some(&admin.access_token)).await;
    assert!(listed.body.to_string().contains("Head Master"), "{}", listed.body);
    // The same rules as the usual spelling: a second one is a duplicate.
    let again = app
        .post("/user/v1/userRole/Create", Some(&admin.access_token), json!({"title": "head_master", "label": "H"}))
        .await;
    assert_eq!(again.status, 400, "{}", again.body);
}

async fn deactivation_takes_one_id_or_a_list(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin_session().await;
    let one = app.sign_up("One Scalar", "one.scalar@example.com").await;
    let two = app.sign_up("Two Listed", "two.listed@example.com").await;
    let (one_id, two_id) = (one.user["id"].as_i64().unwrap(), two.user["id"].as_i64().unwrap());
    let scalar = app.post("/user/v1/org-admin/deactivateUser", Some(&admin.access_token), json!({"id": one_id})).await;
    assert_eq!(scalar.status, 202, "{}", scalar.body);
    assert_eq!(scalar.result()["deactivated_users"], 1, "{}", scalar.body);
    let listed =
        app.post("/user/v1/org-admin/deactivateUser", Some(&admin.access_token), json!({"id": [two_id]})).await;
    assert_eq!(listed.status, 202, "{}", listed.body);
    assert_eq!(listed.result()["deactivated_users"], 1, "{}", listed.body);
    // Wrong types still name the field.
    let wrong = app.post("/user/v1/org-admin/deactivateUser", Some(&admin.access_token), json!({"id": "twelve"})).await;
    assert_eq!(wrong.status, 400, "{}", wrong.body);
    assert!(wrong.body.to_string().contains("id"), "{}", wrong.body);
    let login = app
        .post("/user/v1/account/login", None, json!({"email": "one.scalar@example.com", "password": PASSWORD}))
        .await;
    assert_ne!(login.status, 200, "a deactivated user cannot log in: {}", login.body);
}

async fn set_language_preference_takes_the_seeds_profile_body(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.sign_up("John", "john.seed@example.com").await;
    let token = Some(user.access_token.as_str());
    let seed_body = json!({
        "name": "John", "location": ["ap"], "about": "Experienced Teacher",
        "has_accepted_terms_and_conditions": true, "gender": "male"
    });
    let updated = app.patch("/user/v1/user/setLanguagePreference", token, Some(seed_body)).await;
    assert_eq!(updated.status, 200, "{}", updated.body);
    assert_eq!(updated.result()["about"], "Experienced Teacher", "{}", updated.body);
    // Upstream's own body still sets the language.
    let language =
        app.patch("/user/v1/user/setLanguagePreference", token, Some(json!({"preferred_language": "hi"}))).await;
    assert_eq!(language.status, 200, "{}", language.body);
    assert!(language.result()["preferred_language"].to_string().contains("hi"), "{}", language.body);
    // Nothing to set, or an identity field, is refused in the envelope.
    let empty = app.patch("/user/v1/user/setLanguagePreference", token, Some(json!({}))).await;
    assert_eq!(empty.status, 400, "{}", empty.body);
    let email = app.patch("/user/v1/user/setLanguagePreference", token, Some(json!({"email": "x@example.com"}))).await;
    assert_eq!(email.status, 400, "{}", email.body);
}

/// An admin cannot deactivate their own account (schemathesis's valid data
/// did): refused in the envelope, nothing changes. Deactivating a whole
/// organisation, the default one included, still takes its admins with it
/// (`one_commit`'s large-organisation test relies on that).
async fn admins_cannot_deactivate_themselves(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin_session().await;
    let own_id = admin.user["id"].as_i64().unwrap();
    for path in ["/user/v1/admin/deactivateUser", "/user/v1/org-admin/deactivateUser"] {
        let own = app.post(path, Some(&admin.access_token), json!({"id": own_id})).await;
        assert_eq!(own.status, 400, "{path}: {}", own.body);
        own.assert_error_envelope(400);
    }
    let me = app.get("/user/v1/user/read", Some(&admin.access_token)).await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.result()["status"], "ACTIVE");
}

on_both_backends!(
    the_seeds_role_creation_is_accepted,
    deactivation_takes_one_id_or_a_list,
    set_language_preference_takes_the_seeds_profile_body,
    admins_cannot_deactivate_themselves
);
