//! Signing in with Milvus' own users (`serve --auth --milvus-sign-in`): the web server in-process
//! over a real Milvus 2.3.5 with authorization on (scripts/testenv/lib.sh start_milvus with authorizationEnabled, as scripts/test.sh starts it), whose
//! users, roles and grants tests/support/milvus_rbac.py made. Started by scripts/test.sh. Also
//! the backup and restore of those (`rbac`), checked through pymilvus (tests/support/rbac_state.py).

use std::sync::Arc;

use crate::support::*;
use milvault::format::rbac::{Named, RbacMeta};
use milvault::{
    auth::{audit::AuditFilter, sign_in::SignInOptions, Role},
    db::Db,
    jobs::registry::JobRegistry,
    server::auth::AuthOptions,
};
use serde_json::{json, Value};

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

    async fn post(&self, path: &str, session: &str, body: Value) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", format!("milvault_session={session}"))
            .header("origin", &self.base)
            .json(&body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    /// The job once it ended, with its log.
    async fn wait_job(&self, id: &str, session: &str) -> Value {
        for _ in 0..600 {
            let (status, job) = self.get(&format!("/api/v2/jobs/{id}"), session).await;
            assert_eq!(status, 200, "{job}");
            if job["state"] != "running" {
                return job;
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
        panic!("job {id} did not end in 5 minutes");
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

/// tests/support/rbac_state.py COMMAND PREFIX through pymilvus (not milvault): its JSON for `show`.
fn rbac_state(command: &str, prefix: &str) -> Value {
    let out = std::process::Command::new(env("MILVAULT_TEST_PYTHON"))
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/support/rbac_state.py"
        ))
        .args([command, prefix])
        .output()
        .expect("run rbac_state.py");
    assert!(
        out.status.success(),
        "rbac_state.py {command}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

/// Removes what rbac_state.py made for its prefix when the test ends, also when it fails
/// (Milvus 2.3 takes at most 10 roles).
struct Made(String);

impl Drop for Made {
    fn drop(&mut self) {
        rbac_state("cleanup", &self.0);
    }
}

/// The job's log lines.
fn log_lines(job: &Value) -> Vec<String> {
    job["log"]
        .as_array()
        .map(|l| {
            l.iter()
                .map(|e| e["message"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn rbac_is_backed_up_and_only_what_is_missing_is_restored() {
    let p = Portal::start(true).await;
    let root = p.sign_in("root", "Milvus").await.unwrap();
    let pre = unique("rbac");
    let _made = Made(pre.clone());
    rbac_state("setup", &pre);
    let before = rbac_state("show", &pre);

    // a backup with rbac through REST v1 (milvus-backup's API), synchronous
    let name = format!("{pre}_bk");
    let (status, body) = p
        .post(
            "/api/v1/create",
            &root,
            json!({"backup_name": name, "collection_names": [format!("{pre}_coll")],
                   "strategy": "meta_only", "rbac": true}),
        )
        .await;
    assert_eq!(
        (status, body["msg"].as_str()),
        (200, Some("success")),
        "{body}"
    );
    let info = p.registry.service().get_backup(&name).await.unwrap();
    let raw = info.rbac_meta.clone().expect("rbac_meta written");
    let meta = RbacMeta::from_value(Some(&raw)).unwrap();
    // Milvus 2.3.5 has no BackupRBAC: users are kept without a password, built-ins left out
    let u = meta
        .users
        .iter()
        .find(|u| u.user == format!("{pre}_u"))
        .unwrap();
    assert_eq!(u.roles, vec![Named::new(format!("{pre}_r"))]);
    assert!(u.password.is_empty());
    assert!(raw["users"]
        .as_array()
        .unwrap()
        .iter()
        .all(|u| u.get("password").is_none()));
    assert!(meta.users.iter().any(|u| u.user == "ann_milvus"));
    assert!(!meta.users.iter().any(|u| u.user == "root"));
    assert!(!meta
        .roles
        .iter()
        .any(|r| r.name == "admin" || r.name == "public"));
    let mut r_grants: Vec<String> = meta
        .grants
        .iter()
        .filter(|g| g.role_name() == format!("{pre}_r"))
        .map(|g| {
            format!(
                "{}/{}/{}/{}",
                g.object_type(),
                g.object_name,
                g.db_name,
                g.privilege()
            )
        })
        .collect();
    r_grants.sort();
    assert_eq!(json!(r_grants), before["roles"][format!("{pre}_r")]);
    // milvus-backup's JSON names (backup.pb.go): object_name, db_name, grantor.privilege.name
    let g = raw["grants"].as_array().unwrap()[0].clone();
    assert!(
        g["object_name"].is_string() && g["db_name"].is_string(),
        "{g}"
    );
    assert!(g["grantor"]["privilege"]["name"].is_string(), "{g}");

    // after the backup: the role is dropped (its member loses it), a user deleted, the kept role
    // given other grants
    rbac_state("change", &pre);

    // restore with rbac through REST v2
    let (status, job) = p
        .post(
            &format!("/api/v2/backups/{name}/restore"),
            &root,
            json!({"suffix": "_r", "meta_only": true, "rbac": true}),
        )
        .await;
    assert_eq!(status, 202, "{job}");
    let job = p.wait_job(job["id"].as_str().unwrap(), &root).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    let log = log_lines(&job);

    let after = rbac_state("show", &pre);
    // the dropped role is back with exactly its grants
    assert_eq!(
        after["roles"][format!("{pre}_r")],
        before["roles"][format!("{pre}_r")],
        "{after}"
    );
    // the role that existed is left alone: the grants it has now, not the backup's
    assert_eq!(
        after["roles"][format!("{pre}_keep")],
        json!(["Collection/*/default/Delete"])
    );
    // the user that exists is left alone (its roles unchanged); the deleted one cannot be made
    // on Milvus 2.3.5 (CreateCredential needs a clear password)
    assert_eq!(after["users"][format!("{pre}_u")], json!([]));
    assert!(
        after["users"].get(format!("{pre}_gone")).is_none(),
        "{after}"
    );
    // and the job's log says so, line by line
    let has = |needle: String| {
        assert!(
            log.iter().any(|l| l.contains(&needle)),
            "no '{needle}' in {log:#?}"
        );
    };
    has(format!("rbac: created role {pre}_r"));
    has(format!(
        "rbac: created grant Search on Collection * in team_b to {pre}_r"
    ));
    has(format!(
        "rbac: left alone role {pre}_keep (exists; its 1 grants in the backup were not added)"
    ));
    has(format!("rbac: left alone user {pre}_u (exists; its roles were not changed; in the backup: {pre}_r)"));
    has(format!("rbac: not restored user {pre}_gone: Milvus 2.3.5 can create a user only from a clear password"));
    has("rbac: left alone role team_a_rw (exists".to_string());
    // the collection came too
    assert!(
        job["targets"]
            .to_string()
            .contains(&format!("{pre}_coll_r")),
        "{job}"
    );

    // restoring again creates nothing: everything is there now
    let (status, job) = p
        .post(
            &format!("/api/v2/backups/{name}/restore"),
            &root,
            json!({"suffix": "_r2", "meta_only": true, "rbac": true}),
        )
        .await;
    assert_eq!(status, 202, "{job}");
    let job = p.wait_job(job["id"].as_str().unwrap(), &root).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    let log = log_lines(&job);
    assert!(!log.iter().any(|l| l.contains("rbac: created")), "{log:#?}");
    assert!(
        log.iter()
            .any(|l| l.contains("nothing is missing in Milvus")),
        "{log:#?}"
    );
    assert_eq!(rbac_state("show", &pre), after);
}

#[tokio::test]
async fn a_backup_without_rbac_has_none_and_rbac_is_for_unscoped_callers_and_admins() {
    let p = Portal::start(true).await;
    let root = p.sign_in("root", "Milvus").await.unwrap();
    let pre = unique("norbac");
    let _made = Made(pre.clone());
    rbac_state("collection", &pre);
    let name = format!("{pre}_bk");
    let (status, job) = p
        .post(
            "/api/v2/backups",
            &root,
            json!({"name": name, "collections": [format!("{pre}_coll")], "meta_only": true}),
        )
        .await;
    assert_eq!(status, 202, "{job}");
    let job = p.wait_job(job["id"].as_str().unwrap(), &root).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    let info = p.registry.service().get_backup(&name).await.unwrap();
    assert_eq!(info.rbac_meta, None);

    // restore --rbac of it: nothing to restore, and nothing changes in Milvus (the role
    // tests/support/milvus_rbac.py made keeps its grants)
    let before = rbac_state("show", "team_");
    assert!(
        before["roles"]["team_a_rw"]
            .as_array()
            .is_some_and(|g| g.len() == 3),
        "{before}"
    );
    let (status, job) = p
        .post(
            &format!("/api/v2/backups/{name}/restore"),
            &root,
            json!({"suffix": "_r", "meta_only": true, "rbac": true}),
        )
        .await;
    assert_eq!(status, 202, "{job}");
    let job = p.wait_job(job["id"].as_str().unwrap(), &root).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    let log = log_lines(&job);
    assert!(
        log.iter().any(|l| l.contains(&format!(
            "rbac: backup '{name}' holds no users, roles or grants (it was made without rbac): nothing to restore"
        ))),
        "{log:#?}"
    );
    assert_eq!(rbac_state("show", "team_"), before);

    // users and roles are cluster-wide: a member of team_a may neither back them up nor restore
    // them (403), although it may back up and restore within team_a
    let ann = p
        .sign_in("ann_milvus", "ann's milvus password")
        .await
        .unwrap();
    let (status, body) = p
        .post(
            "/api/v2/backups",
            &ann,
            json!({"databases": ["team_a"], "meta_only": true, "rbac": true}),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    assert!(body.to_string().contains("cluster-wide"), "{body}");
    let (status, body) = p
        .post(
            &format!("/api/v2/backups/{name}/restore"),
            &ann,
            json!({"suffix": "_x", "rbac": true}),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = p
        .post(
            "/api/v1/create",
            &ann,
            json!({"backup_name": format!("{pre}_ann"), "rbac": true,
                   "db_collections": {"team_a": []}}),
        )
        .await;
    assert_eq!(status, 403, "{body}");
}
