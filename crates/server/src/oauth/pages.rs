//! The hosted pages: compile-time checked templates (askama, `crates/server/templates/`) with
//! the pool's UI customization or managed-login branding applied. Pages use no script, except
//! the passkey step, which loads `/login/passkey.js` to reach the browser's WebAuthn API, and the
//! page that passes a SAML provider's answer on (`/login/resubmit.js`).

use askama::Template;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use cognate_core::api::AssetCategoryType;
use cognate_core::Service;

/// How the pages of a pool (and client) look.
pub struct Look {
    pub pool_name: String,
    pub accent: String,
    pub background: String,
    /// CSS from SetUICustomization, sanitised.
    pub css: Option<String>,
    /// A data URL of the logo.
    pub logo: Option<String>,
}

impl Look {
    pub fn plain() -> Self {
        Self { pool_name: String::new(), accent: "#1f6feb".into(), background: "#eef1f6".into(), css: None, logo: None }
    }

    /// The look of a pool's pages for a client: the classic UI customization (CSS, logo), or
    /// the client's managed-login branding (logo and colours from its settings).
    pub async fn of(service: &Service, pool_id: &str, pool_name: &str, client_id: Option<&str>) -> Self {
        let mut look = Self { pool_name: pool_name.to_owned(), ..Self::plain() };
        if let Ok(Some((ui, image))) = service.ui_customization(pool_id, client_id).await {
            look.css = ui.css.as_deref().map(sanitize_css);
            look.logo = image.map(|b64| format!("data:image/png;base64,{b64}"));
        }
        if let Some(client_id) = client_id {
            if let Ok(Some(branding)) = service.client_branding(pool_id, client_id).await {
                let logo = branding.assets.unwrap_or_default().into_iter().find(|a| {
                    matches!(a.category, AssetCategoryType::FormLogo | AssetCategoryType::PageHeaderLogo)
                        && a.bytes.is_some()
                });
                if let Some(asset) = logo {
                    let ext = asset.extension.as_str().to_ascii_lowercase();
                    let mime = if ext == "svg" { "image/svg+xml".to_owned() } else { format!("image/{ext}") };
                    look.logo = Some(format!("data:{mime};base64,{}", asset.bytes.unwrap_or_default()));
                }
                let color = |path: &[&str]| -> Option<String> {
                    let mut v = branding.settings.as_ref()?;
                    for p in path {
                        v = v.get(p)?;
                    }
                    let c = v.as_str()?.trim_start_matches('#');
                    (c.len() >= 6 && c.bytes().all(|b| b.is_ascii_hexdigit())).then(|| format!("#{}", &c[..6]))
                };
                if let Some(c) = color(&["components", "primaryButton", "lightMode", "defaults", "backgroundColor"]) {
                    look.accent = c;
                }
                if let Some(c) = color(&["components", "pageBackground", "lightMode", "color"]) {
                    look.background = c;
                }
            }
        }
        look
    }
}

/// CSS is copied into a `<style>` element: nothing may close it or open markup.
fn sanitize_css(css: &str) -> String {
    css.replace('<', "\\3C ").replace('>', "\\3E ")
}

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    pub look: Look,
    pub action: String,
    pub csrf: String,
    pub username: String,
    pub error: Option<String>,
    pub info: Option<String>,
    pub forgot_link: String,
    pub signup_link: String,
    pub can_sign_up: bool,
    /// The pool allows passkeys: the page offers them.
    pub passkeys: bool,
    /// (name, link) of each external identity provider the client supports.
    pub providers: Vec<(String, String)>,
    /// The client signs people in with the pool's own users (`COGNITO`): the form is there.
    pub native: bool,
}

/// An input of a challenge or form page.
pub struct Field {
    pub name: &'static str,
    pub label: &'static str,
    pub kind: &'static str,
    pub autocomplete: &'static str,
    pub value: String,
}

impl Field {
    pub fn new(name: &'static str, label: &'static str, kind: &'static str, autocomplete: &'static str) -> Self {
        Self { name, label, kind, autocomplete, value: String::new() }
    }

    pub fn with(mut self, value: &str) -> Self {
        self.value = value.to_owned();
        self
    }
}

#[derive(Template)]
#[template(path = "challenge.html")]
pub struct ChallengePage {
    pub look: Look,
    pub action: String,
    pub csrf: String,
    pub heading: String,
    pub explanation: String,
    pub error: Option<String>,
    pub challenge: String,
    pub session: String,
    pub username: String,
    pub fields: Vec<Field>,
    /// (value, label) of a choice (SELECT_MFA_TYPE).
    pub choices: Vec<(String, String)>,
    pub setup_secret: Option<String>,
    /// WEB_AUTHN: the request options (JSON) the page's script hands to the browser.
    pub passkey_options: Option<String>,
    pub button: String,
}

#[derive(Template)]
#[template(path = "form.html")]
pub struct FormPage {
    pub look: Look,
    pub action: String,
    pub csrf: String,
    pub heading: String,
    pub step: &'static str,
    pub fields: Vec<Field>,
    pub error: Option<String>,
    pub info: Option<String>,
    pub button: String,
    pub back_link: String,
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub look: Look,
    pub error: String,
}

/// The page that sends an identity provider's cross-site POST on as a same-site one.
#[derive(Template)]
#[template(path = "resubmit.html")]
pub struct ResubmitPage {
    pub look: Look,
    pub action: String,
    pub fields: Vec<(String, String)>,
}

/// A rendered page as an HTML answer that is never cached and never framed; its only scripts
/// are cognate's own files (the passkey step's).
pub fn html(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(body) => (
            status,
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CACHE_CONTROL, "no-store"),
                (header::X_FRAME_OPTIONS, "DENY"),
                (
                    header::HeaderName::from_static("content-security-policy"),
                    "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; img-src data: 'self'; base-uri 'none'",
                ),
            ],
            body,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "page did not render");
            (StatusCode::INTERNAL_SERVER_ERROR, "page did not render").into_response()
        }
    }
}
