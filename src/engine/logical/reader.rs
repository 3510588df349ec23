//! Reads a collection (or one partition) in primary-key order, a bounded page at a time: Query
//! with `pk > last` and a limit, in Milvus' query-iterator mode, as pymilvus' QueryIterator does.
//! Only the current page is held; the reader can resume from any primary key.

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;

use super::columns::{self, Column};
use crate::{
    error::{Error, Result},
    milvus::MilvusClient,
};

/// Milvus refuses a Query limit above this (`quotaAndLimits.limits.maxTopK` default).
pub const MAX_PAGE_ROWS: usize = 16384;

/// A paged reader of one collection or partition.
pub struct PageReader<'a> {
    milvus: &'a MilvusClient,
    db: String,
    name: String,
    partitions: Vec<String>,
    cols: &'a [Column],
    schema: SchemaRef,
    pk: usize,
    output_fields: Vec<String>,
    limit: usize,
    /// The last primary key read, as an expression literal; `None` before the first page.
    last: Option<String>,
    done: bool,
}

impl<'a> PageReader<'a> {
    /// A reader of `db.name` (only `partition` when given), `page_bytes` of rows per page.
    pub fn new(
        milvus: &'a MilvusClient,
        db: &str,
        name: &str,
        partition: Option<&str>,
        cols: &'a [Column],
        schema: SchemaRef,
        page_bytes: usize,
    ) -> Result<PageReader<'a>> {
        let pk = cols
            .iter()
            .position(|c| c.primary)
            .ok_or_else(|| Error::NotReadable {
                collection: format!("{db}.{name}"),
                reason: "it has no primary key".into(),
            })?;
        let limit = (page_bytes / columns::row_bytes(cols)).clamp(1, MAX_PAGE_ROWS);
        Ok(PageReader {
            milvus,
            db: db.into(),
            name: name.into(),
            partitions: partition.map(|p| vec![p.to_string()]).unwrap_or_default(),
            output_fields: cols.iter().map(|c| c.name.clone()).collect(),
            cols,
            schema,
            pk,
            limit,
            last: None,
            done: false,
        })
    }

    /// Continues after primary key `last` (an expression literal: `42`, `"abc"`).
    pub fn resume_after(mut self, last: impl Into<String>) -> Self {
        self.last = Some(last.into());
        self
    }

    /// Rows per page.
    pub fn page_rows(&self) -> usize {
        self.limit
    }

    /// The last primary key read (to resume from), as an expression literal.
    pub fn last_key(&self) -> Option<&str> {
        self.last.as_deref()
    }

    fn expr(&self) -> String {
        let pk = &self.cols[self.pk];
        match &self.last {
            Some(last) => format!("{} > {last}", pk.name),
            // Milvus' parser cannot read i64::MIN as a literal: every key is < 0 or >= 0
            None if pk.data_type == columns::INT64 => {
                format!("{0} < 0 or {0} >= 0", pk.name)
            }
            None => format!("{} >= \"\"", pk.name),
        }
    }

    /// The next page, in primary-key order; `None` after the last one.
    pub async fn next_page(&mut self) -> Result<Option<RecordBatch>> {
        if self.done {
            return Ok(None);
        }
        let expr = self.expr();
        let page = self
            .milvus
            .query_page(
                &self.db,
                &self.name,
                &self.partitions,
                &expr,
                &self.output_fields,
                self.limit,
                self.last.is_none(),
            )
            .await?;
        let qualified = format!("{}.{}", self.db, self.name);
        let bad = |reason: String| Error::LogicalData {
            collection: qualified.clone(),
            reason,
        };
        let Some(batch) = columns::page_to_batch(self.cols, &self.schema, &page).map_err(bad)?
        else {
            self.done = true;
            return Ok(None);
        };
        let batch = columns::sort_by_pk(batch, self.pk).map_err(bad)?;
        if batch.num_rows() > self.limit {
            return Err(bad(format!(
                "Query answered {} rows for a limit of {}",
                batch.num_rows(),
                self.limit
            )));
        }
        self.last = columns::last_pk_literal(&batch, self.pk);
        Ok(Some(batch))
    }
}
