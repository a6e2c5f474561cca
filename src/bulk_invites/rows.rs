//! The rows of a bulk invite CSV: parsing, and the checks that need no
//! store (name, email, phone, user name, roles against the organisation's
//! role book, duplicates within the file). Pure, so a resumed job checks
//! every row exactly as the first run did.

use std::collections::{HashMap, HashSet};

use aggregates::validation;

/// The columns the sample CSV has (`files::SAMPLE_CSV`); `name` and `email` are required.
const REQUIRED: &[&str] = &["name", "email"];
/// Characters that separate several roles in the `roles` column.
const ROLE_SEPARATORS: &[char] = &[',', ';', '|'];

/// An input file: its header and its records, every record as long as the header.
#[derive(Debug, Clone)]
pub struct InputFile {
    pub headers: Vec<String>,
    pub records: Vec<Vec<String>>,
    columns: Columns,
}

#[derive(Debug, Clone, Default)]
struct Columns {
    name: usize,
    email: usize,
    phone_code: Option<usize>,
    phone: Option<usize>,
    username: Option<usize>,
    roles: Option<usize>,
}

/// Why a whole file is refused (the job fails with it).
pub type FileError = String;

/// Parses `bytes` as CSV with a header row. Rows shorter or longer than the
/// header are padded or cut (the output keeps the header's columns).
pub fn parse(bytes: &[u8]) -> Result<InputFile, FileError> {
    let bytes = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new().flexible(true).has_headers(true).from_reader(bytes);
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| format!("the file is not CSV: {e}"))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let find = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let missing: Vec<&str> = REQUIRED.iter().copied().filter(|c| find(c).is_none()).collect();
    if !missing.is_empty() {
        return Err(format!("the header row lacks the column(s) {}", missing.join(", ")));
    }
    let columns = Columns {
        name: find("name").unwrap_or_default(),
        email: find("email").unwrap_or_default(),
        phone_code: find("phone_code"),
        phone: find("phone"),
        username: find("username"),
        roles: find("roles"),
    };
    let mut records = Vec::new();
    for (index, record) in reader.records().enumerate() {
        let record = record.map_err(|e| format!("row {} cannot be read: {e}", index + 1))?;
        let mut fields: Vec<String> = record.iter().map(str::to_string).collect();
        fields.resize(headers.len(), String::new());
        records.push(fields);
    }
    Ok(InputFile { headers, records, columns })
}

/// The roles a job may give: titles the uploader may grant in the
/// organisation (to their ids), every title that exists there, and the
/// roles of a row that names none.
#[derive(Debug, Clone, Default)]
pub struct RoleBook {
    pub grantable: HashMap<String, i64>,
    pub known: HashSet<String>,
    pub default: Vec<i64>,
}

/// A row that passed every check of this module.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub name: String,
    pub email: String,
    pub phone: Option<String>,
    pub username: Option<String>,
    pub role_ids: Vec<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Checked {
    Valid(Candidate),
    Invalid(String),
}

fn field(record: &[String], column: Option<usize>) -> Option<&str> {
    column.map(|c| record[c].trim()).filter(|v| !v.is_empty())
}

/// The value, or its error's words added to `reasons`.
fn kept<T>(result: Result<T, validation::InvalidInput>, reasons: &mut Vec<String>) -> Option<T> {
    result.map_err(|e| reasons.push(e.to_string())).ok()
}

fn check_one(record: &[String], columns: &Columns, roles: &RoleBook) -> Result<Candidate, String> {
    let mut reasons: Vec<String> = Vec::new();
    let name = kept(validation::normalize_name(&record[columns.name]), &mut reasons);
    let email = match field(record, Some(columns.email)) {
        Some(raw) => kept(validation::normalize_email(raw), &mut reasons),
        None => {
            reasons.push("no email: the invitation is sent to it".into());
            None
        }
    };
    let phone = match (field(record, columns.phone_code), field(record, columns.phone)) {
        (_, None) => None,
        (Some(code), Some(number)) => {
            let code = if code.starts_with('+') { code.to_string() } else { format!("+{code}") };
            kept(validation::normalize_phone(&format!("{code}{number}")), &mut reasons)
        }
        (None, Some(number)) => kept(validation::normalize_phone(number), &mut reasons),
    };
    let username = field(record, columns.username).and_then(|u| kept(validation::normalize_username(u), &mut reasons));
    let mut role_ids = Vec::new();
    for title in field(record, columns.roles).unwrap_or_default().split(ROLE_SEPARATORS) {
        let title = title.trim();
        if title.is_empty() {
            continue;
        }
        let lowered = title.to_lowercase();
        match roles.grantable.get(title).or_else(|| roles.grantable.get(&lowered)) {
            Some(id) if !role_ids.contains(id) => role_ids.push(*id),
            Some(_) => {}
            None if roles.known.contains(title) || roles.known.contains(&lowered) => {
                reasons.push(format!("role {title} cannot be given by an org admin"))
            }
            None => reasons.push(format!("role {title} does not exist in the organisation")),
        }
    }
    if role_ids.is_empty() {
        role_ids = roles.default.clone();
    }
    match (name, email) {
        (Some(name), Some(email)) if reasons.is_empty() => Ok(Candidate { name, email, phone, username, role_ids }),
        _ => Err(reasons.join("; ")),
    }
}

impl InputFile {
    /// Every row checked, in file order; a value (email, phone, user name)
    /// met on an earlier row makes the later row invalid.
    pub fn check(&self, roles: &RoleBook) -> Vec<Checked> {
        let mut first_seen: HashMap<(u8, String), usize> = HashMap::new();
        self.records
            .iter()
            .enumerate()
            .map(|(index, record)| match check_one(record, &self.columns, roles) {
                Err(reason) => Checked::Invalid(reason),
                Ok(candidate) => {
                    let values = [
                        (0u8, Some(&candidate.email), "email"),
                        (1, candidate.phone.as_ref(), "phone"),
                        (2, candidate.username.as_ref(), "username"),
                    ];
                    let given: Vec<(u8, &String, &str)> =
                        values.into_iter().filter_map(|(kind, value, label)| Some((kind, value?, label))).collect();
                    // Only a valid row's values count as seen: a refused row does not shadow a later one.
                    let duplicate = given.iter().find_map(|(kind, value, label)| {
                        first_seen
                            .get(&(*kind, (*value).clone()))
                            .map(|row| format!("{label} duplicates row {}", row + 1))
                    });
                    if let Some(reason) = duplicate {
                        return Checked::Invalid(reason);
                    }
                    for (kind, value, _) in given {
                        first_seen.insert((kind, value.clone()), index);
                    }
                    Checked::Valid(candidate)
                }
            })
            .collect()
    }
}

/// What became of a row, as the output CSV's `status` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowStatus {
    Created,
    Exists,
    Invalid,
}

impl RowStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RowStatus::Created => "CREATED",
            RowStatus::Exists => "EXISTS",
            RowStatus::Invalid => "INVALID",
        }
    }
}

/// CSV lines (no header) of `records` with their status and reason appended.
pub fn output_lines(records: &[&Vec<String>], outcomes: &[(RowStatus, String)]) -> Result<Vec<u8>, csv::Error> {
    let mut writer = csv::WriterBuilder::new().has_headers(false).from_writer(Vec::new());
    for (record, (status, reason)) in records.iter().zip(outcomes) {
        let mut line: Vec<&str> = record.iter().map(String::as_str).collect();
        line.push(status.as_str());
        line.push(reason);
        writer.write_record(&line)?;
    }
    writer.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

/// The output's header line: the input's columns, then `status` and `reason`.
pub fn output_header(headers: &[String]) -> Result<Vec<u8>, csv::Error> {
    let mut writer = csv::WriterBuilder::new().has_headers(false).from_writer(Vec::new());
    let mut line: Vec<&str> = headers.iter().map(String::as_str).collect();
    line.extend(["status", "reason"]);
    writer.write_record(&line)?;
    writer.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn book() -> RoleBook {
        RoleBook {
            grantable: HashMap::from([("mentee".into(), 3), ("mentor".into(), 2)]),
            known: HashSet::from(["mentee".into(), "mentor".into(), "admin".into()]),
            default: vec![3],
        }
    }

    #[test]
    fn rows_are_checked_and_duplicates_within_the_file_refused() {
        let csv = "\u{feff}name,email,phone_code,phone,username,roles,extra\n\
            Ada,ADA@example.com,+91,9876543210,,\"mentor,mentee\",x\n\
            ,bad-email,,,,admin\n\
            Bob,ada@example.com\n\
            Cy,cy@example.com,91,98765 43210,,nurse\n\
            Di,di@example.com,,12,,\n\
            Ed,ed@example.com,,,e d,mentee\n\
            Flo,flo@example.com,,,flo_1,MENTOR\n";
        let file = parse(csv.as_bytes()).unwrap();
        assert_eq!(file.headers.len(), 7);
        assert_eq!(file.records.len(), 7);
        assert_eq!(file.records[2].len(), 7, "short rows are padded");
        let checked = file.check(&book());
        let ada = Candidate {
            name: "Ada".into(),
            email: "ada@example.com".into(),
            phone: Some("+919876543210".into()),
            username: None,
            role_ids: vec![2, 3],
        };
        assert_eq!(checked[0], Checked::Valid(ada));
        let reason = |i: usize| match &checked[i] {
            Checked::Invalid(reason) => reason.clone(),
            other => panic!("row {i} is {other:?}"),
        };
        let second = reason(1);
        assert!(second.contains("name") && second.contains("email is invalid") && second.contains("admin"), "{second}");
        assert_eq!(reason(2), "email duplicates row 1");
        // The phone of row 4 would clash with row 1's; its role is unknown first.
        assert_eq!(reason(3), "role nurse does not exist in the organisation");
        assert_eq!(reason(4), "phone is invalid");
        assert_eq!(reason(5), "username is invalid");
        match &checked[6] {
            Checked::Valid(c) => assert_eq!((c.role_ids.clone(), c.username.clone()), (vec![2], Some("flo_1".into()))),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_row_without_roles_gets_the_default_and_files_without_the_columns_are_refused() {
        let file = parse(b"email,name\nz@example.com,Zed\n").unwrap();
        match &file.check(&book())[0] {
            Checked::Valid(c) => assert_eq!(c.role_ids, vec![3]),
            other => panic!("{other:?}"),
        }
        assert!(parse(b"mail,fullname\nx,y\n").unwrap_err().contains("name, email"));
        assert!(parse(b"").unwrap_err().contains("name, email"));
    }

    #[test]
    fn the_output_quotes_what_needs_it() {
        let headers = vec!["name".to_string(), "email".to_string()];
        let record = vec!["Doe, Jane".to_string(), "j@example.com".to_string()];
        let lines = output_lines(&[&record], &[(RowStatus::Invalid, "a \"reason\"".into())]).unwrap();
        assert_eq!(String::from_utf8(lines).unwrap(), "\"Doe, Jane\",j@example.com,INVALID,\"a \"\"reason\"\"\"\n");
        assert_eq!(String::from_utf8(output_header(&headers).unwrap()).unwrap(), "name,email,status,reason\n");
    }
}
