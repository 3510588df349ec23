//! `milvault serve`: the web server (portal, REST, gRPC) with the scheduler.

use std::{sync::Arc, time::Duration};

use anyhow::Result;

use super::{backups::Ctx, ServeArgs};

/// Runs the server until it is stopped.
pub async fn serve(ctx: &Ctx<'_>, a: ServeArgs) -> Result<i32> {
    let store = ctx.db.open(ctx.svc.config())?;
    let registry = crate::jobs::registry::JobRegistry::new(ctx.svc.clone(), store);
    if !a.no_scheduler {
        crate::server::scheduler::Scheduler::new(
            registry.clone(),
            Arc::new(crate::server::scheduler::SystemClock),
        )
        .spawn(Duration::from_secs(1));
    }
    crate::server::serve(
        registry,
        crate::server::ServeOptions {
            addr: a.addr,
            site_root: a.site_root,
            auth: a.auth,
            tls: a.tls_cert.zip(a.tls_key),
            milvus_sign_in: a.milvus_sign_in,
            trusted_proxies: a.trusted_proxies,
            audit_keep_days: a.audit_keep_days,
        },
    )
    .await?;
    Ok(0)
}
