//! Notification templates: the built-in defaults (registration OTP, reset
//! OTP, bulk invite) and their rendering with minijinja. Admins replace a
//! default for their organisation through `notification/template`
//! (`crate::notifications::Services::template`); a template is data, rendered
//! in minijinja's sandbox (no file or code access), its variables
//! HTML-escaped in the body.

use minijinja::{AutoEscape, Environment};
use serde_json::Value;

/// ELEVATE's template codes (`REGISTRATION_OTP_EMAIL_TEMPLATE_CODE`,
/// `OTP_EMAIL_TEMPLATE_CODE`, `GENERIC_INVITATION_EMAIL_TEMPLATE_CODE`).
pub const REGISTRATION_OTP: &str = "registrationotp";
pub const RESET_OTP: &str = "emailotp";
pub const BULK_INVITE: &str = "generic_invite";

/// A template's text, as the store or the defaults hold it.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateText {
    pub subject: String,
    pub body: String,
    pub email_header: Option<String>,
    pub email_footer: Option<String>,
}

/// The built-in template of `code`, for organisations that define none.
pub fn default_template(code: &str) -> Option<TemplateText> {
    let (subject, body) = match code {
        REGISTRATION_OTP => (
            "Your OTP to sign up",
            "<p>Dear {{ name }},</p><p>Your OTP to complete the registration is {{ otp }}. It is valid for \
             {{ minutes }} minutes. For your security, do not share it with anyone.</p>",
        ),
        RESET_OTP => (
            "Your OTP to reset your password",
            "<p>Dear {{ name }},</p><p>Your OTP to reset your password is {{ otp }}. It is valid for \
             {{ minutes }} minutes. For your security, do not share it with anyone.</p>",
        ),
        BULK_INVITE => (
            "You are invited to {{ organization }}",
            "<p>Dear {{ name }},</p><p>An account was created for you in {{ organization }}. \
             To set your password, ask for an OTP on the password reset page with this email address.</p>",
        ),
        _ => return None,
    };
    Some(TemplateText { subject: subject.into(), body: body.into(), email_header: None, email_footer: None })
}

/// Every built-in code, in the order `notification/template` lists them.
pub const DEFAULT_CODES: &[&str] = &[REGISTRATION_OTP, RESET_OTP, BULK_INVITE];

#[derive(Debug, thiserror::Error)]
#[error("the template cannot be rendered: {0}")]
pub struct RenderError(String);

/// ELEVATE's own templates write variables as `{name}`; minijinja's are
/// `{{ name }}`. A template with no `{{` gets the first turned into the second,
/// so templates copied from ELEVATE render unchanged.
fn elevate_placeholders(text: &str) -> String {
    if text.contains("{{") || text.contains("{%") {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut rest = text;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        match after.find('}') {
            Some(end) if end > 0 && after[..end].chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => {
                out.push_str("{{ ");
                out.push_str(&after[..end]);
                out.push_str(" }}");
                rest = &after[end + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The subject and the body (header, body, footer) with `variables` filled in.
pub fn render(template: &TemplateText, variables: &Value) -> Result<(String, String), RenderError> {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|name| if name == "body" { AutoEscape::Html } else { AutoEscape::None });
    let subject_source = elevate_placeholders(&template.subject);
    let body_source = [&template.email_header, &Some(template.body.clone()), &template.email_footer]
        .into_iter()
        .flatten()
        .map(|part| elevate_placeholders(part))
        .collect::<Vec<_>>()
        .join("");
    env.add_template_owned("subject", subject_source).map_err(|e| RenderError(e.to_string()))?;
    env.add_template_owned("body", body_source).map_err(|e| RenderError(e.to_string()))?;
    let render =
        |name: &str| env.get_template(name).and_then(|t| t.render(variables)).map_err(|e| RenderError(e.to_string()));
    // A subject is one line, whatever the variables hold.
    let subject = render("subject")?.replace(['\r', '\n'], " ");
    Ok((subject, render("body")?))
}

/// Whether `text` is a template minijinja accepts (checked when an admin saves one).
pub fn check(text: &str) -> Result<(), RenderError> {
    let mut env = Environment::new();
    env.add_template_owned("t", elevate_placeholders(text)).map(|_| ()).map_err(|e| RenderError(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_render_the_otp_and_escape_names() {
        let template = default_template(RESET_OTP).unwrap();
        let (subject, body) = render(&template, &json!({"name": "<b>Ada</b>", "otp": "042133", "minutes": 5})).unwrap();
        assert_eq!(subject, "Your OTP to reset your password");
        assert!(body.contains("042133") && body.contains("&lt;b&gt;Ada") && !body.contains("<b>Ada"), "{body}");
    }

    #[test]
    fn elevate_templates_render_unchanged() {
        let template = TemplateText {
            subject: "Hi {name}".into(),
            body: "<p>Dear {name},</p> Your OTP is {otp}. {not a var}".into(),
            email_header: Some("<div>".into()),
            email_footer: Some("</div>".into()),
        };
        let (subject, body) = render(&template, &json!({"name": "Ada", "otp": "123456"})).unwrap();
        assert_eq!(subject, "Hi Ada");
        assert_eq!(body, "<div><p>Dear Ada,</p> Your OTP is 123456. {not a var}</div>");
    }

    #[test]
    fn a_broken_template_is_an_error_not_a_panic() {
        assert!(check("{{ otp").is_err());
        assert!(check("{% for %}").is_err());
        assert!(check("Dear {{ name }}").is_ok());
    }
}
