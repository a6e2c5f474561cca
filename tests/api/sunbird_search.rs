//! Sunbird's search semantics beyond exact filters: `createdDate` ranges,
//! `sort_by` with paging, `$or`, `facets`, inactive users (`status: 0`),
//! masking kept for other callers, and the errors of each.

use std::collections::BTreeMap;

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::on_both_backends;
use crate::organizations::cast;
use crate::sunbird::{assert_envelope, assert_error, create, sb};

async fn search(app: &TestApp, caller: &str, body: Value) -> Reply {
    let body = json!({"request": body});
    sb(app, Method::POST, "/api/user/v2/search", Some(caller), Some(caller), Some(body)).await
}

/// The answer's `response`, checked to be a success.
fn response(reply: &Reply) -> &Value {
    assert_envelope(reply, 200, "api.user.search");
    &reply.result()["response"]
}

fn ids(response: &Value) -> Vec<String> {
    response["content"].as_array().unwrap().iter().map(|u| u["identifier"].as_str().unwrap().to_string()).collect()
}

async fn ranges_sorts_and_paging(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin_session().await;
    let key = admin.access_token.as_str();
    let mut made = Vec::new();
    for (first, email) in [("Cleo", "cleo@example.com"), ("Abel", "abel@example.com"), ("Bea", "bea@example.com")] {
        made.push(create(&app, key, first, "Tester", email).await);
        // Creation times a millisecond apart at least, so the ranges below are sharp.
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let created = |id: &str| {
        let id = id.to_string();
        let app = &app;
        async move {
            let found = search(app, key, json!({"filters": {"id": id}})).await;
            response(&found)["content"][0]["createdDate"].as_str().unwrap().to_string()
        }
    };
    let (cleo, abel, bea) = (made[0].clone(), made[1].clone(), made[2].clone());
    let abel_at = created(&abel).await;
    assert_eq!(abel_at.len(), 28, "Sunbird's timestamp: {abel_at}");

    // Ranges on createdDate, in Sunbird's own format, with every operator.
    let asc = json!({"createdDate": "asc"});
    let from_abel = search(&app, key, json!({"filters": {"createdDate": {">=": abel_at}}, "sort_by": asc})).await;
    assert_eq!(ids(response(&from_abel)), vec![abel.clone(), bea.clone()]);
    assert_eq!(response(&from_abel)["count"], 2);
    let after_abel = search(&app, key, json!({"filters": {"createdDate": {">": abel_at}}})).await;
    assert_eq!(ids(response(&after_abel)), vec![bea.clone()]);
    let to_abel = search(&app, key, json!({"filters": {"createdDate": {"<=": abel_at}}, "sort_by": asc})).await;
    let to_abel = ids(response(&to_abel));
    assert_eq!(to_abel[to_abel.len() - 2..], [cleo.clone(), abel.clone()], "the admin first, then Cleo and Abel");
    let before_abel = search(&app, key, json!({"filters": {"createdDate": {"<": abel_at}}})).await;
    assert!(!ids(response(&before_abel)).contains(&abel));
    let cleo_at = created(&cleo).await;
    let between = json!({"filters": {"createdDate": {">": cleo_at, "<=": abel_at}}});
    assert_eq!(ids(response(&search(&app, key, between).await)), vec![abel.clone()]);
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1)).format("%Y-%m-%d").to_string();
    let future = search(&app, key, json!({"filters": {"createdDate": {">=": tomorrow}}})).await;
    assert_eq!(response(&future)["count"], 0);
    let since_epoch = search(&app, key, json!({"filters": {"createdDate": {">": 0}, "rootOrgId": "1"}})).await;
    assert_eq!(response(&since_epoch)["count"], 4, "milliseconds since the epoch; the admin and three");

    // sort_by: createdDate either way, firstName either way; pages follow the order.
    let newest = search(&app, key, json!({"filters": {"status": 1}, "sort_by": {"createdDate": "desc"}})).await;
    let newest = ids(response(&newest));
    assert_eq!(newest[..3], [bea.clone(), abel.clone(), cleo.clone()]);
    let by_name = search(&app, key, json!({"filters": {"status": 1}, "sort_by": {"firstName": "asc"}})).await;
    let names: Vec<String> = response(&by_name)["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["firstName"].as_str().unwrap().to_string())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    let by_name_desc = search(&app, key, json!({"filters": {"status": 1}, "sort_by": {"firstName": "DESC"}})).await;
    let mut reversed = ids(response(&by_name));
    reversed.reverse();
    assert_eq!(ids(response(&by_name_desc)), reversed);
    let mut paged = Vec::new();
    for offset in [0, 2] {
        let page = json!({"filters": {"status": 1}, "sort_by": {"createdDate": "desc"}, "limit": 2, "offset": offset});
        let page = search(&app, key, page).await;
        assert_eq!(response(&page)["count"], 4);
        paged.extend(ids(response(&page)));
    }
    assert_eq!(paged, newest, "pages of two add up to the whole order");
    let between_pages = json!({"filters": {"status": 1}, "sort_by": {"createdDate": "asc"}, "limit": 2, "offset": 1});
    assert_eq!(ids(response(&search(&app, key, between_pages).await)), vec![cleo.clone(), abel.clone()]);

    // Errors, each in Sunbird's words.
    let bad_date = search(&app, key, json!({"filters": {"createdDate": {">=": "last week"}}})).await;
    assert_error(&bad_date, 400, "UOS_USRSER0019", "CLIENT_ERROR", Some("Please provide valid filters.createdDate."));
    let bad_op = search(&app, key, json!({"filters": {"createdDate": {"~": "2020-01-01"}}})).await;
    assert_error(
        &bad_op,
        400,
        "UOS_USRSER0021",
        "CLIENT_ERROR",
        Some("Invalid parameter filters.createdDate.~ in request."),
    );
    let not_a_range = search(&app, key, json!({"filters": {"createdDate": "2020-01-01"}})).await;
    assert_error(&not_a_range, 400, "UOS_USRSER0003", "CLIENT_ERROR", None);
    let no_range_there = search(&app, key, json!({"filters": {"status": {">=": 0}}})).await;
    assert_error(&no_range_there, 400, "UOS_USRSER0003", "CLIENT_ERROR", None);
    let bad_sort = search(&app, key, json!({"filters": {"status": 1}, "sort_by": {"shoeSize": "asc"}})).await;
    assert_error(
        &bad_sort,
        400,
        "UOS_USRSER0021",
        "CLIENT_ERROR",
        Some("Invalid parameter sort_by.shoeSize in request."),
    );
    let sort_type = search(&app, key, json!({"filters": {"status": 1}, "sort_by": {"createdDate": 1}})).await;
    assert_error(&sort_type, 400, "UOS_USRSER0003", "CLIENT_ERROR", None);
    let empty = search(&app, key, json!({"filters": {}, "sort_by": {"createdDate": "asc"}})).await;
    assert_error(&empty, 400, "UOS_USRSER0030", "CLIENT_ERROR", Some("Mandatory parameter filters is missing."));
}

async fn or_facets_and_inactive_users(backend: Backend) {
    let app = spawn_app(backend).await;
    let c = cast(&app).await;
    let key = c.admin.access_token.as_str();
    // A member of the default organisation (the cast's mentee is blocked below).
    let member = app.sign_up("Nora Member", "nora@example.com").await;
    let read_uuid = |email: &'static str| {
        let app = &app;
        async move {
            let found = search(app, key, json!({"filters": {"email": email, "status": [0, 1]}})).await;
            response(&found)["content"][0]["identifier"].as_str().unwrap().to_string()
        }
    };
    let mina = read_uuid("mina@example.com").await;
    let oscar = read_uuid("oscar@example.com").await;
    let olga = read_uuid("olga@example.com").await;
    let block = json!({"request": {"userId": mina}});
    let blocked = sb(&app, Method::POST, "/api/user/v1/block", Some(key), Some(key), Some(block)).await;
    assert_envelope(&blocked, 200, "api.user.block");

    // Inactive users: not listed by default, found with status 0 (or isDeleted true).
    let default = search(&app, key, json!({"filters": {"rootOrgId": "1"}})).await;
    assert!(!ids(response(&default)).contains(&mina), "searches list active users by default");
    for filters in [json!({"status": 0}), json!({"isDeleted": true}), json!({"status": "0", "rootOrgId": 1})] {
        let inactive = search(&app, key, json!({"filters": filters})).await;
        let inactive = response(&inactive);
        assert_eq!(ids(inactive), vec![mina.clone()], "{filters}");
        assert_eq!(
            (inactive["content"][0]["status"].as_i64(), inactive["content"][0]["isDeleted"].as_bool()),
            (Some(0), Some(true))
        );
    }
    for query in ["mina", "mi"] {
        let by_query = search(&app, key, json!({"filters": {"status": 0}, "query": query})).await;
        assert_eq!(ids(response(&by_query)), vec![mina.clone()], "an inactive user by a query of {query}");
    }
    let both = search(&app, key, json!({"filters": {"status": [0, 1], "rootOrgId": "1"}, "limit": 1000})).await;
    let everyone = ids(response(&both));
    assert!(everyone.contains(&mina) && everyone.contains(&olga) && !everyone.contains(&oscar), "{everyone:?}");

    // $or: any of its filters, the others still all hold.
    let other_org = c.other_org_id.to_string();
    let either = json!({"filters": {"$or": {"rootOrgId": other_org, "email": "olga@example.com"}}});
    let mut found = ids(response(&search(&app, key, either).await));
    found.sort();
    let mut expected = vec![olga.clone(), oscar.clone()];
    expected.sort();
    assert_eq!(found, expected);
    let with_and = json!({"filters": {"rootOrgId": "1", "$or": {"rootOrgId": other_org, "email": "olga@example.com"}}});
    assert_eq!(ids(response(&search(&app, key, with_and).await)), vec![olga.clone()]);
    let status_or = json!({"filters": {"$or": {"status": 0, "rootOrgId": other_org}}});
    let mut found = ids(response(&search(&app, key, status_or).await));
    found.sort();
    let mut expected = vec![mina.clone(), oscar.clone()];
    expected.sort();
    assert_eq!(found, expected, "a status among the alternatives finds inactive users");
    let roles_or = json!({"filters": {"$or": {"roles": ["org_admin"], "userName": "nobody"}}, "limit": 1000});
    let org_admins = ids(response(&search(&app, key, roles_or).await));
    assert!(org_admins.contains(&olga) && org_admins.contains(&oscar) && !org_admins.contains(&mina), "{org_admins:?}");
    let nothing =
        json!({"filters": {"$or": {"email": "nobody@example.com", "id": "00000000-0000-0000-0000-000000000000"}}});
    assert_eq!(response(&search(&app, key, nothing).await)["count"], 0);
    let unknown = search(&app, key, json!({"filters": {"$or": {"shoeSize": 9}}})).await;
    assert_error(
        &unknown,
        400,
        "UOS_USRSER0021",
        "CLIENT_ERROR",
        Some("Invalid parameter filters.$or.shoeSize in request."),
    );
    let not_a_map = search(&app, key, json!({"filters": {"$or": ["status"]}})).await;
    assert_error(&not_a_map, 400, "UOS_USRSER0003", "CLIENT_ERROR", Some("Data type of filters.$or should be Map."));

    // Facets: counts per value over every match, not only the page; they
    // agree with a tally of the whole list.
    let asked = json!({"filters": {"status": [0, 1]}, "facets": ["roles", "rootOrgId", {"status": null}], "limit": 1});
    let faceted = search(&app, key, asked).await;
    let faceted = response(&faceted);
    assert_eq!(faceted["content"].as_array().unwrap().len(), 1, "the page is one user");
    let all = search(&app, key, json!({"filters": {"status": [0, 1]}, "limit": 1000})).await;
    let all = response(&all)["content"].as_array().unwrap().clone();
    let mut tally: BTreeMap<(String, String), i64> = BTreeMap::new();
    for user in &all {
        *tally.entry(("rootOrgId".into(), user["rootOrgId"].as_str().unwrap().into())).or_default() += 1;
        *tally.entry(("status".into(), user["status"].to_string())).or_default() += 1;
        for role in user["roles"].as_array().unwrap().iter().filter(|r| *r != "PUBLIC") {
            *tally.entry(("roles".into(), role.as_str().unwrap().into())).or_default() += 1;
        }
    }
    let mut counted: BTreeMap<(String, String), i64> = BTreeMap::new();
    let facets = faceted["facets"].as_array().unwrap();
    assert_eq!(
        facets.iter().map(|f| f["name"].as_str().unwrap()).collect::<Vec<_>>(),
        ["roles", "rootOrgId", "status"]
    );
    for facet in facets {
        for value in facet["values"].as_array().unwrap() {
            let name = match &value["name"] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            counted.insert((facet["name"].as_str().unwrap().into(), name), value["count"].as_i64().unwrap());
        }
    }
    assert_eq!(counted, tally, "facets agree with the whole list");
    assert_eq!(counted[&("status".to_string(), "0".to_string())], 1, "Mina");
    assert_eq!(counted[&("rootOrgId".to_string(), other_org.clone())], 1, "Oscar");
    assert_eq!(counted[&("roles".to_string(), "ORG_ADMIN".to_string())], 2, "Olga and Oscar");
    let narrowed = search(&app, key, json!({"filters": {"rootOrgId": other_org}, "facets": ["rootOrgId"]})).await;
    assert_eq!(
        response(&narrowed)["facets"],
        json!([{"name": "rootOrgId", "values": [{"name": other_org, "count": 1}]}])
    );
    let none = search(&app, key, json!({"filters": {"email": "nobody@example.com"}, "facets": ["status"]})).await;
    assert_eq!(response(&none)["facets"], json!([{"name": "status", "values": []}]));
    let plain = search(&app, key, json!({"filters": {"status": 1}})).await;
    assert!(response(&plain).get("facets").is_none(), "no facets unless asked");
    let bad_facet = search(&app, key, json!({"filters": {"status": 1}, "facets": ["dob"]})).await;
    assert_error(&bad_facet, 400, "UOS_USRSER0021", "CLIENT_ERROR", Some("Invalid parameter facets.dob in request."));
    let facet_type = search(&app, key, json!({"filters": {"status": 1}, "facets": [7]})).await;
    assert_error(&facet_type, 400, "UOS_USRSER0003", "CLIENT_ERROR", None);

    // Masking kept: a member sees no one else's email, whatever the filters.
    let member = member.access_token.as_str();
    let seen =
        search(&app, member, json!({"filters": {"status": [0, 1]}, "sort_by": {"createdDate": "desc"}, "limit": 1000}))
            .await;
    let seen = response(&seen)["content"].as_array().unwrap().clone();
    assert!(seen.len() >= 5, "{seen:?}");
    for user in seen.iter().filter(|u| u["firstName"] != "Nora") {
        assert!(user["email"].is_null() && user["maskedEmail"].is_null(), "{user}");
    }
    let own = seen.iter().find(|u| u["firstName"] == "Nora").unwrap();
    assert_eq!(own["maskedEmail"], "no**@example.com", "her own, masked as Sunbird masks it");
    let by_admin = search(&app, key, json!({"filters": {"id": olga}})).await;
    let olga_entry = &response(&by_admin)["content"][0];
    assert_eq!(
        (olga_entry["email"].as_str(), olga_entry["maskedEmail"].as_str()),
        (Some("olga@example.com"), Some("ol**@example.com"))
    );
    let hidden = search(&app, member, json!({"filters": {"$or": {"email": "olga@example.com"}}})).await;
    assert_eq!(response(&hidden)["count"], 0, "an email in $or finds only users whose contacts the caller sees");
}

/// The facets of `body`, as (facet, value) → count.
fn facet_counts(reply: &Reply) -> BTreeMap<(String, String), i64> {
    let mut counted = BTreeMap::new();
    for facet in response(reply)["facets"].as_array().unwrap() {
        for value in facet["values"].as_array().unwrap() {
            let name = match &value["name"] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            counted.insert((facet["name"].as_str().unwrap().into(), name), value["count"].as_i64().unwrap());
        }
    }
    counted
}

/// Facets over every active user come from the listing's counters on
/// PostgreSQL; a range that holds everyone makes the same request take the
/// general query. Both agree, after blocks and grants, and with two roles
/// of one title in two organisations.
async fn facets_over_everyone_agree_with_the_general_query(backend: Backend) {
    let app = spawn_app(backend).await;
    let c = cast(&app).await;
    let key = c.admin.access_token.as_str();
    let everyone = json!({"filters": {"status": 1}, "facets": ["roles", "status"], "limit": 1});
    let wide = json!({"filters": {"status": 1, "createdDate": {">=": "1970-01-01 00:00:00:000+0000"}},
        "facets": ["roles", "status"], "limit": 1});
    let agree = |what: &'static str| {
        let (app, everyone, wide) = (&app, everyone.clone(), wide.clone());
        async move {
            let counted = facet_counts(&search(app, key, everyone).await);
            let general = facet_counts(&search(app, key, wide).await);
            assert_eq!(counted, general, "{what}: the counters and the general query agree");
            counted
        }
    };
    let at_start = agree("at start").await;
    assert_eq!(at_start[&("roles".to_string(), "ORG_ADMIN".to_string())], 2, "Olga and Oscar: {at_start:?}");
    let active = at_start[&("status".to_string(), "1".to_string())];

    // Blocking a user takes them out of both.
    let mina = search(&app, key, json!({"filters": {"email": "mina@example.com"}})).await;
    let mina = response(&mina)["content"][0]["identifier"].as_str().unwrap().to_string();
    let block = json!({"request": {"userId": mina}});
    let blocked = sb(&app, Method::POST, "/api/user/v1/block", Some(key), Some(key), Some(block)).await;
    assert_envelope(&blocked, 200, "api.user.block");
    let after_block = agree("after a block").await;
    assert_eq!(after_block[&("status".to_string(), "1".to_string())], active - 1, "{after_block:?}");

    // One title, a role in each organisation, one holder each: counted under the title twice.
    let root = Some(c.admin.access_token.as_str());
    let mut holders = Vec::new();
    for (org, email) in [(1, "hana@example.com"), (c.other_org_id, "hugo@example.com")] {
        let role = app
            .post(
                "/user/v1/userRole/create",
                root,
                json!({"title": "head_teacher", "label": "Head", "user_type": 1, "organization_id": org}),
            )
            .await;
        assert!(role.status.is_success(), "{}", role.body);
        let holder = app.sign_up("Head Holder", email).await;
        let granted = app
            .post(
                "/user/v1/admin/assignRole",
                root,
                json!({"user_id": holder.user["id"], "role_id": role.result()["id"], "organization_id": org}),
            )
            .await;
        assert!(granted.status.is_success(), "{}", granted.body);
        holders.push(holder);
    }
    let shared = agree("two roles of one title").await;
    assert_eq!(shared[&("roles".to_string(), "HEAD_TEACHER".to_string())], 2, "{shared:?}");
}

on_both_backends!(
    ranges_sorts_and_paging,
    or_facets_and_inactive_users,
    facets_over_everyone_agree_with_the_general_query
);
