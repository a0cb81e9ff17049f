"""The PostgreSQL backend (``EKA_DATABASE_URL``): the store, search, keys, audit log and rate limits in one
database shared by every API worker on every host. ``db`` opens connections, ``migrate`` versions the schema.
"""
