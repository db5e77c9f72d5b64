"""Stores and shared I/O: restricted raw browsing, identities, staged (pseudonymised) browsing,
user-hash shards, feature tables, the email feed and ad export, run records, the skip
fingerprint and object storage. Pipelines read and write through them; they import no pipeline."""
