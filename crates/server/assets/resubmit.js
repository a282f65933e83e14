// Sends the identity provider's answer on from cognate's own page: the provider's cross-site
// POST carries no cookies, this same-site one does (so the answer reaches the browser that
// started the sign-in). Without script, the page's Continue button does the same.
document.getElementById("resubmit").submit();
