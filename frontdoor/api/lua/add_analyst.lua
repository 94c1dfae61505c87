-- add_analyst: an account and its token digest, unless the name is taken.
-- KEYS: 1 the analyst's hash, 2 the token digest's key, 3 the set of names (all in the {auth} slot).
-- ARGV: 1 name, 2 role, 3 token digest, 4 created at (ISO 8601). Returns 1, or 0 when the name exists.
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'name', ARGV[1], 'role', ARGV[2], 'token', ARGV[3], 'created_at', ARGV[4])
redis.call('SET', KEYS[2], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[1])
return 1
