//! Accounts over HTTP, for the page and for scripts: API tokens (`/api/tokens`: a person's own;
//! an admin's `?all=true` lists everyone's), accounts (`/api/users`, admins only), write access to a
//! table (`/api/tables/{name}/writers/{user}`: the table's owner or an admin), and the audit log
//! (`/api/audit`, admins only). The operations themselves are `auth::manage`'s, shared with the CLI.

use super::extract::{Json, Path, Query};
use crate::auth::{Asker, Viewer, manage};
use crate::db::{accounts, audit};
use crate::error::AppError;
use crate::model::{AuditEntry, NewToken, TableAccess, TokenInfo, UserInfo};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;

/// The signed-in person, or 401/403 for a server without accounts (there is no one to own a token).
fn person(asker: &Asker) -> Result<accounts::User, AppError> {
    match &asker.viewer {
        Viewer::Person(p) => Ok(p.user()),
        Viewer::Open => Err(AppError::Forbidden(
            "this server has no accounts, so there is no one to own a token; create the first account with \
             `sheetport user add NAME --admin`"
                .into(),
        )),
        Viewer::Anonymous => Err(AppError::Unauthorized("sign in first".into())),
    }
}

/// Admins only (and everyone on a server without accounts).
fn admin(asker: &Asker) -> Result<(), AppError> {
    if asker.viewer.is_admin() { Ok(()) } else { Err(AppError::Forbidden("only an admin may do this".into())) }
}

#[derive(Debug, Deserialize)]
pub struct AllQuery {
    #[serde(default)]
    all: bool,
}

/// `GET /api/tokens[?all=true]`.
pub async fn list_tokens(
    State(state): State<AppState>,
    asker: Asker,
    Query(q): Query<AllQuery>,
) -> Result<Json<Vec<TokenInfo>>, AppError> {
    if q.all {
        admin(&asker)?;
        return Ok(Json(accounts::tokens(&state.db, None).await?));
    }
    let me = person(&asker)?;
    Ok(Json(accounts::tokens(&state.db, Some(me.id)).await?))
}

#[derive(Debug, Deserialize)]
pub struct TokenRequest {
    #[serde(default)]
    name: String,
}

/// `POST /api/tokens` `{"name": "…"}`: 201 with the token and its secret, shown this once.
pub async fn create_token(
    State(state): State<AppState>,
    asker: Asker,
    Json(req): Json<TokenRequest>,
) -> Result<(StatusCode, Json<NewToken>), AppError> {
    let me = person(&asker)?;
    Ok((StatusCode::CREATED, Json(manage::create_token(&state.db, &me, &req.name, asker.by()).await?)))
}

/// `DELETE /api/tokens/{id}`: 204; someone else's token is no token (404) unless you are an admin.
pub async fn revoke_token(
    State(state): State<AppState>,
    asker: Asker,
    Path(id): Path<i64>,
) -> Result<StatusCode, AppError> {
    let me = asker.viewer.owner_id();
    let is_admin = asker.viewer.is_admin();
    manage::revoke_token(&state.db, id, |owner| is_admin || me == Some(owner), asker.by()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/users`.
pub async fn list_users(State(state): State<AppState>, asker: Asker) -> Result<Json<Vec<UserInfo>>, AppError> {
    admin(&asker)?;
    Ok(Json(accounts::users(&state.db).await?))
}

#[derive(Debug, Deserialize)]
pub struct NewUser {
    name: String,
    password: String,
    #[serde(default)]
    admin: bool,
}

/// `POST /api/users` `{"name", "password", "admin"}`: 201.
pub async fn add_user(
    State(state): State<AppState>,
    asker: Asker,
    Json(req): Json<NewUser>,
) -> Result<(StatusCode, Json<UserInfo>), AppError> {
    admin(&asker)?;
    let user = manage::add_user(&state.db, &req.name, &req.password, req.admin, asker.by()).await?;
    Ok((StatusCode::CREATED, Json(user)))
}

#[derive(Debug, Deserialize)]
pub struct UserChange {
    disabled: Option<bool>,
    admin: Option<bool>,
    password: Option<String>,
}

/// `PATCH /api/users/{name}` `{"disabled"?, "admin"?, "password"?}`: 204.
pub async fn change_user(
    State(state): State<AppState>,
    asker: Asker,
    Path(name): Path<String>,
    Json(req): Json<UserChange>,
) -> Result<StatusCode, AppError> {
    admin(&asker)?;
    let by = asker.by();
    if asker.viewer.name().is_some_and(|me| me.eq_ignore_ascii_case(&name))
        && (req.disabled == Some(true) || req.admin == Some(false))
    {
        return Err(AppError::Conflict(
            "you cannot disable yourself or take away your own admin rights; another admin can".into(),
        ));
    }
    if let Some(disabled) = req.disabled {
        manage::set_disabled(&state.db, &name, disabled, by).await?;
    }
    if let Some(admin) = req.admin {
        manage::set_admin(&state.db, &name, admin, by).await?;
    }
    if let Some(password) = req.password {
        manage::reset_password(&state.db, &name, &password, by).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
pub struct AuditQuery {
    before: Option<i64>,
    limit: Option<i64>,
}

/// `GET /api/audit?before=ID&limit=N`: newest first, 100 unless told (at most 1,000).
pub async fn audit_log(
    State(state): State<AppState>,
    asker: Asker,
    Query(q): Query<AuditQuery>,
) -> Result<Json<Vec<AuditEntry>>, AppError> {
    admin(&asker)?;
    Ok(Json(audit::recent(&state.db, q.limit.unwrap_or(100).clamp(1, 1000), q.before).await?))
}

/// `PUT /api/tables/{name}/writers/{user}`: the table's owner (or an admin) gives `user` write access.
pub async fn grant(
    State(state): State<AppState>,
    asker: Asker,
    Path((table, user)): Path<(String, String)>,
) -> Result<StatusCode, AppError> {
    manage::grant(&state.db, state.config.table_readers, &asker.viewer, asker.by(), &table, &user).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/tables/{name}/writers/{user}`.
pub async fn revoke_grant(
    State(state): State<AppState>,
    asker: Asker,
    Path((table, user)): Path<(String, String)>,
) -> Result<StatusCode, AppError> {
    manage::take_back(&state.db, state.config.table_readers, &asker.viewer, asker.by(), &table, &user).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/tables/{name}/access`: its owner, who else may write it, and whether you may change that.
pub async fn table_access(
    State(state): State<AppState>,
    asker: Asker,
    Path(table): Path<String>,
) -> Result<Json<TableAccess>, AppError> {
    Ok(Json(manage::table_access(&state.db, state.config.table_readers, &asker.viewer, &table).await?))
}
