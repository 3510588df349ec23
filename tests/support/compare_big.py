"""Compares two collections of seed_big.py (INT64 pk "id", FLOAT_VECTOR "v") row for row, all of
their rows (query iterators, not one capped query). Usage: compare_big.py SRC DST (database
default). Prints {"source_rows", "restored_rows", "identical"}; exits 1 on any difference."""
import hashlib, json, sys
from pymilvus import connections, Collection

connections.connect(uri="http://127.0.0.1:19530")

def digest(name):
    c = Collection(name)
    if not c.indexes:
        c.create_index("v", {"index_type": "FLAT", "metric_type": "L2", "params": {}})
    c.load()
    rows = {}
    it = c.query_iterator(batch_size=8000, expr="id >= -1", output_fields=["id", "v"],
                          consistency_level="Strong")
    while True:
        batch = it.next()
        if not batch:
            break
        for r in batch:
            rows[r["id"]] = hashlib.blake2b(repr([float(x) for x in r["v"]]).encode(), digest_size=16).hexdigest()
    it.close()
    return rows

a, b = digest(sys.argv[1]), digest(sys.argv[2])
same = a == b
print(json.dumps({"source_rows": len(a), "restored_rows": len(b), "identical": same}))
sys.exit(0 if same else 1)
