//! The web console at `/_cognate/console/` (issue #15): pools, users, trigger functions, the
//! invocation timeline and the outbox, served by cognate itself.

use std::sync::Arc;

use axum::response::{IntoResponse, Response};
use axum::Router;

use crate::wire::AppState;

/// The console's routes, mounted beside the JSON API.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
}

/// `GET /`: a browser that opens the server's address lands in the console.
pub async fn root() -> Response {
    axum::response::Redirect::to("/_cognate/console/").into_response()
}
