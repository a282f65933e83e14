//! A pool's side settings, kept and described as Cognito does: tags (`UserPoolTags`), log
//! delivery, risk configuration (stored; cognate computes no risk, so every sign-in is low
//! risk), the CSV header of user imports, the legacy per-user MFA settings, and managed
//! login's terms documents.

use cognate_api::arn::Arn;
use cognate_api::{
    AdminSetUserSettingsRequest, AdminSetUserSettingsResponse, DeliveryMediumType, DescribeRiskConfigurationRequest,
    DescribeRiskConfigurationResponse, GetCSVHeaderRequest, GetCSVHeaderResponse, GetLogDeliveryConfigurationRequest,
    GetLogDeliveryConfigurationResponse, ListTagsForResourceRequest, ListTagsForResourceResponse,
    LogDeliveryConfigurationType, MFAOptionType, Map, RiskConfigurationType, SetLogDeliveryConfigurationRequest,
    SetLogDeliveryConfigurationResponse, SetRiskConfigurationRequest, SetRiskConfigurationResponse,
    SetUserSettingsRequest, SetUserSettingsResponse, TagResourceRequest, TagResourceResponse, UntagResourceRequest,
    UntagResourceResponse,
};
use serde_json::Value;

use super::Service;
use crate::context::RequestContext;
use crate::error::{CognitoError, ErrorKind, Result};
use crate::model::{User, UserPool};

const LOG_DELIVERY: &str = "log-delivery";
const RISK: &str = "risk-configuration";
/// Tags a pool may carry (AWS's limit per resource).
const MAX_TAGS: usize = 50;

fn risk_key(pool_id: &str, client_id: Option<&str>) -> String {
    format!("{pool_id}\n{}", client_id.unwrap_or("ALL"))
}

impl Service {
    /// The pool a user-pool ARN names.
    async fn pool_of_arn(&self, arn: &str) -> Result<UserPool> {
        let not_found = || CognitoError::new(ErrorKind::ResourceNotFound, format!("Resource {arn} does not exist."));
        let parsed = Arn::parse(arn).filter(|a| a.service == "cognito-idp").ok_or_else(not_found)?;
        let id = parsed.resource.strip_prefix("userpool/").ok_or_else(not_found)?;
        let pool = self.pool(id).await.map_err(|_| not_found())?;
        if pool.arn() != arn {
            return Err(not_found());
        }
        Ok(pool)
    }

    fn tags_of(pool: &UserPool) -> Map<String> {
        pool.doc
            .get("UserPoolTags")
            .and_then(Value::as_object)
            .map(|m| m.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned()))).collect())
            .unwrap_or_default()
    }

    pub async fn tag_resource(&self, _ctx: &RequestContext, req: TagResourceRequest) -> Result<TagResourceResponse> {
        let mut pool = self.pool_of_arn(&req.resource_arn).await?;
        let mut tags = Self::tags_of(&pool);
        tags.extend(req.tags);
        if tags.len() > MAX_TAGS {
            return Err(CognitoError::invalid_parameter(format!("A user pool may have at most {MAX_TAGS} tags.")));
        }
        pool.doc_mut().insert("UserPoolTags".into(), serde_json::to_value(&tags).map_err(CognitoError::internal)?);
        self.store.update_pool(&pool).await?;
        Ok(TagResourceResponse {})
    }

    pub async fn untag_resource(
        &self,
        _ctx: &RequestContext,
        req: UntagResourceRequest,
    ) -> Result<UntagResourceResponse> {
        let mut pool = self.pool_of_arn(&req.resource_arn).await?;
        let mut tags = Self::tags_of(&pool);
        tags.retain(|k, _| !req.tag_keys.contains(k));
        pool.doc_mut().insert("UserPoolTags".into(), serde_json::to_value(&tags).map_err(CognitoError::internal)?);
        self.store.update_pool(&pool).await?;
        Ok(UntagResourceResponse {})
    }

    pub async fn list_tags_for_resource(
        &self,
        _ctx: &RequestContext,
        req: ListTagsForResourceRequest,
    ) -> Result<ListTagsForResourceResponse> {
        let pool = self.pool_of_arn(&req.resource_arn).await?;
        Ok(ListTagsForResourceResponse { tags: Some(Self::tags_of(&pool)) })
    }

    pub async fn get_log_delivery_configuration(
        &self,
        _ctx: &RequestContext,
        req: GetLogDeliveryConfigurationRequest,
    ) -> Result<GetLogDeliveryConfigurationResponse> {
        let pool = self.pool(&req.user_pool_id).await?;
        let config = self.get_doc(LOG_DELIVERY, &pool.id).await?.unwrap_or_else(|| LogDeliveryConfigurationType {
            user_pool_id: pool.id.clone(),
            log_configurations: Vec::new(),
        });
        Ok(GetLogDeliveryConfigurationResponse { log_delivery_configuration: Some(config) })
    }

    pub async fn set_log_delivery_configuration(
        &self,
        _ctx: &RequestContext,
        req: SetLogDeliveryConfigurationRequest,
    ) -> Result<SetLogDeliveryConfigurationResponse> {
        let pool = self.pool(&req.user_pool_id).await?;
        for c in &req.log_configurations {
            let destinations = [
                c.cloud_watch_logs_configuration.is_some(),
                c.s3_configuration.is_some(),
                c.firehose_configuration.is_some(),
            ];
            if destinations.iter().filter(|d| **d).count() != 1 {
                return Err(CognitoError::invalid_parameter(
                    "Each log configuration needs exactly one destination: CloudWatch Logs, S3 or Firehose.",
                ));
            }
        }
        let config =
            LogDeliveryConfigurationType { user_pool_id: pool.id.clone(), log_configurations: req.log_configurations };
        self.put_setting(LOG_DELIVERY, &pool.id, &pool.id, &config).await?;
        Ok(SetLogDeliveryConfigurationResponse { log_delivery_configuration: Some(config) })
    }

    async fn put_setting<T: serde::Serialize>(&self, kind: &str, key: &str, pool_id: &str, value: &T) -> Result<()> {
        Ok(self.put_doc(kind, key, pool_id, value, false).await?)
    }

    /// A client named in a risk configuration must be the pool's.
    async fn check_risk_client(&self, pool: &UserPool, client_id: Option<&str>) -> Result<()> {
        if let Some(id) = client_id {
            let client = self.store.get_client(id).await?;
            if client.is_none_or(|c| c.pool_id != pool.id) {
                return Err(CognitoError::new(
                    ErrorKind::ResourceNotFound,
                    format!("User pool client {id} does not exist."),
                ));
            }
        }
        Ok(())
    }

    pub async fn set_risk_configuration(
        &self,
        _ctx: &RequestContext,
        req: SetRiskConfigurationRequest,
    ) -> Result<SetRiskConfigurationResponse> {
        let pool = self.pool(&req.user_pool_id).await?;
        self.check_risk_client(&pool, req.client_id.as_deref()).await?;
        let config = RiskConfigurationType {
            user_pool_id: Some(pool.id.clone()),
            client_id: req.client_id.clone(),
            compromised_credentials_risk_configuration: req.compromised_credentials_risk_configuration,
            account_takeover_risk_configuration: req.account_takeover_risk_configuration,
            risk_exception_configuration: req.risk_exception_configuration,
            last_modified_date: Some(self.now_ms() as f64 / 1000.0),
        };
        self.put_setting(RISK, &risk_key(&pool.id, req.client_id.as_deref()), &pool.id, &config).await?;
        Ok(SetRiskConfigurationResponse { risk_configuration: config })
    }

    pub async fn describe_risk_configuration(
        &self,
        _ctx: &RequestContext,
        req: DescribeRiskConfigurationRequest,
    ) -> Result<DescribeRiskConfigurationResponse> {
        let pool = self.pool(&req.user_pool_id).await?;
        self.check_risk_client(&pool, req.client_id.as_deref()).await?;
        // A client without its own configuration has the pool's.
        let mut stored: Option<RiskConfigurationType> =
            self.get_doc(RISK, &risk_key(&pool.id, req.client_id.as_deref())).await?;
        if stored.is_none() && req.client_id.is_some() {
            stored = self.get_doc(RISK, &risk_key(&pool.id, None)).await?;
        }
        let config = stored.unwrap_or_else(|| RiskConfigurationType {
            user_pool_id: Some(pool.id.clone()),
            client_id: req.client_id.clone(),
            ..Default::default()
        });
        Ok(DescribeRiskConfigurationResponse { risk_configuration: config })
    }

    pub async fn get_csv_header(
        &self,
        _ctx: &RequestContext,
        req: GetCSVHeaderRequest,
    ) -> Result<GetCSVHeaderResponse> {
        let pool = self.pool(&req.user_pool_id).await?;
        let header = super::import_jobs::csv_columns(&pool);
        Ok(GetCSVHeaderResponse { user_pool_id: Some(pool.id), csv_header: Some(header) })
    }

    /// The legacy MFA settings: an SMS option turns text-message MFA on; none turns it off.
    async fn apply_user_settings(&self, user: User, options: &[MFAOptionType]) -> Result<()> {
        for option in options {
            let sms = option.delivery_medium == Some(DeliveryMediumType::Sms);
            if !sms || option.attribute_name.as_deref() != Some("phone_number") {
                return Err(CognitoError::invalid_parameter(
                    "MFAOptions may name only the SMS delivery medium with the phone_number attribute.",
                ));
            }
        }
        let on = !options.is_empty();
        self.update_user_with(user, false, |u| {
            super::mfa::set_sms_mfa(u, on);
            Ok(())
        })
        .await?;
        Ok(())
    }

    pub async fn set_user_settings(
        &self,
        ctx: &RequestContext,
        req: SetUserSettingsRequest,
    ) -> Result<SetUserSettingsResponse> {
        let caller = self.token_caller(ctx, &req.access_token).await?;
        self.apply_user_settings(caller.user, &req.mfa_options).await?;
        Ok(SetUserSettingsResponse {})
    }

    pub async fn admin_set_user_settings(
        &self,
        _ctx: &RequestContext,
        req: AdminSetUserSettingsRequest,
    ) -> Result<AdminSetUserSettingsResponse> {
        let pool = self.pool(&req.user_pool_id).await?;
        let user = self.admin_user(&pool, &req.username).await?;
        self.apply_user_settings(user, &req.mfa_options).await?;
        Ok(AdminSetUserSettingsResponse {})
    }
}

/// Terms documents of managed login: one `terms-of-use` and one `privacy-policy` per app
/// client, each with links per language (`cognito:default` for any other). Pool objects of
/// the kind `terms`, keyed by pool and terms id.
mod terms {
    use cognate_api::{
        CreateTermsRequest, CreateTermsResponse, DeleteTermsRequest, DescribeTermsByClientRequest,
        DescribeTermsByClientResponse, DescribeTermsRequest, DescribeTermsResponse, Empty, ListTermsRequest,
        ListTermsResponse, Map, TermsDescriptionType, TermsType, UpdateTermsRequest, UpdateTermsResponse,
    };
    use serde_json::Value;

    use super::super::paging::Page;
    use super::super::Service;
    use crate::context::RequestContext;
    use crate::error::{CognitoError, ErrorKind, Result};
    use crate::model::UserPool;

    const TERMS: &str = "terms";
    const NAMES: &[&str] = &["terms-of-use", "privacy-policy"];

    fn key(pool_id: &str, terms_id: &str) -> String {
        format!("{pool_id}\n{terms_id}")
    }

    fn not_found(id: &str) -> CognitoError {
        CognitoError::new(ErrorKind::ResourceNotFound, format!("Terms {id} do not exist."))
    }

    fn check(name: &str, links: &Map<String>) -> Result<()> {
        if !NAMES.contains(&name) {
            return Err(CognitoError::invalid_parameter("TermsName must be terms-of-use or privacy-policy."));
        }
        if links.is_empty() {
            return Err(CognitoError::invalid_parameter("Links must name at least one document."));
        }
        for (language, url) in links {
            if language.is_empty() || !url.starts_with("https://") {
                return Err(CognitoError::invalid_parameter(format!("The link for {language} must be an https URL.")));
            }
        }
        Ok(())
    }

    impl Service {
        async fn all_terms(&self, pool: &UserPool) -> Result<Vec<TermsType>> {
            let objects = self.store.list_objects(TERMS, &pool.id, None, 1000).await?;
            Ok(objects.into_iter().filter_map(|o| serde_json::from_value(Value::Object(o.doc)).ok()).collect())
        }

        async fn put_terms(&self, pool: &UserPool, terms: &TermsType, create: bool) -> Result<()> {
            Ok(self.put_doc(TERMS, &key(&pool.id, &terms.terms_id), &pool.id, terms, create).await?)
        }

        async fn terms(&self, pool: &UserPool, id: &str) -> Result<TermsType> {
            self.get_doc(TERMS, &key(&pool.id, id)).await?.ok_or_else(|| not_found(id))
        }

        pub async fn create_terms(
            &self,
            _ctx: &RequestContext,
            req: CreateTermsRequest,
        ) -> Result<CreateTermsResponse> {
            let pool = self.pool(&req.user_pool_id).await?;
            let client = self.store.get_client(&req.client_id).await?.filter(|c| c.pool_id == pool.id);
            if client.is_none() {
                return Err(CognitoError::new(
                    ErrorKind::ResourceNotFound,
                    format!("User pool client {} does not exist.", req.client_id),
                ));
            }
            let links = req.links.unwrap_or_default();
            check(&req.terms_name, &links)?;
            let taken = self.all_terms(&pool).await?;
            if taken.iter().any(|t| t.client_id == req.client_id && t.terms_name == req.terms_name) {
                return Err(CognitoError::new(
                    ErrorKind::TermsExists,
                    format!("The app client already has {} terms.", req.terms_name),
                ));
            }
            let now = self.now_ms() as f64 / 1000.0;
            let terms = TermsType {
                terms_id: crate::ids::uuid(),
                user_pool_id: pool.id.clone(),
                client_id: req.client_id,
                terms_name: req.terms_name,
                terms_source: req.terms_source,
                enforcement: req.enforcement,
                links,
                creation_date: now,
                last_modified_date: now,
            };
            self.put_terms(&pool, &terms, true).await?;
            Ok(CreateTermsResponse { terms: Some(terms) })
        }

        pub async fn describe_terms(
            &self,
            _ctx: &RequestContext,
            req: DescribeTermsRequest,
        ) -> Result<DescribeTermsResponse> {
            let pool = self.pool(&req.user_pool_id).await?;
            Ok(DescribeTermsResponse { terms: Some(self.terms(&pool, &req.terms_id).await?) })
        }

        /// The app client's terms of that name (`terms-of-use` or `privacy-policy`).
        pub async fn describe_terms_by_client(
            &self,
            _ctx: &RequestContext,
            req: DescribeTermsByClientRequest,
        ) -> Result<DescribeTermsByClientResponse> {
            let pool = self.pool(&req.user_pool_id).await?;
            let terms = self
                .all_terms(&pool)
                .await?
                .into_iter()
                .find(|t| t.client_id == req.client_id && t.terms_name == req.terms_name)
                .ok_or_else(|| {
                    CognitoError::new(
                        ErrorKind::ResourceNotFound,
                        format!("The app client {} has no {} terms.", req.client_id, req.terms_name),
                    )
                })?;
            Ok(DescribeTermsByClientResponse { terms: Some(terms) })
        }

        pub async fn update_terms(
            &self,
            _ctx: &RequestContext,
            req: UpdateTermsRequest,
        ) -> Result<UpdateTermsResponse> {
            let pool = self.pool(&req.user_pool_id).await?;
            let mut terms = self.terms(&pool, &req.terms_id).await?;
            if let Some(name) = req.terms_name {
                let taken = self.all_terms(&pool).await?;
                if taken
                    .iter()
                    .any(|t| t.terms_id != terms.terms_id && t.client_id == terms.client_id && t.terms_name == name)
                {
                    return Err(CognitoError::new(
                        ErrorKind::TermsExists,
                        format!("The app client already has {name} terms."),
                    ));
                }
                terms.terms_name = name;
            }
            if let Some(source) = req.terms_source {
                terms.terms_source = source;
            }
            if let Some(enforcement) = req.enforcement {
                terms.enforcement = enforcement;
            }
            if let Some(links) = req.links {
                terms.links = links;
            }
            check(&terms.terms_name, &terms.links)?;
            terms.last_modified_date = self.now_ms() as f64 / 1000.0;
            self.put_terms(&pool, &terms, false).await?;
            Ok(UpdateTermsResponse { terms: Some(terms) })
        }

        pub async fn delete_terms(&self, _ctx: &RequestContext, req: DeleteTermsRequest) -> Result<Empty> {
            let pool = self.pool(&req.user_pool_id).await?;
            if !self.store.delete_object(TERMS, &key(&pool.id, &req.terms_id)).await? {
                return Err(not_found(&req.terms_id));
            }
            Ok(Empty {})
        }

        pub async fn list_terms(&self, _ctx: &RequestContext, req: ListTermsRequest) -> Result<ListTermsResponse> {
            let pool = self.pool(&req.user_pool_id).await?;
            let page = Page::checked(req.max_results, 10, req.next_token.as_deref())?;
            let after = page.after.as_deref().map(|id| key(&pool.id, id));
            let mut objects = self.store.list_objects(TERMS, &pool.id, after.as_deref(), page.fetch_limit()).await?;
            let next_token =
                page.finish(&mut objects, |o| o.key.split_once('\n').map(|(_, id)| id.to_owned()).unwrap_or_default());
            let terms = objects
                .into_iter()
                .filter_map(|o| serde_json::from_value::<TermsType>(Value::Object(o.doc)).ok())
                .map(|t| TermsDescriptionType {
                    terms_id: t.terms_id,
                    terms_name: t.terms_name,
                    enforcement: t.enforcement,
                    creation_date: t.creation_date,
                    last_modified_date: t.last_modified_date,
                })
                .collect();
            Ok(ListTermsResponse { terms, next_token })
        }
    }
}
