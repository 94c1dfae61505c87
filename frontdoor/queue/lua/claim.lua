-- claim: hand the next case of this shard to one analyst under a lease.
-- ARGV: 2 consumer, 3 lease_ms, 4 now_ms, 5 lanes ("urgent,normal" | "urgent" | "normal").
-- Within a lane, lapsed and released leases (oldest entries first) come before new entries.
-- Returns {case_id} or {}.
local consumer, lease_ms, now = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])

local function take(key, entry_id, cid)
  local c = ckey(cid)
  local status = redis.call('HGET', c, 'status')
  if status ~= 'queued' and status ~= 'in_review' then
    -- Stale entry of a case that has left the queue: drop it and look further.
    redis.call('XACK', key, GROUP, entry_id)
    redis.call('XDEL', key, entry_id)
    return false
  end
  local previous = redis.call('HGET', c, 'claimed_by')
  set_status(c, cid, 'in_review')
  redis.call('HSET', c, 'claimed_by', consumer, 'lease_until', now + lease_ms)
  if previous and previous ~= '' and previous ~= consumer then
    audit(cid, now, consumer, 'lease_taken_over', {from = previous})
  else
    audit(cid, now, consumer, 'claimed')
  end
  return true
end

for lane in string.gmatch(ARGV[5], '[^,]+') do
  local key = T .. 'lane:' .. lane
  -- Lapsed or released first: the oldest pending entry idle for a full lease. XPENDING's IDLE
  -- filter scans the pending list inside Redis; XAUTOCLAIM with COUNT 1 looks at only ten
  -- entries per call, which costs a call per ten cases held when many analysts are at work.
  for _ = 1, 1000 do
    local p = redis.call('XPENDING', key, GROUP, 'IDLE', lease_ms, '-', '+', 1)
    if #p == 0 then break end
    local claimed = redis.call('XCLAIM', key, GROUP, consumer, lease_ms, p[1][1])
    local e = claimed[1]
    if type(e) == 'table' and type(e[2]) == 'table' then
      if take(key, e[1], e[2][2]) then return {e[2][2]} end
    else
      -- A pending id without its entry (never made by us: we acknowledge before deleting).
      redis.call('XACK', key, GROUP, p[1][1])
    end
  end
  for _ = 1, 1000 do
    local r = redis.call('XREADGROUP', 'GROUP', GROUP, consumer, 'COUNT', 1, 'STREAMS', key, '>')
    if not r then break end
    local e = r[1][2][1]
    if not e then break end
    if take(key, e[1], e[2][2]) then return {e[2][2]} end
  end
end
return {}
