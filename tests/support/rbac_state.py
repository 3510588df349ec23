"""Milvus users, roles and grants for the rbac tests of tests/milvus_sign_in.rs, made and read
through pymilvus (not through milvault), on the Milvus with authorization on that scripts/test.sh
starts. Everything it makes starts with PREFIX.

    rbac_state.py setup PREFIX    roles P_r (two grants) and P_keep (Insert), users P_u and
                                  P_gone (role P_r), collection P_coll (empty)
    rbac_state.py change PREFIX   what happens after the backup: P_r dropped (its grants revoked,
                                  so P_u loses it), user P_gone deleted, P_keep's Insert replaced
                                  by Delete
    rbac_state.py collection PREFIX  only the collection P_coll
    rbac_state.py show PREFIX     JSON: {"roles": {role: [grant...]}, "users": {user: [role...]}}
                                  for PREFIX's roles and users, grants as object/name/db/privilege
    rbac_state.py cleanup PREFIX  removes all of PREFIX's users, roles and collections
"""
import json
import sys

from pymilvus import (
    CollectionSchema,
    Collection,
    DataType,
    FieldSchema,
    Role,
    connections,
    db,
    utility,
)

connections.connect(uri="http://127.0.0.1:19530", user="root", password="Milvus")

R_GRANTS = [("Collection", "*", "Search", "team_b"), ("Global", "*", "DescribeCollection", "default")]


def grants_of(role):
    """Every grant of ROLE, over every database (Milvus 2.3 answers one at a time)."""
    out = set()
    for name in db.list_database():
        for g in Role(role).list_grants(db_name=name).groups:
            out.add(f"{g.object}/{g.object_name}/{g.db_name}/{g.privilege}")
    return sorted(out)


def revoke_all(role):
    for name in db.list_database():
        for g in Role(role).list_grants(db_name=name).groups:
            Role(role).revoke(g.object, g.object_name, g.privilege, db_name=g.db_name)


def setup(p):
    cleanup(p)
    r = Role(f"{p}_r")
    r.create()
    for obj, name, privilege, database in R_GRANTS:
        r.grant(obj, name, privilege, db_name=database)
    keep = Role(f"{p}_keep")
    keep.create()
    keep.grant("Collection", "*", "Insert", db_name="default")
    for user in (f"{p}_u", f"{p}_gone"):
        utility.create_user(user, f"{user} password")
        r.add_user(user)
    collection(p)


def collection(p):
    schema = CollectionSchema(
        [
            FieldSchema("id", DataType.INT64, is_primary=True),
            FieldSchema("vec", DataType.FLOAT_VECTOR, dim=4),
        ]
    )
    Collection(f"{p}_coll", schema)


def change(p):
    revoke_all(f"{p}_r")
    Role(f"{p}_r").drop()
    utility.delete_user(f"{p}_gone")
    keep = Role(f"{p}_keep")
    keep.revoke("Collection", "*", "Insert", db_name="default")
    keep.grant("Collection", "*", "Delete", db_name="default")


def show(p):
    roles = {
        g.role_name: grants_of(g.role_name)
        for g in utility.list_roles(include_user_info=False).groups
        if g.role_name.startswith(p)
    }
    users = {
        u.username: sorted(u.roles)
        for u in utility.list_users(include_role_info=True).groups
        if u.username.startswith(p)
    }
    print(json.dumps({"roles": roles, "users": users}))


def cleanup(p):
    for u in utility.list_usernames():
        if u.startswith(p):
            utility.delete_user(u)
    for g in utility.list_roles(include_user_info=True).groups:
        if g.role_name.startswith(p):
            for u in g.users:
                Role(g.role_name).remove_user(u)
            revoke_all(g.role_name)
            Role(g.role_name).drop()
    for c in utility.list_collections():
        if c.startswith(p):
            utility.drop_collection(c)


{"setup": setup, "collection": collection, "change": change, "show": show, "cleanup": cleanup}[sys.argv[1]](sys.argv[2])
