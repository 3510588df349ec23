//! `milvault user ...` and `milvault token ...`: sign-in users and API tokens in the database
//! `milvault serve --auth` uses. Whoever can run these on the server's machine can read that
//! database anyway; each change is recorded in the audit log (through the CLI's [`Gate`](crate::auth::Gate)).

use std::io::BufRead;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};

use std::sync::Arc;

use crate::{auth::Role, jobs::registry::JobRegistry, Milvault};

use super::{jobs::CliJobs, split_list, JobDbArg};

/// `user` flags.
#[derive(Debug, Args)]
pub struct UserArgs {
    #[command(subcommand)]
    pub command: UserCommand,
}

/// User subcommands.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user; the password is asked for (hidden) on a terminal, else read from standard input.
    Add(UserAddArgs),
    /// List users.
    List,
    /// Change a user's role and databases.
    SetRole(UserRoleArgs),
    /// Set a user's password (from standard input); ends the user's sessions.
    Passwd(UserNameArg),
    /// Remove a user; its sessions end and its tokens are revoked.
    Remove(UserNameArg),
    /// Create an API token for a user and print it (only once: it is stored hashed).
    Token(UserTokenArgs),
}

/// `user add`.
#[derive(Debug, Args)]
pub struct UserAddArgs {
    /// User name.
    pub name: String,
    /// admin, operator, member or viewer.
    #[arg(long, default_value = "viewer")]
    pub role: String,
    /// The databases a member (or a scoped operator or viewer) may touch, comma separated.
    #[arg(long)]
    pub databases: Option<String>,
}

/// `user set-role`.
#[derive(Debug, Args)]
pub struct UserRoleArgs {
    pub name: String,
    #[arg(long)]
    pub role: String,
    #[arg(long)]
    pub databases: Option<String>,
}

/// A user name.
#[derive(Debug, Args)]
pub struct UserNameArg {
    pub name: String,
}

/// `user token`.
#[derive(Debug, Args)]
pub struct UserTokenArgs {
    /// The user the token acts as.
    pub name: String,
    /// What the token is for (shown in lists and the audit log).
    #[arg(long, default_value = "cli")]
    pub label: String,
}

fn read_password() -> Result<String> {
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() {
        let pw = rpassword::prompt_password("password: ").context("reading the password")?;
        let again = rpassword::prompt_password("again: ").context("reading the password")?;
        if pw != again {
            bail!("the two passwords differ; nothing was changed");
        }
        return Ok(pw);
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    let pw = line.trim_end_matches(['\n', '\r']).to_string();
    if pw.is_empty() {
        bail!("no password given on standard input");
    }
    Ok(pw)
}

/// Runs a user subcommand.
pub fn run(svc: &Arc<Milvault>, args: UserArgs, db: &JobDbArg, json: bool) -> Result<i32> {
    let jobs = CliJobs::over(JobRegistry::new(svc.clone(), db.open(svc.config())?));
    let gate = jobs.gate();
    match args.command {
        UserCommand::Add(a) => {
            let role = Role::parse(&a.role)?;
            let dbs = split_list(&a.databases);
            let pw = read_password()?;
            gate.add_user(&a.name, &pw, role, &dbs)?;
            println!("added {} ({})", a.name, role.as_str());
        }
        UserCommand::List => {
            let users = gate.users()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&users)?);
            } else {
                for u in users {
                    let dbs = if u.databases.is_empty() {
                        "all databases".to_string()
                    } else {
                        u.databases.join(", ")
                    };
                    let origin = match u.origin {
                        crate::auth::accounts::UserOrigin::Milvus => " (Milvus user)",
                        crate::auth::accounts::UserOrigin::Local => "",
                    };
                    println!("{:<20} {:<9} {dbs}{origin}", u.name, u.role.as_str());
                }
            }
        }
        UserCommand::SetRole(a) => {
            let role = Role::parse(&a.role)?;
            let dbs = split_list(&a.databases);
            gate.set_user_role(&a.name, role, &dbs)?;
            println!("{} is now {}", a.name, role.as_str());
        }
        UserCommand::Passwd(a) => {
            let pw = read_password()?;
            gate.set_user_password(&a.name, &pw)?;
            println!("password of {} changed; its sessions ended", a.name);
        }
        UserCommand::Remove(a) => {
            gate.remove_user(&a.name)?;
            println!("removed {}", a.name);
        }
        UserCommand::Token(a) => {
            let (plain, _) = gate.create_token_for(&a.name, &a.label)?;
            println!("{plain}");
        }
    }
    Ok(0)
}
