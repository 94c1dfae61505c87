-- authenticate: who a token digest names, and their role; notes when the account was last used.
-- KEYS: 1 the token digest's key, 2 the set of names (both in the {auth} slot).
-- ARGV: 1 the analysts' key prefix (the account's key is the prefix and the name), 2 this minute
-- (ms, a multiple of 60 000). Returns {name, role} or nil.
-- Every analyst request comes through here, so the account is written at most once a minute, and only
-- forward (processes with clocks a little apart never take turns writing). With that write the name
-- goes into the set of names: an account the set lacks (restored by hand) is listed once it is used.
local name = redis.call('GET', KEYS[1])
if not name then return nil end
local account = ARGV[1] .. name
local found = redis.call('HMGET', account, 'role', 'last_used_at')
local role, used = found[1], found[2]
if not role then return nil end
if not used or tonumber(used) < tonumber(ARGV[2]) then
  redis.call('HSET', account, 'last_used_at', ARGV[2])
  redis.call('SADD', KEYS[2], name)
end
return {name, role}
