"""Compares two collections row for row: primary keys, every scalar (dynamic fields included) and
every vector must be identical, and a top-k search must return the same ids.
Usage: compare.py SRC_DB SRC_NAME DST_DB DST_NAME. Prints a JSON line; exits 1 on any difference.
Loads (and, if needed, indexes like the source) collections that are not loaded."""
import json, sys
from pymilvus import connections, Collection, utility, db

src_db, src, dst_db, dst = sys.argv[1:5]
connections.connect(uri="http://127.0.0.1:19530")

def open_loaded(dbname, name, like=None):
    db.using_database(dbname)
    c = Collection(name)
    if not c.indexes:
        vec = [f for f in c.schema.fields if f.dtype.name.endswith("VECTOR")][0]
        params = like.indexes[0].params if like is not None and like.indexes else {"index_type": "FLAT", "metric_type": "L2", "params": {}}
        c.create_index(vec.name, params)
    c.load()
    return c

def rows(dbname, c):
    db.using_database(dbname)
    pk = c.schema.primary_field.name
    out = []
    res = c.query(f"{pk} != ''" if c.schema.primary_field.dtype.name == "VARCHAR" else f"{pk} >= -1",
                  output_fields=["*"], limit=16384, consistency_level="Strong")
    for r in res:
        out.append({k: (list(v) if isinstance(v, (list, tuple)) else v) for k, v in r.items()})
    return sorted(out, key=lambda r: r[pk])

s = open_loaded(src_db, src)
d = open_loaded(dst_db, dst, like=s)
a, b = rows(src_db, s), rows(dst_db, d)
ok_rows = a == b
vec = [f for f in s.schema.fields if f.dtype.name.endswith("VECTOR")][0].name
topk_equal = True
if a:
    queries = [r[vec] for r in a[:: max(1, len(a) // 5)][:5]]
    metric = s.indexes[0].params.get("metric_type", "L2") if s.indexes else "L2"
    params = {"metric_type": metric, "params": {"ef": 512, "nprobe": 64}}
    db.using_database(src_db); ra = s.search(queries, vec, params, limit=5, consistency_level="Strong")
    db.using_database(dst_db); rb = d.search(queries, vec, params, limit=5, consistency_level="Strong")
    topk_equal = [list(h.ids) for h in ra] == [list(h.ids) for h in rb]
print(json.dumps({"source_rows": len(a), "restored_rows": len(b), "identical": ok_rows, "topk_equal": topk_equal}))
sys.exit(0 if ok_rows and topk_equal else 1)
