//! The Arrow columns of a logical backup and the conversions between them and Milvus' column
//! format (`FieldData`, what Query answers and Insert takes).
//!
//! | Milvus | Arrow (Parquet) |
//! |---|---|
//! | Bool, Int8/16/32/64, Float, Double | Boolean, Int8/16/32/64, Float32, Float64 |
//! | VarChar, String | Utf8 |
//! | JSON, the dynamic field `$meta` | Utf8 (the JSON text) |
//! | Array of a scalar | List of that scalar |
//! | FloatVector, Int8Vector | FixedSizeList(Float32 / Int8, dim) |
//! | BinaryVector | FixedSizeBinary(dim / 8) |
//! | Float16Vector, BFloat16Vector | FixedSizeBinary(dim * 2), little-endian halves |
//! | SparseFloatVector | List of Struct { index: UInt32, value: Float32 } |
//!
//! Nulls of nullable fields are Arrow nulls. Function outputs (BM25 sparse vectors) are not
//! stored: Milvus computes them again on insert.

use std::{collections::HashMap, sync::Arc};

use arrow_array::{
    cast::AsArray,
    types::{Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, UInt32Type},
    Array, ArrayRef, BooleanArray, FixedSizeBinaryArray, FixedSizeListArray, Float32Array,
    Float64Array, Int16Array, Int32Array, Int64Array, Int8Array, ListArray, RecordBatch,
    StringArray, StructArray, UInt32Array,
};
use arrow_buffer::{BooleanBuffer, Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow_schema::{DataType, Field, Fields, Schema, SchemaRef};
use milvus::proto::schema::{
    field_data::Field as FdField, scalar_field::Data as SData, vector_field::Data as VData,
    ArrayArray, BoolArray, DoubleArray, FieldData, FloatArray, IntArray, JsonArray, LongArray,
    ScalarField, SparseFloatArray, StringArray as PbStrings, VectorField,
};

use crate::format::{CollectionSchema, FieldSchema};

// Milvus' DataType numbers
pub const BOOL: i32 = 1;
pub const INT8: i32 = 2;
pub const INT16: i32 = 3;
pub const INT32: i32 = 4;
pub const INT64: i32 = 5;
pub const FLOAT: i32 = 10;
pub const DOUBLE: i32 = 11;
pub const STRING: i32 = 20;
pub const VARCHAR: i32 = 21;
pub const ARRAY: i32 = 22;
pub const JSON: i32 = 23;
pub const BINARY_VECTOR: i32 = 100;
pub const FLOAT_VECTOR: i32 = 101;
pub const FLOAT16_VECTOR: i32 = 102;
pub const BFLOAT16_VECTOR: i32 = 103;
pub const SPARSE_VECTOR: i32 = 104;
pub const INT8_VECTOR: i32 = 105;

/// Metadata key of every Arrow field: Milvus' type name.
pub const META_TYPE: &str = "milvus.type";

/// One stored column.
#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    pub data_type: i32,
    pub element_type: i32,
    pub dim: i64,
    /// Nullable in Milvus: nulls are sent as `valid_data`.
    pub nullable: bool,
    /// Has a default value: Insert wants `valid_data` for it too.
    pub has_default: bool,
    /// The dynamic field `$meta`.
    pub dynamic: bool,
    pub primary: bool,
}

fn type_name(dt: i32) -> &'static str {
    match dt {
        BOOL => "Bool",
        INT8 => "Int8",
        INT16 => "Int16",
        INT32 => "Int32",
        INT64 => "Int64",
        FLOAT => "Float",
        DOUBLE => "Double",
        STRING => "String",
        VARCHAR => "VarChar",
        ARRAY => "Array",
        JSON => "JSON",
        BINARY_VECTOR => "BinaryVector",
        FLOAT_VECTOR => "FloatVector",
        FLOAT16_VECTOR => "Float16Vector",
        BFLOAT16_VECTOR => "BFloat16Vector",
        SPARSE_VECTOR => "SparseFloatVector",
        INT8_VECTOR => "Int8Vector",
        _ => "unsupported",
    }
}

fn dim_of(f: &FieldSchema) -> i64 {
    f.type_params
        .iter()
        .find(|kv| kv.key == "dim")
        .and_then(|kv| kv.value.parse().ok())
        .unwrap_or(0)
}

/// The columns a logical backup stores for `schema`, in schema order, `$meta` last; or why it
/// cannot (a type logical backups do not carry).
pub fn columns(schema: &CollectionSchema) -> Result<Vec<Column>, String> {
    if !schema.struct_array_fields.is_empty() {
        return Err("arrays of structs are not supported by logical backups".into());
    }
    let mut out = Vec::new();
    for f in schema
        .fields
        .iter()
        .filter(|f| !f.is_function_output && !f.is_dynamic_field())
    {
        let c = Column {
            name: f.name.clone(),
            data_type: f.data_type,
            element_type: f.element_type,
            dim: dim_of(f),
            nullable: f.nullable,
            has_default: !f.default_value_base64.is_empty() || !f.default_value_proto.is_empty(),
            dynamic: false,
            primary: f.is_primary_key,
        };
        arrow_type(&c).map_err(|e| format!("field '{}': {e}", f.name))?;
        out.push(c);
    }
    if schema.enable_dynamic_field {
        out.push(Column {
            name: FieldSchema::DYNAMIC_FIELD.into(),
            data_type: JSON,
            element_type: 0,
            dim: 0,
            nullable: false,
            has_default: false,
            dynamic: true,
            primary: false,
        });
    }
    if !out.iter().any(|c| c.primary) {
        return Err("the schema has no primary key".into());
    }
    Ok(out)
}

fn scalar_arrow(dt: i32) -> Result<DataType, String> {
    Ok(match dt {
        BOOL => DataType::Boolean,
        INT8 => DataType::Int8,
        INT16 => DataType::Int16,
        INT32 => DataType::Int32,
        INT64 => DataType::Int64,
        FLOAT => DataType::Float32,
        DOUBLE => DataType::Float64,
        STRING | VARCHAR => DataType::Utf8,
        other => return Err(format!("data type {other} is not supported in arrays")),
    })
}

fn sparse_fields() -> Fields {
    Fields::from(vec![
        Field::new("index", DataType::UInt32, false),
        Field::new("value", DataType::Float32, false),
    ])
}

fn item(dt: DataType) -> Arc<Field> {
    Arc::new(Field::new("item", dt, false))
}

fn arrow_type(c: &Column) -> Result<DataType, String> {
    let dim = i32::try_from(c.dim).map_err(|_| format!("dim {} is too large", c.dim))?;
    let need_dim = || {
        if dim <= 0 {
            Err(format!("{} without a dim", type_name(c.data_type)))
        } else {
            Ok(())
        }
    };
    Ok(match c.data_type {
        JSON => DataType::Utf8,
        ARRAY => DataType::List(item(scalar_arrow(c.element_type)?)),
        FLOAT_VECTOR => {
            need_dim()?;
            DataType::FixedSizeList(item(DataType::Float32), dim)
        }
        INT8_VECTOR => {
            need_dim()?;
            DataType::FixedSizeList(item(DataType::Int8), dim)
        }
        BINARY_VECTOR => {
            need_dim()?;
            DataType::FixedSizeBinary(dim / 8)
        }
        FLOAT16_VECTOR | BFLOAT16_VECTOR => {
            need_dim()?;
            DataType::FixedSizeBinary(dim * 2)
        }
        SPARSE_VECTOR => DataType::List(item(DataType::Struct(sparse_fields()))),
        dt => scalar_arrow(dt).map_err(|_| format!("data type {dt} is not supported"))?,
    })
}

/// The Arrow schema of the columns; `metadata` goes into the schema (and the Parquet footer).
pub fn arrow_schema(cols: &[Column], metadata: HashMap<String, String>) -> SchemaRef {
    let fields: Vec<Field> = cols
        .iter()
        .map(|c| {
            // checked by columns()
            let dt = arrow_type(c).unwrap_or(DataType::Null);
            let name = if c.dynamic {
                "$meta (dynamic fields)"
            } else {
                type_name(c.data_type)
            };
            Field::new(&c.name, dt, c.nullable)
                .with_metadata(HashMap::from([(META_TYPE.to_string(), name.to_string())]))
        })
        .collect();
    Arc::new(Schema::new_with_metadata(fields, metadata))
}

/// Bytes a row takes about, to size pages.
pub fn row_bytes(cols: &[Column]) -> usize {
    cols.iter()
        .map(|c| {
            let d = c.dim.max(0) as usize;
            match c.data_type {
                BOOL | INT8 => 1,
                INT16 => 2,
                INT32 | FLOAT => 4,
                INT64 | DOUBLE => 8,
                FLOAT_VECTOR => d * 4,
                BINARY_VECTOR => d / 8,
                FLOAT16_VECTOR | BFLOAT16_VECTOR => d * 2,
                INT8_VECTOR => d,
                SPARSE_VECTOR => 512,
                _ => 128,
            }
        })
        .sum::<usize>()
        .max(1)
}

// ---- FieldData -> Arrow ----

/// The rows of a value list that may hold values only for the valid rows (how Insert takes
/// nullable fields) or for every row (how Query answers).
fn expand<T: Default + Clone>(
    vals: Vec<T>,
    valid: Option<&[bool]>,
    rows: usize,
) -> Result<Vec<T>, String> {
    if vals.len() == rows {
        return Ok(vals);
    }
    match valid {
        Some(v) if v.len() == rows && v.iter().filter(|x| **x).count() == vals.len() => {
            let mut it = vals.into_iter();
            Ok(v.iter()
                .map(|ok| {
                    if *ok {
                        it.next().unwrap_or_default()
                    } else {
                        T::default()
                    }
                })
                .collect())
        }
        _ => Err(format!("{} values for {rows} rows", vals.len())),
    }
}

fn nulls_of(valid: Option<&[bool]>) -> Option<NullBuffer> {
    valid
        .filter(|v| v.iter().any(|ok| !ok))
        .map(|v| NullBuffer::from(v.to_vec()))
}

/// One column of a Query answer as Arrow, `rows` long.
pub fn to_arrow(c: &Column, fd: &FieldData, rows: usize) -> Result<ArrayRef, String> {
    let field = fd
        .field
        .as_ref()
        .ok_or_else(|| format!("column '{}' came back empty", c.name))?;
    let mut valid: Option<&[bool]> = (!fd.valid_data.is_empty()).then_some(&fd.valid_data[..]);
    let arr: ArrayRef = match field {
        FdField::Scalars(s) => {
            if valid.is_none() && !s.valid_data.is_empty() {
                valid = Some(&s.valid_data[..]);
            }
            let data = s
                .data
                .clone()
                .ok_or_else(|| format!("column '{}' has no data", c.name))?;
            scalar_to_arrow(c.data_type, c.element_type, data, valid, rows)?
        }
        FdField::Vectors(v) => {
            if let Some(vd) = valid {
                if vd.iter().any(|ok| !ok) {
                    return Err(format!("null vectors in '{}' are not supported", c.name));
                }
            }
            vector_to_arrow(c, v, rows)?
        }
        FdField::StructArrays(_) => return Err("arrays of structs are not supported".into()),
    };
    if arr.len() != rows {
        return Err(format!(
            "column '{}' has {} rows, the page {rows}",
            c.name,
            arr.len()
        ));
    }
    Ok(arr)
}

fn scalar_to_arrow(
    dt: i32,
    element_type: i32,
    data: SData,
    valid: Option<&[bool]>,
    rows: usize,
) -> Result<ArrayRef, String> {
    let nulls = nulls_of(valid);
    let strings = |v: Vec<String>, nulls: Option<NullBuffer>| -> ArrayRef {
        let opts: Vec<Option<String>> = v
            .into_iter()
            .enumerate()
            .map(|(i, s)| nulls.as_ref().is_none_or(|n| n.is_valid(i)).then_some(s))
            .collect();
        Arc::new(StringArray::from(opts))
    };
    Ok(match (dt, data) {
        (BOOL, SData::BoolData(a)) => Arc::new(BooleanArray::new(
            BooleanBuffer::from(expand(a.data, valid, rows)?),
            nulls,
        )),
        (INT8, SData::IntData(a)) => {
            let v: Vec<i8> = expand(a.data, valid, rows)?
                .into_iter()
                .map(|x| x as i8)
                .collect();
            Arc::new(Int8Array::new(ScalarBuffer::from(v), nulls))
        }
        (INT16, SData::IntData(a)) => {
            let v: Vec<i16> = expand(a.data, valid, rows)?
                .into_iter()
                .map(|x| x as i16)
                .collect();
            Arc::new(Int16Array::new(ScalarBuffer::from(v), nulls))
        }
        (INT32, SData::IntData(a)) => Arc::new(Int32Array::new(
            ScalarBuffer::from(expand(a.data, valid, rows)?),
            nulls,
        )),
        (INT64, SData::LongData(a)) => Arc::new(Int64Array::new(
            ScalarBuffer::from(expand(a.data, valid, rows)?),
            nulls,
        )),
        (FLOAT, SData::FloatData(a)) => Arc::new(Float32Array::new(
            ScalarBuffer::from(expand(a.data, valid, rows)?),
            nulls,
        )),
        (DOUBLE, SData::DoubleData(a)) => Arc::new(Float64Array::new(
            ScalarBuffer::from(expand(a.data, valid, rows)?),
            nulls,
        )),
        (STRING | VARCHAR, SData::StringData(a)) => strings(expand(a.data, valid, rows)?, nulls),
        (JSON, SData::JsonData(a)) => {
            let v = expand(a.data, valid, rows)?
                .into_iter()
                .map(|b| String::from_utf8(b).map_err(|_| "JSON that is not UTF-8".to_string()))
                .collect::<Result<Vec<_>, _>>()?;
            strings(v, nulls)
        }
        (ARRAY, SData::ArrayData(a)) => {
            let elems = expand(a.data, valid, rows)?;
            let mut offsets = Vec::with_capacity(elems.len() + 1);
            offsets.push(0i32);
            let mut flat: Option<SData> = None;
            for e in elems {
                let n = match e.data {
                    None => 0,
                    Some(d) => append_scalars(&mut flat, d)?,
                };
                let last = *offsets.last().unwrap_or(&0);
                offsets.push(last + n as i32);
            }
            let total = *offsets.last().unwrap_or(&0) as usize;
            let values = match flat {
                Some(d) => scalar_to_arrow(element_type, 0, d, None, total)?,
                None => arrow_array::new_empty_array(&scalar_arrow(element_type)?),
            };
            Arc::new(
                ListArray::try_new(
                    item(scalar_arrow(element_type)?),
                    OffsetBuffer::new(ScalarBuffer::from(offsets)),
                    values,
                    nulls,
                )
                .map_err(|e| e.to_string())?,
            )
        }
        (dt, _) => return Err(format!("Milvus answered data of another type than {dt}")),
    })
}

/// Appends an array element's values to `flat`; returns how many there were.
fn append_scalars(flat: &mut Option<SData>, d: SData) -> Result<usize, String> {
    macro_rules! join {
        ($($v:ident),*) => {
            match (flat.as_mut(), d) {
                (None, d) => {
                    let n = match &d { $(SData::$v(a) => a.data.len(),)* _ => return Err("unsupported array element".into()) };
                    *flat = Some(d);
                    Ok(n)
                }
                $((Some(SData::$v(acc)), SData::$v(a)) => {
                    let n = a.data.len();
                    acc.data.extend(a.data);
                    Ok(n)
                })*
                _ => Err("array elements of mixed types".into()),
            }
        };
    }
    join!(BoolData, IntData, LongData, FloatData, DoubleData, StringData)
}

fn vector_to_arrow(c: &Column, v: &VectorField, rows: usize) -> Result<ArrayRef, String> {
    let dim = c.dim as usize;
    let data = v
        .data
        .as_ref()
        .ok_or_else(|| format!("column '{}' has no vectors", c.name))?;
    let fsb = |bytes: &Vec<u8>, width: usize| -> Result<ArrayRef, String> {
        if bytes.len() != width * rows {
            return Err(format!(
                "column '{}': {} bytes for {rows} vectors of {width}",
                c.name,
                bytes.len()
            ));
        }
        Ok(Arc::new(
            FixedSizeBinaryArray::try_new(width as i32, Buffer::from(bytes.clone()), None)
                .map_err(|e| e.to_string())?,
        ))
    };
    Ok(match (c.data_type, data) {
        (FLOAT_VECTOR, VData::FloatVector(a)) => {
            if a.data.len() != dim * rows {
                return Err(format!("column '{}': wrong vector length", c.name));
            }
            Arc::new(
                FixedSizeListArray::try_new(
                    item(DataType::Float32),
                    dim as i32,
                    Arc::new(Float32Array::from(a.data.clone())),
                    None,
                )
                .map_err(|e| e.to_string())?,
            )
        }
        (INT8_VECTOR, VData::Int8Vector(b)) => {
            if b.len() != dim * rows {
                return Err(format!("column '{}': wrong vector length", c.name));
            }
            let v: Vec<i8> = b.iter().map(|x| *x as i8).collect();
            Arc::new(
                FixedSizeListArray::try_new(
                    item(DataType::Int8),
                    dim as i32,
                    Arc::new(Int8Array::from(v)),
                    None,
                )
                .map_err(|e| e.to_string())?,
            )
        }
        (BINARY_VECTOR, VData::BinaryVector(b)) => fsb(b, dim / 8)?,
        (FLOAT16_VECTOR, VData::Float16Vector(b)) => fsb(b, dim * 2)?,
        (BFLOAT16_VECTOR, VData::Bfloat16Vector(b)) => fsb(b, dim * 2)?,
        (SPARSE_VECTOR, VData::SparseFloatVector(s)) => {
            let mut offsets = vec![0i32];
            let mut idx = Vec::new();
            let mut val = Vec::new();
            for row in &s.contents {
                if row.len() % 8 != 0 {
                    return Err(format!(
                        "column '{}': a sparse row of {} bytes",
                        c.name,
                        row.len()
                    ));
                }
                for pair in row.chunks_exact(8) {
                    idx.push(u32::from_le_bytes([pair[0], pair[1], pair[2], pair[3]]));
                    val.push(f32::from_le_bytes([pair[4], pair[5], pair[6], pair[7]]));
                }
                offsets.push(idx.len() as i32);
            }
            let values = StructArray::try_new(
                sparse_fields(),
                vec![
                    Arc::new(UInt32Array::from(idx)) as ArrayRef,
                    Arc::new(Float32Array::from(val)) as ArrayRef,
                ],
                None,
            )
            .map_err(|e| e.to_string())?;
            Arc::new(
                ListArray::try_new(
                    item(DataType::Struct(sparse_fields())),
                    OffsetBuffer::new(ScalarBuffer::from(offsets)),
                    Arc::new(values),
                    None,
                )
                .map_err(|e| e.to_string())?,
            )
        }
        _ => {
            return Err(format!(
                "column '{}': Milvus answered vectors of another type than {}",
                c.name,
                type_name(c.data_type)
            ))
        }
    })
}

/// A Query answer as a record batch of `schema` (the columns' order), or what is wrong with it.
pub fn page_to_batch(
    cols: &[Column],
    schema: &SchemaRef,
    page: &[FieldData],
) -> Result<Option<RecordBatch>, String> {
    let pk = cols
        .iter()
        .find(|c| c.primary)
        .ok_or("the schema has no primary key")?;
    let find = |c: &Column| {
        page.iter()
            .find(|f| f.field_name == c.name || (c.dynamic && f.is_dynamic))
    };
    let rows = match find(pk).and_then(|f| f.field.as_ref()) {
        Some(FdField::Scalars(s)) => match &s.data {
            Some(SData::LongData(a)) => a.data.len(),
            Some(SData::StringData(a)) => a.data.len(),
            _ => return Err("the primary key came back with another type".into()),
        },
        _ => return Ok(None),
    };
    if rows == 0 {
        return Ok(None);
    }
    let mut arrays = Vec::with_capacity(cols.len());
    for c in cols {
        let fd = find(c).ok_or_else(|| format!("Query did not return column '{}'", c.name))?;
        arrays.push(to_arrow(c, fd, rows)?);
    }
    RecordBatch::try_new(schema.clone(), arrays)
        .map(Some)
        .map_err(|e| e.to_string())
}

// ---- Arrow -> FieldData ----

fn validity(arr: &dyn Array) -> Vec<bool> {
    (0..arr.len()).map(|i| arr.is_valid(i)).collect()
}

fn mismatch(c: &Column, arr: &dyn Array) -> String {
    format!(
        "column '{}' is {} in the file, not what {} is stored as",
        c.name,
        arr.data_type(),
        type_name(c.data_type)
    )
}

/// One column of a Parquet batch as Insert takes it (values of the valid rows only, with
/// `valid_data`, for nullable fields and fields with defaults).
pub fn from_arrow(c: &Column, arr: &dyn Array) -> Result<FieldData, String> {
    let with_valid = c.nullable || c.has_default;
    if !with_valid && arr.null_count() > 0 {
        return Err(format!(
            "column '{}' has nulls but the field is not nullable",
            c.name
        ));
    }
    let valid = if with_valid {
        validity(arr)
    } else {
        Vec::new()
    };
    let keep = |i: usize| !with_valid || arr.is_valid(i);
    let field = if is_vector(c.data_type) {
        FdField::Vectors(vector_from_arrow(c, arr)?)
    } else {
        let data = scalar_from_arrow(c.data_type, c.element_type, arr, &keep)
            .ok_or_else(|| mismatch(c, arr))??;
        FdField::Scalars(ScalarField {
            data: Some(data),
            ..Default::default()
        })
    };
    Ok(FieldData {
        r#type: c.data_type,
        field_name: c.name.clone(),
        is_dynamic: c.dynamic,
        valid_data: valid,
        field: Some(field),
        ..Default::default()
    })
}

fn is_vector(dt: i32) -> bool {
    (100..200).contains(&dt)
}

/// `None` when the array is not of the type expected.
fn scalar_from_arrow(
    dt: i32,
    element_type: i32,
    arr: &dyn Array,
    keep: &dyn Fn(usize) -> bool,
) -> Option<Result<SData, String>> {
    let n = arr.len();
    macro_rules! prim {
        ($t:ty, $variant:ident, $arr:ident, $conv:expr) => {{
            let a = arr.as_primitive_opt::<$t>()?;
            let data = (0..n)
                .filter(|i| keep(*i))
                .map(|i| $conv(a.value(i)))
                .collect();
            SData::$variant($arr { data })
        }};
    }
    Some(Ok(match dt {
        BOOL => {
            let a = arr.as_boolean_opt()?;
            SData::BoolData(BoolArray {
                data: (0..n).filter(|i| keep(*i)).map(|i| a.value(i)).collect(),
            })
        }
        INT8 => prim!(Int8Type, IntData, IntArray, |x: i8| x as i32),
        INT16 => prim!(Int16Type, IntData, IntArray, |x: i16| x as i32),
        INT32 => prim!(Int32Type, IntData, IntArray, |x: i32| x),
        INT64 => prim!(Int64Type, LongData, LongArray, |x: i64| x),
        FLOAT => prim!(Float32Type, FloatData, FloatArray, |x: f32| x),
        DOUBLE => prim!(Float64Type, DoubleData, DoubleArray, |x: f64| x),
        STRING | VARCHAR => {
            let a = arr.as_string_opt::<i32>()?;
            SData::StringData(PbStrings {
                data: (0..n)
                    .filter(|i| keep(*i))
                    .map(|i| a.value(i).to_string())
                    .collect(),
            })
        }
        JSON => {
            let a = arr.as_string_opt::<i32>()?;
            SData::JsonData(JsonArray {
                data: (0..n)
                    .filter(|i| keep(*i))
                    .map(|i| a.value(i).as_bytes().to_vec())
                    .collect(),
            })
        }
        ARRAY => {
            let a = arr.as_list_opt::<i32>()?;
            let mut data = Vec::new();
            for i in (0..n).filter(|i| keep(*i)) {
                let v = a.value(i);
                let inner = match scalar_from_arrow(element_type, 0, v.as_ref(), &|_| true)? {
                    Ok(d) => d,
                    Err(e) => return Some(Err(e)),
                };
                data.push(ScalarField {
                    data: Some(inner),
                    ..Default::default()
                });
            }
            SData::ArrayData(ArrayArray { data, element_type })
        }
        _ => return None,
    }))
}

fn vector_from_arrow(c: &Column, arr: &dyn Array) -> Result<VectorField, String> {
    let bad = || mismatch(c, arr);
    if arr.null_count() > 0 {
        return Err(format!("column '{}' has null vectors", c.name));
    }
    let data = match c.data_type {
        FLOAT_VECTOR | INT8_VECTOR => {
            let a = arr.as_fixed_size_list_opt().ok_or_else(bad)?;
            if a.value_length() as i64 != c.dim {
                return Err(format!(
                    "column '{}' holds vectors of {} dimensions, the field {}",
                    c.name,
                    a.value_length(),
                    c.dim
                ));
            }
            let values = a.values();
            // the slice of the values this (possibly sliced) array covers
            let start = a.offset() * c.dim as usize;
            let len = a.len() * c.dim as usize;
            let values = values.slice(start, len);
            if c.data_type == FLOAT_VECTOR {
                let v = values.as_primitive_opt::<Float32Type>().ok_or_else(bad)?;
                VData::FloatVector(FloatArray {
                    data: v.values().to_vec(),
                })
            } else {
                let v = values.as_primitive_opt::<Int8Type>().ok_or_else(bad)?;
                VData::Int8Vector(v.values().iter().map(|x| *x as u8).collect())
            }
        }
        BINARY_VECTOR | FLOAT16_VECTOR | BFLOAT16_VECTOR => {
            let a = arr.as_fixed_size_binary_opt().ok_or_else(bad)?;
            let want = if c.data_type == BINARY_VECTOR {
                c.dim / 8
            } else {
                c.dim * 2
            };
            if a.value_length() as i64 != want {
                return Err(bad());
            }
            let bytes: Vec<u8> = (0..a.len()).flat_map(|i| a.value(i).to_vec()).collect();
            match c.data_type {
                BINARY_VECTOR => VData::BinaryVector(bytes),
                FLOAT16_VECTOR => VData::Float16Vector(bytes),
                _ => VData::Bfloat16Vector(bytes),
            }
        }
        SPARSE_VECTOR => {
            let a = arr.as_list_opt::<i32>().ok_or_else(bad)?;
            let mut contents = Vec::with_capacity(a.len());
            let mut max_dim = 0i64;
            for i in 0..a.len() {
                let row = a.value(i);
                let s = row.as_struct_opt().ok_or_else(bad)?;
                let idx = s
                    .column(0)
                    .as_primitive_opt::<UInt32Type>()
                    .ok_or_else(bad)?;
                let val = s
                    .column(1)
                    .as_primitive_opt::<Float32Type>()
                    .ok_or_else(bad)?;
                let mut bytes = Vec::with_capacity(idx.len() * 8);
                for j in 0..idx.len() {
                    bytes.extend_from_slice(&idx.value(j).to_le_bytes());
                    bytes.extend_from_slice(&val.value(j).to_le_bytes());
                    max_dim = max_dim.max(idx.value(j) as i64 + 1);
                }
                contents.push(bytes);
            }
            VData::SparseFloatVector(SparseFloatArray {
                contents,
                dim: max_dim,
            })
        }
        _ => return Err(bad()),
    };
    let dim = if c.data_type == SPARSE_VECTOR {
        match &data {
            VData::SparseFloatVector(s) => s.dim,
            _ => 0,
        }
    } else {
        c.dim
    };
    Ok(VectorField {
        dim,
        data: Some(data),
        ..Default::default()
    })
}

/// A batch's rows in primary-key order (Query answers pages in that order already; this keeps a
/// page of a server that does not sorted, so that the next page starts after its largest key).
pub fn sort_by_pk(batch: RecordBatch, pk: usize) -> Result<RecordBatch, String> {
    let col = batch.column(pk);
    let n = batch.num_rows();
    let mut idx: Vec<u32> = (0..n as u32).collect();
    if let Some(a) = col.as_primitive_opt::<Int64Type>() {
        let v = a.values();
        if v.windows(2).all(|w| w[0] < w[1]) {
            return Ok(batch);
        }
        idx.sort_by_key(|i| v[*i as usize]);
    } else if let Some(a) = col.as_string_opt::<i32>() {
        if (1..n).all(|i| a.value(i - 1) < a.value(i)) {
            return Ok(batch);
        }
        idx.sort_by(|x, y| a.value(*x as usize).cmp(a.value(*y as usize)));
    } else {
        return Err("the primary key is neither Int64 nor VarChar".into());
    }
    arrow_select::take::take_record_batch(&batch, &UInt32Array::from(idx))
        .map_err(|e| e.to_string())
}

/// The last primary key of a sorted batch as a Milvus expression literal.
pub fn last_pk_literal(batch: &RecordBatch, pk: usize) -> Option<String> {
    let col = batch.column(pk);
    let last = batch.num_rows().checked_sub(1)?;
    if let Some(a) = col.as_primitive_opt::<Int64Type>() {
        return Some(a.value(last).to_string());
    }
    let a = col.as_string_opt::<i32>()?;
    // a Milvus string literal: JSON's escaping is what its parser reads
    serde_json::to_string(a.value(last)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::KeyValuePair;

    fn field(name: &str, dt: i32) -> FieldSchema {
        FieldSchema {
            name: name.into(),
            data_type: dt,
            ..Default::default()
        }
    }

    fn schema() -> CollectionSchema {
        let mut id = field("id", INT64);
        id.is_primary_key = true;
        let mut v = field("v", FLOAT_VECTOR);
        v.type_params = vec![KeyValuePair::new("dim", "2")];
        let mut b = field("b", BINARY_VECTOR);
        b.type_params = vec![KeyValuePair::new("dim", "16")];
        let mut h = field("h", FLOAT16_VECTOR);
        h.type_params = vec![KeyValuePair::new("dim", "2")];
        let mut arr = field("tags", ARRAY);
        arr.element_type = VARCHAR;
        let mut n = field("n", INT32);
        n.nullable = true;
        CollectionSchema {
            fields: vec![
                id,
                v,
                b,
                h,
                arr,
                n,
                field("s", VARCHAR),
                field("j", JSON),
                field("sp", SPARSE_VECTOR),
                field("i8", INT8),
                field("ok", BOOL),
            ],
            enable_dynamic_field: true,
            ..Default::default()
        }
    }

    fn scalars(name: &str, data: SData, valid: Vec<bool>) -> FieldData {
        FieldData {
            field_name: name.into(),
            valid_data: valid,
            field: Some(FdField::Scalars(ScalarField {
                data: Some(data),
                ..Default::default()
            })),
            ..Default::default()
        }
    }

    fn vectors(name: &str, dim: i64, data: VData) -> FieldData {
        FieldData {
            field_name: name.into(),
            field: Some(FdField::Vectors(VectorField {
                dim,
                data: Some(data),
                ..Default::default()
            })),
            ..Default::default()
        }
    }

    /// A Query answer (unsorted, a null, compressed nullable values) goes to Arrow, is sorted by
    /// primary key, and comes back as the FieldData Insert takes, value for value.
    #[test]
    fn a_page_round_trips_through_arrow() {
        let cols = columns(&schema()).unwrap();
        assert_eq!(cols.last().unwrap().name, "$meta");
        let sparse_row = |i: u32, v: f32| {
            let mut b = i.to_le_bytes().to_vec();
            b.extend_from_slice(&v.to_le_bytes());
            b
        };
        let page = vec![
            scalars(
                "id",
                SData::LongData(LongArray { data: vec![7, 3] }),
                vec![],
            ),
            vectors(
                "v",
                2,
                VData::FloatVector(FloatArray {
                    data: vec![0.7, 0.8, 0.3, 0.4],
                }),
            ),
            vectors("b", 16, VData::BinaryVector(vec![1, 2, 3, 4])),
            vectors("h", 2, VData::Float16Vector(vec![9, 9, 9, 9, 5, 5, 5, 5])),
            scalars(
                "tags",
                SData::ArrayData(ArrayArray {
                    data: vec![
                        ScalarField {
                            data: Some(SData::StringData(PbStrings {
                                data: vec!["x".into(), "y".into()],
                            })),
                            ..Default::default()
                        },
                        ScalarField {
                            data: Some(SData::StringData(PbStrings { data: vec![] })),
                            ..Default::default()
                        },
                    ],
                    element_type: VARCHAR,
                }),
                vec![],
            ),
            // compressed: one value for the one valid row
            scalars(
                "n",
                SData::IntData(IntArray { data: vec![42] }),
                vec![false, true],
            ),
            scalars(
                "s",
                SData::StringData(PbStrings {
                    data: vec!["seven".into(), "three \"q\"".into()],
                }),
                vec![],
            ),
            scalars(
                "j",
                SData::JsonData(JsonArray {
                    data: vec![b"{\"a\":1}".to_vec(), b"[1,2]".to_vec()],
                }),
                vec![],
            ),
            vectors(
                "sp",
                0,
                VData::SparseFloatVector(SparseFloatArray {
                    contents: vec![sparse_row(5, 0.5), sparse_row(1000, 1.5)],
                    dim: 1001,
                }),
            ),
            scalars("i8", SData::IntData(IntArray { data: vec![-7, 3] }), vec![]),
            scalars(
                "ok",
                SData::BoolData(BoolArray {
                    data: vec![true, false],
                }),
                vec![],
            ),
            FieldData {
                is_dynamic: true,
                field_name: "$meta".into(),
                ..scalars(
                    "",
                    SData::JsonData(JsonArray {
                        data: vec![b"{\"k\":7}".to_vec(), b"{}".to_vec()],
                    }),
                    vec![],
                )
            },
        ];
        let schema = arrow_schema(&cols, HashMap::new());
        let batch = page_to_batch(&cols, &schema, &page).unwrap().unwrap();
        let batch = sort_by_pk(batch, 0).unwrap();
        assert_eq!(last_pk_literal(&batch, 0).as_deref(), Some("7"));
        let back: Vec<FieldData> = cols
            .iter()
            .zip(batch.columns())
            .map(|(c, a)| from_arrow(c, a.as_ref()).unwrap())
            .collect();
        let long = |f: &FieldData| match &f.field {
            Some(FdField::Scalars(ScalarField {
                data: Some(SData::LongData(a)),
                ..
            })) => a.data.clone(),
            _ => panic!("not longs"),
        };
        assert_eq!(long(&back[0]), vec![3, 7]);
        match &back[1].field {
            Some(FdField::Vectors(VectorField {
                data: Some(VData::FloatVector(a)),
                dim: 2,
                ..
            })) => assert_eq!(a.data, vec![0.3, 0.4, 0.7, 0.8]),
            other => panic!("{other:?}"),
        }
        match &back[2].field {
            Some(FdField::Vectors(VectorField {
                data: Some(VData::BinaryVector(b)),
                ..
            })) => assert_eq!(b, &vec![3, 4, 1, 2]),
            other => panic!("{other:?}"),
        }
        // the nullable int: row 3 had 42, row 7 null; Insert gets the one value and valid_data
        assert_eq!(back[5].valid_data, vec![true, false]);
        match &back[5].field {
            Some(FdField::Scalars(ScalarField {
                data: Some(SData::IntData(a)),
                ..
            })) => assert_eq!(a.data, vec![42]),
            other => panic!("{other:?}"),
        }
        match &back[8].field {
            Some(FdField::Vectors(VectorField {
                data: Some(VData::SparseFloatVector(s)),
                ..
            })) => assert_eq!(s.contents, vec![sparse_row(1000, 1.5), sparse_row(5, 0.5)]),
            other => panic!("{other:?}"),
        }
        assert!(back[11].is_dynamic);
        match &back[4].field {
            Some(FdField::Scalars(ScalarField {
                data: Some(SData::ArrayData(a)),
                ..
            })) => {
                assert_eq!(a.data.len(), 2);
                assert_eq!(
                    a.data[1].data,
                    Some(SData::StringData(PbStrings {
                        data: vec!["x".into(), "y".into()]
                    }))
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn string_keys_are_quoted_for_the_next_page() {
        let mut id = field("id", VARCHAR);
        id.is_primary_key = true;
        let cols = columns(&CollectionSchema {
            fields: vec![id],
            ..Default::default()
        })
        .unwrap();
        let schema = arrow_schema(&cols, HashMap::new());
        let page = vec![scalars(
            "id",
            SData::StringData(PbStrings {
                data: vec!["b\"x".into(), "a".into()],
            }),
            vec![],
        )];
        let batch = sort_by_pk(page_to_batch(&cols, &schema, &page).unwrap().unwrap(), 0).unwrap();
        assert_eq!(last_pk_literal(&batch, 0).as_deref(), Some("\"b\\\"x\""));
    }

    #[test]
    fn wrong_shapes_are_errors_not_panics() {
        let cols = columns(&schema()).unwrap();
        let c = &cols[1]; // the float vector
        let ints: ArrayRef = Arc::new(Int32Array::from(vec![1, 2]));
        assert!(from_arrow(c, ints.as_ref()).is_err());
        let short = vectors("v", 2, VData::FloatVector(FloatArray { data: vec![1.0] }));
        assert!(to_arrow(c, &short, 1).is_err());
        assert!(columns(&CollectionSchema::default()).is_err());
    }
}
