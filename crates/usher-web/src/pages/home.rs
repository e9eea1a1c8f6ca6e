//! `/`: who is signed in.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;

use crate::context::Ctx;
use crate::render::{PageError, page};
use crate::{cookies, csrf};

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage<'a> {
    title: &'a str,
    user_name: Option<&'a str>,
    csrf: &'a str,
}

/// `GET /`.
pub(crate) async fn show(ctx: Ctx, req: HttpRequest) -> Result<HttpResponse, PageError> {
    let user = match ctx.session(&req).await? {
        Some((_, session)) => Some(
            ctx.state
                .deps
                .directory
                .get_user(session.user_id)
                .await
                .map_err(|e| ctx.core(e))?,
        ),
        None => None,
    };
    let Some(user) = user else {
        return Ok(page(
            StatusCode::OK,
            &HomePage {
                title: "usher",
                user_name: None,
                csrf: "",
            },
        ));
    };
    let (token, cookie) = csrf::token(&req, &ctx.state.settings).map_err(|e| ctx.core(e))?;
    let mut response = page(
        StatusCode::OK,
        &HomePage {
            title: "usher",
            user_name: Some(user.display_name.as_deref().unwrap_or(&user.username)),
            csrf: &token,
        },
    );
    cookies::add(&mut response, cookie);
    Ok(response)
}
