#!/bin/sh
# usage: bench/explain_p4.sh DB [N]  -- EXPLAIN (ANALYZE, BUFFERS) of each P4 query shape as list_users now sends it
P="psql -h 127.0.0.1 -U postgres -d $1 -X -q"
C="u.user_uuid, u.id, u.email, u.name, u.phone, u.username, u.status, u.organization_id, u.about, u.gender, u.location, u.image, u.languages, u.share_link, u.preferred_language, u.has_accepted_terms_and_conditions, u.last_logged_in_at, u.created_at, u.updated_at, u.deleted_at"
N=${2:-517438}
run() { echo "=== $1"; shift; $P -c "EXPLAIN (ANALYZE, BUFFERS) $*" | grep -v "^ *Buffers: shared hit=[0-9]*$" ; }
run "rare substring: page" "SELECT $C FROM (SELECT u.id FROM users u WHERE u.status = 'ACTIVE' AND u.search_text LIKE '%novak $N%' ESCAPE '\\' ORDER BY u.name, u.id LIMIT 20 OFFSET 0) page JOIN users u ON u.id = page.id ORDER BY u.name, u.id"
run "rare substring: count (only sent when the page is empty or full)" "SELECT count(*) FROM users u WHERE u.status = 'ACTIVE' AND u.search_text LIKE '%novak $N%' ESCAPE '\\'"
run "common substring: page" "SELECT $C FROM (SELECT u.id FROM users u WHERE u.status = 'ACTIVE' AND u.search_text LIKE '%haddad%' ESCAPE '\\' ORDER BY u.name, u.id LIMIT 20 OFFSET 0) page JOIN users u ON u.id = page.id ORDER BY u.name, u.id"
run "common substring: count" "SELECT count(*) FROM users u WHERE u.status = 'ACTIVE' AND u.search_text LIKE '%haddad%' ESCAPE '\\'"
run "role filter: count" "SELECT CAST(coalesce(sum(active), 0) AS BIGINT) FROM user_list_counts WHERE role_id = 2"
run "role filter: page" "SELECT $C FROM (SELECT l.id FROM role_listing l WHERE l.role_id = 2 ORDER BY l.name, l.id LIMIT 20 OFFSET 0) page JOIN users u ON u.id = page.id WHERE u.status = 'ACTIVE' ORDER BY u.name, u.id"
run "deep page: count" "SELECT CAST(coalesce(sum(active), 0) AS BIGINT) FROM user_list_counts WHERE role_id = 0"
run "deep page: page" "SELECT $C FROM (SELECT u.id FROM users u WHERE u.status = 'ACTIVE' ORDER BY u.name, u.id LIMIT 20 OFFSET 10000) page JOIN users u ON u.id = page.id WHERE u.status = 'ACTIVE' ORDER BY u.name, u.id"
