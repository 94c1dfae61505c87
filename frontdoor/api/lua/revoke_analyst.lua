-- revoke_analyst: the account and its token go together.
-- KEYS: 1 the analyst's hash, 2 the set of names. ARGV: 1 the token keys' prefix (the key is named by the
-- digest stored in the hash), 2 the name. Returns 1, or 0 when there is no such analyst.
local digest = redis.call('HGET', KEYS[1], 'token')
if not digest then return 0 end
redis.call('DEL', KEYS[1], ARGV[1] .. digest)
redis.call('SREM', KEYS[2], ARGV[2])
return 1
