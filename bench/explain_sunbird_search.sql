-- Plans of Sunbird's search features (docs/performance.md, "Sunbird search").
-- On a scratch database migrated with migrations/postgres/*.sql:
--   psql -d scratch -f bench/explain_sunbird_search.sql
-- 100,000 users registered ten minutes apart; derived-table triggers off for the fill.
INSERT INTO roles (id, role_uuid, title, label, user_type, status, visibility, organization_id, created_at, updated_at)
VALUES (1,'r1','user','User',0,'ACTIVE','PUBLIC',1,'2024-01-01T00:00:00.000Z','2024-01-01T00:00:00.000Z'),
       (2,'r2','mentor','Mentor',0,'ACTIVE','PUBLIC',1,'2024-01-01T00:00:00.000Z','2024-01-01T00:00:00.000Z'),
       (3,'r3','mentee','Mentee',0,'ACTIVE','PUBLIC',1,'2024-01-01T00:00:00.000Z','2024-01-01T00:00:00.000Z'),
       (5,'r5','org_admin','Org admin',0,'ACTIVE','PUBLIC',1,'2024-01-01T00:00:00.000Z','2024-01-01T00:00:00.000Z');
INSERT INTO organizations (id, org_uuid, name, code, status, created_at, updated_at)
SELECT g, 'o'||g, 'Org '||g, 'org'||g, 'ACTIVE', '2024-01-01T00:00:00.000Z', '2024-01-01T00:00:00.000Z' FROM generate_series(1, 50) g;
ALTER TABLE users DISABLE TRIGGER USER;
ALTER TABLE user_roles DISABLE TRIGGER USER;
INSERT INTO users (user_uuid, id, email, name, status, organization_id, search_text, created_at, updated_at)
SELECT md5(g::text)::uuid::text, g, 'user'||g||'@bench.roster.example',
       (ARRAY['Asha','Bilal','Chen','Dara','Elif','Femi','Greta','Hiro','Ines','Jonas','Kavya','Luca'])[1 + g % 12] || ' ' ||
       (ARRAY['Rao','Okafor','Larsen','Moreau','Silva','Tanaka','Novak','Haddad','Kowalski','Mensah'])[1 + (g / 12) % 10] || ' ' || g,
       CASE WHEN g % 20 = 0 THEN 'INACTIVE' ELSE 'ACTIVE' END,
       -- a few large organisations and many small ones
       CASE WHEN g % 10 < 6 THEN 1 WHEN g % 10 < 9 THEN 2 ELSE 3 + g % 48 END,
       lower((ARRAY['Asha','Bilal','Chen','Dara','Elif','Femi','Greta','Hiro','Ines','Jonas','Kavya','Luca'])[1 + g % 12] || ' ' ||
       (ARRAY['Rao','Okafor','Larsen','Moreau','Silva','Tanaka','Novak','Haddad','Kowalski','Mensah'])[1 + (g / 12) % 10] || ' ' || g) || ' user' || g || '@bench.roster.example',
       to_char(timestamp '2024-01-01' + (g * interval '10 minutes'), 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
       to_char(timestamp '2024-01-01' + (g * interval '10 minutes'), 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
FROM generate_series(1, 100000) g;
INSERT INTO user_roles (user_uuid, role_id, organization_id) SELECT user_uuid, 3, organization_id FROM users;
INSERT INTO user_roles (user_uuid, role_id, organization_id) SELECT user_uuid, 2, organization_id FROM users WHERE id % 10 = 0;
VACUUM ANALYZE;
\echo '--- range: createdDate >= 2025-06-01 and < 2025-06-08, by name, first page'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT u.id FROM users u WHERE u.status IN ('ACTIVE') AND u.created_at >= '2025-06-01T00:00:00.000Z' AND u.created_at < '2025-06-08T00:00:00.000Z' ORDER BY u.name, u.id LIMIT 250 OFFSET 0;
\echo '--- sort: every active user, newest first, first page'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT u.id FROM users u WHERE u.status IN ('ACTIVE') ORDER BY u.created_at DESC, u.id DESC LIMIT 250 OFFSET 0;
\echo '--- sort with a small organisation: rootOrgId 8, newest first'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT u.id FROM users u WHERE u.status IN ('ACTIVE', 'INACTIVE') AND u.organization_id = 8 ORDER BY u.created_at DESC, u.id DESC LIMIT 250 OFFSET 0;
\echo '--- rootOrgId 8 by name (users_organization)'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT u.id FROM users u WHERE u.status IN ('ACTIVE') AND u.organization_id = 8 ORDER BY u.name, u.id LIMIT 250 OFFSET 0;
\echo '--- facet: status within rootOrgId 2'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT CAST(u.status AS TEXT) AS value, count(*) AS count FROM users u WHERE u.status IN ('ACTIVE', 'INACTIVE') AND u.organization_id = 2 GROUP BY u.status ORDER BY count DESC, value;
\echo '--- facet: roles of the users created in one week'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT CAST(r.title AS TEXT) AS value, count(DISTINCT u.id) AS count FROM users u JOIN user_roles ur ON ur.user_uuid = u.user_uuid JOIN roles r ON r.id = ur.role_id WHERE u.status IN ('ACTIVE') AND u.created_at >= '2025-06-01T00:00:00.000Z' AND u.created_at < '2025-06-08T00:00:00.000Z' GROUP BY r.title ORDER BY count DESC, value;
\echo '--- facet: rootOrgId over every active user (no narrowing filter)'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT CAST(u.organization_id AS TEXT) AS value, count(*) AS count FROM users u WHERE u.status IN ('ACTIVE') GROUP BY u.organization_id ORDER BY count DESC, value;
\echo '--- $or: rootOrgId 8 or the holders of role 2 (mentor), by name'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT u.id FROM users u WHERE u.status IN ('ACTIVE') AND (u.organization_id = 8 OR u.user_uuid IN (SELECT ur.user_uuid FROM user_roles ur WHERE ur.role_id IN (2))) ORDER BY u.name, u.id LIMIT 250 OFFSET 0;
