//! ARNs: Lambda function references (names, partial and full ARNs), built on the one ARN
//! parser in `cognate_api::arn`.

pub use cognate_core::api::arn::{Arn, PARTITIONS};

/// What a Lambda ARN names.
pub trait LambdaArn<'a> {
    /// The function a Lambda ARN names (`lambda` service, resource
    /// `function:<name>[:<qualifier>]`); None for any other ARN.
    fn function(&self) -> Option<FunctionRef<'a>>;
}

impl<'a> LambdaArn<'a> for Arn<'a> {
    fn function(&self) -> Option<FunctionRef<'a>> {
        if self.service != "lambda" {
            return None;
        }
        let rest = self.resource.strip_prefix("function:")?;
        let (name, qualifier) = match rest.split_once(':') {
            None => (rest, None),
            Some((_, q)) if q.contains(':') => return None,
            Some((name, q)) => (name, Some(q)),
        };
        (!name.is_empty()).then_some(FunctionRef {
            name,
            qualifier: qualifier.filter(|q| !q.is_empty()),
            region: Some(self.region).filter(|r| !r.is_empty()),
        })
    }
}

/// What a `LambdaConfig` value names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionRef<'a> {
    /// The function name (an ARN's `function:` segment).
    pub name: &'a str,
    /// Version or alias after the name, if any.
    pub qualifier: Option<&'a str>,
    /// The region of an ARN.
    pub region: Option<&'a str>,
}

/// How a function reference is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    /// `name[:qualifier]`.
    Name,
    /// `account:function:name[:qualifier]`.
    PartialArn,
    /// `arn:<partition>:lambda:<region>:<account>:function:name[:qualifier]`.
    Arn,
}

/// Any form of function reference, as written (no trimming). A value that starts with
/// `arn:` but is no ARN at all is read as a name or a partial ARN; an ARN of another
/// service, or of no function, is None.
fn function_ref(value: &str) -> Option<(FunctionRef<'_>, Form)> {
    if let Some(arn) = Arn::parse(value) {
        return arn.function().map(|r| (r, Form::Arn));
    }
    let parts: Vec<&str> = value.split(':').collect();
    let (name, qualifier, form) = match parts.as_slice() {
        [name] => (*name, None, Form::Name),
        [name, qualifier] => (*name, Some(*qualifier), Form::Name),
        [_, "function", name] => (*name, None, Form::PartialArn),
        [_, "function", name, qualifier] => (*name, Some(*qualifier), Form::PartialArn),
        _ => return None,
    };
    let qualifier = qualifier.filter(|q| !q.is_empty());
    (!name.is_empty()).then_some((FunctionRef { name, qualifier, region: None }, form))
}

/// Parses `arn:<partition>:lambda:<region>:<account>:function:<name>[:<qualifier>]`, or a bare
/// `name[:qualifier]`. None for anything else (e.g. an ARN of another service).
pub fn parse_function_ref(value: &str) -> Option<FunctionRef<'_>> {
    let value = value.trim();
    match function_ref(value)? {
        (r, Form::Arn) => Some(r),
        (r, Form::Name) if !value.starts_with("arn:") => Some(r),
        _ => None,
    }
}

/// Parses a Lambda API `FunctionName`: a name, a partial ARN `account:function:name`, or a
/// full ARN, each optionally qualified. None for anything else.
pub fn parse_function_name(value: &str) -> Option<FunctionRef<'_>> {
    function_ref(value).map(|(r, _)| r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_arns_and_names() {
        let r = parse_function_ref("arn:aws:lambda:eu-west-1:123456789012:function:pre-sign-up").unwrap();
        assert_eq!(r, FunctionRef { name: "pre-sign-up", qualifier: None, region: Some("eu-west-1") });
        let r = parse_function_ref("arn:aws:lambda:us-east-1:123456789012:function:f:prod").unwrap();
        assert_eq!((r.name, r.qualifier), ("f", Some("prod")));
        assert_eq!(parse_function_ref("f").unwrap().name, "f");
        assert_eq!(parse_function_ref("f:7").unwrap().qualifier, Some("7"));
        assert!(parse_function_ref("arn:aws:sns:us-east-1:123456789012:topic").is_none());
        assert!(parse_function_ref("").is_none());
    }

    #[test]
    fn splits_an_arn_into_its_parts() {
        let arn = Arn::parse("arn:aws:iam::123456789012:role/service-role/x").unwrap();
        assert_eq!(
            arn,
            Arn {
                partition: "aws",
                service: "iam",
                region: "",
                account: "123456789012",
                resource: "role/service-role/x"
            }
        );
        let arn = Arn::parse("arn:aws:lambda:eu-west-1:123456789012:function:f:prod").unwrap();
        assert_eq!((arn.service, arn.region, arn.resource), ("lambda", "eu-west-1", "function:f:prod"));
        assert_eq!(Arn::parse("arn:aws-us-gov:kms:us-gov-west-1:123456789012:key/k").unwrap().partition, "aws-us-gov");
    }

    #[test]
    fn partial_arns_are_lambda_api_names_only() {
        let r = parse_function_name("123456789012:function:f").unwrap();
        assert_eq!(r, FunctionRef { name: "f", qualifier: None, region: None });
        let r = parse_function_name("123456789012:function:f:live").unwrap();
        assert_eq!((r.name, r.qualifier), ("f", Some("live")));
        assert!(parse_function_ref("123456789012:function:f").is_none());
    }

    #[test]
    fn qualified_full_arns() {
        for parse in [parse_function_ref, parse_function_name] {
            let r = parse("arn:aws:lambda:us-east-1:123456789012:function:f:$LATEST").unwrap();
            assert_eq!(r, FunctionRef { name: "f", qualifier: Some("$LATEST"), region: Some("us-east-1") });
            let r = parse("arn:aws:lambda:us-east-1:123456789012:function:f:").unwrap();
            assert_eq!((r.name, r.qualifier), ("f", None));
            assert!(parse("arn:aws:lambda:us-east-1:123456789012:function:f:1:2").is_none());
        }
    }

    #[test]
    fn other_partitions() {
        let r = parse_function_ref("arn:aws-cn:lambda:cn-north-1:123456789012:function:f").unwrap();
        assert_eq!(r, FunctionRef { name: "f", qualifier: None, region: Some("cn-north-1") });
        assert_eq!(parse_function_name("arn:aws-cn:lambda:cn-north-1:123456789012:function:f").unwrap().name, "f");
        let arn = Arn::parse("arn:aws-cn:lambda:cn-north-1:123456789012:function:f").unwrap();
        assert_eq!(arn.partition, "aws-cn");
        assert!(Arn::parse("arn:azure:lambda:us-east-1:123456789012:function:f").is_none());
        assert!(parse_function_ref("arn:azure:lambda:us-east-1:123456789012:function:f").is_none());
    }

    #[test]
    fn arns_of_other_services_name_no_function() {
        let sns = "arn:aws:sns:us-east-1:123456789012:topic";
        assert_eq!(Arn::parse(sns).unwrap().service, "sns");
        assert!(Arn::parse(sns).unwrap().function().is_none());
        assert!(parse_function_name(sns).is_none());
        let layer = "arn:aws:lambda:us-east-1:123456789012:layer:l:1";
        assert!(parse_function_ref(layer).is_none());
        assert!(parse_function_name(layer).is_none());
        assert!(parse_function_ref("arn:aws:iam::123456789012:role/lambda").is_none());
    }

    #[test]
    fn garbage() {
        for value in ["arn:aws:lambda", "arn:aws:lambda:us-east-1:123456789012:", "a:b:c", "::", "a:b:c:d:e"] {
            assert!(Arn::parse(value).is_none() || Arn::parse(value).unwrap().function().is_none(), "{value}");
            assert!(parse_function_ref(value).is_none(), "{value}");
            assert!(parse_function_name(value).is_none(), "{value}");
        }
        assert!(Arn::parse("not an arn").is_none());
        assert!(Arn::parse("arn::lambda:r:a:function:f").is_none());
        // Not an ARN: a name `arn` with a qualifier, as Lambda reads it (and so the Lambda API).
        assert_eq!(parse_function_name("arn:aws").unwrap().name, "arn");
        assert!(parse_function_ref("arn:aws").is_none());
        assert!(parse_function_name("arn:aws:lambda:us-east-1:123456789012:function:").is_none());
        assert!(parse_function_ref("  ").is_none());
    }
}
