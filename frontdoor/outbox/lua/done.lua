-- done: the provider took the message; it leaves the stream (and with it the recipient it holds).
-- KEYS: 1 the stream. ARGV: 1 the group, 2 the entry id. Acknowledged first: a pending entry is
-- never deleted from under a claimer.
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
return redis.call('XDEL', KEYS[1], ARGV[2])
