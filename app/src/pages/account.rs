//! Account: who you are signed in as, your API tokens (create: shown once; revoke), sign-out.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::{
    components::common::{ErrorNotice, Loading},
    format,
    server::{list_tokens, whoami, CreateToken, RevokeToken},
};

/// The Account page.
#[component]
pub fn AccountPage() -> impl IntoView {
    let create = ServerAction::<CreateToken>::new();
    let revoke = ServerAction::<RevokeToken>::new();
    let me = Resource::new(|| (), |_| whoami());
    let tokens = Resource::new(
        move || (create.version().get(), revoke.version().get()),
        |_| list_tokens(),
    );
    let name = RwSignal::new(String::new());
    view! {
        <Title text="Account · milvault"/>
        <h1>"Account"</h1>
        <Suspense fallback=|| view! { <Loading what="your account"/> }>
            {move || Suspend::new(async move {
                match me.await {
                    Err(e) => view! { <ErrorNotice err=e/> }.into_any(),
                    Ok(m) => {
                        let scope = if m.databases.is_empty() { "all databases".to_string() } else { m.databases.join(", ") };
                        view! {
                            <p class="whoami">"Signed in as " <strong class="me-user">{m.user.clone()}</strong>
                                " (" <span class="me-role">{m.role.clone()}</span> ", " <span class="me-scope">{scope}</span> ")"
                                {(!m.auth).then(|| view! { <span class="muted">" — sign-in is off: this server listens on loopback only"</span> })}
                            </p>
                        }.into_any()
                    }
                }
            })}
        </Suspense>
        <h2>"API tokens"</h2>
        <p class="muted">"Scripts send a token as " <code>"Authorization: Bearer <token>"</code> " to the REST and gRPC APIs; it acts as you, with your role and databases."</p>
        <form class="token-form" on:submit=move |ev| {
            ev.prevent_default();
            create.dispatch(CreateToken { name: name.get_untracked() });
        }>
            <label for="token-name">"What will use it"</label>
            <input id="token-name" required placeholder="nightly export script"
                prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev))/>
            <button class="primary" type="submit">"Create token"</button>
        </form>
        {move || create.value().get().map(|r| match r {
            Ok(token) => view! {
                <div class="new-token" role="status">
                    <p>"Copy it now: it is not shown again."</p>
                    <code class="token-secret">{token}</code>
                </div>
            }.into_any(),
            Err(e) => view! { <ErrorNotice err=e/> }.into_any(),
        })}
        {move || revoke.value().get().and_then(|r| r.err()).map(|e| view! { <ErrorNotice err=e/> })}
        <Suspense fallback=|| view! { <Loading what="tokens"/> }>
            {move || Suspend::new(async move {
                match tokens.await {
                    Err(e) => view! { <ErrorNotice err=e/> }.into_any(),
                    Ok(list) if list.is_empty() => view! { <p class="muted">"No tokens yet."</p> }.into_any(),
                    Ok(list) => view! {
                        <div class="table-wrap"><table class="tokens">
                            <thead><tr><th>"Name"</th><th>"User"</th><th>"Created"</th><th>"Last used"</th><th>"State"</th><th></th></tr></thead>
                            <tbody>{list.into_iter().map(|t| {
                                let id = t.id.clone();
                                view! {
                                    <tr data-token=t.name.clone()>
                                        <td>{t.name.clone()}</td>
                                        <td>{t.user.clone()}</td>
                                        <td>{format::time(t.created_ms)}</td>
                                        <td>{t.last_used_ms.map(format::time).unwrap_or_else(|| "never".into())}</td>
                                        <td>{if t.revoked { view! { <span class="badge badge-failed">"revoked"</span> }.into_any() } else { view! { <span class="badge badge-succeeded">"active"</span> }.into_any() }}</td>
                                        <td>{(!t.revoked).then(|| view! {
                                            <button class="danger" on:click=move |_| { revoke.dispatch(RevokeToken { id: id.clone() }); }>"Revoke"</button>
                                        })}</td>
                                    </tr>
                                }
                            }).collect_view()}</tbody>
                        </table></div>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}
