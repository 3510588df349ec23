//! A Postgres connection for the synchronous [`super::Conn`]: the `postgres` client runs on a
//! thread of its own (it drives its own small runtime, which may not run inside the server's),
//! and each statement is a request to that thread and an answer back. A connection that broke
//! (Postgres restarted) is opened again for the next statement.
//!
//! TLS: unless the URL says `sslmode=disable`, the connection is encrypted when the server offers
//! it (`prefer`, the default) or must be (`require`), and the server's certificate is verified
//! against the system's roots (or the PEM file `SSL_CERT_FILE` names).

use std::{
    error::Error as StdError,
    sync::mpsc::{channel, Sender},
};

use postgres::{
    config::SslMode,
    types::{to_sql_checked, IsNull, ToSql, Type},
    Client, NoTls,
};

use super::{Row, Value};
use crate::error::{Error, Result};

enum Op {
    Execute(String, Vec<Value>),
    Query(String, Vec<Value>),
    Batch(String),
}

enum Answer {
    Changed(u64),
    Rows(Vec<Row>),
    Done,
}

type Request = (Op, Sender<std::result::Result<Answer, String>>);

/// A connection to a Postgres database, served by its own thread.
pub(crate) struct PgConn {
    requests: Sender<Request>,
}

impl PgConn {
    /// Connects to `url` (`postgres://user:password@host:port/database`); fails when Postgres
    /// cannot be reached or refuses the credentials.
    pub(crate) fn connect(url: &str) -> Result<PgConn> {
        let (requests, incoming) = channel::<Request>();
        let (ready, connected) = channel::<std::result::Result<(), String>>();
        let url = url.to_string();
        std::thread::Builder::new()
            .name("milvault-postgres".into())
            .spawn(move || {
                let mut client = match open(&url) {
                    Ok(c) => {
                        let _ = ready.send(Ok(()));
                        c
                    }
                    Err(e) => {
                        let _ = ready.send(Err(e));
                        return;
                    }
                };
                while let Ok((op, answer)) = incoming.recv() {
                    if client.is_closed() {
                        match open(&url) {
                            Ok(c) => client = c,
                            Err(e) => {
                                let _ = answer.send(Err(e));
                                continue;
                            }
                        }
                    }
                    let _ = answer.send(run(&mut client, op));
                }
            })
            .map_err(|e| Error::Database(format!("cannot start the Postgres thread: {e}")))?;
        match connected.recv() {
            Ok(Ok(())) => Ok(PgConn { requests }),
            Ok(Err(e)) => Err(Error::Database(e)),
            Err(_) => Err(Error::Database("the Postgres thread ended".into())),
        }
    }

    fn ask(&self, op: Op) -> Result<Answer> {
        let (answer, answered) = channel();
        self.requests
            .send((op, answer))
            .map_err(|_| Error::Database("the Postgres connection has ended".into()))?;
        answered
            .recv()
            .map_err(|_| Error::Database("the Postgres connection has ended".into()))?
            .map_err(Error::Database)
    }

    pub(crate) fn execute(&self, sql: &str, values: Vec<Value>) -> Result<usize> {
        match self.ask(Op::Execute(sql.to_string(), values))? {
            Answer::Changed(n) => Ok(usize::try_from(n).unwrap_or(usize::MAX)),
            _ => Ok(0),
        }
    }

    pub(crate) fn query(&self, sql: &str, values: Vec<Value>) -> Result<Vec<Row>> {
        match self.ask(Op::Query(sql.to_string(), values))? {
            Answer::Rows(rows) => Ok(rows),
            _ => Ok(Vec::new()),
        }
    }

    pub(crate) fn batch(&self, sql: &str) -> Result<()> {
        self.ask(Op::Batch(sql.to_string())).map(|_| ())
    }
}

/// The values as the driver's parameters.
fn bind(values: &[Value]) -> Vec<&(dyn ToSql + Sync)> {
    values.iter().map(|v| v as &(dyn ToSql + Sync)).collect()
}

fn run(client: &mut Client, op: Op) -> std::result::Result<Answer, String> {
    match op {
        Op::Execute(sql, values) => client
            .execute(sql.as_str(), &bind(&values))
            .map(Answer::Changed)
            .map_err(|e| describe(&e)),
        Op::Query(sql, values) => {
            let rows = client
                .query(sql.as_str(), &bind(&values))
                .map_err(|e| describe(&e))?;
            rows.iter()
                .map(read_row)
                .collect::<std::result::Result<Vec<_>, _>>()
                .map(Answer::Rows)
        }
        Op::Batch(sql) => client
            .batch_execute(&sql)
            .map(|()| Answer::Done)
            .map_err(|e| describe(&e)),
    }
}

/// A client for `url`, over TLS unless the URL disables it.
fn open(url: &str) -> std::result::Result<Client, String> {
    let config: postgres::Config = url
        .parse()
        .map_err(|e| format!("the Postgres URL cannot be read: {e}"))?;
    if config.get_ssl_mode() == SslMode::Disable {
        return config.connect(NoTls).map_err(|e| describe(&e));
    }
    let mut roots = rustls::RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    for cert in found.certs {
        let _ = roots.add(cert);
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config
        .connect(tokio_postgres_rustls::MakeRustlsConnect::new(tls))
        .map_err(|e| describe(&e))
}

/// A Postgres error with what the server said (the driver's own text is only "db error").
fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("Postgres: {}", db.message()),
        None => format!("Postgres: {e}"),
    }
}

/// A row's columns as [`Value`]s, by the column's type.
fn read_row(row: &postgres::Row) -> std::result::Result<Row, String> {
    let mut out = Vec::with_capacity(row.len());
    for (i, column) in row.columns().iter().enumerate() {
        let ty = column.type_();
        let cell = |e: postgres::Error| format!("column {}: {e}", column.name());
        let v = if *ty == Type::INT8 {
            row.try_get::<_, Option<i64>>(i)
                .map_err(cell)?
                .map(Value::Int)
        } else if *ty == Type::INT4 {
            row.try_get::<_, Option<i32>>(i)
                .map_err(cell)?
                .map(|v| Value::Int(v.into()))
        } else if *ty == Type::INT2 {
            row.try_get::<_, Option<i16>>(i)
                .map_err(cell)?
                .map(|v| Value::Int(v.into()))
        } else if *ty == Type::BOOL {
            row.try_get::<_, Option<bool>>(i)
                .map_err(cell)?
                .map(|v| Value::Int(v.into()))
        } else if *ty == Type::FLOAT8 {
            row.try_get::<_, Option<f64>>(i)
                .map_err(cell)?
                .map(Value::Real)
        } else if *ty == Type::FLOAT4 {
            row.try_get::<_, Option<f32>>(i)
                .map_err(cell)?
                .map(|v| Value::Real(v.into()))
        } else if [Type::TEXT, Type::VARCHAR, Type::BPCHAR, Type::NAME].contains(ty) {
            row.try_get::<_, Option<String>>(i)
                .map_err(cell)?
                .map(Value::Text)
        } else {
            return Err(format!(
                "column {} has type {ty}, which milvault does not read (CAST it to BIGINT or TEXT)",
                column.name()
            ));
        };
        out.push(v.unwrap_or(Value::Null));
    }
    Ok(Row(out))
}

/// A value bound to whatever type Postgres inferred for its parameter.
impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn StdError + Sync + Send>> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(i) => {
                if *ty == Type::INT8 {
                    i.to_sql(ty, out)
                } else if *ty == Type::INT4 {
                    i32::try_from(*i)?.to_sql(ty, out)
                } else if *ty == Type::INT2 {
                    i16::try_from(*i)?.to_sql(ty, out)
                } else if *ty == Type::BOOL {
                    (*i != 0).to_sql(ty, out)
                } else if *ty == Type::FLOAT8 {
                    (*i as f64).to_sql(ty, out)
                } else {
                    i.to_string().as_str().to_sql(ty, out)
                }
            }
            Value::Real(f) => {
                if *ty == Type::FLOAT4 {
                    (*f as f32).to_sql(ty, out)
                } else if *ty == Type::FLOAT8 {
                    f.to_sql(ty, out)
                } else {
                    f.to_string().as_str().to_sql(ty, out)
                }
            }
            Value::Text(s) => s.as_str().to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}
