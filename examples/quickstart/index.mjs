// PreSignUp trigger for the README's quick start: only addresses at ALLOWED_DOMAIN
// (example.com unless the function's environment says otherwise) may sign up. Runs unchanged
// on AWS Lambda (nodejs20.x, handler index.handler).
export const handler = async (event) => {
  const allowed = (process.env.ALLOWED_DOMAIN ?? "example.com").toLowerCase();
  const email = (event.request.userAttributes.email ?? "").toLowerCase();
  if (!email.endsWith(`@${allowed}`)) {
    // Cognito answers the SignUp call with UserLambdaValidationException and this message.
    throw new Error(`Only ${allowed} addresses may sign up here.`);
  }
  console.log(`PreSignUp: letting ${event.userName} in`);
  return event;
};
