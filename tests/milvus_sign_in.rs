//! Signing in with Milvus' own users (`serve --auth --milvus-sign-in`): the web server in-process
//! over a real Milvus 2.3.5 with authorization on (scripts/testenv/lib.sh start_milvus with authorizationEnabled, as scripts/test.sh starts it), whose
//! users, roles and grants tests/support/milvus_rbac.py made. Started by scripts/test.sh.

mod support;

use std::sync::Arc;

use milvault::{
    auth::{audit::AuditFilter, sign_in::SignInOptions, Role},
    db::Db,
    jobs::registry::JobRegistry,
    server::auth::AuthOptions,
};
use serde_json::{json, Value};
use support::*;

struct Portal {
    base: String,
    registry: Arc<JobRegistry>,
    http: reqwest::Client,
}

/// Milvault's own Milvus credentials (it reads roles and grants with them).
fn overrides() -> Vec<(&'static str, String)> {
    let backups = work_dir(&unique("milvus-sign-in"));
    vec![
        ("milvus.user", "root".into()),
        ("milvus.password", "Milvus".into()),
        ("minio.storageType", "local".into()),
        ("minio.rootPath", env("MILVAULT_TEST_MILVUS_ROOT")),
        ("minio.backupStorageType", "local".into()),
        (
            "minio.backupRootPath",
            backups.to_string_lossy().into_owned(),
        ),
    ]
}

impl Portal {
    async fn start(milvus_users: bool) -> Portal {
        let registry = JobRegistry::new(service(&overrides()), Db::in_memory().unwrap());
        let auth = AuthOptions {
            enabled: true,
            secure_cookies: false,
            sign_in: SignInOptions { milvus_users },
            ..Default::default()
        };
        let addr = serve_portal(registry.clone(), auth).await;
        Portal {
            base: format!("http://{addr}"),
            registry,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        }
    }

    /// Signs in through the sign-in form; the session cookie, or the status and page.
    async fn sign_in(&self, user: &str, password: &str) -> Result<String, (u16, String)> {
        sign_in_form(&self.http, &self.base, user, password).await
    }

    async fn get(&self, path: &str, session: &str) -> (u16, Value) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", format!("milvault_session={session}"))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    /// Who `session` is: user, role, databases.
    async fn me(&self, session: &str) -> (String, String, Value) {
        let (status, me) = self.get("/api/v2/me", session).await;
        assert_eq!(status, 200, "{me}");
        (
            me["user"].as_str().unwrap().to_string(),
            me["role"].as_str().unwrap().to_string(),
            me["databases"].clone(),
        )
    }
}

#[tokio::test]
async fn milvus_users_sign_in_with_roles_from_their_milvus_roles() {
    let p = Portal::start(true).await;

    // role team_a_rw has privileges in team_a only: a member of team_a
    let ann = p
        .sign_in("ann_milvus", "ann's milvus password")
        .await
        .unwrap();
    assert_eq!(
        p.me(&ann).await,
        ("ann_milvus".into(), "member".into(), json!(["team_a"]))
    );
    // the admin role, and root: admins; public only: a viewer
    let boss = p
        .sign_in("boss_milvus", "boss milvus password")
        .await
        .unwrap();
    assert_eq!(p.me(&boss).await.1, "admin");
    let root = p.sign_in("root", "Milvus").await.unwrap();
    assert_eq!(p.me(&root).await.1, "admin");
    let val = p
        .sign_in("val_milvus", "val milvus password")
        .await
        .unwrap();
    assert_eq!(
        p.me(&val).await,
        ("val_milvus".into(), "viewer".into(), json!([]))
    );

    // Milvus refuses a wrong password and an unknown user: so does milvault
    let (status, page) = p
        .sign_in("ann_milvus", "not her password")
        .await
        .unwrap_err();
    assert_eq!(status, 401);
    assert!(page.contains("wrong user name or password"), "{page}");
    assert_eq!(
        p.sign_in("nobody_milvus", "any password at all")
            .await
            .unwrap_err()
            .0,
        401
    );

    // the roles hold in the APIs: the member may not list users, the admin sees the Milvus users
    assert_eq!(p.get("/api/v2/users", &ann).await.0, 403);
    let (status, users) = p.get("/api/v2/users", &boss).await;
    assert_eq!(status, 200, "{users}");
    let ann_row = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == "ann_milvus")
        .unwrap();
    assert_eq!(ann_row["origin"], "milvus");
    assert_eq!(ann_row["databases"], json!(["team_a"]));

    // a Milvus user's password is Milvus' to change
    let err = p
        .registry
        .store()
        .set_password("ann_milvus", "a new local password")
        .unwrap_err();
    assert!(err.to_string().contains("change it in Milvus"), "{err}");

    // each sign-in is in the audit log, checked by Milvus
    let entries = p
        .registry
        .store()
        .audit_entries(&AuditFilter {
            action: Some("auth.sign_in".into()),
            ..Default::default()
        })
        .unwrap();
    let seen: Vec<(&str, &str, &str)> = entries
        .iter()
        .rev()
        .map(|e| (e.actor.as_str(), e.via.as_str(), e.outcome.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            ("ann_milvus", "milvus", "ok"),
            ("boss_milvus", "milvus", "ok"),
            ("root", "milvus", "ok"),
            ("val_milvus", "milvus", "ok"),
            ("ann_milvus", "milvus", "denied"),
            ("nobody_milvus", "milvus", "denied"),
        ]
    );
}

#[tokio::test]
async fn milvus_users_cannot_sign_in_unless_asked_and_local_users_win() {
    // without --milvus-sign-in a Milvus user is just an unknown name
    let off = Portal::start(false).await;
    assert_eq!(
        off.sign_in("ann_milvus", "ann's milvus password")
            .await
            .unwrap_err()
            .0,
        401
    );

    // a local user of the same name signs in with the local password, never Milvus'
    let on = Portal::start(true).await;
    on.registry
        .store()
        .add_user("val_milvus", "the local password", Role::Operator, &[])
        .unwrap();
    assert_eq!(
        on.sign_in("val_milvus", "val milvus password")
            .await
            .unwrap_err()
            .0,
        401
    );
    let local = on
        .sign_in("val_milvus", "the local password")
        .await
        .unwrap();
    assert_eq!(on.me(&local).await.1, "operator");
}
