//! The HTTP client every scenario and the soak use: keep-alive, no Nagle,
//! bodies parsed only when asked.

use reqwest::Client;
use serde_json::Value;

pub fn client() -> Client {
    Client::builder().pool_max_idle_per_host(1024).tcp_nodelay(true).build().expect("a reqwest client builds")
}

/// The body of a 2xx answer; anything else is an error naming the status and body.
pub async fn expect_ok(response: reqwest::Result<reqwest::Response>) -> Result<Value, String> {
    let response = response.map_err(|e| e.to_string())?;
    let status = response.status();
    let body: Value = response.json().await.map_err(|e| e.to_string())?;
    if status.is_success() {
        Ok(body)
    } else {
        Err(format!("{status}: {body}"))
    }
}
