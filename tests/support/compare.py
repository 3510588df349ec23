"""Compares two collections row for row: primary keys, every scalar (dynamic fields included) and
every vector must be identical, and a top-k search must return the same ids.
Usage: compare.py SRC_DB SRC_NAME DST_DB DST_NAME [DST_URI]: the destination on another Milvus when
DST_URI is given. Prints a JSON line; exits 1 on any difference.
Loads (and, if needed, indexes like the source) collections that are not loaded."""
import json, sys
from pymilvus import connections, Collection, utility, db

src_db, src, dst_db, dst = sys.argv[1:5]
connections.connect(uri="http://127.0.0.1:19530")
dst_alias = "default"
if len(sys.argv) > 5:
    dst_alias = "dst"
    connections.connect(alias="dst", uri=sys.argv[5])

def open_loaded(dbname, name, like_params=None, using="default"):
    """Opens and loads a collection; returns it with its index params (read while its db is current)."""
    db.using_database(dbname, using=using)
    c = Collection(name, using=using)
    if not c.indexes:
        vec = [f for f in c.schema.fields if f.dtype.name.endswith("VECTOR")][0]
        c.create_index(vec.name, like_params or {"index_type": "FLAT", "metric_type": "L2", "params": {}})
    params = c.indexes[0].params
    c.load()
    return c, params

def rows(dbname, c, using="default"):
    db.using_database(dbname, using=using)
    pk = c.schema.primary_field.name
    out = []
    res = c.query(f"{pk} != ''" if c.schema.primary_field.dtype.name == "VARCHAR" else f"{pk} >= -1",
                  output_fields=["*"], limit=16384, consistency_level="Strong")
    for r in res:
        out.append({k: (list(v) if isinstance(v, (list, tuple)) else v) for k, v in r.items()})
    return sorted(out, key=lambda r: r[pk])

s, src_params = open_loaded(src_db, src)
d, _ = open_loaded(dst_db, dst, like_params=src_params, using=dst_alias)
a, b = rows(src_db, s), rows(dst_db, d, using=dst_alias)
ok_rows = a == b
vec = [f for f in s.schema.fields if f.dtype.name.endswith("VECTOR")][0].name
topk_equal = True
if a:
    queries = [r[vec] for r in a[:: max(1, len(a) // 5)][:5]]
    metric = src_params.get("metric_type", "L2")
    params = {"metric_type": metric, "params": {"ef": 512, "nprobe": 64}}
    db.using_database(src_db); ra = s.search(queries, vec, params, limit=5, consistency_level="Strong")
    db.using_database(dst_db, using=dst_alias); rb = d.search(queries, vec, params, limit=5, consistency_level="Strong")
    topk_equal = [list(h.ids) for h in ra] == [list(h.ids) for h in rb]
print(json.dumps({"source_rows": len(a), "restored_rows": len(b), "identical": ok_rows, "topk_equal": topk_equal}))
sys.exit(0 if ok_rows and topk_equal else 1)
