"""Seeds, dumps and searches collections for tests/logical.rs, with the ORM API that both
pymilvus 2.3 (Milvus 2.3.5's venv) and pymilvus 3 (Milvus Lite's venv) have.
Milvus Lite 3.2.2 has no Float16, BFloat16 or binary vectors; Milvus 2.3.5 one vector field.

    logical.py URI seed KIND NAME ROWS    KIND: all23 | bin23 | all_lite | plain | bm25
    logical.py URI dump NAME              rows per partition, canonical JSON, sorted by key
    logical.py URI search NAME TEXT...    BM25 full-text search: top ids per text
    logical.py URI drop NAME
URI http://127.0.0.1:19530 signs in as root/Milvus; a Lite URI without credentials.
"""
import json
import random
import sys
import warnings

warnings.filterwarnings("ignore")  # pymilvus 3 deprecates the ORM API both versions share

from pymilvus import (Collection, CollectionSchema, DataType, FieldSchema, Partition,
                      connections, utility)

uri, cmd = sys.argv[1], sys.argv[2]
if uri.endswith(":19530"):
    connections.connect(uri=uri, user="root", password="Milvus")
else:
    connections.connect(uri=uri)

WORDS = ("vector search engine milvus backup restore parquet arrow lake database index "
         "partition segment query insert delete sparse dense embedding recall latency").split()


def f(name, dtype, **kw):
    return FieldSchema(name, dtype, **kw)


def scalars(rng, i):
    return {
        "b": i % 2 == 0,
        "i8": (i % 250) - 125,
        "i16": i * 3 - 30000 if i < 20000 else 7,
        "i32": i * 1000 - 2**31 + 5,
        "i64": i * 123456789012 - 2**62,
        "f": rng.random() * 100 - 50,
        "d": rng.random() * 1e12,
        "s": "str-%d-%s" % (i, "\u00e9\u4e2d" if i % 5 == 0 else "x" * (i % 17)),
        "j": {"i": i, "tags": [i % 3, "t%d" % (i % 4)], "nested": {"ok": i % 2 == 1}},
        "ai": [i, -i, i * 2][: i % 4],
        "astr": ["a%d" % k for k in range(i % 3)],
    }


def scalar_fields():
    return [
        f("b", DataType.BOOL), f("i8", DataType.INT8), f("i16", DataType.INT16),
        f("i32", DataType.INT32), f("i64", DataType.INT64), f("f", DataType.FLOAT),
        f("d", DataType.DOUBLE), f("s", DataType.VARCHAR, max_length=200), f("j", DataType.JSON),
        f("ai", DataType.ARRAY, element_type=DataType.INT64, max_capacity=8),
        f("astr", DataType.ARRAY, element_type=DataType.VARCHAR, max_capacity=5, max_length=20),
    ]


def dynamic(i):
    d = {}
    if i % 2 == 0:
        d["extra_k"] = i
    if i % 3 == 0:
        d["label"] = "dyn-%d" % i
    return d


def fvec(rng, dim=8):
    return [rng.random() for _ in range(dim)]


def seed(kind, name, rows):
    rng = random.Random(14)
    if utility.has_collection(name):
        utility.drop_collection(name)
    parts = ["p1", "p2"]
    if kind == "all23" or kind == "plain":
        fields = [f("id", DataType.INT64, is_primary=True)]
        fields += scalar_fields() if kind == "all23" else [
            f("s", DataType.VARCHAR, max_length=200), f("j", DataType.JSON),
            f("ai", DataType.ARRAY, element_type=DataType.INT64, max_capacity=8)]
        fields.append(f("v", DataType.FLOAT_VECTOR, dim=8))
        schema = CollectionSchema(fields, enable_dynamic_field=True, description="logical " + kind)
        indexes = [("v", {"index_type": "FLAT", "metric_type": "L2", "params": {}})]

        def row(i):
            r = {"id": i * 7 - 5000, "v": fvec(rng)}
            full = scalars(rng, i)
            r.update(full if kind == "all23" else {k: full[k] for k in ("s", "j", "ai")})
            r.update(dynamic(i))
            return r
    elif kind == "bin23":
        schema = CollectionSchema([
            f("pk", DataType.VARCHAR, is_primary=True, max_length=64),
            f("n", DataType.INT64),
            f("bv", DataType.BINARY_VECTOR, dim=16)], enable_dynamic_field=False)
        indexes = [("bv", {"index_type": "BIN_FLAT", "metric_type": "HAMMING", "params": {}})]
        parts = []

        def row(i):
            return {"pk": "k\"%05d'\\" % (rows - i), "n": i, "bv": bytes([i % 256, (i * 7) % 256])}
    elif kind == "all_lite":
        fields = [f("id", DataType.INT64, is_primary=True)] + scalar_fields() + [
            f("n_i32", DataType.INT32, nullable=True),
            f("n_s", DataType.VARCHAR, max_length=50, nullable=True),
            f("n_j", DataType.JSON, nullable=True),
            f("dflt", DataType.INT64, default_value=7),
            f("v", DataType.FLOAT_VECTOR, dim=8),
            f("sp", DataType.SPARSE_FLOAT_VECTOR)]
        schema = CollectionSchema(fields, enable_dynamic_field=True)
        indexes = [("v", {"index_type": "FLAT", "metric_type": "L2", "params": {}}),
                   ("sp", {"index_type": "SPARSE_INVERTED_INDEX", "metric_type": "IP", "params": {}})]

        def row(i):
            r = {"id": i * 7 - 5000, "v": fvec(rng),
                 "sp": {rng.randrange(100000): rng.random() + 0.1 for _ in range(1 + i % 4)}}
            r.update(scalars(rng, i))
            r.update(dynamic(i))
            r["n_i32"] = None if i % 3 == 0 else i
            r["n_s"] = None if i % 4 == 0 else "n%d" % i
            r["n_j"] = None if i % 5 == 0 else {"n": i}
            if i % 2 == 0:
                r["dflt"] = i
            return r
    elif kind == "bm25":
        from pymilvus import Function, FunctionType
        schema = CollectionSchema([
            f("id", DataType.INT64, is_primary=True),
            f("text", DataType.VARCHAR, max_length=1000, enable_analyzer=True),
            f("sparse", DataType.SPARSE_FLOAT_VECTOR)], enable_dynamic_field=False)
        schema.add_function(Function(name="text_bm25", function_type=FunctionType.BM25,
                                     input_field_names=["text"], output_field_names=["sparse"]))
        indexes = [("sparse", {"index_type": "SPARSE_INVERTED_INDEX", "metric_type": "BM25",
                               "params": {}})]
        parts = ["p1"]

        def row(i):
            return {"id": i, "text": " ".join(rng.choice(WORDS) for _ in range(3 + i % 9))}
    else:
        sys.exit("unknown kind " + kind)
    col = Collection(name, schema)
    for p in parts:
        col.create_partition(p)
    batch = {}
    for i in range(rows):
        p = (["_default"] + parts)[i % (len(parts) + 1)]
        batch.setdefault(p, []).append(row(i))
    for p, rs in batch.items():
        for k in range(0, len(rs), 500):
            col.insert(rs[k:k + 500], partition_name=p)
    col.flush()
    for field, params in indexes:
        col.create_index(field, params)
    col.load()
    print(json.dumps({"rows": rows}))


def canon(v):
    if isinstance(v, (bytes, bytearray)):
        return v.hex()
    if isinstance(v, list) and len(v) == 1 and isinstance(v[0], (bytes, bytearray)):
        return v[0].hex()
    if hasattr(v, "tolist"):
        return canon(v.tolist())
    if isinstance(v, dict):
        return {str(k): canon(x) for k, x in sorted(v.items(), key=lambda kv: str(kv[0]))}
    if isinstance(v, (list, tuple)):
        return [canon(x) for x in v]
    return v


def dump(name):
    col = Collection(name)
    col.load()
    schema = col.schema
    pk = schema.primary_field.name
    skip = {o for fn in getattr(schema, "functions", []) or [] for o in fn.output_field_names}
    out_fields = [x.name for x in schema.fields if x.name not in skip]
    if schema.enable_dynamic_field:
        out_fields.append("$meta")
    has_key = any(getattr(x, "is_partition_key", False) for x in schema.fields)
    parts = [None] if has_key else [p.name for p in col.partitions]
    out = {}
    for p in parts:
        rows = col.query("", output_fields=out_fields, limit=16384,
                         partition_names=[p] if p else None, consistency_level="Strong")
        rows = [canon(dict(r)) for r in rows]
        rows.sort(key=lambda r: r[pk])
        out[p or "_all"] = rows
    print(json.dumps({"count": sum(len(r) for r in out.values()), "partitions": out},
                     sort_keys=True))


def search(name, texts):
    col = Collection(name)
    col.load()
    out = []
    for t in texts:
        res = col.search([t], "sparse", {"metric_type": "BM25"}, limit=5,
                         consistency_level="Strong")
        out.append([[hit.id, round(hit.distance, 4)] for hit in res[0]])
    print(json.dumps(out))


if cmd == "seed":
    seed(sys.argv[3], sys.argv[4], int(sys.argv[5]))
elif cmd == "dump":
    dump(sys.argv[3])
elif cmd == "search":
    search(sys.argv[3], sys.argv[4:])
elif cmd == "drop":
    if utility.has_collection(sys.argv[3]):
        utility.drop_collection(sys.argv[3])
else:
    sys.exit("unknown command " + cmd)
