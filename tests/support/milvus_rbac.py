"""Milvus users, roles and grants for tests/milvus_sign_in.rs, on a Milvus with authorization on
(scripts/testenv/lib.sh start_milvus with authorizationEnabled, as scripts/test.sh starts it). Re-running it gives the same state."""
from pymilvus import Role, connections, db, utility

connections.connect(uri="http://127.0.0.1:19530", user="root", password="Milvus")

for name in ("team_a", "team_b"):
    if name not in db.list_database():
        db.create_database(name)

USERS = {
    "ann_milvus": "ann's milvus password",  # role team_a_rw: a member of team_a
    "boss_milvus": "boss milvus password",  # role admin
    "val_milvus": "val milvus password",  # no role but public: a viewer
}
for name, password in USERS.items():
    if name in utility.list_usernames():
        utility.delete_user(name)
    utility.create_user(name, password)

role = Role("team_a_rw")
if not role.is_exist():
    role.create()
for privilege in ("Search", "Query", "Insert"):
    role.grant("Collection", "*", privilege, db_name="team_a")
role.add_user("ann_milvus")
Role("admin").add_user("boss_milvus")
print("milvus users:", ", ".join(sorted(USERS)))
