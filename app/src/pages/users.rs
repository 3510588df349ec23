//! Users (admins): who may sign in, with which role and databases.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::{
    api::UserForm,
    components::common::{ErrorNotice, Loading},
    format,
    server::{list_users, AddUser, RemoveUser, SetUserRole},
};

/// The Users page.
#[component]
pub fn UsersPage() -> impl IntoView {
    let add = ServerAction::<AddUser>::new();
    let remove = ServerAction::<RemoveUser>::new();
    let change = ServerAction::<SetUserRole>::new();
    let users = Resource::new(
        move || {
            (
                add.version().get(),
                remove.version().get(),
                change.version().get(),
            )
        },
        |_| list_users(),
    );
    let name = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let role = RwSignal::new("member".to_string());
    let databases = RwSignal::new(String::new());
    view! {
        <Title text="Users · milvault"/>
        <h1>"Users"</h1>
        <p class="muted">"admin: everything, users and policies · operator: back up and restore anything · member: back up and restore within its databases only · viewer: reads, changes nothing."</p>
        {move || [remove.value().get().and_then(|r| r.err()), change.value().get().and_then(|r| r.err())]
            .into_iter().flatten().next().map(|e| view! { <ErrorNotice err=e/> })}
        <Suspense fallback=|| view! { <Loading what="users"/> }>
            {move || Suspend::new(async move {
                match users.await {
                    Err(e) => view! { <ErrorNotice err=e/> }.into_any(),
                    Ok(list) => view! {
                        <div class="table-wrap"><table class="users">
                            <thead><tr><th>"User"</th><th>"Role"</th><th>"Databases"</th><th>"Added"</th><th></th></tr></thead>
                            <tbody>{list.into_iter().map(|u| {
                                let n = u.name.clone();
                                let n2 = u.name.clone();
                                let role = RwSignal::new(u.role.clone());
                                let dbs = RwSignal::new(u.databases.join(", "));
                                view! {
                                    <tr data-user=u.name.clone()>
                                        <td>{u.name.clone()}{(u.origin == "milvus").then(|| view! {
                                            " " <span class="badge" title="Signs in with its Milvus password; role and databases follow its Milvus roles at each sign-in">"Milvus"</span>
                                        })}</td>
                                        <td>
                                            <label class="sr-only" for=format!("role-{}", u.name)>{format!("Role of {}", u.name)}</label>
                                            <select id=format!("role-{}", u.name) on:change=move |ev| role.set(event_target_value(&ev)) prop:value=move || role.get()>
                                                {["admin", "operator", "member", "viewer"].map(|r| view! { <option value=r selected=u.role == r>{r}</option> })}
                                            </select>
                                        </td>
                                        <td>
                                            <label class="sr-only" for=format!("dbs-{}", u.name)>{format!("Databases of {}", u.name)}</label>
                                            <input id=format!("dbs-{}", u.name) placeholder="all" prop:value=move || dbs.get() on:input=move |ev| dbs.set(event_target_value(&ev))/>
                                        </td>
                                        <td>{format::time(u.created_ms)}</td>
                                        <td class="row-actions">
                                            <button on:click=move |_| { change.dispatch(SetUserRole { name: n2.clone(), role: role.get_untracked(), databases: dbs.get_untracked() }); }>"Save"</button>
                                            <button class="danger" on:click=move |_| { remove.dispatch(RemoveUser { name: n.clone() }); }>"Remove"</button>
                                        </td>
                                    </tr>
                                }
                            }).collect_view()}</tbody>
                        </table></div>
                    }.into_any(),
                }
            })}
        </Suspense>
        <h2>"Add a user"</h2>
        <form class="user-form" on:submit=move |ev| {
            ev.prevent_default();
            add.dispatch(AddUser { form: UserForm {
                name: name.get_untracked(),
                password: password.get_untracked(),
                role: role.get_untracked(),
                databases: databases.get_untracked(),
            }});
        }>
            <label for="user-name">"User name"</label>
            <input id="user-name" required prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev))/>
            <label for="user-password">"Password (at least 10 characters)"</label>
            <input id="user-password" type="password" autocomplete="new-password" required
                prop:value=move || password.get() on:input=move |ev| password.set(event_target_value(&ev))/>
            <label for="user-role">"Role"</label>
            <select id="user-role" on:change=move |ev| role.set(event_target_value(&ev)) prop:value=move || role.get()>
                <option value="member">"member"</option>
                <option value="viewer">"viewer"</option>
                <option value="operator">"operator"</option>
                <option value="admin">"admin"</option>
            </select>
            <label for="user-dbs">"Databases (comma separated; required for members)"</label>
            <input id="user-dbs" placeholder="team_a, team_b" prop:value=move || databases.get() on:input=move |ev| databases.set(event_target_value(&ev))/>
            <button class="primary" type="submit">"Add user"</button>
        </form>
        {move || add.value().get().map(|r| match r {
            Ok(()) => view! { <p class="ok" role="status">"User added."</p> }.into_any(),
            Err(e) => view! { <ErrorNotice err=e/> }.into_any(),
        })}
    }
}
