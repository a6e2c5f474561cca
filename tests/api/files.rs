//! ELEVATE's `cloud-services/file/...` on the local file store (README,
//! "Files"): an upload link takes the file's bytes once PUT to it, a
//! download link gives them back with their content type; a link is for one
//! method and one path, and stops working when it expires or is altered.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;
use crate::on_both_backends;

/// `url` with its query parameter `name` set to `value`.
fn with_param(url: &str, name: &str, value: &str) -> String {
    let mut url = reqwest::Url::parse(url).unwrap();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| if k == name { (k.into(), value.into()) } else { (k.into(), v.into()) })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    url.to_string()
}

async fn put(app: &TestApp, url: &str, content_type: &str, body: Vec<u8>) -> StatusCode {
    app.client.put(url).header("content-type", content_type).body(body).send().await.unwrap().status()
}

async fn get(app: &TestApp, url: &str) -> (StatusCode, Option<String>, Vec<u8>) {
    let reply = app.client.get(url).send().await.unwrap();
    let content_type = reply.headers().get("content-type").map(|v| v.to_str().unwrap().to_string());
    (reply.status(), content_type, reply.bytes().await.unwrap().to_vec())
}

async fn files_go_up_and_come_back_through_signed_links(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.sign_up("Fay Files", "fay@example.com").await;
    let t = Some(user.access_token.as_str());

    let signed = app.get("/user/v1/cloud-services/file/getSignedUrl?file_name=my%20photo.jpg", t).await;
    assert_eq!(signed.status.as_u16(), 200, "{}", signed.body);
    assert_eq!(signed.body["message"], "Signed Url Generated Successfully.");
    let r = signed.result();
    let path = r["filePath"].as_str().unwrap().to_string();
    let uuid = user.user["uuid"].as_str().unwrap();
    assert!(path.starts_with(&format!("users/{uuid}-")) && path.ends_with("-my_photo.jpg"), "{path}");
    for key in ["destFilePath", "file_path", "dest_file_path"] {
        assert_eq!(r[key], path.as_str(), "{key}");
    }
    let upload = r["signedUrl"].as_str().unwrap().to_string();
    assert_eq!(r["signed_url"], upload.as_str());
    assert!(upload.starts_with(&app.url("/files/")), "{upload}");

    // Before the upload there is nothing to download.
    let download = app.get(&format!("/user/v1/cloud-services/file/getDownloadableUrl?file_path={path}"), t).await;
    assert_eq!(download.body["message"], "Download Url Generated Successfully.");
    let download = download.result().as_str().unwrap().to_string();
    assert_eq!(get(&app, &download).await.0, StatusCode::NOT_FOUND);

    let image: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
    assert_eq!(put(&app, &upload, "image/jpeg", image.clone()).await, StatusCode::OK);
    let (status, content_type, bytes) = get(&app, &download).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type.as_deref(), Some("image/jpeg"), "the content type is kept");
    assert_eq!(bytes, image);

    // A link is for its method and path only, and cannot be altered.
    assert_eq!(put(&app, &download, "image/jpeg", b"overwrite".to_vec()).await, StatusCode::FORBIDDEN);
    assert_eq!(
        put(&app, &with_param(&download, "method", "PUT"), "text/plain", b"x".to_vec()).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(get(&app, &upload).await.0, StatusCode::FORBIDDEN);
    assert_eq!(get(&app, &with_param(&download, "method", "PUT")).await.0, StatusCode::FORBIDDEN);
    let signature =
        reqwest::Url::parse(&download).unwrap().query_pairs().find(|(k, _)| k == "signature").unwrap().1.to_string();
    let flipped: String = signature.chars().rev().collect();
    assert_eq!(get(&app, &with_param(&download, "signature", &flipped)).await.0, StatusCode::FORBIDDEN);
    let expires: i64 =
        reqwest::Url::parse(&download).unwrap().query_pairs().find(|(k, _)| k == "expires").unwrap().1.parse().unwrap();
    assert_eq!(
        get(&app, &with_param(&download, "expires", &(expires + 3600).to_string())).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(get(&app, &download.replace("my_photo", "my_phot0")).await.0, StatusCode::FORBIDDEN, "another path");
    let unsigned = download.split('?').next().unwrap().to_string();
    let (status, _, body) = get(&app, &unsigned).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(serde_json::from_slice::<Value>(&body).unwrap()["error"].is_string(), "the neutral error body");
    assert_eq!(get(&app, &download).await.2, image, "the file is as it was");

    // The sample CSV of bulk invites.
    let sample = app.get("/user/v1/cloud-services/file/getSampleCSV", t).await;
    assert_eq!(sample.status.as_u16(), 200, "{}", sample.body);
    let (status, content_type, csv) = get(&app, sample.result().as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type.as_deref(), Some("text/csv"));
    assert!(String::from_utf8(csv).unwrap().starts_with("name,email,"));
}

async fn file_links_refuse_what_they_should(backend: Backend) {
    let database = fresh_database(backend).await;
    let app = spawn_app_with(database, |s| {
        s.files.link_seconds = 1;
        s.files.max_bytes = 1000;
    })
    .await;
    let user = app.sign_up("Fay Files", "fay@example.com").await;
    let t = Some(user.access_token.as_str());
    app.get("/user/v1/cloud-services/file/getSignedUrl?file_name=a.txt", None).await.assert_error_envelope(401);
    let missing = app.get("/user/v1/cloud-services/file/getSignedUrl", t).await;
    missing.assert_error_envelope(400);
    assert_eq!(missing.body["error"][0]["param"], "file_name");
    app.get("/user/v1/cloud-services/file/getSignedUrl?file_name=%20%20", t).await.assert_error_envelope(400);
    app.get("/user/v1/cloud-services/file/getDownloadableUrl", t).await.assert_error_envelope(400);
    for bad in ["../../etc/passwd", ".meta/users/x", "users/./x"] {
        let reply = app.get(&format!("/user/v1/cloud-services/file/getDownloadableUrl?file_path={bad}"), t).await;
        reply.assert_error_envelope(404);
    }

    let signed = app.get("/user/v1/cloud-services/file/getSignedUrl?file_name=a.txt", t).await;
    let upload = signed.result()["signedUrl"].as_str().unwrap().to_string();
    let path = signed.result()["filePath"].as_str().unwrap().to_string();
    assert_eq!(put(&app, &upload, "text/plain", vec![b'x'; 1001]).await, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(put(&app, &upload, "text/plain", vec![b'x'; 1000]).await, StatusCode::OK);
    let download = app.get(&format!("/user/v1/cloud-services/file/getDownloadableUrl?file_path={path}"), t).await;
    let download = download.result().as_str().unwrap().to_string();
    assert_eq!(get(&app, &download).await.0, StatusCode::OK);
    // Expired links fail, for uploads and downloads alike.
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_eq!(get(&app, &download).await.0, StatusCode::FORBIDDEN);
    assert_eq!(put(&app, &upload, "text/plain", b"late".to_vec()).await, StatusCode::FORBIDDEN);
}

/// An S3-compatible store (moto's server, started here): the links are S3
/// presigned URLs, which the store checks (moto does not: see below).
async fn files_go_to_an_s3_bucket_when_one_is_set(backend: Backend) {
    let mut s3 = S3Server::start();
    let endpoint = format!("http://127.0.0.1:{}", s3.port);
    let made = reqwest::Client::new().put(format!("{endpoint}/roster-files")).send().await.unwrap();
    assert!(made.status().is_success(), "create the bucket: {}", made.status());
    let app = spawn_app_with(fresh_database(backend).await, |s| {
        s.files.s3 = Some(roster::config::S3Settings {
            bucket: "roster-files".into(),
            endpoint: Some(endpoint.clone()),
            region: "us-east-1".into(),
            access_key_id: "testing".into(),
            secret_access_key: roster::config::Secret::new("testing"),
        });
    })
    .await;
    let user = app.sign_up("Sam Three", "sam@example.com").await;
    let t = Some(user.access_token.as_str());
    let signed = app.get("/user/v1/cloud-services/file/getSignedUrl?file_name=cv.pdf", t).await;
    assert_eq!(signed.status.as_u16(), 200, "{}", signed.body);
    let upload = signed.result()["signedUrl"].as_str().unwrap().to_string();
    let path = signed.result()["filePath"].as_str().unwrap().to_string();
    assert!(upload.starts_with(&format!("{endpoint}/roster-files/users/")), "{upload}");
    assert!(upload.contains("X-Amz-Signature="), "a presigned URL: {upload}");
    assert_eq!(put(&app, &upload, "application/pdf", b"%PDF-1.7 cv".to_vec()).await, StatusCode::OK);
    let download = app.get(&format!("/user/v1/cloud-services/file/getDownloadableUrl?file_path={path}"), t).await;
    let download = download.result().as_str().unwrap().to_string();
    let (status, _, bytes) = get(&app, &download).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(bytes, b"%PDF-1.7 cv");
    // moto's server does not check signatures (AWS and MinIO do), so only
    // the link's form is checked here: signed, and for the configured lifetime.
    assert!(download.contains("X-Amz-Signature=") && download.contains("X-Amz-Expires=900"), "{download}");
    // Roster does not serve the links of a bucket.
    assert_eq!(
        get(&app, &app.url(&format!("/files/{path}?method=GET&expires=1&signature=00"))).await.0,
        StatusCode::NOT_FOUND
    );
    let sample = app.get("/user/v1/cloud-services/file/getSampleCSV", t).await;
    let (status, _, csv) = get(&app, sample.result().as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(String::from_utf8(csv).unwrap().starts_with("name,email,"));
    s3.stop();
}

/// moto's S3 server (`moto_server`, from PyPI's `moto[server]`, which `.ci/run` installs).
struct S3Server {
    port: u16,
    child: std::process::Child,
}

impl S3Server {
    fn start() -> S3Server {
        let port = free_port();
        let child = std::process::Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("moto_server (pip install 'moto[server]'; .ci/run installs it)");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(std::time::Instant::now() < deadline, "moto_server did not start");
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        S3Server { port, child }
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.stop();
    }
}

on_both_backends!(
    files_go_up_and_come_back_through_signed_links,
    file_links_refuse_what_they_should,
    files_go_to_an_s3_bucket_when_one_is_set,
);
