//! Remembered devices: a pool with a `DeviceConfiguration` hands each new device a key at the
//! end of a sign-in (`NewDeviceMetadata`); the client confirms it with an SRP verifier of a
//! password only it knows (`ConfirmDevice`), and a remembered device later proves itself with
//! `DEVICE_SRP_AUTH` / `DEVICE_PASSWORD_VERIFIER` in place of an MFA code. Devices are pool
//! objects of the kind `device/<sub>` (one kind per user), keyed by device key; their verifiers
//! are sealed with the master key like users' verifiers.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use cognate_api::arn::Arn;
use cognate_api::trigger::TriggerSource;
use cognate_api::{
    AdminForgetDeviceRequest, AdminGetDeviceRequest, AdminGetDeviceResponse, AdminListDevicesRequest,
    AdminListDevicesResponse, AdminUpdateDeviceStatusRequest, AdminUpdateDeviceStatusResponse, AttributeType,
    ChallengeNameType, ConfirmDeviceRequest, ConfirmDeviceResponse, DeviceRememberedStatusType, DeviceType, Empty,
    ForgetDeviceRequest, GetDeviceRequest, GetDeviceResponse, ListDevicesRequest, ListDevicesResponse,
    NewDeviceMetadataType, UpdateDeviceStatusRequest, UpdateDeviceStatusResponse,
};
use cognate_crypto::seal::purpose;
use cognate_crypto::srp::{self, StoredVerifier};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::auth::{incorrect, AuthStep};
use super::paging::Page;
use super::srp::check_srp_a;
use super::triggers::StringMap;
use super::Service;
use crate::context::RequestContext;
use crate::error::{CognitoError, ErrorKind, Result};
use crate::model::{get_bool, get_obj, AppClient, PoolObject, User, UserPool};

/// Devices listed per page when the caller names no limit, and the most it may ask for.
const DEFAULT_PAGE: usize = 60;
const MAX_PAGE: i32 = 60;
/// The associated data of a device verifier sealed at rest, and of a device SRP secret block.
const VERIFIER_AAD: &[u8] = b"cognate-device-verifier";
const BLOCK_AAD: &[u8] = b"cognate-device-srp";

/// Whether a sign-in takes part in device tracking, and with which device key the client came.
/// Admin flows and the hosted page do not track devices.
#[derive(Clone, Copy, Debug)]
pub(crate) enum DeviceUse<'a> {
    Off,
    Presented(Option<&'a str>),
}

/// A device as stored.
#[derive(Clone, Serialize, Deserialize)]
struct Device {
    key: String,
    group_key: String,
    /// The owner's username.
    username: String,
    /// `salt length | salt | verifier`, sealed and base64; None until ConfirmDevice.
    #[serde(default)]
    verifier: Option<String>,
    #[serde(default)]
    name: Option<String>,
    remembered: bool,
    modified_ms: i64,
    #[serde(default)]
    last_authenticated_ms: Option<i64>,
}

fn kind(user: &User) -> String {
    format!("device/{}", user.sub)
}

fn not_found() -> CognitoError {
    CognitoError::new(ErrorKind::ResourceNotFound, "Device does not exist.")
}

fn invalid_session() -> CognitoError {
    CognitoError::not_authorized("Invalid session for the user.")
}

/// A password step that ended in DEVICE_SRP_AUTH, for an answer that comes without the Session.
#[derive(Serialize, Deserialize)]
struct Pending {
    client: String,
    expires_ms: i64,
    data: Value,
}

fn pending_kind(user: &User) -> String {
    format!("device-pending/{}", user.sub)
}

fn tracking_off() -> CognitoError {
    CognitoError::new(ErrorKind::InvalidUserPoolConfiguration, "Device tracking is not enabled for this user pool.")
}

/// Whether a remembered device stands in for the MFA code (`ChallengeRequiredOnNewDevice`:
/// only new devices are challenged).
pub(crate) fn device_replaces_mfa(pool: &UserPool) -> bool {
    setting(pool, "ChallengeRequiredOnNewDevice")
}

/// Whether the pool tracks devices: any `DeviceConfiguration` switches it on.
pub(crate) fn tracks(pool: &UserPool) -> bool {
    get_obj(&pool.doc, "DeviceConfiguration").is_some()
}

fn setting(pool: &UserPool, name: &str) -> bool {
    get_obj(&pool.doc, "DeviceConfiguration").and_then(|c| get_bool(c, name)) == Some(true)
}

/// A random device group key, shaped as Cognito's are (`-` and nine letters or digits).
fn group_key() -> Result<String> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let bytes = cognate_crypto::random::bytes(9).map_err(CognitoError::internal)?;
    Ok(std::iter::once('-').chain(bytes.iter().map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)).collect())
}

impl Device {
    fn to_type(&self, pool: &UserPool, created_ms: i64, region: &str) -> DeviceType {
        let status = if self.remembered { "remembered" } else { "not_remembered" };
        let owner = format!("{}.{}", self.username, pool.id);
        let account = Arn::parse(pool.arn()).map_or("000000000000", |a| a.account);
        let mut attrs = vec![
            ("device_status", "valid".to_owned()),
            ("dev:device_remembered_status", status.to_owned()),
            ("dev:device_owner", owner.clone()),
            ("dev:device_arn", format!("arn:aws:cognito-idp:{region}:{account}:owner/{owner}/device/{}", self.key)),
        ];
        if let Some(name) = &self.name {
            attrs.push(("device_name", name.clone()));
        }
        DeviceType {
            device_key: Some(self.key.clone()),
            device_attributes: Some(
                attrs.into_iter().map(|(n, v)| AttributeType { name: n.to_owned(), value: Some(v) }).collect(),
            ),
            device_create_date: Some(created_ms as f64 / 1000.0),
            device_last_modified_date: Some(self.modified_ms as f64 / 1000.0),
            device_last_authenticated_date: self.last_authenticated_ms.map(|ms| ms as f64 / 1000.0),
        }
    }
}

impl Service {
    async fn device(&self, user: &User, key: &str) -> Result<Option<(Device, i64)>> {
        let Some(object) = self.store.get_object(&kind(user), key).await? else { return Ok(None) };
        let device: Device = serde_json::from_value(Value::Object(object.doc)).map_err(CognitoError::internal)?;
        Ok(Some((device, object.created_ms)))
    }

    async fn put_device(&self, user: &User, device: &Device, create: bool) -> Result<()> {
        Ok(self.put_doc(&kind(user), &device.key, &user.pool_id, device, create).await?)
    }

    /// A user's confirmed device and its verifier; a device never confirmed is not found.
    async fn confirmed_device(&self, user: &User, key: &str) -> Result<(Device, StoredVerifier)> {
        let (found, _) = self.device(user, key).await?.ok_or_else(not_found)?;
        let verifier = self.device_verifier(&found)?.ok_or_else(not_found)?;
        Ok((found, verifier))
    }

    fn device_verifier(&self, device: &Device) -> Result<Option<StoredVerifier>> {
        let Some(sealed) = &device.verifier else { return Ok(None) };
        let bytes = B64.decode(sealed).map_err(CognitoError::internal)?;
        let plain =
            self.master().open(purpose::VERIFIER_AT_REST, VERIFIER_AAD, &bytes).map_err(CognitoError::internal)?;
        let salt_len = *plain.first().ok_or_else(|| CognitoError::internal("empty device verifier"))? as usize;
        if plain.len() < 1 + salt_len {
            return Err(CognitoError::internal("truncated device verifier"));
        }
        Ok(Some(StoredVerifier { salt: plain[1..1 + salt_len].to_vec(), verifier: plain[1 + salt_len..].to_vec() }))
    }

    /// A device key presented with a sign-in that names no device of the user, while the pool
    /// tracks devices: amazon-cognito-identity-js forgets its cached key on this answer (a
    /// ResourceNotFoundException that mentions the device) and answers again without it.
    pub(crate) async fn check_presented_device(
        &self,
        pool: &UserPool,
        user: &User,
        device: DeviceUse<'_>,
    ) -> Result<()> {
        if let DeviceUse::Presented(Some(key)) = device {
            if tracks(pool) && self.device(user, key).await?.is_none() {
                return Err(not_found());
            }
        }
        Ok(())
    }

    /// A remembered, confirmed device the client presented proves itself next: the sign-in
    /// continues with DEVICE_SRP_AUTH (and, where the pool lets devices stand in for MFA, skips
    /// the MFA code).
    pub(crate) async fn device_challenge(
        &self,
        pool: &UserPool,
        client: &AppClient,
        user: &User,
        device: DeviceUse<'_>,
        token_source: TriggerSource,
    ) -> Result<Option<AuthStep>> {
        let DeviceUse::Presented(Some(key)) = device else { return Ok(None) };
        if !tracks(pool) {
            return Ok(None);
        }
        let Some((found, _)) = self.device(user, key).await? else { return Ok(None) };
        if !found.remembered || found.verifier.is_none() {
            return Ok(None);
        }
        let data = json!({ "tokenSource": token_source, "deviceKey": key });
        let minutes = client.auth_session_validity_minutes();
        let session =
            self.new_session(&pool.id, &client.client_id, &user.username, "DEVICE_SRP_AUTH", minutes, data.clone())?;
        // Some clients (pycognito) answer without the Session: the password step is then
        // remembered here, for this client and device, once.
        let pending = Pending { client: client.client_id.clone(), expires_ms: self.now_ms() + minutes * 60_000, data };
        let Value::Object(doc) = serde_json::to_value(&pending).map_err(CognitoError::internal)? else {
            return Err(CognitoError::internal("pending device proof is not an object"));
        };
        let object = PoolObject {
            kind: pending_kind(user),
            key: key.to_owned(),
            pool_id: pool.id.clone(),
            doc,
            created_ms: self.now_ms(),
        };
        self.store.put_object(&object, false).await?;
        let parameters: StringMap = [("USERNAME".to_owned(), user.username.clone())].into();
        Ok(Some(AuthStep::challenge(ChallengeNameType::DeviceSrpAuth, Some(session), parameters)))
    }

    /// RespondToAuthChallenge `DEVICE_SRP_AUTH` {USERNAME, DEVICE_KEY, SRP_A}: the device's
    /// salt and the server's SRP half, as `DEVICE_PASSWORD_VERIFIER`.
    pub(crate) async fn answer_device_srp(
        &self,
        pool: &UserPool,
        client: &AppClient,
        session: Option<&str>,
        user: &User,
        responses: &StringMap,
    ) -> Result<AuthStep> {
        let presented = responses.get("DEVICE_KEY").ok_or_else(|| super::auth::missing("DEVICE_KEY"))?;
        // The password step's pending proof is used up either way.
        let pending = self.store.get_object(&pending_kind(user), presented).await?;
        if pending.is_some() {
            self.store.delete_object(&pending_kind(user), presented).await?;
        }
        let (data, expires_ms) = match session {
            Some(session) => {
                let state = self.take_session(session, &client.client_id, &pool.id, "DEVICE_SRP_AUTH").await?;
                if state.username != user.username {
                    return Err(invalid_session());
                }
                (state.data, state.expires_ms)
            }
            None => {
                let pending: Pending = pending
                    .and_then(|o| serde_json::from_value(Value::Object(o.doc)).ok())
                    .filter(|p: &Pending| p.client == client.client_id && p.expires_ms > self.now_ms())
                    .ok_or_else(invalid_session)?;
                (pending.data, pending.expires_ms)
            }
        };
        let key = data.get("deviceKey").and_then(Value::as_str).unwrap_or_default().to_owned();
        if presented != &key {
            return Err(invalid_session());
        }
        let srp_a = responses.get("SRP_A").ok_or_else(|| super::auth::missing("SRP_A"))?;
        check_srp_a(srp_a)?;
        let (_, verifier) = self.confirmed_device(user, &key).await?;
        let (block, public_b) = self.seal_secret_block(pool, client, &key, srp_a, &verifier, false, BLOCK_AAD)?;
        let session = self.new_session_until(
            &pool.id,
            &client.client_id,
            &user.username,
            "DEVICE_PASSWORD_VERIFIER",
            expires_ms,
            data,
        )?;
        let parameters: StringMap = [
            ("SALT", srp::salt_hex(&verifier.salt)),
            ("SRP_B", public_b),
            ("SECRET_BLOCK", block),
            ("USERNAME", user.username.clone()),
            ("DEVICE_KEY", key),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        Ok(AuthStep::challenge(ChallengeNameType::DevicePasswordVerifier, Some(session), parameters))
    }

    /// RespondToAuthChallenge `DEVICE_PASSWORD_VERIFIER`: checks the device's proof; returns
    /// the device key and the token source the sign-in ends with.
    pub(crate) async fn answer_device_verifier(
        &self,
        pool: &UserPool,
        client: &AppClient,
        session: Option<&str>,
        user: &User,
        responses: &StringMap,
    ) -> Result<(String, TriggerSource)> {
        let key = responses.get("DEVICE_KEY").ok_or_else(|| super::auth::missing("DEVICE_KEY"))?.clone();
        // Without the Session (pycognito), the single-use SECRET_BLOCK, issued only after the
        // password step and DEVICE_SRP_AUTH, carries the chain: it names the device.
        if let Some(session) = session {
            let state = self.take_session(session, &client.client_id, &pool.id, "DEVICE_PASSWORD_VERIFIER").await?;
            let expected = state.data.get("deviceKey").and_then(Value::as_str);
            if state.username != user.username || expected != Some(key.as_str()) {
                return Err(invalid_session());
            }
        }
        let r = |k: &str| responses.get(k).map(String::as_str).ok_or_else(|| super::auth::missing(k));
        let (block, signature, timestamp) =
            (r("PASSWORD_CLAIM_SECRET_BLOCK")?, r("PASSWORD_CLAIM_SIGNATURE")?, r("TIMESTAMP")?);
        let (found, verifier) = self.confirmed_device(user, &key).await?;
        let (opened, raw, timestamp) = self.open_secret_block(pool, client, block, timestamp, BLOCK_AAD).await?;
        self.spend_secret_block(&opened).await?;
        if opened.username != key
            || !Self::srp_proof_ok(&opened, &raw, &verifier, &found.group_key, &found.key, &timestamp, signature)?
        {
            return Err(incorrect());
        }
        Ok((key, TriggerSource::TokenGenerationAuthenticateDevice))
    }

    /// The device a finished sign-in is bound to: the presented one when it is the user's, or a
    /// new one (returned as `NewDeviceMetadata`). None when devices are not tracked.
    pub(crate) async fn sign_in_device(
        &self,
        pool: &UserPool,
        user: &User,
        device: DeviceUse<'_>,
    ) -> Result<Option<(String, Option<NewDeviceMetadataType>)>> {
        let DeviceUse::Presented(presented) = device else { return Ok(None) };
        if !tracks(pool) {
            return Ok(None);
        }
        if let Some(key) = presented {
            if let Some((mut found, _)) = self.device(user, key).await? {
                found.last_authenticated_ms = Some(self.now_ms());
                self.put_device(user, &found, false).await?;
                return Ok(Some((found.key, None)));
            }
        }
        let region = self.pool_region(&pool.id);
        let new = Device {
            key: format!("{region}_{}", crate::ids::uuid()),
            group_key: group_key()?,
            username: user.username.clone(),
            verifier: None,
            name: None,
            remembered: false,
            modified_ms: self.now_ms(),
            last_authenticated_ms: Some(self.now_ms()),
        };
        self.put_device(user, &new, true).await?;
        let metadata =
            NewDeviceMetadataType { device_key: Some(new.key.clone()), device_group_key: Some(new.group_key.clone()) };
        Ok(Some((new.key, Some(metadata))))
    }

    /// The device a refresh names, when it is one of the user's (its key goes into the new
    /// access token).
    pub(crate) async fn refresh_device(
        &self,
        pool: &UserPool,
        user: &User,
        device: DeviceUse<'_>,
    ) -> Result<Option<String>> {
        let DeviceUse::Presented(Some(key)) = device else { return Ok(None) };
        if !tracks(pool) {
            return Ok(None);
        }
        Ok(self.device(user, key).await?.map(|(d, _)| d.key))
    }

    /// A user's device, for the operations that name one.
    async fn owned_device(&self, pool: &UserPool, user: &User, key: &str) -> Result<(Device, i64)> {
        if !tracks(pool) {
            return Err(tracking_off());
        }
        self.device(user, key).await?.ok_or_else(not_found)
    }

    pub async fn confirm_device(
        &self,
        ctx: &RequestContext,
        req: ConfirmDeviceRequest,
    ) -> Result<ConfirmDeviceResponse> {
        let caller = self.token_caller(ctx, &req.access_token).await?;
        let (mut device, _) = self.owned_device(&caller.pool, &caller.user, &req.device_key).await?;
        if device.verifier.is_some() {
            return Err(CognitoError::new(ErrorKind::DeviceKeyExists, "Device has already been confirmed."));
        }
        let config = req.device_secret_verifier_config.unwrap_or_default();
        let decode = |v: Option<&String>, what: &str| {
            v.and_then(|s| B64.decode(s).ok()).filter(|b| !b.is_empty() && b.len() <= 512).ok_or_else(|| {
                CognitoError::invalid_parameter(format!("DeviceSecretVerifierConfig.{what} is not valid base64."))
            })
        };
        let salt = decode(config.salt.as_ref(), "Salt")?;
        let verifier = decode(config.password_verifier.as_ref(), "PasswordVerifier")?;
        if salt.len() > 255 {
            return Err(CognitoError::invalid_parameter("DeviceSecretVerifierConfig.Salt is too long."));
        }
        let mut plain = vec![salt.len() as u8];
        plain.extend_from_slice(&salt);
        plain.extend_from_slice(&verifier);
        let sealed =
            self.master().seal(purpose::VERIFIER_AT_REST, VERIFIER_AAD, &plain).map_err(CognitoError::internal)?;
        let on_prompt = setting(&caller.pool, "DeviceOnlyRememberedOnUserPrompt");
        device.verifier = Some(B64.encode(sealed));
        device.name = req.device_name.filter(|n| !n.is_empty()).map(|n| n.chars().take(1024).collect());
        device.remembered = !on_prompt;
        device.modified_ms = self.now_ms();
        self.put_device(&caller.user, &device, false).await?;
        Ok(ConfirmDeviceResponse { user_confirmation_necessary: Some(on_prompt) })
    }

    async fn describe_device(&self, pool: &UserPool, user: &User, key: &str) -> Result<DeviceType> {
        let (device, created_ms) = self.owned_device(pool, user, key).await?;
        Ok(device.to_type(pool, created_ms, self.pool_region(&pool.id)))
    }

    pub async fn get_device(&self, ctx: &RequestContext, req: GetDeviceRequest) -> Result<GetDeviceResponse> {
        let token = req.access_token.as_deref().ok_or_else(|| super::auth::missing("AccessToken"))?;
        let caller = self.token_caller(ctx, token).await?;
        Ok(GetDeviceResponse { device: self.describe_device(&caller.pool, &caller.user, &req.device_key).await? })
    }

    pub async fn admin_get_device(
        &self,
        _ctx: &RequestContext,
        req: AdminGetDeviceRequest,
    ) -> Result<AdminGetDeviceResponse> {
        let pool = self.pool(&req.user_pool_id).await?;
        let user = self.admin_user(&pool, &req.username).await?;
        Ok(AdminGetDeviceResponse { device: self.describe_device(&pool, &user, &req.device_key).await? })
    }

    async fn device_page(
        &self,
        pool: &UserPool,
        user: &User,
        limit: Option<i32>,
        token: Option<&str>,
    ) -> Result<(Vec<DeviceType>, Option<String>)> {
        if !tracks(pool) {
            return Err(tracking_off());
        }
        if limit.is_some_and(|l| !(0..=MAX_PAGE).contains(&l)) {
            return Err(CognitoError::invalid_parameter(format!(
                "1 validation error detected: Value at 'limit' failed to satisfy constraint: Member must have value less than or equal to {MAX_PAGE}"
            )));
        }
        let page = Page::checked(limit.filter(|l| *l > 0), DEFAULT_PAGE, token)?;
        let mut objects =
            self.store.list_objects(&kind(user), &pool.id, page.after.as_deref(), page.fetch_limit()).await?;
        let next = page.finish(&mut objects, |o| o.key.clone());
        let region = self.pool_region(&pool.id).to_owned();
        let devices = objects
            .into_iter()
            .filter_map(|o| {
                let device: Device = serde_json::from_value(Value::Object(o.doc)).ok()?;
                Some(device.to_type(pool, o.created_ms, &region))
            })
            .collect();
        Ok((devices, next))
    }

    pub async fn list_devices(&self, ctx: &RequestContext, req: ListDevicesRequest) -> Result<ListDevicesResponse> {
        let caller = self.token_caller(ctx, &req.access_token).await?;
        let (devices, pagination_token) =
            self.device_page(&caller.pool, &caller.user, req.limit, req.pagination_token.as_deref()).await?;
        Ok(ListDevicesResponse { devices: Some(devices), pagination_token })
    }

    pub async fn admin_list_devices(
        &self,
        _ctx: &RequestContext,
        req: AdminListDevicesRequest,
    ) -> Result<AdminListDevicesResponse> {
        let pool = self.pool(&req.user_pool_id).await?;
        let user = self.admin_user(&pool, &req.username).await?;
        let (devices, pagination_token) =
            self.device_page(&pool, &user, req.limit, req.pagination_token.as_deref()).await?;
        Ok(AdminListDevicesResponse { devices: Some(devices), pagination_token })
    }

    async fn set_remembered(
        &self,
        pool: &UserPool,
        user: &User,
        key: &str,
        status: Option<DeviceRememberedStatusType>,
    ) -> Result<()> {
        let (mut device, _) = self.owned_device(pool, user, key).await?;
        device.remembered = status == Some(DeviceRememberedStatusType::Remembered);
        device.modified_ms = self.now_ms();
        self.put_device(user, &device, false).await
    }

    pub async fn update_device_status(
        &self,
        ctx: &RequestContext,
        req: UpdateDeviceStatusRequest,
    ) -> Result<UpdateDeviceStatusResponse> {
        let caller = self.token_caller(ctx, &req.access_token).await?;
        self.set_remembered(&caller.pool, &caller.user, &req.device_key, req.device_remembered_status).await?;
        Ok(UpdateDeviceStatusResponse {})
    }

    pub async fn admin_update_device_status(
        &self,
        _ctx: &RequestContext,
        req: AdminUpdateDeviceStatusRequest,
    ) -> Result<AdminUpdateDeviceStatusResponse> {
        let pool = self.pool(&req.user_pool_id).await?;
        let user = self.admin_user(&pool, &req.username).await?;
        self.set_remembered(&pool, &user, &req.device_key, req.device_remembered_status).await?;
        Ok(AdminUpdateDeviceStatusResponse {})
    }

    async fn forget(&self, pool: &UserPool, user: &User, key: &str) -> Result<()> {
        self.owned_device(pool, user, key).await?;
        self.store.delete_object(&kind(user), key).await?;
        Ok(())
    }

    pub async fn forget_device(&self, ctx: &RequestContext, req: ForgetDeviceRequest) -> Result<Empty> {
        let token = req.access_token.as_deref().ok_or_else(|| super::auth::missing("AccessToken"))?;
        let caller = self.token_caller(ctx, token).await?;
        self.forget(&caller.pool, &caller.user, &req.device_key).await?;
        Ok(Empty {})
    }

    pub async fn admin_forget_device(&self, _ctx: &RequestContext, req: AdminForgetDeviceRequest) -> Result<Empty> {
        let pool = self.pool(&req.user_pool_id).await?;
        let user = self.admin_user(&pool, &req.username).await?;
        self.forget(&pool, &user, &req.device_key).await?;
        Ok(Empty {})
    }

    /// Forgets all of a user's devices and pending device proofs (the user is being deleted).
    pub(crate) async fn forget_all_devices(&self, user: &User) -> Result<()> {
        self.delete_kind(&kind(user), &user.pool_id).await?;
        self.delete_kind(&pending_kind(user), &user.pool_id).await?;
        Ok(())
    }
}
