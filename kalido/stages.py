"""The nightly stages in order: the one list the runner, the Airflow DAG and the tests import.

Each name is a task of the kalido_nightly DAG, a module of kalido/pipelines/ and a folder of
sql/ (subject_access and check_requests share requests.py and sql/requests/). SQL that several
stages run sits in sql/features/ (the recommender's inputs, the interests).
Pure data, so that parsing the DAG imports nothing heavy.
"""

NIGHTLY = (
    "ingest",
    # Erasures, suppression and retention before anything is derived from the data (purge.py).
    "purge",
    "pseudonymise",
    # Per user-hash shard: gate, build_features (each shard its own database).
    "gate",
    "build_features",
    # Once, over every shard: the similarity needs every user's co-views.
    "similarity",
    "recommend",
    # Once, over every shard: advertising cookies are decided over everyone's events.
    "ads",
    "subject_access",
    "validate",
    "publish",
    # Last: an overdue or failed request fails the run once everything is published.
    "check_requests",
)
# Stages called once per shard, with `shard=`; `similarity` gets `shards=` (the count).
PER_SHARD = ("gate", "build_features", "recommend")
