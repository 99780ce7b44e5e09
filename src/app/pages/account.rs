//! `/account`: the signed-in person's API tokens (make one, shown once; revoke), and for admins
//! the accounts (add, disable, enable, set a new password) and the audit log.

use crate::api::{audit_log, list_tokens, list_users, who_am_i};
use crate::app::components::Alert;
use crate::format;
use crate::model::{AuditEntry, NewToken, TokenInfo, UserInfo};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn AccountPage() -> impl IntoView {
    let me = Resource::new(|| (), |_| who_am_i());
    view! {
        <Title text="Account · sheetport" />
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match me.await {
                    Ok(a) if a.accounts => view! {
                        <section class="card">
                            <h1>"Account"</h1>
                            <p>"Signed in as "<strong>{a.name.clone()}</strong>{a.admin.then_some(" (admin)")}"."</p>
                        </section>
                        <Tokens />
                        {a.admin.then(|| view! { <Users /> <Audit /> })}
                    }.into_any(),
                    Ok(_) => view! {
                        <section class="card">
                            <h1>"Account"</h1>
                            <p>"This server has no accounts: everyone who can reach it may do everything. "
                               "To give people their own accounts, make the first admin on the server's machine with "
                               <code>"sheetport user add NAME --admin"</code>"."</p>
                        </section>
                    }.into_any(),
                    Err(e) => view! { <Alert text=e.to_string() /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// A moment, or a dash.
fn when(ms: Option<i64>) -> String {
    ms.map_or_else(|| "—".into(), format::date_ms)
}

#[component]
fn Tokens() -> impl IntoView {
    let create = ServerAction::<crate::api::CreateToken>::new();
    let revoke = ServerAction::<crate::api::RevokeToken>::new();
    let tokens = Resource::new(move || (create.version().get(), revoke.version().get()), |_| list_tokens());
    view! {
        <section class="card">
            <h2>"API tokens"</h2>
            <p>"For curl, scripts and CI: send a token as "<code>"Authorization: Bearer …"</code>". It acts as you."</p>
            <ActionForm action=create attr:class="inline-form">
                <label>"What it is for"<input name="name" maxlength="100" placeholder="nightly sales load" /></label>
                <button type="submit" class="button">"Make a token"</button>
            </ActionForm>
            {move || create.value().get().map(|made: Result<NewToken, _>| match made {
                Ok(t) => view! {
                    <div class="outcome ok" role="status">
                        <p>"Your new token, shown only now: copy it somewhere safe."</p>
                        <p><code class="secret">{t.secret}</code></p>
                    </div>
                }.into_any(),
                Err(e) => view! { <Alert text=e.to_string() /> }.into_any(),
            })}
            {move || revoke.value().get().and_then(Result::err).map(|e| view! { <Alert text=e.to_string() /> })}
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match tokens.await {
                        Ok(list) if list.is_empty() => view! { <p>"No tokens yet."</p> }.into_any(),
                        Ok(list) => view! { <TokenTable list revoke /> }.into_any(),
                        Err(e) => view! { <Alert text=e.to_string() /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn TokenTable(list: Vec<TokenInfo>, revoke: ServerAction<crate::api::RevokeToken>) -> impl IntoView {
    view! {
        <div class="table-scroll">
            <table>
                <thead><tr><th>"Name"</th><th>"Person"</th><th>"Made"</th><th>"Last used"</th><th>"State"</th></tr></thead>
                <tbody>
                    {list.into_iter().map(|t| {
                        let id = t.id;
                        view! {
                            <tr>
                                <td>{t.name}</td>
                                <td>{t.user}</td>
                                <td>{format::date_ms(t.created_at)}</td>
                                <td>{when(t.last_used_at)}</td>
                                <td>{match t.revoked_at {
                                    Some(at) => format!("revoked {}", format::date_ms(at)).into_any(),
                                    None => view! {
                                        <button class="button secondary" on:click=move |_| { revoke.dispatch(crate::api::RevokeToken { id }); }>"Revoke"</button>
                                    }.into_any(),
                                }}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

#[component]
fn Users() -> impl IntoView {
    let add = ServerAction::<crate::api::AddUser>::new();
    let toggle = ServerAction::<crate::api::SetDisabled>::new();
    let reset = ServerAction::<crate::api::ResetPassword>::new();
    let users = Resource::new(move || (add.version().get(), toggle.version().get()), |_| list_users());
    view! {
        <section class="card">
            <h2>"Accounts"</h2>
            <ActionForm action=add attr:class="inline-form">
                <label>"Name"<input name="name" required maxlength="64" autocomplete="off" /></label>
                <label>"Password"<input name="password" type="password" required minlength="8" autocomplete="new-password" /></label>
                <label class="check"><input name="admin" type="checkbox" value="on" />"Admin"</label>
                <button type="submit" class="button">"Add"</button>
            </ActionForm>
            {move || add.value().get().and_then(Result::err).map(|e| view! { <Alert text=e.to_string() /> })}
            <h3>"Set a new password"</h3>
            <ActionForm action=reset attr:class="inline-form">
                <label>"Name"<input name="name" required maxlength="64" autocomplete="off" /></label>
                <label>"New password"<input name="password" type="password" required minlength="8" autocomplete="new-password" /></label>
                <button type="submit" class="button">"Set"</button>
            </ActionForm>
            {move || reset.value().get().map(|r| match r {
                Ok(()) => view! { <p class="outcome ok" role="status">"Password set; that person's sessions ended."</p> }.into_any(),
                Err(e) => view! { <Alert text=e.to_string() /> }.into_any(),
            })}
            {move || toggle.value().get().and_then(Result::err).map(|e| view! { <Alert text=e.to_string() /> })}
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match users.await {
                        Ok(list) => view! { <UserTable list toggle /> }.into_any(),
                        Err(e) => view! { <Alert text=e.to_string() /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn UserTable(list: Vec<UserInfo>, toggle: ServerAction<crate::api::SetDisabled>) -> impl IntoView {
    view! {
        <div class="table-scroll">
            <table>
                <thead><tr><th>"Name"</th><th>"Role"</th><th>"Since"</th><th></th></tr></thead>
                <tbody>
                    {list.into_iter().map(|u| {
                        let name = u.name.clone();
                        let disabled = u.disabled;
                        let role = match (u.admin, u.disabled) { (_, true) => "disabled", (true, _) => "admin", _ => "user" };
                        view! {
                            <tr>
                                <td>{u.name}</td>
                                <td>{role}</td>
                                <td>{format::date_ms(u.created_at)}</td>
                                <td><button class="button secondary" on:click=move |_| {
                                    toggle.dispatch(crate::api::SetDisabled { name: name.clone(), disabled: !disabled });
                                }>{if disabled { "Enable" } else { "Disable" }}</button></td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

#[component]
fn Audit() -> impl IntoView {
    let log = Resource::new(|| (), |_| audit_log(None));
    view! {
        <section class="card wide">
            <h2>"Audit log"</h2>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match log.await {
                        Ok(list) if list.is_empty() => view! { <p>"Nothing yet."</p> }.into_any(),
                        Ok(list) => view! { <AuditTable list /> }.into_any(),
                        Err(e) => view! { <Alert text=e.to_string() /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn AuditTable(list: Vec<AuditEntry>) -> impl IntoView {
    view! {
        <div class="table-scroll">
            <table class="audit">
                <thead><tr><th>"When"</th><th>"Who"</th><th>"What"</th><th>"To what"</th><th>"Details"</th><th>"From"</th></tr></thead>
                <tbody>
                    {list.into_iter().map(|e| { let action = e.action.clone(); view! {
                        <tr data-action=action>
                            <td>{format::date_ms(e.at)}</td>
                            <td>{e.user_name.unwrap_or_else(|| "—".into())}</td>
                            <td>{e.action}</td>
                            <td>{e.target.unwrap_or_default()}</td>
                            <td>{e.detail.unwrap_or_default()}</td>
                            <td>{e.address.unwrap_or_default()}</td>
                        </tr>
                    }}).collect_view()}
                </tbody>
            </table>
        </div>
    }
}
