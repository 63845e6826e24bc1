-- One sync of a process with its fleet, in one round trip (redial, src/fleet/exchange.rs).
--
-- KEYS[1]     the gate (a hash): r, the latest reset learned by the fleet, in ms since
--             the Unix epoch, and p, the ramp after it, in ms
-- KEYS[2]     the pacer's hash: c, the latest cut of the fleet's rate, in ms since the
--             epoch, and w, the rate it cut from, in thousandths of a request per second;
--             and per process, field m:ID, "its demand (thousandths of an attempt per
--             second):the rate it is answered at (thousandths):when it said so (ms)"
-- KEYS[3..]   the counter buckets of the window, oldest first, the current one last
--             (hashes: field i holds counter i); absent when only the gate is shared
-- ARGV[1]     this process's latest reset (0: none)
-- ARGV[2]     its ramp
-- ARGV[3]     now, in ms since the Unix epoch
-- ARGV[4]     how long a bucket lives, in ms
-- ARGV[5]     this process's latest cut (0: none)
-- ARGV[6]     the rate it cut from
-- ARGV[7]     this process's id ("": it has no pacer)
-- ARGV[8]     its demand
-- ARGV[9]     the rate it is answered at
-- ARGV[10]    how long a process's demand counts after it said it, in ms
-- ARGV[11..]  this process's counts since its last sync, one per counter
--
-- Returns { the fleet's reset, its ramp, the fleet's latest cut, the rate it cut from,
-- the demand of the processes that said theirs lately, the rate they are answered at,
-- how many they are, then each
-- counter's total over the window, then each counter's value in the current bucket
-- alone }.
-- Every key expires, so a fleet that goes away leaves nothing behind, and a flushed
-- Redis is refilled by the next sync of each process.

local reset = tonumber(ARGV[1]) or 0
local ramp = tonumber(ARGV[2]) or 0
local now = tonumber(ARGV[3]) or 0
local gate = redis.call('HMGET', KEYS[1], 'r', 'p')
local fleet = tonumber(gate[1]) or 0
local fleet_ramp = tonumber(gate[2]) or 0
if reset > now and (reset > fleet or (reset == fleet and ramp > fleet_ramp)) then
  redis.call('HSET', KEYS[1], 'r', ARGV[1], 'p', ARGV[2])
  redis.call('PEXPIRE', KEYS[1], reset + ramp - now + 60000)
  fleet, fleet_ramp = reset, ramp
end

-- The latest cut wins, with the rate it came from.
local cut, w, demand, answered, members = 0, 0, 0, 0, 0
local digits = '^%d+$'
if ARGV[7] ~= '' then
  local mine = tonumber(ARGV[5]) or 0
  local held = redis.call('HMGET', KEYS[2], 'c', 'w')
  cut = tonumber(held[1]) or 0
  w = tonumber(held[2]) or 0
  -- Stored as sent (digits), not as Lua formats a number. A cut more than a minute
  -- ahead of now is garbage, not a cut: it would hide every real one.
  if mine > 0 and (mine > cut or cut > now + 60000) and string.match(ARGV[6], digits) then
    cut, w = mine, tonumber(ARGV[6])
    redis.call('HSET', KEYS[2], 'c', ARGV[5], 'w', ARGV[6])
  end
  local stale = tonumber(ARGV[10]) or 0
  if string.match(ARGV[8], digits) and string.match(ARGV[9], digits)
    and string.match(ARGV[3], digits) then
    redis.call('HSET', KEYS[2], 'm:' .. ARGV[7], ARGV[8] .. ':' .. ARGV[9] .. ':' .. ARGV[3])
  end
  local fields = redis.call('HGETALL', KEYS[2])
  for j = 1, #fields, 2 do
    if string.sub(fields[j], 1, 2) == 'm:' then
      local d, a, at = string.match(fields[j + 1], '^(%d+):(%d+):(%d+)$')
      d, a, at = tonumber(d), tonumber(a), tonumber(at)
      if d and a and at and at + stale >= now then
        demand = demand + d
        answered = answered + a
        members = members + 1
      else
        redis.call('HDEL', KEYS[2], fields[j])
      end
    end
  end
  redis.call('PEXPIRE', KEYS[2], stale + 600000)
end

local n = #ARGV - 10
local out = { fleet, fleet_ramp, cut, w, demand, answered, members }
if #KEYS > 2 then
  local current = KEYS[#KEYS]
  for i = 1, n do
    local d = tonumber(ARGV[10 + i]) or 0
    if d > 0 then
      redis.call('HINCRBY', current, i, d)
    end
  end
  redis.call('PEXPIRE', current, ARGV[4])
  for i = 1, 2 * n do
    out[i + 7] = 0
  end
  for k = 3, #KEYS do
    local fields = redis.call('HGETALL', KEYS[k])
    for j = 1, #fields, 2 do
      local i = tonumber(fields[j])
      if i and i >= 1 and i <= n then
        local v = tonumber(fields[j + 1]) or 0
        out[i + 7] = out[i + 7] + v
        if k == #KEYS then
          out[n + i + 7] = v
        end
      end
    end
  end
end
return out
