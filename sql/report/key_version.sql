-- The key version of the identity table (rotate-key leaves one), for purge/targets.sql.
select coalesce(max(key_version), 1) from id_pseudonyms;
