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
WHERE e.pubkey = decode(:'pk', 'hex') AND (e.expiration IS NULL OR e.expiration > 2000000000)
ORDER BY e.created_at DESC, e.id LIMIT 50;
\echo '-- kind 1, limit 50'
EXPLAIN (COSTS OFF) SELECT e.id, e.created_at, e.json FROM events e
WHERE e.kind = 1 AND (e.expiration IS NULL OR e.expiration > 2000000000)
ORDER BY e.created_at DESC, e.id LIMIT 50;
\echo '-- a hashtag, limit 20'
EXPLAIN (COSTS OFF) SELECT e.id, e.created_at, e.json FROM tags t0 JOIN events e ON e.id = t0.id
WHERE t0.tag = 't:' || :'topic' AND (e.expiration IS NULL OR e.expiration > 2000000000)
ORDER BY t0.created_at DESC, t0.id LIMIT 20;
\echo '-- 10 ids'
EXPLAIN (COSTS OFF) SELECT e.id, e.created_at, e.json FROM events e
WHERE e.id = ANY(ARRAY[decode(:'eid', 'hex')] || (SELECT array_agg(id) FROM (SELECT id FROM events LIMIT 9) x))
AND (e.expiration IS NULL OR e.expiration > 2000000000)
ORDER BY e.created_at DESC, e.id LIMIT 10;
\echo '-- a profile (kind 0 by author)'
EXPLAIN (COSTS OFF) SELECT e.id, e.created_at, e.json FROM events e
WHERE e.pubkey = decode(:'pk', 'hex') AND e.kind = 0
AND (e.expiration IS NULL OR e.expiration > 2000000000)
ORDER BY e.created_at DESC, e.id LIMIT 1;
\echo '-- a time window of kind 1, limit 100'
EXPLAIN (COSTS OFF) SELECT e.id, e.created_at, e.json FROM events e
WHERE e.kind = 1 AND e.created_at >= :at - 3600 AND e.created_at <= :at
AND (e.expiration IS NULL OR e.expiration > 2000000000)
ORDER BY e.created_at DESC, e.id LIMIT 100;
\echo '-- reactions to a note (kind 7 by #e)'
EXPLAIN (COSTS OFF) SELECT e.id, e.created_at, e.json FROM tags t0 JOIN events e ON e.id = t0.id
WHERE t0.tag = 'e:' || :'target' AND e.kind = 7 AND (e.expiration IS NULL OR e.expiration > 2000000000)
ORDER BY t0.created_at DESC, t0.id LIMIT 100;
\echo '-- mentions (kind 1 by #p), limit 20'
SELECT substr(tag, 3) AS mentioned FROM tags WHERE tag LIKE 'p:%' LIMIT 1 \gset
EXPLAIN (COSTS OFF) SELECT e.id, e.created_at, e.json FROM tags t0 JOIN events e ON e.id = t0.id
WHERE t0.tag = 'p:' || :'mentioned' AND e.kind = 1 AND (e.expiration IS NULL OR e.expiration > 2000000000)
ORDER BY t0.created_at DESC, t0.id LIMIT 20;
\echo '-- everything, newest first, limit 100'
EXPLAIN (COSTS OFF) SELECT e.id, e.created_at, e.json FROM events e
WHERE (e.expiration IS NULL OR e.expiration > 2000000000)
ORDER BY e.created_at DESC, e.id LIMIT 100;
\echo '-- two hashtags, limit 20 (one ordered walk per value, merged)'
SELECT substr(tag, 3) AS topic2 FROM tags WHERE tag LIKE 't:%' AND tag <> 't:' || :'topic' GROUP BY tag ORDER BY count(*) LIMIT 1 \gset
EXPLAIN (COSTS OFF) SELECT DISTINCT ON (t0.created_at, t0.id) e.id, e.created_at, e.json
FROM ((SELECT t.id, t.created_at FROM tags t WHERE t.tag = 't:' || :'topic')
      UNION ALL (SELECT t.id, t.created_at FROM tags t WHERE t.tag = 't:' || :'topic2')) t0
JOIN events e ON e.id = t0.id WHERE (e.expiration IS NULL OR e.expiration > 2000000000)
ORDER BY t0.created_at DESC, t0.id LIMIT 20;
