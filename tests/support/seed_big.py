"""A large collection for the scale tests and benches/scale_s3.sh (pymilvus 2.3.x).

Usage: python seed_big.py NAME ROWS DIM [--append N] [--delete K]
Without --append: makes sure default.NAME exists with exactly ROWS rows (INT64 pk 0..ROWS-1,
FLOAT_VECTOR of DIM), creating and filling it when missing. --append N inserts N more rows after
the highest id, --delete K deletes ids 0..K-1; both flush, so sealed segments hold the changes.
Prints {"rows": <live rows>}.
"""
import argparse, json
import numpy as np
from pymilvus import connections, utility, Collection, CollectionSchema, FieldSchema, DataType

ap = argparse.ArgumentParser()
ap.add_argument("name")
ap.add_argument("rows", type=int)
ap.add_argument("dim", type=int)
ap.add_argument("--append", type=int, default=0)
ap.add_argument("--delete", type=int, default=0)
a = ap.parse_args()
connections.connect(uri="http://127.0.0.1:19530")
rng = np.random.default_rng(7)
BATCH = 20000

def insert(c, start, n):
    for s in range(start, start + n, BATCH):
        k = min(BATCH, start + n - s)
        c.insert([list(range(s, s + k)), rng.random((k, a.dim), dtype=np.float32)])

if not utility.has_collection(a.name):
    schema = CollectionSchema([FieldSchema("id", DataType.INT64, is_primary=True),
                               FieldSchema("v", DataType.FLOAT_VECTOR, dim=a.dim)])
    c = Collection(a.name, schema, shards_num=1)
    insert(c, 0, a.rows)
    c.flush()
    c.create_index("v", {"index_type": "FLAT", "metric_type": "L2", "params": {}})
c = Collection(a.name)
if a.append:
    # ids after everything inserted so far (num_entities counts deleted rows too)
    insert(c, a.rows + 10_000_000 + int(c.num_entities), a.append)
    c.flush()
if a.delete:
    c.delete(f"id in {list(range(a.delete))}")
    c.flush()
c.load()
live = c.query("", output_fields=["count(*)"])[0]["count(*)"]
c.release()
print(json.dumps({"rows": live}))
