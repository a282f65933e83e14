//! ARNs: the one parser for `arn:<partition>:<service>:<region>:<account>:<resource>`, shared by
//! the service (KMS keys, pools) and the server (Lambda function references).

/// The partitions an ARN may name.
pub const PARTITIONS: &[&str] = &["aws", "aws-cn", "aws-us-gov"];

/// The parts of an ARN. Region and account may be empty (an IAM role's ARN has no region);
/// the resource keeps any further colons (`function:<name>:<qualifier>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arn<'a> {
    pub partition: &'a str,
    pub service: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub resource: &'a str,
}

impl<'a> Arn<'a> {
    /// Parses `arn:<partition>:<service>:<region>:<account>:<resource>`; None when the value
    /// is not one (too few parts, an unknown partition, no service or no resource).
    pub fn parse(value: &'a str) -> Option<Self> {
        let mut parts = value.strip_prefix("arn:")?.splitn(5, ':');
        let arn = Arn {
            partition: parts.next()?,
            service: parts.next()?,
            region: parts.next()?,
            account: parts.next()?,
            resource: parts.next()?,
        };
        (PARTITIONS.contains(&arn.partition) && !arn.service.is_empty() && !arn.resource.is_empty()).then_some(arn)
    }
}
