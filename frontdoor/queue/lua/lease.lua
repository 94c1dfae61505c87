-- lease: renew, release or reassign a claimed case.
-- ARGV: 2 op ("renew" | "release" | "reassign"), 3 actor, 4 case_id, 5 now_ms, 6 lease_ms, 7 new_owner (reassign).
-- Returns {"ok"} or {error_code}.
local op, actor, cid, now, lease_ms = ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6])
local c = ckey(cid)
local status = redis.call('HGET', c, 'status')
if not status then return {'not_found'} end
local owner = redis.call('HGET', c, 'claimed_by')
local entry, entry_lane = redis.call('HGET', c, 'entry'), redis.call('HGET', c, 'entry_lane')
local key = entry_lane and (T .. 'lane:' .. entry_lane)

if op == 'reassign' then
  -- Only a case that someone holds (or that was released) is in the pending list and can move;
  -- a case still waiting in the queue is handed out in turn.
  if status ~= 'in_review' and not (status == 'queued' and owner == nil and entry and
      #redis.call('XPENDING', key, GROUP, entry, entry, 1) == 1) then
    return {'not_claimed'}
  end
  local target = ARGV[7]
  redis.call('XCLAIM', key, GROUP, target, 0, entry, 'JUSTID')
  set_status(c, cid, 'in_review')
  redis.call('HSET', c, 'claimed_by', target, 'lease_until', now + lease_ms)
  audit(cid, now, actor, 'reassigned', {from = owner or false, to = target})
  return {'ok'}
end

if status ~= 'in_review' or owner ~= actor then return {'not_claimed'} end
if op == 'renew' then
  -- XCLAIM to the same consumer resets the entry's idle time: the lease clock.
  redis.call('XCLAIM', key, GROUP, actor, 0, entry, 'JUSTID')
  redis.call('HSET', c, 'lease_until', now + lease_ms)
  audit(cid, now, actor, 'lease_renewed')
  return {'ok'}
end
-- release
if redis.call('HGET', c, 'lane') ~= entry_lane then
  -- Escalated while in review: it goes back into the urgent lane.
  leave_queue(c)
  enqueue(c, redis.call('HGET', c, 'lane'))
else
  -- Park the entry with an idle time of a full lease: the next claimer's XAUTOCLAIM takes
  -- it before any new entry, so a released case keeps its place at the front.
  redis.call('XCLAIM', key, GROUP, '~released', 0, entry, 'IDLE', lease_ms, 'JUSTID')
  set_status(c, cid, 'queued')
  redis.call('HDEL', c, 'claimed_by', 'lease_until')
end
audit(cid, now, actor, 'released')
return {'ok'}
