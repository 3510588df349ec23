"""Adds what seed.py does not have: a collection with dynamic fields and a partition key
(default.dyn_items, loaded) and an empty collection (default.empty_coll). Idempotent."""
import random
from pymilvus import connections, utility, Collection, CollectionSchema, FieldSchema, DataType

connections.connect(uri="http://127.0.0.1:19530")
rng = random.Random(7)
for name in ("dyn_items", "empty_coll"):
    if utility.has_collection(name):
        utility.drop_collection(name)
schema = CollectionSchema([
    FieldSchema("pk", DataType.INT64, is_primary=True),
    FieldSchema("tenant", DataType.VARCHAR, max_length=32, is_partition_key=True),
    FieldSchema("vec", DataType.FLOAT_VECTOR, dim=8),
], enable_dynamic_field=True, num_partitions=4)
c = Collection("dyn_items", schema)
rows = [{"pk": i, "tenant": f"t{i % 3}", "vec": [rng.random() for _ in range(8)],
         "color": ["red", "green", "blue"][i % 3], "n": i * 2} for i in range(600)]
c.insert(rows)
c.flush()
c.delete("pk in [1, 2, 3, 500]")
c.flush()
c.create_index("vec", {"index_type": "IVF_FLAT", "metric_type": "L2", "params": {"nlist": 16}})
c.load()
e = Collection("empty_coll", CollectionSchema([
    FieldSchema("id", DataType.INT64, is_primary=True),
    FieldSchema("v", DataType.FLOAT_VECTOR, dim=4),
]))
e.create_index("v", {"index_type": "FLAT", "metric_type": "L2", "params": {}})
e.flush()
print("seeded dyn_items (596 live rows) and empty_coll")
