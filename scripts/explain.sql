-- The plans of the common filter shapes, as tern writes them (PostgresStore+Query), on a store
-- that `tern bench` filled. Run by scripts/cluster-bench.sh: psql -v schema=NAME -f explain.sql
SET search_path TO :schema;
ANALYZE;
SELECT encode(pubkey, 'hex') AS pk, encode(id, 'hex') AS eid, created_at AS at FROM events
    WHERE kind = 1 ORDER BY created_at DESC LIMIT 1 OFFSET 100 \gset
SELECT substr(tag, 3) AS topic FROM tags WHERE tag LIKE 't:%' GROUP BY tag ORDER BY count(*) LIMIT 1 \gset
SELECT substr(tag, 3) AS target FROM tags WHERE tag LIKE 'e:%' LIMIT 1 \gset
\echo '-- by author, limit 50'
EXPLAIN (COSTS OFF) SELECT e.id, e.created_at, e.json FROM events e
WHERE e.pubkey = ANY(ARRAY[decode(:'pk', 'hex')]) AND (e.expiration IS NULL OR e.expiration > 2000000000)
ORDER BY e.created_at DESC, e.id LIMIT 50;
\echo '-- kind 1, limit 50'
EXPLAIN (COSTS OFF) SELECT e.id, e.created_at, e.json FROM events e
WHERE e.kind = ANY('{1}'::int4[]) AND (e.expiration IS NULL OR e.expiration > 2000000000)
ORDER BY e.created_at DESC, e.id LIMIT 50;
\echo '-- a hashtag, limit 20'
EXPLAIN (COSTS OFF) SELECT e.id, e.created_at, e.json FROM events e
WHERE e.id IN (SELECT t.id FROM tags t WHERE t.tag = ANY(ARRAY['t:' || :'topic']))
AND (e.expiration IS NULL OR e.expiration > 2000000000)
ORDER BY e.created_at DESC, e.id LIMIT 20;
\echo '-- 10 ids'
EXPLAIN (COSTS OFF) SELECT e.id, e.created_at, e.json FROM events e
WHERE e.id = ANY(ARRAY[decode(:'eid', 'hex')] || (SELECT array_agg(id) FROM (SELECT id FROM events LIMIT 9) x))
AND (e.expiration IS NULL OR e.expiration > 2000000000)
ORDER BY e.created_at DESC, e.id LIMIT 10;
\echo '-- a profile (kind 0 by author)'
EXPLAIN (COSTS OFF) SELECT e.id, e.created_at, e.json FROM events e
WHERE e.pubkey = ANY(ARRAY[decode(:'pk', 'hex')]) AND e.kind = ANY('{0}'::int4[])
AND (e.expiration IS NULL OR e.expiration > 2000000000)
ORDER BY e.created_at DESC, e.id LIMIT 1;
\echo '-- a time window of kind 1, limit 100'
EXPLAIN (COSTS OFF) SELECT e.id, e.created_at, e.json FROM events e
WHERE e.kind = ANY('{1}'::int4[]) AND e.created_at >= :at - 3600 AND e.created_at <= :at
AND (e.expiration IS NULL OR e.expiration > 2000000000)
ORDER BY e.created_at DESC, e.id LIMIT 100;
\echo '-- reactions to a note (kind 7 by #e)'
EXPLAIN (COSTS OFF) SELECT e.id, e.created_at, e.json FROM events e
WHERE e.kind = ANY('{7}'::int4[]) AND e.id IN (SELECT t.id FROM tags t WHERE t.tag = ANY(ARRAY['e:' || :'target']))
AND (e.expiration IS NULL OR e.expiration > 2000000000)
ORDER BY e.created_at DESC, e.id LIMIT 100;
\echo '-- everything, newest first, limit 100'
EXPLAIN (COSTS OFF) SELECT e.id, e.created_at, e.json FROM events e
WHERE (e.expiration IS NULL OR e.expiration > 2000000000)
ORDER BY e.created_at DESC, e.id LIMIT 100;
