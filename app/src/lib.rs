//! milvault's web portal: a Leptos app rendered on the server by the `milvault` binary
//! (`milvault serve`) and hydrated in the browser. Pages call the engine only through the server
//! functions in [`server`], which use the [`api::Backend`] the server provides in context.

// the views of the larger forms nest deeper than the compiler's default when it lays out their
// hydration futures (release WASM)
#![recursion_limit = "256"]

pub mod api;
pub mod audit_action;
pub mod civil_date;
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
    lazy_route, path, Lazy, LazyRoute, SsrMode,
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
                    <Route path=path!("/backups/:name") view={Lazy::<BackupDetailRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/new") view={Lazy::<NewBackupRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/restore/:name") view={Lazy::<RestoreRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/jobs") view={Lazy::<JobsRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/jobs/:id") view={Lazy::<JobRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/cluster") view={Lazy::<ClusterRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/policies") view={Lazy::<PoliciesRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/account") view={Lazy::<AccountRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/users") view={Lazy::<UsersRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/audit") view={Lazy::<AuditRoute>::new()} ssr=SsrMode::Async/>
                </Routes>
            </main>
        </Router>
    }
}

// Every page but Backups (the one most visits start on) is a lazy route: in the browser its code
// is a separate WASM chunk, fetched when the page is first shown (scripts/build-site.sh splits the
// WASM with wasm-split-cli). On the server a lazy route renders like any other.

/// `/backups/:name`, loaded lazily.
pub struct BackupDetailRoute;

#[lazy_route]
impl LazyRoute for BackupDetailRoute {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        view! { <BackupDetailPage/> }.into_any()
    }
}

/// `/new`, loaded lazily.
pub struct NewBackupRoute;

#[lazy_route]
impl LazyRoute for NewBackupRoute {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        view! { <NewBackupPage/> }.into_any()
    }
}

/// `/restore/:name`, loaded lazily.
pub struct RestoreRoute;

#[lazy_route]
impl LazyRoute for RestoreRoute {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        view! { <RestorePage/> }.into_any()
    }
}

/// `/jobs`, loaded lazily.
pub struct JobsRoute;

#[lazy_route]
impl LazyRoute for JobsRoute {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        view! { <JobsPage/> }.into_any()
    }
}

/// `/jobs/:id`, loaded lazily.
pub struct JobRoute;

#[lazy_route]
impl LazyRoute for JobRoute {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        view! { <JobPage/> }.into_any()
    }
}

/// `/cluster`, loaded lazily.
pub struct ClusterRoute;

#[lazy_route]
impl LazyRoute for ClusterRoute {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        view! { <ClusterPage/> }.into_any()
    }
}

/// `/policies`, loaded lazily.
pub struct PoliciesRoute;

#[lazy_route]
impl LazyRoute for PoliciesRoute {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        view! { <PoliciesPage/> }.into_any()
    }
}

/// `/account`, loaded lazily.
pub struct AccountRoute;

#[lazy_route]
impl LazyRoute for AccountRoute {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        view! { <AccountPage/> }.into_any()
    }
}

/// `/users`, loaded lazily.
pub struct UsersRoute;

#[lazy_route]
impl LazyRoute for UsersRoute {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        view! { <UsersPage/> }.into_any()
    }
}

/// `/audit`, loaded lazily.
pub struct AuditRoute;

#[lazy_route]
impl LazyRoute for AuditRoute {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        view! { <AuditPage/> }.into_any()
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

/// The browser's entry point: hydrates the server-rendered page. Asynchronously, as
/// `leptos::mount::hydrate_lazy` does: a lazy route's page hydrates once its WASM is loaded.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    let Some(body) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.body())
    else {
        return;
    };
    // Err only when the executor is already started
    let _ = any_spawner::Executor::init_wasm_bindgen();
    leptos::task::spawn_local(async move {
        leptos::mount::hydrate_from_async(body.clone(), App)
            .await
            .forget();
        // lets browser tests (and curious people) tell that the page is interactive
        let _ = body.set_attribute("data-hydrated", "true");
    });
}
