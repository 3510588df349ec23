//! milvault's web portal: a Leptos app rendered on the server by the `milvault` binary
//! (`milvault serve`) and hydrated in the browser. Pages call the engine only through the server
//! functions in [`server`], which use the [`api::Backend`] the server provides in context.

pub mod api;
pub mod audit_action;
pub mod components;
pub mod error;
pub mod format;
pub mod names;
pub mod pages;
pub mod server;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::{
    components::{Route, Router, Routes, A},
    path, SsrMode,
};

use pages::{
    account::AccountPage, audit::AuditPage, backup_detail::BackupDetailPage, backups::BackupsPage,
    cluster::ClusterPage, jobs::JobPage, jobs::JobsPage, new_backup::NewBackupPage,
    policies::PoliciesPage, restore::RestorePage, users::UsersPage,
};

/// The product's name, as shown in the portal.
pub const PRODUCT_NAME: &str = "milvault";

/// The HTML document around the app (server side).
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The portal.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="leptos" href="/pkg/milvault.css"/>
        <Title text="milvault"/>
        <Router>
            <header class="topbar">
                <a class="brand" href="/">"milvault"</a>
                <nav aria-label="Main">
                    <A href="/" exact=true>"Backups"</A>
                    <A href="/new">"New backup"</A>
                    <A href="/jobs">"Jobs"</A>
                    <A href="/policies">"Policies"</A>
                    <A href="/cluster">"Cluster"</A>
                    // served by the REST layer, not a portal page: a full page load
                    <a href="/api/docs" rel="external">"API"</a>
                </nav>
                <UserMenu/>
            </header>
            <main id="main">
                <Routes fallback=|| view! { <NotFound/> }>
                    <Route path=path!("/") view=BackupsPage ssr=SsrMode::Async/>
                    <Route path=path!("/backups/:name") view=BackupDetailPage ssr=SsrMode::Async/>
                    <Route path=path!("/new") view=NewBackupPage ssr=SsrMode::Async/>
                    <Route path=path!("/restore/:name") view=RestorePage ssr=SsrMode::Async/>
                    <Route path=path!("/jobs") view=JobsPage ssr=SsrMode::Async/>
                    <Route path=path!("/jobs/:id") view=JobPage ssr=SsrMode::Async/>
                    <Route path=path!("/cluster") view=ClusterPage ssr=SsrMode::Async/>
                    <Route path=path!("/policies") view=PoliciesPage ssr=SsrMode::Async/>
                    <Route path=path!("/account") view=AccountPage ssr=SsrMode::Async/>
                    <Route path=path!("/users") view=UsersPage ssr=SsrMode::Async/>
                    <Route path=path!("/audit") view=AuditPage ssr=SsrMode::Async/>
                </Routes>
            </main>
        </Router>
    }
}

/// Who is signed in, links for admins, and sign-out.
#[component]
fn UserMenu() -> impl IntoView {
    let me = Resource::new(|| (), |_| server::whoami());
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                me.await.ok().map(|m| view! {
                    <div class="user-menu">
                        {m.is_admin().then(|| view! { <A href="/audit">"Audit"</A> })}
                        {(m.is_admin() && m.auth).then(|| view! { <A href="/users">"Users"</A> })}
                        <A href="/account"><span class="signed-in-as">{m.user.clone()}</span></A>
                        {m.auth.then(|| view! {
                            <form method="post" action="/logout" class="sign-out">
                                <button type="submit">"Sign out"</button>
                            </form>
                        })}
                    </div>
                })
            })}
        </Suspense>
    }
}

#[component]
fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    {
        if let Some(resp) = use_context::<leptos_axum::ResponseOptions>() {
            resp.set_status(http::StatusCode::NOT_FOUND);
        }
    }
    view! {
        <h1>"Page not found"</h1>
        <p>"There is nothing at this address. Go back to the " <a href="/">"backups"</a> "."</p>
    }
}

/// The browser's entry point: hydrates the server-rendered page.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(App);
    // lets browser tests (and curious people) tell that the page is interactive
    if let Some(body) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.body())
    {
        let _ = body.set_attribute("data-hydrated", "true");
    }
}
