//! `/continue`: moves the browser on after a form, outside the form's CSP (see
//! [`continue_to`](super::continue_to)).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::context::Ctx;
use crate::redirect::is_same_origin_path;
use crate::render::{PageError, page};

#[derive(Deserialize)]
pub(crate) struct ContinueQuery {
    to: String,
}

#[derive(Template)]
#[template(path = "continue.html")]
struct ContinuePage<'a> {
    title: &'a str,
    to: &'a str,
}

/// `GET /continue?to=/path`: only paths on usher, so this is no open redirector.
pub(crate) async fn show(
    ctx: Ctx,
    query: web::Query<ContinueQuery>,
) -> Result<HttpResponse, PageError> {
    if !is_same_origin_path(&query.to) {
        return Err(ctx.fail(
            StatusCode::BAD_REQUEST,
            "This link cannot be used",
            "It points away from usher. Go back to the app and start again.",
        ));
    }
    Ok(page(
        StatusCode::OK,
        &ContinuePage {
            title: "Continuing",
            to: &query.to,
        },
    ))
}
