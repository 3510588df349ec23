//! The one SQL layer under [`super::Db`]: the same statements, written once, run on the embedded
//! SQLite file or on a Postgres database that several milvault processes share.
//!
//! Statements are written in the dialect both accept (`?1`-style parameters, `ON CONFLICT`,
//! `BIGINT`, `"user"` quoted); for Postgres the parameters are renumbered `$1` (outside string
//! literals) and values are converted to the type Postgres inferred for each parameter, so one
//! `i64` binds to `INTEGER`, `BIGINT` or `BOOLEAN` columns alike. Rows come back as [`Row`]s of
//! [`Value`]s whatever the driver.
//!
//! Transactions that read before they write ([`Conn::exclusive`]) are serialized: SQLite's
//! `BEGIN IMMEDIATE` on one file, a transaction-scoped advisory lock on Postgres, so that both
//! behave as one writer at a time.

use crate::error::{Error, Result};

mod postgres_conn;

pub(crate) use postgres_conn::PgConn;

/// A value bound to or read from a statement.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
}

/// A type that binds as a statement parameter.
pub(crate) trait ToValue {
    fn to_value(&self) -> Value;
}

macro_rules! int_to_value {
    ($($t:ty),*) => {$(
        impl ToValue for $t {
            fn to_value(&self) -> Value {
                Value::Int(i64::try_from(*self).unwrap_or(i64::MAX))
            }
        }
    )*};
}
int_to_value!(i64, i32, u32, u16, u64, usize);

impl ToValue for bool {
    fn to_value(&self) -> Value {
        Value::Int(i64::from(*self))
    }
}
impl ToValue for f64 {
    fn to_value(&self) -> Value {
        Value::Real(*self)
    }
}
impl ToValue for str {
    fn to_value(&self) -> Value {
        Value::Text(self.to_string())
    }
}
impl ToValue for String {
    fn to_value(&self) -> Value {
        Value::Text(self.clone())
    }
}
impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}
impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value {
        match self {
            Some(v) => v.to_value(),
            None => Value::Null,
        }
    }
}

/// A statement's parameters: `params![a, b]` or an array of one type (`[id]`).
pub(crate) trait Params {
    fn values(self) -> Vec<Value>;
}
impl Params for &[&dyn ToValue] {
    fn values(self) -> Vec<Value> {
        self.iter().map(|v| v.to_value()).collect()
    }
}
impl<T: ToValue, const N: usize> Params for [T; N] {
    fn values(self) -> Vec<Value> {
        self.iter().map(ToValue::to_value).collect()
    }
}

/// Parameters of several types: `params![name, at_ms, passed]`.
macro_rules! params {
    () => {
        &[] as &[&dyn $crate::db::sql::ToValue]
    };
    ($($p:expr),+ $(,)?) => {
        &[$(&$p as &dyn $crate::db::sql::ToValue),+] as &[&dyn $crate::db::sql::ToValue]
    };
}
pub(crate) use params;

/// A type a column reads as.
pub(crate) trait FromValue: Sized {
    fn from_value(v: &Value) -> std::result::Result<Self, String>;
}

impl FromValue for i64 {
    fn from_value(v: &Value) -> std::result::Result<Self, String> {
        match v {
            Value::Int(i) => Ok(*i),
            other => Err(format!("expected an integer, found {other:?}")),
        }
    }
}
macro_rules! int_from_value {
    ($($t:ty),*) => {$(
        impl FromValue for $t {
            fn from_value(v: &Value) -> std::result::Result<Self, String> {
                let i = i64::from_value(v)?;
                <$t>::try_from(i).map_err(|_| format!("{i} is out of range for {}", stringify!($t)))
            }
        }
    )*};
}
int_from_value!(i32, u32, u16, u64, usize);

impl FromValue for bool {
    fn from_value(v: &Value) -> std::result::Result<Self, String> {
        Ok(i64::from_value(v)? != 0)
    }
}
impl FromValue for f64 {
    fn from_value(v: &Value) -> std::result::Result<Self, String> {
        match v {
            Value::Real(f) => Ok(*f),
            Value::Int(i) => Ok(*i as f64),
            other => Err(format!("expected a number, found {other:?}")),
        }
    }
}
impl FromValue for String {
    fn from_value(v: &Value) -> std::result::Result<Self, String> {
        match v {
            Value::Text(s) => Ok(s.clone()),
            other => Err(format!("expected text, found {other:?}")),
        }
    }
}
impl<T: FromValue> FromValue for Option<T> {
    fn from_value(v: &Value) -> std::result::Result<Self, String> {
        match v {
            Value::Null => Ok(None),
            v => T::from_value(v).map(Some),
        }
    }
}

/// One row of a result.
#[derive(Debug, Clone)]
pub(crate) struct Row(pub(crate) Vec<Value>);

impl Row {
    /// Column `i` (from 0) as a `T`.
    pub(crate) fn get<T: FromValue>(&self, i: usize) -> Result<T> {
        let v = self
            .0
            .get(i)
            .ok_or_else(|| Error::Database(format!("no column {i} in the row")))?;
        T::from_value(v).map_err(|e| Error::Database(format!("column {i}: {e}")))
    }
}

/// Which database a statement runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

/// An open connection to milvault's database.
pub(crate) enum Conn {
    Sqlite(rusqlite::Connection),
    Postgres(PgConn),
}

fn sqlite_err(e: rusqlite::Error) -> Error {
    Error::Database(e.to_string())
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Int(i) => ValueRef::Integer(*i),
            Value::Real(f) => ValueRef::Real(*f),
            Value::Text(s) => ValueRef::Text(s.as_bytes()),
        }))
    }
}

fn sqlite_value(v: rusqlite::types::ValueRef<'_>) -> Value {
    use rusqlite::types::ValueRef;
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Int(i),
        ValueRef::Real(f) => Value::Real(f),
        ValueRef::Text(t) | ValueRef::Blob(t) => Value::Text(String::from_utf8_lossy(t).into()),
    }
}

impl Conn {
    /// The database this connection speaks to.
    pub(crate) fn dialect(&self) -> Dialect {
        match self {
            Conn::Sqlite(_) => Dialect::Sqlite,
            Conn::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Runs one statement; returns how many rows it changed.
    pub(crate) fn execute(&mut self, sql: &str, params: impl Params) -> Result<usize> {
        let values = params.values();
        match self {
            Conn::Sqlite(c) => c
                .execute(sql, rusqlite::params_from_iter(values.iter()))
                .map_err(sqlite_err),
            Conn::Postgres(c) => c.execute(&dollar_params(sql), values),
        }
    }

    /// Runs statements that take no parameters (schema changes).
    pub(crate) fn execute_batch(&mut self, sql: &str) -> Result<()> {
        match self {
            Conn::Sqlite(c) => c.execute_batch(sql).map_err(sqlite_err),
            Conn::Postgres(c) => c.batch(sql),
        }
    }

    /// Every row of a query.
    pub(crate) fn query(&mut self, sql: &str, params: impl Params) -> Result<Vec<Row>> {
        let values = params.values();
        match self {
            Conn::Sqlite(c) => {
                let mut stmt = c.prepare_cached(sql).map_err(sqlite_err)?;
                let columns = stmt.column_count();
                let mut rows = stmt
                    .query(rusqlite::params_from_iter(values.iter()))
                    .map_err(sqlite_err)?;
                let mut out = Vec::new();
                while let Some(r) = rows.next().map_err(sqlite_err)? {
                    let mut row = Vec::with_capacity(columns);
                    for i in 0..columns {
                        row.push(sqlite_value(r.get_ref(i).map_err(sqlite_err)?));
                    }
                    out.push(Row(row));
                }
                Ok(out)
            }
            Conn::Postgres(c) => c.query(&dollar_params(sql), values),
        }
    }

    /// Each row of a query, mapped.
    pub(crate) fn query_map<T>(
        &mut self,
        sql: &str,
        params: impl Params,
        f: impl FnMut(&Row) -> Result<T>,
    ) -> Result<Vec<T>> {
        self.query(sql, params)?.iter().map(f).collect()
    }

    /// The first row of a query, mapped, if there is one.
    pub(crate) fn query_opt<T>(
        &mut self,
        sql: &str,
        params: impl Params,
        f: impl FnOnce(&Row) -> Result<T>,
    ) -> Result<Option<T>> {
        match self.query(sql, params)?.first() {
            Some(r) => f(r).map(Some),
            None => Ok(None),
        }
    }

    /// The first row of a query, mapped; no row is an error.
    pub(crate) fn query_row<T>(
        &mut self,
        sql: &str,
        params: impl Params,
        f: impl FnOnce(&Row) -> Result<T>,
    ) -> Result<T> {
        self.query_opt(sql, params, f)?
            .ok_or_else(|| Error::Database(format!("no row for: {sql}")))
    }

    /// Runs `f` in a transaction that no other writer interleaves with (see the module's
    /// documentation); commits when `f` succeeds, rolls back when it fails.
    pub(crate) fn exclusive<T>(&mut self, f: impl FnOnce(&mut Conn) -> Result<T>) -> Result<T> {
        match self {
            Conn::Sqlite(c) => c.execute_batch("BEGIN IMMEDIATE").map_err(sqlite_err)?,
            Conn::Postgres(c) => c.batch(&format!(
                "BEGIN; SELECT pg_advisory_xact_lock({WRITER_LOCK})"
            ))?,
        }
        match f(self) {
            Ok(v) => {
                self.execute_batch("COMMIT")?;
                Ok(v)
            }
            Err(e) => {
                if let Err(rollback) = self.execute_batch("ROLLBACK") {
                    tracing::warn!("rolling back a failed transaction failed too: {rollback}");
                }
                Err(e)
            }
        }
    }

    /// Whether `table` has `column` (for migrations of older databases).
    pub(crate) fn has_column(&mut self, table: &str, column: &str) -> Result<bool> {
        match self {
            Conn::Sqlite(c) => Ok(c
                .prepare(&format!("SELECT {column} FROM {table} LIMIT 0"))
                .is_ok()),
            Conn::Postgres(_) => Ok(!self
                .query(
                    "SELECT 1 FROM information_schema.columns
                     WHERE table_schema = current_schema() AND table_name = ?1 AND column_name = ?2",
                    [table, column],
                )?
                .is_empty()),
        }
    }
}

/// The advisory lock key that serializes milvault's read-then-write transactions on Postgres
/// (any number unlikely to be used by another application on the same database).
pub(crate) const WRITER_LOCK: i64 = 0x6d69_6c76_6175_6c74; // "milvault"

/// `?1`-style parameters as Postgres' `$1` (a bare `?` takes the next number), outside string
/// literals and quoted names.
pub(crate) fn dollar_params(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut quote: Option<char> = None;
    let mut next = 1;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                out.push(c);
                if c == q {
                    quote = None;
                }
            }
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                out.push(c);
            }
            None if c == '?' => {
                let mut digits = String::new();
                while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    digits.push(*d);
                    chars.next();
                }
                if digits.is_empty() {
                    digits = next.to_string();
                }
                next = digits.parse::<usize>().unwrap_or(next) + 1;
                out.push('$');
                out.push_str(&digits);
            }
            None => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_renumbered_outside_literals() {
        assert_eq!(
            dollar_params("SELECT a FROM t WHERE b = ?1 AND c = '?2' AND \"?x\" = ?2 OR d = ?1"),
            "SELECT a FROM t WHERE b = $1 AND c = '?2' AND \"?x\" = $2 OR d = $1"
        );
        assert_eq!(dollar_params("VALUES (?, ?, ?)"), "VALUES ($1, $2, $3)");
    }

    #[test]
    fn one_statement_text_runs_on_sqlite_with_typed_reads() {
        let mut c = Conn::Sqlite(rusqlite::Connection::open_in_memory().unwrap());
        c.execute_batch("CREATE TABLE t (k TEXT PRIMARY KEY, n BIGINT, f BIGINT)")
            .unwrap();
        c.execute(
            "INSERT INTO t (k, n, f) VALUES (?1, ?2, ?3) ON CONFLICT(k) DO NOTHING",
            params!["a", 7_u32, true],
        )
        .unwrap();
        let changed = c
            .execute(
                "INSERT INTO t (k, n, f) VALUES (?1, ?2, ?3) ON CONFLICT(k) DO NOTHING",
                params!["a", 8_u32, false],
            )
            .unwrap();
        assert_eq!(changed, 0);
        let (n, f, missing): (u32, bool, Option<String>) = c
            .query_row("SELECT n, f, NULL FROM t WHERE k = ?1", ["a"], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .unwrap();
        assert_eq!((n, f, missing), (7, true, None));
        assert!(c
            .query_opt("SELECT n FROM t WHERE k = ?1", ["b"], |r| r.get::<i64>(0))
            .unwrap()
            .is_none());
        // a failed transaction leaves nothing behind
        let failed: Result<()> = c.exclusive(|tx| {
            tx.execute("INSERT INTO t (k, n, f) VALUES ('b', 1, 0)", params![])?;
            Err(Error::Database("refused".into()))
        });
        assert!(failed.is_err());
        assert_eq!(
            c.query_row("SELECT COUNT(*) FROM t", params![], |r| r.get::<i64>(0))
                .unwrap(),
            1
        );
        assert!(c.has_column("t", "n").unwrap());
        assert!(!c.has_column("t", "zz").unwrap());
    }
}
