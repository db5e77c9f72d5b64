-- Restricted: the link between raw identifiers and their keyed pseudonyms, per key version.
create table if not exists id_pseudonyms (
    domain varchar not null, raw_id varchar not null, pid varchar not null,
    key_version integer not null, primary key (domain, raw_id, key_version)
);
create table if not exists pseudonym_keys (
    key_version integer primary key, fingerprint varchar not null
);
-- The key version under which a landing file's identifiers all have pseudonyms: each night reads
-- only the files not yet read under the current key (a rotation reads them all once).
alter table ingest_ledger add column if not exists identifiers_key_version integer;
