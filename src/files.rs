//! Files (ELEVATE's `cloud-services/file/...`): clients upload and download
//! through expiring links, never through the API itself. The store is an
//! `object_store`: the local file system under `FILES_DIR` by default, whose
//! links Roster serves itself (`/files/{path}`, signed with an HMAC over the
//! method, the path and the expiry under a key derived from the deployment's
//! secret, so every instance accepts every instance's links), or an
//! S3-compatible bucket (`FILES_S3_BUCKET`), whose links are S3 presigned
//! URLs. A link is for one method: a download link cannot upload.

use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as StorePath;
use object_store::signer::Signer;
use object_store::{ObjectStore, PutPayload};
use sha2::Sha256;

use crate::config::FileSettings;
use crate::error::{Entity, ServiceError};

/// The longest file name an upload link takes.
const FILE_NAME_MAX: usize = 200;
/// Where the sample CSV of bulk invites lives in the store.
pub const SAMPLE_CSV_PATH: &str = "samples/bulk-user-invite.csv";
/// The columns `org-admin/bulkUserCreate` reads, and one example row.
const SAMPLE_CSV: &str =
    "name,email,phone_code,phone,username,roles\nJane Doe,jane.doe@example.com,+91,9876543210,,mentee\n";
/// What a path segment of a link escapes: all but RFC 3986's unreserved characters.
const SEGMENT: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');
/// Content types are kept beside the files, under a prefix no link reaches.
const META_PREFIX: &str = ".meta";

/// The method a link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkMethod {
    Put,
    Get,
}

impl LinkMethod {
    fn as_str(self) -> &'static str {
        match self {
            LinkMethod::Put => "PUT",
            LinkMethod::Get => "GET",
        }
    }
}

/// An upload link and where the file will be.
#[derive(Debug, Clone)]
pub struct UploadLink {
    pub url: String,
    pub file_path: String,
}

/// A file read through a download link.
pub struct StoredFile {
    pub bytes: bytes::Bytes,
    pub content_type: Option<String>,
}

enum Backend {
    /// Links are Roster's own, checked by `check_link`.
    Local {
        key: [u8; 32],
    },
    S3(Arc<object_store::aws::AmazonS3>),
}

pub struct FileStore {
    store: Arc<dyn ObjectStore>,
    backend: Backend,
    link_lifetime: Duration,
    max_bytes: usize,
    public_base_url: Option<String>,
}

fn signature(key: &[u8; 32], method: LinkMethod, path: &str, expires: i64) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(format!("{}\n{path}\n{expires}", method.as_str()).as_bytes());
    mac
}

/// A client's file name made safe for a path: letters, digits, `.`, `_`
/// and `-` kept, anything else `_`; no leading dot.
fn safe_file_name(raw: &str) -> Result<String, ServiceError> {
    let name: String = raw
        .trim()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '_' })
        .collect();
    let name = name.trim_start_matches('.').to_string();
    if name.is_empty() || name.chars().count() > FILE_NAME_MAX {
        return Err(ServiceError::invalid_input(vec![aggregates::validation::InvalidInput::Format {
            field: "file_name",
            rule: "must be 1 to 200 characters, with at least one letter or digit",
        }]));
    }
    Ok(name)
}

/// A stored file's path as a client names it: relative, no `..`, not the metadata.
fn checked_path(raw: &str) -> Result<StorePath, ServiceError> {
    let raw = raw.trim().trim_start_matches('/');
    let refused = || ServiceError::not_found(Entity::File);
    if raw.is_empty() || raw.len() > 1024 || raw.starts_with(META_PREFIX) || raw.chars().any(char::is_control) {
        return Err(refused());
    }
    let path = StorePath::parse(raw).map_err(|_| refused())?;
    if path.parts().any(|part| part.as_ref() == ".." || part.as_ref() == ".") {
        return Err(refused());
    }
    Ok(path)
}

fn store_error(error: object_store::Error) -> ServiceError {
    match error {
        object_store::Error::NotFound { .. } => ServiceError::not_found(Entity::File),
        other => ServiceError::internal(anyhow::Error::new(other).context("file store")),
    }
}

impl FileStore {
    pub fn open(settings: &FileSettings, link_key: [u8; 32]) -> anyhow::Result<FileStore> {
        let (store, backend): (Arc<dyn ObjectStore>, Backend) = match &settings.s3 {
            Some(s3) => {
                let mut builder = AmazonS3Builder::new()
                    .with_bucket_name(&s3.bucket)
                    .with_region(&s3.region)
                    .with_access_key_id(&s3.access_key_id)
                    .with_secret_access_key(s3.secret_access_key.expose());
                if let Some(endpoint) = &s3.endpoint {
                    builder = builder
                        .with_endpoint(endpoint)
                        .with_allow_http(endpoint.starts_with("http://"))
                        .with_virtual_hosted_style_request(false);
                }
                let s3 = Arc::new(builder.build()?);
                (s3.clone(), Backend::S3(s3))
            }
            None => {
                std::fs::create_dir_all(&settings.dir)
                    .map_err(|e| anyhow::anyhow!("cannot create FILES_DIR {}: {e}", settings.dir.display()))?;
                (Arc::new(LocalFileSystem::new_with_prefix(&settings.dir)?), Backend::Local { key: link_key })
            }
        };
        Ok(FileStore {
            store,
            backend,
            link_lifetime: Duration::from_secs(settings.link_seconds),
            max_bytes: settings.max_bytes,
            public_base_url: settings.public_base_url.clone(),
        })
    }

    /// Whether Roster serves the links itself (`/files/...`).
    pub fn serves_links(&self) -> bool {
        matches!(self.backend, Backend::Local { .. })
    }

    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    async fn link(&self, method: LinkMethod, path: &StorePath, request_base: &str) -> Result<String, ServiceError> {
        match &self.backend {
            Backend::S3(s3) => {
                let method = match method {
                    LinkMethod::Put => http::Method::PUT,
                    LinkMethod::Get => http::Method::GET,
                };
                let url = s3.signed_url(method, path, self.link_lifetime).await.map_err(store_error)?;
                Ok(url.to_string())
            }
            Backend::Local { key } => {
                let expires = chrono::Utc::now().timestamp() + self.link_lifetime.as_secs() as i64;
                let signature = hex::encode(signature(key, method, path.as_ref(), expires).finalize().into_bytes());
                let base = self.public_base_url.as_deref().unwrap_or(request_base).trim_end_matches('/');
                let encoded = path
                    .as_ref()
                    .split('/')
                    .map(|p| percent_encoding::utf8_percent_encode(p, SEGMENT).to_string())
                    .collect::<Vec<_>>()
                    .join("/");
                Ok(format!("{base}/files/{encoded}?method={}&expires={expires}&signature={signature}", method.as_str()))
            }
        }
    }

    /// An upload link for a new file of the user `owner` (a UUID), named
    /// as upstream names them: `users/<owner>-<milliseconds>-<file name>`.
    pub async fn upload_link(
        &self,
        owner: &str,
        file_name: &str,
        request_base: &str,
    ) -> Result<UploadLink, ServiceError> {
        let name = safe_file_name(file_name)?;
        let file_path = format!("users/{owner}-{}-{name}", chrono::Utc::now().timestamp_millis());
        let path = checked_path(&file_path)?;
        Ok(UploadLink { url: self.link(LinkMethod::Put, &path, request_base).await?, file_path })
    }

    /// A download link for the file at `file_path`.
    pub async fn download_link(&self, file_path: &str, request_base: &str) -> Result<String, ServiceError> {
        let path = checked_path(file_path)?;
        self.link(LinkMethod::Get, &path, request_base).await
    }

    /// A download link for the sample CSV of bulk invites, written to the store first.
    pub async fn sample_csv_link(&self, request_base: &str) -> Result<String, ServiceError> {
        let path = StorePath::from(SAMPLE_CSV_PATH);
        self.store.put(&path, PutPayload::from_static(SAMPLE_CSV.as_bytes())).await.map_err(store_error)?;
        self.link(LinkMethod::Get, &path, request_base).await
    }

    /// The file at `file_path` as a client names it (a bulk invite's input).
    pub async fn read_file(&self, file_path: &str) -> Result<bytes::Bytes, ServiceError> {
        let path = checked_path(file_path)?;
        self.store.get(&path).await.map_err(store_error)?.bytes().await.map_err(store_error)
    }

    /// Writes a file Roster makes itself (a bulk invite's output), with its
    /// content type; no size limit, since no client sends it.
    pub async fn write_file(
        &self,
        file_path: &str,
        bytes: bytes::Bytes,
        content_type: &str,
    ) -> Result<(), ServiceError> {
        let path = checked_path(file_path)?;
        self.store.put(&path, PutPayload::from_bytes(bytes)).await.map_err(store_error)?;
        let meta = StorePath::from(format!("{META_PREFIX}/{path}"));
        self.store.put(&meta, PutPayload::from(content_type.to_string())).await.map_err(store_error)?;
        Ok(())
    }

    /// Removes a file Roster made (and its content type); a missing one is no error.
    pub async fn remove_file(&self, file_path: &str) -> Result<(), ServiceError> {
        let path = checked_path(file_path)?;
        for target in [StorePath::from(format!("{META_PREFIX}/{path}")), path] {
            match self.store.delete(&target).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(other) => return Err(store_error(other)),
            }
        }
        Ok(())
    }

    /// Checks one of Roster's own links: its method, path, expiry and signature.
    pub fn check_link(
        &self,
        method: LinkMethod,
        raw_path: &str,
        expires: &str,
        signature_hex: &str,
    ) -> Result<StorePath, ServiceError> {
        let Backend::Local { key } = &self.backend else { return Err(ServiceError::not_found(Entity::File)) };
        let path = checked_path(raw_path)?;
        let expires: i64 = expires.trim().parse().map_err(|_| ServiceError::Forbidden)?;
        let given = hex::decode(signature_hex.trim()).map_err(|_| ServiceError::Forbidden)?;
        signature(key, method, path.as_ref(), expires).verify_slice(&given).map_err(|_| ServiceError::Forbidden)?;
        if expires < chrono::Utc::now().timestamp() {
            return Err(ServiceError::Forbidden);
        }
        Ok(path)
    }

    /// Stores an upload through a checked link, with its content type.
    pub async fn put(
        &self,
        path: &StorePath,
        bytes: bytes::Bytes,
        content_type: Option<&str>,
    ) -> Result<(), ServiceError> {
        if bytes.len() > self.max_bytes {
            return Err(ServiceError::invalid(
                "file",
                crate::error::Reason::Input(aggregates::validation::InvalidInput::TooLong {
                    field: "file",
                    max: self.max_bytes,
                }),
            ));
        }
        self.store.put(path, PutPayload::from_bytes(bytes)).await.map_err(store_error)?;
        let meta = StorePath::from(format!("{META_PREFIX}/{path}"));
        let content_type = content_type.unwrap_or("application/octet-stream").to_string();
        self.store.put(&meta, PutPayload::from(content_type)).await.map_err(store_error)?;
        Ok(())
    }

    /// A file read through a checked link.
    pub async fn get(&self, path: &StorePath) -> Result<StoredFile, ServiceError> {
        let bytes = self.store.get(path).await.map_err(store_error)?.bytes().await.map_err(store_error)?;
        let meta = StorePath::from(format!("{META_PREFIX}/{path}"));
        let content_type = match self.store.get(&meta).await {
            Ok(found) => found.bytes().await.ok().and_then(|b| String::from_utf8(b.to_vec()).ok()),
            Err(_) if path.as_ref() == SAMPLE_CSV_PATH => Some("text/csv".into()),
            Err(_) => None,
        };
        Ok(StoredFile { bytes, content_type })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_and_paths_are_made_safe() {
        assert_eq!(safe_file_name("my photo (1).jpg").unwrap(), "my_photo__1_.jpg");
        assert_eq!(safe_file_name("../../etc/passwd").unwrap(), "_.._etc_passwd");
        assert!(safe_file_name("   ").is_err());
        assert!(safe_file_name(&"a".repeat(201)).is_err());
        assert!(checked_path("users/a.jpg").is_ok());
        for bad in ["", "../x", "users/../../x", ".meta/users/a", "a\u{0}b", "/"] {
            assert!(checked_path(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_signature_covers_the_method_the_path_and_the_expiry() {
        let key = [7u8; 32];
        let sign = |m, p: &str, e| hex::encode(signature(&key, m, p, e).finalize().into_bytes());
        let base = sign(LinkMethod::Get, "users/a", 100);
        assert_ne!(base, sign(LinkMethod::Put, "users/a", 100));
        assert_ne!(base, sign(LinkMethod::Get, "users/b", 100));
        assert_ne!(base, sign(LinkMethod::Get, "users/a", 101));
        assert_ne!(base, hex::encode(signature(&[8u8; 32], LinkMethod::Get, "users/a", 100).finalize().into_bytes()));
    }
}
