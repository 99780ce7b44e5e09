//! `sheetport user …` and `sheetport token …`: accounts and API tokens from the command line, on
//! the database a server uses (it notices a first account at its next request). A password comes
//! from a prompt that does not echo when stdin is a terminal, and from stdin's first line when it
//! is not, so scripts can make accounts: `echo "$PW" | sheetport user add ana --admin`.

use crate::auth::manage::{self, By};
use crate::config::{DEFAULT_DATA_SCHEMA, DEFAULT_DATABASE};
use crate::db::{Db, accounts};
use crate::format;
use clap::{Args, Subcommand};
use std::io::{BufRead, IsTerminal};

/// Which database (the server's).
#[derive(Debug, Args)]
pub struct DbArgs {
    #[arg(long = "database", env = "SHEETPORT_DATABASE_URL", default_value = DEFAULT_DATABASE)]
    database_url: String,
    #[arg(long, env = "SHEETPORT_DATA_SCHEMA", default_value = DEFAULT_DATA_SCHEMA)]
    data_schema: String,
}

impl DbArgs {
    async fn open(&self) -> anyhow::Result<Db> {
        Ok(Db::connect(&self.database_url, &self.data_schema).await?)
    }
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Make an account (the first one turns accounts on; make it an admin).
    Add {
        name: String,
        /// May see and do everything, and manage accounts.
        #[arg(long)]
        admin: bool,
        #[command(flatten)]
        db: DbArgs,
    },
    /// List the accounts.
    List {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Disable an account: its sessions end, its tokens stop working.
    Disable {
        name: String,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Enable a disabled account again.
    Enable {
        name: String,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Set a new password (from a prompt, or stdin's first line); the account's sessions end.
    ResetPassword {
        name: String,
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Make an API token for a person; its secret is the last line of stdout, shown this once.
    Create {
        /// Whose token it is.
        #[arg(long)]
        user: String,
        /// What it is for (shown in lists).
        #[arg(long, default_value = "command line")]
        name: String,
        #[command(flatten)]
        db: DbArgs,
    },
    /// List tokens (without their secrets): everyone's, or one person's.
    List {
        #[arg(long)]
        user: Option<String>,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Revoke a token by its id (from `token list`).
    Revoke {
        id: i64,
        #[command(flatten)]
        db: DbArgs,
    },
}

/// A password, read twice from a prompt on a terminal, or once from stdin's first line.
fn password() -> anyhow::Result<String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ")?;
        let again = rpassword::prompt_password("The same again: ")?;
        anyhow::ensure!(first == again, "the two passwords differ; nothing was changed");
        Ok(first)
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        Ok(line.trim_end_matches(['\n', '\r']).to_owned())
    }
}

pub async fn user(command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::Add { name, admin, db } => {
            let db = db.open().await?;
            manage::check_name(&name)?;
            let user = manage::add_user(&db, &name, &password()?, admin, By::CLI).await?;
            println!("added {} account {:?}", if user.admin { "an admin" } else { "an" }, user.name);
        }
        UserCommand::List { db } => {
            let db = db.open().await?;
            for u in accounts::users(&db).await? {
                let role = match (u.admin, u.disabled) {
                    (_, true) => "disabled",
                    (true, false) => "admin",
                    (false, false) => "user",
                };
                println!("{}\t{role}\tsince {}", u.name, format::date_ms(u.created_at));
            }
        }
        UserCommand::Disable { name, db } => {
            manage::set_disabled(&db.open().await?, &name, true, By::CLI).await?;
            println!("disabled {name:?}: its sessions ended and its tokens stopped working");
        }
        UserCommand::Enable { name, db } => {
            manage::set_disabled(&db.open().await?, &name, false, By::CLI).await?;
            println!("enabled {name:?}");
        }
        UserCommand::ResetPassword { name, db } => {
            let db = db.open().await?;
            manage::user(&db, &name).await?;
            manage::reset_password(&db, &name, &password()?, By::CLI).await?;
            println!("set a new password for {name:?}; its sessions ended");
        }
    }
    Ok(())
}

pub async fn token(command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create { user, name, db } => {
            let db = db.open().await?;
            let person = manage::user(&db, &user).await?;
            let made = manage::create_token(&db, &person, &name, By::CLI).await?;
            println!(
                "token {} ({}) for {}; send it as \"Authorization: Bearer …\"; it is shown only now:",
                made.token.id, made.token.name, made.token.user
            );
            println!("{}", made.secret);
        }
        TokenCommand::List { user, db } => {
            let db = db.open().await?;
            let only = match user {
                Some(name) => Some(manage::user(&db, &name).await?.id),
                None => None,
            };
            for t in accounts::tokens(&db, only).await? {
                let state = match (t.revoked_at, t.last_used_at) {
                    (Some(at), _) => format!("revoked {}", format::date_ms(at)),
                    (None, Some(at)) => format!("last used {}", format::date_ms(at)),
                    (None, None) => "never used".into(),
                };
                println!("{}\t{}\t{}\t{state}", t.id, t.user, t.name);
            }
        }
        TokenCommand::Revoke { id, db } => {
            manage::revoke_token(&db.open().await?, id, |_| true, By::CLI).await?;
            println!("revoked token {id}");
        }
    }
    Ok(())
}
